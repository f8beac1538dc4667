// Fetches the state at a certified checkpoint from peers, and serves this
// replica's checkpoints to them. Pure and deterministic: no clocks,
// threads or sockets; the host passes messages in and out and calls tick()
// at a fixed period.
//
// Fetching: ask one peer for the checkpoint's snapshot (the reply cache
// followed by the KV manifest) and check its digest against the certified
// one; then ask for the buckets whose leaf differs from this replica's, in
// ranges of consecutive buckets spread round robin over the peers (never
// itself), up to `in_flight` requests outstanding. KvStore::stage_chunk
// checks every chunk and every completed bucket against the manifest. A
// range keeps its peer while that peer delivers; an unavailable, bad or
// late answer moves it to another peer (once every peer failed it in a
// row, after a timeout's wait, so that a checkpoint nobody keeps does not
// make the fetcher ask in a loop). A peer that sent a part failing
// verification is asked nothing more in this transfer while another peer
// is left. No single peer's word is trusted:
// everything is checked against the digest a quorum certified.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/types.h"
#include "core/replica.h"
#include "crypto/crypto.h"
#include "kv/kv_store.h"
#include "wire/messages.h"

namespace pbft::kv {

struct FetchOptions {
  ReplicaId self = 0;
  uint32_t replica_count = 0;
  uint32_t chunk_bytes = 1 << 20;  // asked per chunk (StateRequest::max_bytes)
  uint32_t in_flight = 4;          // requests outstanding at once
  uint64_t timeout_ticks = 100;    // an unanswered request moves to another peer after this
};

class StateFetcher {
 public:
  // Buckets per range at most, so that a large transfer spreads over peers.
  static constexpr uint32_t range_buckets_max = 256;

  StateFetcher(KvStore& kv, const crypto::Crypto& crypto, FetchOptions options);

  // From core::Output::fetch_state. A newer seq replaces an older target;
  // the same or an older one is a no-op unless idle.
  void start(Seq seq, const Digest& digest);
  // A reply from peer `from` (the host authenticated the link).
  void on_reply(ReplicaId from, const wire::StateReply& reply);
  // One unit of time: requests older than timeout_ticks go to another peer.
  void tick();
  std::vector<std::pair<ReplicaId, wire::StateRequest>> take_requests();
  // Once the snapshot is verified and every differing bucket staged: (seq,
  // snapshot) for core::Replica::state_transferred. The fetcher is idle after.
  std::optional<std::pair<Seq, Bytes>> take_ready();
  bool active() const { return phase_ != Phase::idle; }

  struct Progress {
    Seq seq = 0;
    uint64_t bytes = 0;   // payload bytes accepted
    uint64_t chunks = 0;  // chunks accepted
    uint32_t buckets_done = 0, buckets_total = 0;
    uint64_t bad_replies = 0;  // replies that failed verification
  };
  Progress progress() const { return progress_; }

  // Answers a peer's request: the snapshot part from `checkpoint` (this
  // replica's checkpoint at request.seq, null if it keeps none), chunks
  // from the KvStore's read view. Unavailable when either is missing.
  static wire::StateReply serve(const wire::StateRequest& request, ReplicaId self,
                                const core::OwnCheckpoint* checkpoint, const KvStore& kv);

 private:
  enum class Phase { idle, snapshot, chunks, ready };
  struct Asked {
    ReplicaId peer = 0;
    uint64_t at = 0;  // tick sent
  };
  // Who to ask for one thing (the snapshot, or one range), and when.
  struct Asking {
    std::optional<ReplicaId> peer;   // kept while it delivers
    std::optional<ReplicaId> avoid;  // failed last
    std::optional<Asked> asked;      // outstanding request
    uint32_t failures = 0;           // in a row
    uint64_t not_before = 0;         // tick: after every peer failed in a row, wait
  };
  struct Range {
    uint32_t end = 0;  // buckets [position.bucket, end) remain
    ChunkPosition position;
    Asking asking;
  };

  void on_snapshot(ReplicaId from, const wire::StateReply& reply);
  void on_chunk(Range& range, ReplicaId from, const wire::StateReply& reply);
  void send_requests();
  // Whom to ask now; nullopt when waiting or there is nobody.
  std::optional<ReplicaId> choose(Asking& a);
  void failed(Asking& a, ReplicaId peer);
  std::optional<ReplicaId> pick_peer(std::optional<ReplicaId> avoid);
  void plan_ranges(const std::vector<uint32_t>& buckets);
  void finish_if_complete();

  KvStore& kv_;
  const crypto::Crypto& crypto_;
  FetchOptions options_;

  Phase phase_ = Phase::idle;
  Seq seq_ = 0;
  Digest digest_;
  Bytes snapshot_;  // verified: reply cache + manifest
  Asking snapshot_asking_;
  std::vector<Range> ranges_;
  uint32_t next_peer_ = 0;  // round robin
  std::set<ReplicaId> caught_;  // peers that sent a part failing verification, this transfer
  uint64_t now_ = 0;
  Progress progress_;
  std::vector<std::pair<ReplicaId, wire::StateRequest>> requests_;
};

}  // namespace pbft::kv
