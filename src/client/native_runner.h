// The client library's binary protocol (docs/API.md, "Binary protocol"):
// one TCP connection to each replica's client port, every frame MACed with
// a key only that replica and this client share, ordered requests signed
// with the client's own key too, answers believed on f+1 matching replies each
// authenticated by its replica, by a MAC under a key only that replica and
// this client share or, asked for, by its signature (client/reply_tally.h).
//
// An ordered operation goes to every replica at once, flagged
// Request::flag_sent_to_all: each replica answers on the connection the
// request came on, so each must have it, and the backups, knowing the
// primary has it too, do not pass it on (they watch the primary instead,
// and replace one that leaves it waiting). If no answer comes within
// retry_ms it goes to every replica again, every retry_ms, until
// timeout_ms (a backup passes a request sent again on to the primary). It
// is the same request every time, with the same timestamp, so it runs at
// most once; nothing depends on knowing which replica is the primary.
// Timestamps grow across calls and across restarts (at least the
// microseconds since the epoch): one process at a time per client id.
//
// A fast read (Castro & Liskov 5.1.3) goes to every replica, flagged
// read-only; it is accepted when all n replicas give the same answer
// (node/gateway.h says why all). When the answers differ, a replica does
// not answer within fast_fallback_ms, or the answers cannot agree any
// more, the read is ordered instead, as a new request.
//
// Not thread-safe: one call at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "client/reply_tally.h"
#include "crypto/sodium_crypto.h"
#include "kv/operation.h"
#include "transport/frame_splitter.h"

namespace pbft::client {

struct NativeOptions {
  uint64_t cluster_id = 1;
  ClientId client_id = 0;
  crypto::KeyPair key;
  std::vector<Endpoint> replicas;  // client ports, index = replica id
  std::vector<crypto::PublicKey> replica_keys;
  uint32_t timeout_ms = 15000;
  uint32_t retry_ms = 1000;
  uint32_t fast_fallback_ms = 200;
  // Ask every replica to sign its reply, and count only signed ones; by
  // default a reply counts on its MAC (a key only that replica and this
  // client share), which costs the replicas and the client far less.
  bool signed_replies = false;
};

// The call did not get an accepted answer within the timeout.
struct NativeTimeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class NativeRunner {
 public:
  // Throws std::invalid_argument on options that cannot work (no replicas,
  // keys and endpoints of different counts, a gateway client id).
  explicit NativeRunner(NativeOptions options);
  ~NativeRunner();
  NativeRunner(const NativeRunner&) = delete;
  NativeRunner& operator=(const NativeRunner&) = delete;

  struct Answer {
    kv::Result result;
    bool fast = false;  // accepted on the fast path
    uint64_t timestamp = 0;
  };
  // Orders `op` (or, fast, tries the fast path first). Throws
  // NativeTimeout with what was seen.
  Answer run(const kv::Operation& op, bool fast = false);

  // Replies refused so far (wrong, unsigned, badly signed).
  uint64_t refused_replies() const { return refused_; }

 private:
  struct Link;
  struct Call;
  std::optional<Answer> attempt(const kv::Operation& op, bool fast, std::chrono::steady_clock::time_point deadline);
  std::string unreachable() const;
  void send(ReplicaId to, const std::shared_ptr<const Bytes>& frame);
  void connect(ReplicaId to);
  void read(ReplicaId from);
  void write_next(ReplicaId to);
  void drop(ReplicaId link);
  uint64_t next_timestamp();

  NativeOptions options_;
  crypto::SodiumCrypto crypto_;  // signs as the client, checks the replicas' signatures
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<Link>> links_;
  Call* call_ = nullptr;  // the call in progress
  uint64_t last_timestamp_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace pbft::client
