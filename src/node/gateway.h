// The HTTP gateway's PBFT client. Each HTTP write or ordered read becomes a
// signed REQUEST from one of this replica's gateway clients (one client id
// per concurrent request, see common/client_id.h). It goes to every
// replica at once, so that each has it over this replica's authenticated
// link (and skips its signature check) and the backups watch the primary
// for it; if no answer comes within the retry interval it goes to every
// replica again (so a dead primary is noticed and replaced). The answer is accepted only when f+1 distinct replicas sent
// the same result, and the request fails after the timeout.
//
// A request submitted with a proof asked for carries
// Request::flag_signed_reply: every replica signs its reply, the gateway
// counts only replies whose signature checks, and answers with the f+1
// matching signed replies as a reply certificate (http/reply_certificate.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <variant>
#include <vector>

#include "common/types.h"
#include "crypto/crypto.h"
#include "http/reply_certificate.h"
#include "kv/operation.h"
#include "wire/messages.h"

namespace pbft::node {

struct GatewayOptions {
  ReplicaId self = 0;
  uint32_t replica_count = 1;
  uint32_t reply_quorum = 1;      // f + 1
  uint32_t clients_max = 4096;    // concurrent requests
  uint32_t retry_ms = 1000;
  uint32_t timeout_ms = 10000;
};

struct GatewayTimeout {};
struct GatewayBusy {};
struct GatewayAnswer {
  kv::Result result;
  std::optional<http::ReplyCertificate> proof;  // when asked for
};
using GatewayOutcome = std::variant<GatewayAnswer, GatewayTimeout, GatewayBusy>;

class Gateway {
 public:
  // Sends a request to the local replica (to == self) or a peer.
  using SendRequest = std::function<void(ReplicaId to, const wire::Request&)>;
  using Done = std::function<void(GatewayOutcome)>;

  Gateway(boost::asio::io_context& io, GatewayOptions options, const crypto::Crypto& crypto,
          SendRequest send);
  ~Gateway();

  void submit(const kv::Operation& op, Done done) { submit(op, false, std::move(done)); }
  // with_proof: ask every replica to sign its reply and answer with a
  // reply certificate.
  void submit(const kv::Operation& op, bool with_proof, Done done);
  // A reply from replica `from` (authenticated by the link or local).
  void on_reply(ReplicaId from, const wire::Reply& reply);
  // Fails every request in flight (shutdown).
  void cancel_all();

  size_t in_flight() const { return calls_.size(); }

 private:
  struct Call {
    wire::Request request;
    Done done;
    Digest operation_digest;
    // Matching replies: by (result, seq), the replicas and their signatures.
    std::map<std::pair<Bytes, Seq>, std::map<ReplicaId, Signature>> votes;
    std::unique_ptr<boost::asio::steady_timer> retry;
    std::unique_ptr<boost::asio::steady_timer> deadline;
  };
  void arm_retry(uint32_t slot);
  void finish(uint32_t slot, GatewayOutcome outcome);
  uint64_t next_timestamp();

  boost::asio::io_context& io_;
  GatewayOptions options_;
  const crypto::Crypto& crypto_;
  SendRequest send_;
  std::map<uint32_t, Call> calls_;  // by slot
  std::vector<uint32_t> free_slots_;
  uint64_t last_timestamp_ = 0;
};

}  // namespace pbft::node
