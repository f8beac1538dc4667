// The replicated application as the core sees it. It must be deterministic:
// the same operations in the same order give the same results and the same
// checkpoint manifests on every replica, whatever the machine, clock or
// thread.
#pragma once

#include <cstdint>
#include <optional>

#include "common/types.h"

namespace pbft::core {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one client operation, ordered at `seq`. Malformed operations
  // are not errors of the protocol: they produce an error result, the same
  // on every replica.
  virtual Bytes apply(Seq seq, ByteView operation) = 0;

  // The read-only fast path: the answer to `operation` from the current
  // state, changing nothing, when it is a read; nullopt otherwise. The
  // answer must not depend on how far the replica has executed other than
  // through the state itself, so that replicas in the same state agree.
  virtual std::optional<Bytes> read_only(ByteView operation) const {
    (void)operation;
    return std::nullopt;
  }

  // Seals the state after `seq` (the last applied sequence number) as a
  // checkpoint and returns its manifest: canonical bytes that identify the
  // state (equal states give equal manifests, different states different
  // ones), small and cheap to compute (never a pass over the whole state).
  // The core hashes it, with its reply cache, into the checkpoint digest.
  // The core applies nothing more until its host has persisted (see
  // Output::resume), so the host can take a read view of exactly this
  // state for serving it to peers.
  virtual Bytes checkpoint(Seq seq) = 0;

  // Replaces the state with the one `manifest` describes at `seq`; the
  // manifest is certified by a quorum, and the state itself was fetched
  // from peers by the host beforehand. Returns false, and leaves the state
  // unchanged, when that state is not (entirely) available here: the core
  // then asks its host to fetch again.
  virtual bool restore(Seq seq, ByteView manifest) = 0;

  // Checkpoints below `seq` are no longer served to peers.
  virtual void discard_checkpoints_below(Seq seq) = 0;
};

}  // namespace pbft::core
