#include "core/quorum.h"

#include "common/assert.h"

namespace pbft::core {

Quorum Quorum::for_replicas(uint32_t n) {
  PBFT_ASSERT(n >= 1, "a cluster needs at least one replica");
  Quorum out;
  out.n = n;
  out.f = faults_tolerated(n);
  out.q = quorum_size(n);
  out.reply = out.f + 1;
  // Two quorums share a correct replica, and the correct replicas form one.
  PBFT_ASSERT(2 * out.q >= n + out.f + 1, "quorums must intersect in a correct replica");
  PBFT_ASSERT(out.q <= n - out.f, "correct replicas must form a quorum");
  return out;
}

}  // namespace pbft::core
