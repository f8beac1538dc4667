// The protocol messages, as plain values. Encoding lives in codec.h; who
// signs and checks what is in docs/PROTOCOL.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "common/types.h"

namespace pbft::wire {

// A client's operation. Signed by the client over (client, timestamp,
// operation, flags); the pair (client, timestamp) identifies it for
// exactly-once execution. `flags` asks for extras in the reply:
// flag_signed_reply makes every replica sign its reply (see Reply);
// flag_read_only asks for the read-only fast path: each replica answers a
// read from its current state at once, without ordering it (nothing is
// recorded for it, and an operation that is not a read gets no answer);
// flag_sent_to_all says the client sent it to every replica itself, so a
// backup need not pass it on to the primary at once (it does when the
// primary leaves it waiting, as for a gateway's request).
//
// flag_bundled: the signature is not over this request alone but over the
// root of a Merkle tree of requests its client signed at once (a gateway
// signs every request of one turn of its event loop with one signature,
// core/request_bundle.h); `bundle_path` holds the sibling hashes from the
// request's leaf up to the root, `bundle_index` the leaf's position (bit i:
// whether the node at height i is a right child). Set exactly when the
// flag is: the codec refuses a path without the flag, and a flag without a
// path, or deeper than bundle_depth_max.
struct Request {
  ClientId client = 0;
  uint64_t timestamp = 0;
  Bytes operation;
  Signature sig{};
  uint8_t flags = 0;  // after sig only so that {client, timestamp, operation, sig} still initialises
  std::vector<Digest> bundle_path;
  uint32_t bundle_index = 0;
  bool operator==(const Request&) const = default;

  static constexpr uint8_t flag_signed_reply = 1;
  static constexpr uint8_t flag_read_only = 2;
  static constexpr uint8_t flag_sent_to_all = 4;
  static constexpr uint8_t flag_bundled = 8;
  static constexpr uint8_t flags_known = flag_signed_reply | flag_read_only | flag_sent_to_all | flag_bundled;
  static constexpr size_t bundle_depth_max = 16;
};

// The primary's proposal of a batch at (view, seq). The signature covers
// (view, seq, digest) only, so the batch can travel apart from it (NEW-VIEW
// carries headers and the batches come from the prepared certificates).
struct PrePrepare {
  View view = 0;
  Seq seq = 0;
  Digest digest;               // batch_digest(batch)
  std::vector<Request> batch;  // empty for a null request
  Signature sig{};
  bool operator==(const PrePrepare&) const = default;
};

// Signed, because prepares travel inside prepared certificates.
struct Prepare {
  View view = 0;
  Seq seq = 0;
  Digest digest;
  ReplicaId replica = 0;
  Signature sig{};
  bool operator==(const Prepare&) const = default;
};

// Point to point only: authenticated by the link's MAC, never forwarded.
struct Commit {
  View view = 0;
  Seq seq = 0;
  Digest digest;
  ReplicaId replica = 0;
  bool operator==(const Commit&) const = default;
};

// Signed: q matching checkpoints form a stable checkpoint certificate.
struct Checkpoint {
  Seq seq = 0;
  Digest state_digest;
  ReplicaId replica = 0;
  Signature sig{};
  bool operator==(const Checkpoint&) const = default;
};

// A pre-prepare and q-1 matching prepares from distinct backups.
struct PreparedCert {
  PrePrepare pre_prepare;
  std::vector<Prepare> prepares;
  bool operator==(const PreparedCert&) const = default;
};

// Signed over every field but the signature.
struct ViewChange {
  View new_view = 0;
  Seq stable_seq = 0;
  std::vector<Checkpoint> checkpoint_cert;  // empty when stable_seq == 0
  std::vector<PreparedCert> prepared;       // one per seq above stable_seq
  ReplicaId replica = 0;
  Signature sig{};
  bool operator==(const ViewChange&) const = default;
};

// Signed by the new primary over every field but the signature. The
// pre-prepares carry no batch: each backup recomputes them from the view
// changes and takes the batches from the prepared certificates there.
struct NewView {
  View view = 0;
  std::vector<ViewChange> view_changes;
  std::vector<PrePrepare> pre_prepares;
  ReplicaId replica = 0;
  Signature sig{};
  bool operator==(const NewView&) const = default;
};

// A replica's answer to a client: the result of the request (client,
// timestamp), executed at `seq`. Authenticated by the link; when the request
// carried Request::flag_signed_reply it is also signed by the replica over
// reply_signing_bytes (client, timestamp, seq, replica, the digest of the
// request's operation and the digest of the result), so that f+1 matching
// signed replies form a reply certificate anyone with the replicas' public
// keys can check. The view is not signed: replicas answer a retransmission
// from their reply cache in whatever view they are in.
struct Reply {
  View view = 0;
  uint64_t timestamp = 0;
  ClientId client = 0;
  ReplicaId replica = 0;
  Bytes result;
  Seq seq = 0;
  std::optional<Signature> sig;
  bool operator==(const Reply&) const = default;
};

// Periodic summary a replica sends so that its peers can resend what it
// misses. slot_flags[i] describes seq last_executed + 1 + i. A replica that
// suspects the primary of `view` asks here for a view change to asks_view
// (> view; 0 when it asks for none) while it goes on working in `view`; it
// sends the status at once when it starts asking (docs/PROTOCOL.md).
struct Status {
  ReplicaId replica = 0;
  View view = 0;
  bool view_active = true;
  Seq stable_seq = 0;
  Seq last_executed = 0;
  std::vector<uint8_t> slot_flags;
  View asks_view = 0;
  bool operator==(const Status&) const = default;

