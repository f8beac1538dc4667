// The HTTP gateway's PBFT client. Each HTTP write or ordered read becomes a
// signed REQUEST from one of this replica's gateway clients (one client id
// per concurrent request, see common/client_id.h). It goes to every
// replica at once, so that each has it over this replica's authenticated
// link (and skips its signature check) and the backups watch the primary
// for it; if no answer comes within the retry interval it goes to every
// replica again (so a dead primary is noticed and replaced). The answer is accepted only when f+1 distinct replicas sent
// the same result, and the request fails after the timeout.
//
// The requests of one turn of the event loop are signed together, with one
// signature over a Merkle tree of them (core/request_bundle.h), at the end
// of the turn, and only then sent: under load one Ed25519 signature here,
// and one check at the primary, covers many requests.
//
// A request submitted with a proof asked for carries
// Request::flag_signed_reply: every replica signs its reply, the gateway
// counts only replies whose signature checks, and answers with the f+1
// matching signed replies as a reply certificate (http/reply_certificate.h).
//
// A fast read (Castro & Liskov 5.1.3) carries Request::flag_read_only: every
// replica answers from its executed state without ordering, and the answer
// is accepted when every replica gives the same result (fast_quorum = n).
// When that cannot happen (answers differ, a replica is down, or
// fast_fallback_ms passes) the read is ordered instead, as a new request.
// Why all n: a write is acknowledged after f+1 matching replies, so at
// least one correct replica has executed it; only a quorum that contains
// every replica is sure to contain that one. (Castro's 2f+1 needs writes
// acknowledged by 2f+1 too, and then one correct replica that is stuck
// behind, with one faulty replica, stops every write: docs/PROTOCOL.md.)
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
  uint32_t reply_quorum = 1;      // f + 1: ordered reads
  uint32_t write_quorum = 1;      // f + 1: writes
  uint32_t fast_quorum = 1;       // n: fast reads (see above)
  uint32_t fast_fallback_ms = 200;
  uint32_t clients_max = 4096;    // concurrent requests
  uint32_t retry_ms = 1000;
  uint32_t timeout_ms = 10000;
  uint32_t bundle_requests_max = 32;  // requests under one signature; 1: each signed alone
};

struct GatewayTimeout {};
struct GatewayBusy {};
struct GatewayAnswer {
  kv::Result result;
  bool fast = false;  // answered by the read-only fast path
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
  // A get or range through the read-only fast path (no proof: a reply
  // certificate is for ordered answers); falls back to an ordered read.
  void submit_fast_read(const kv::Operation& op, Done done);
  // A reply from replica `from` (authenticated by the link or local).
  void on_reply(ReplicaId from, const wire::Reply& reply);
  // Fails every request in flight (shutdown).
  void cancel_all();

  size_t in_flight() const { return calls_.size(); }
  // Fast reads that had to be ordered instead.
  uint64_t fast_fallbacks() const { return fast_fallbacks_; }
  // Signatures made, and the requests they covered.
  uint64_t signatures() const { return signatures_; }
  uint64_t signed_requests() const { return signed_requests_; }

 private:
  struct Call {
    wire::Request request;
    Done done;
    Digest operation_digest;
    // Matching replies: by (result, seq), the replicas and their signatures
    // (fast reads: by result, seq 0; replicas answer at different points).
    std::map<std::pair<Bytes, Seq>, std::map<ReplicaId, Signature>> votes;
    std::set<ReplicaId> answered;  // fast reads: who answered at all
    uint32_t quorum = 1;
    bool fast = false;
    uint64_t serial = 0;  // tells this call from later ones in the slot
    bool unsigned_ = false;  // started, waiting for the end of the turn to be signed and sent
    std::unique_ptr<boost::asio::steady_timer> retry;
    std::unique_ptr<boost::asio::steady_timer> deadline;
  };
  void arm_retry(uint32_t slot);
  // Starts `call` as a new request (a new timestamp); sign_and_send signs
  // it, with the others started in this turn, and sends it to every
  // replica.
  void start(uint32_t slot, Call& call, uint8_t flags);
  void sign_and_send();
  void fall_back(uint32_t slot);
  void open(const kv::Operation& op, uint8_t flags, bool fast, Done done);
  void finish(uint32_t slot, GatewayOutcome outcome);
  uint64_t next_timestamp();

  boost::asio::io_context& io_;
  GatewayOptions options_;
  const crypto::Crypto& crypto_;
  SendRequest send_;
  std::map<uint32_t, Call> calls_;  // by slot
  std::vector<uint32_t> free_slots_;
  uint64_t last_timestamp_ = 0;
  uint64_t fast_fallbacks_ = 0;
  uint64_t serials_ = 0;
  uint64_t signatures_ = 0;
  uint64_t signed_requests_ = 0;
  std::vector<std::pair<uint32_t, uint64_t>> to_sign_;  // (slot, serial), in the order started
  bool sign_posted_ = false;                           // sign_and_send is posted
  // Tells a posted sign_and_send whether this gateway still exists.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pbft::node
