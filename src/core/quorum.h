// Quorum arithmetic for n replicas tolerating f Byzantine faults.
//
//   f          = floor((n - 1) / 3)
//   quorum q   = ceil((n + f + 1) / 2)   (2f + 1 when n = 3f + 1)
//   reply f+1  matching replies include at least one correct replica
//
// Any two quorums intersect in at least f + 1 replicas, so in at least one
// correct replica; q <= n - f, so the correct replicas alone form a quorum.
#pragma once

#include <cstdint>

namespace pbft::core {

struct Quorum {
  uint32_t n = 0;
  uint32_t f = 0;
  uint32_t q = 0;      // prepare/commit/checkpoint/view-change quorum
  uint32_t reply = 0;  // matching replies a client needs

  static Quorum for_replicas(uint32_t n);
};

constexpr uint32_t faults_tolerated(uint32_t n) { return n == 0 ? 0 : (n - 1) / 3; }
constexpr uint32_t quorum_size(uint32_t n) {
  uint32_t f = faults_tolerated(n);
  return (n + f + 1 + 1) / 2;
}

static_assert(faults_tolerated(4) == 1 && quorum_size(4) == 3);
static_assert(faults_tolerated(7) == 2 && quorum_size(7) == 5);

}  // namespace pbft::core