  static constexpr uint8_t has_pre_prepare = 1;
  static constexpr uint8_t prepared = 2;
  static constexpr uint8_t committed = 4;
};

// A stable checkpoint certificate sent to a replica that is behind.
struct StableCheckpoint {
  std::vector<Checkpoint> certificate;
  bool operator==(const StableCheckpoint&) const = default;
};

// State transfer between hosts (not seen by the core): a replica that must
// fetch the state at a stable checkpoint asks a peer, which answers with its
// snapshot at that sequence number (empty if it no longer has it). The
// asker's core checks the snapshot against the certified digest.
// State transfer (see docs/PROTOCOL.md): a replica that is behind asks a
// peer for a part of its state at a checkpoint it keeps: the manifest (the
// checkpoint's snapshot as the core defines it: reply cache and application
// manifest), or a chunk of application records in buckets
// [bucket, bucket_end) starting after `after` in `bucket`. Everything
// fetched is checked against the certified digest, so no single peer
// decides what the state is.
enum class StatePart : uint8_t { manifest = 0, chunk = 1 };

struct StateRequest {
  Seq seq = 0;
  ReplicaId replica = 0;  // who asks
  StatePart part = StatePart::manifest;
  uint32_t bucket = 0;
  uint32_t bucket_end = 0;
  Bytes after;             // the last record key already fetched in `bucket`
  uint32_t max_bytes = 0;  // of the reply's payload, roughly
  bool operator==(const StateRequest&) const = default;
};

struct StateReply {
  Seq seq = 0;
  ReplicaId replica = 0;  // who answers
  StatePart part = StatePart::manifest;
  uint32_t bucket = 0;    // the request's position, echoed
  Bytes after;
  bool available = false;  // false: this replica does not keep that checkpoint
  Bytes payload;           // the manifest, or an encoded chunk (kv/chunk.h)
  bool operator==(const StateReply&) const = default;
};

using Message = std::variant<Request, PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView,
                             Reply, Status, StableCheckpoint, StateRequest, StateReply>;

enum class MessageType : uint8_t {
  request = 1,
  pre_prepare = 2,
  prepare = 3,
  commit = 4,
  checkpoint = 5,
  view_change = 6,
  new_view = 7,
  reply = 8,
  status = 9,
  stable_checkpoint = 10,
  state_request = 11,
  state_reply = 12,
};

MessageType type_of(const Message& m);
std::string_view type_name(MessageType t);
inline std::string_view type_name(const Message& m) { return type_name(type_of(m)); }

}  // namespace pbft::wire
