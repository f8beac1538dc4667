// The HTTP gateway's PBFT client. Each HTTP write or ordered read becomes a
// signed REQUEST from one of this replica's gateway clients (one client id
// per concurrent request, see common/client_id.h). It goes to the local
// replica, which passes it to the primary; if no answer comes within the
// retry interval it goes to every replica (so a dead primary is noticed and
// replaced). The answer is accepted only when f+1 distinct replicas sent
// the same result, and the request fails after the timeout.
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
using GatewayOutcome = std::variant<kv::Result, GatewayTimeout, GatewayBusy>;

class Gateway {
 public:
  // Sends a request to the local replica (to == self) or a peer.
  using SendRequest = std::function<void(ReplicaId to, const wire::Request&)>;
  using Done = std::function<void(GatewayOutcome)>;

  Gateway(boost::asio::io_context& io, GatewayOptions options, const crypto::Crypto& crypto,
          SendRequest send);
  ~Gateway();

  void submit(const kv::Operation& op, Done done);
  // A reply from replica `from` (authenticated by the link or local).
  void on_reply(ReplicaId from, const wire::Reply& reply);
  // Fails every request in flight (shutdown).
  void cancel_all();

  size_t in_flight() const { return calls_.size(); }

 private:
  struct Call {
    wire::Request request;
    Done done;
    std::map<Bytes, std::set<ReplicaId>> votes;
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
