// A simulated client: one operation at a time, signed requests, and a
// result accepted once f+1 distinct replicas reply with identical bytes for
// the current timestamp (writes: write_quorum). A read may take the
// read-only fast path: sent to every replica with Request::flag_read_only,
// accepted when fast_quorum replicas answer alike, otherwise ordered as a
// new request (fall_back). Timers and sending are the simulation's business.
//
// A client in library mode behaves as the client library does over the
// binary protocol (client/native_runner.h): every request asks for signed
// replies and an ordered one goes to every replica at once
// (Request::flag_sent_to_all); only replies whose signature checks count,
// ordered ones matching on result and sequence number.
//
// A bundling client signs each request as a gateway signs the requests of
// one turn (core/request_bundle.h): one signature over a bundle of it and
// a copy of itself, so every replica checks it by its path.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/types.h"
#include "crypto/fake_crypto.h"
#include "sim/event_queue.h"
#include "sim/rng.h"
#include "wire/messages.h"

namespace pbft::sim {

// One client operation from invocation to (maybe) completion.
struct ClientOp {
  ClientId client = 0;
  uint64_t timestamp = 0;
  Bytes operation;
  Time invoked = 0;
  bool completed = false;
  Time completed_at = 0;
  Bytes result;  // the accepted result, when completed
  bool fast = false;  // accepted through the read-only fast path (never executed)
};

class SimClient {
 public:
  SimClient(ClientId id, uint64_t cluster_secret, uint32_t replica_count, uint32_t reply_quorum,
            uint32_t write_quorum, uint32_t fast_quorum, bool library_mode = false, bool bundling = false);

  bool library_mode() const { return library_mode_; }

  // Whether `operation` (encoded) may take the fast path: gets and ranges.
  static bool is_read(const Bytes& operation);

  ClientId id() const { return id_; }
  // A random put / get / del / range (or prefix) / cas / txn over
  // `key_count` keys; written values are unique per operation
  // ("c<id>-t<timestamp>").
  Bytes random_operation(Rng& rng, uint32_t key_count) const;

  // Starts the next operation (timestamps 1, 2, 3, ...) and returns its
  // signed request.
  wire::Request begin(Bytes operation, Time now, bool fast = false);
  // The fast read did not get fast_quorum matching answers: the same read
  // as an ordered request with the next timestamp (the invocation time
  // stays that of the read).
  wire::Request fall_back();
  bool fast() const { return fast_; }
  // on_reply() found that no answer can reach fast_quorum any more.
  bool needs_fall_back() const { return needs_fall_back_; }
  bool busy() const { return busy_; }
  const wire::Request& request() const { return request_; }
  const ClientOp& current() const { return op_; }

  // The replica this client believes is the primary.
  ReplicaId primary() const { return static_cast<ReplicaId>(view_ % replica_count_); }

  // A reply that arrived over the link from replica `from`. Returns true
  // when it completes the current operation (see current()).
  bool on_reply(ReplicaId from, const wire::Reply& reply, Time now);

  uint64_t ignored_replies() const { return ignored_replies_; }

 private:
  ClientId id_;
  crypto::FakeCrypto crypto_;
  uint32_t replica_count_;
  uint32_t reply_quorum_;
  uint32_t write_quorum_;
  uint32_t fast_quorum_;
  bool library_mode_;
  bool bundling_;
  uint32_t quorum_ = 1;  // of the current request
  bool fast_ = false;
  bool needs_fall_back_ = false;
  uint64_t next_timestamp_ = 1;
  View view_ = 0;
  bool busy_ = false;
  wire::Request request_;
  ClientOp op_;
  std::map<ReplicaId, wire::Reply> replies_;  // for the current timestamp
  uint64_t ignored_replies_ = 0;

  // Library mode: the flags of an ordered or fast request, and whether a
  // reply carries the replica's valid signature.
  uint8_t flags(bool fast) const;
  void sign(wire::Request& r) const;
  bool reply_signed(ReplicaId from, const wire::Reply& reply) const;
};

}  // namespace pbft::sim
