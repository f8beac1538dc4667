// Protocol settings of one cluster. Times are in ticks: the host calls
// Replica::tick() at a fixed period (the node: every tick_ms; the
// simulator: in virtual time).
#pragma once

#include <cstdint>

#include "core/quorum.h"

namespace pbft::core {

struct Config {
  uint32_t replica_count = 4;
  uint64_t checkpoint_interval = 10;       // K: a checkpoint every K sequence numbers
  uint64_t window_size = 40;               // L: accept sequence numbers in (h, h + L]
  uint32_t pipeline_depth_max = 8;         // batches proposed but not yet executed
  uint32_t batch_requests_max = 256;       // requests in one pre-prepare
  // While batches are in flight, the primary closes another only once at
  // least this many requests wait for each batch in flight; with none in
  // flight, one request closes a batch. Every batch costs the same fixed
  // work (a synced write and a round of messages at every replica) however
  // small it is, so a loaded primary packs bigger batches instead of
  // filling the pipeline with small ones, and a lightly loaded one still
  // sends each request at once. 0: a batch closes whenever the pipeline
  // has room.
  uint32_t batch_requests_min = 32;
  uint64_t batch_bytes_max = 4u << 20;     // operation bytes in one pre-prepare
  uint32_t view_change_timeout_ticks = 50; // first timeout; doubles per failed view
  uint32_t view_change_backoff_max = 6;    // at most 2^6 times the first timeout
  uint32_t status_interval_ticks = 10;     // how often a replica sends STATUS
  uint32_t state_fetch_retry_ticks = 50;   // re-ask for state after this long
  uint32_t pending_clients_max = 100000;   // clients with a request waiting
  uint32_t retransmit_slots_max = 64;      // slots covered by one STATUS answer
  // A primary too slow for what the backups see is replaced (Aardvark's
  // rule, in its simplest form): a backup that has held a request from a
  // gateway's link this long without a pre-prepare for it, while the
  // primary had room to propose (pipeline and window not full), passes it
  // on to the primary; this long again, and it asks for a view change
  // (view_change.cc). A correct primary proposes within a turn of its event
  // loop; a slow one that stays just under view_change_timeout_ticks per
  // batch is caught long before that. 0: off.
  uint32_t proposal_timeout_ticks = 20;
  // A peer caught signing garbage (a message whose signer is the peer
  // itself, sent over its own authenticated link, with a signature that
  // does not verify: no correct replica sends one) is muted this long:
  // everything it sends is dropped unread, so a replica that floods its
  // peers with messages costly to reject costs them one check per mute.
  // Ignoring a faulty replica is always safe. 0: never muted.
  uint32_t mute_faulty_peer_ticks = 1000;
  // Who decides when the primary closes a batch. false: as soon as a
  // request arrives and the pipeline has room. true: the primary asks
  // through Output::propose and batches when the host calls
  // Replica::propose() (the node: once per turn of its event loop, so a
  // batch holds every request that arrived in that turn).
  bool defer_proposals = false;

  // Testing only: replaces the quorum size (0 = the safe default). The
  // simulator's negative controls use it to prove the checkers catch an
  // unsafe quorum.
  uint32_t quorum_override_for_tests = 0;

  Quorum quorum() const {
    Quorum q = Quorum::for_replicas(replica_count);
    if (quorum_override_for_tests != 0) q.q = quorum_override_for_tests;
    return q;
  }
  // Whether the primary may close one more batch with `waiting` requests
  // waiting (or more) and `in_flight` batches proposed and not executed.
  bool pipeline_has_room(uint64_t in_flight, uint64_t waiting) const {
    if (in_flight >= pipeline_depth_max) return false;
    return in_flight == 0 || waiting >= in_flight * batch_requests_min;
  }
  // Returns an empty string when the settings are consistent, else what is wrong.
  const char* validate() const {
    if (replica_count < 1) return "replica_count must be at least 1";
    if (checkpoint_interval < 1) return "checkpoint_interval must be at least 1";
    if (window_size < 2 * checkpoint_interval)
      return "window_size must be at least twice checkpoint_interval";
    if (window_size % checkpoint_interval != 0)
      return "window_size must be a multiple of checkpoint_interval";
    if (pipeline_depth_max < 1) return "pipeline_depth_max must be at least 1";
    if (batch_requests_max < 1) return "batch_requests_max must be at least 1";
    if (view_change_timeout_ticks < 1) return "view_change_timeout_ticks must be at least 1";
    if (status_interval_ticks < 1) return "status_interval_ticks must be at least 1";
    return "";
  }
};

}  // namespace pbft::core
