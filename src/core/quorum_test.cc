#include "core/quorum.h"

#include <gtest/gtest.h>

namespace pbft::core {
namespace {

struct Row {
  uint32_t n, f, q, reply;
};

TEST(Quorum, Table) {
  const Row rows[] = {
      {1, 0, 1, 1}, {2, 0, 2, 1}, {3, 0, 2, 1},  {4, 1, 3, 2},  {5, 1, 4, 2},
      {6, 1, 4, 2}, {7, 2, 5, 3}, {8, 2, 6, 3}, {10, 3, 7, 4}, {13, 4, 9, 5},
  };
  for (const Row& r : rows) {
    Quorum q = Quorum::for_replicas(r.n);
    EXPECT_EQ(q.f, r.f) << "n=" << r.n;
    EXPECT_EQ(q.q, r.q) << "n=" << r.n;
    EXPECT_EQ(q.reply, r.reply) << "n=" << r.n;
  }
}

TEST(Quorum, IntersectionAndAvailabilityForEveryClusterSize) {
  for (uint32_t n = 1; n <= 100; ++n) {
    Quorum q = Quorum::for_replicas(n);
    // Two quorums overlap in at least f+1 replicas: one of them is correct.
    EXPECT_GE(2 * q.q - n, q.f + 1) << "n=" << n;
    // The n-f correct replicas can form a quorum without the faulty ones.
    EXPECT_LE(q.q, n - q.f) << "n=" << n;
    EXPECT_EQ(q.f, (n - 1) / 3) << "n=" << n;
  }
}

// The seed project's formula (n/3)*2+1 breaks intersection at n = 5: two of
// its quorums can share only a single (possibly faulty) replica.
TEST(Quorum, SeedFormulaIsUnsafeAtFive) {
  uint32_t n = 5, f = faults_tolerated(5);
  uint32_t seed_q = (n / 3) * 2 + 1;
  EXPECT_LT(2 * seed_q - n, f + 1);
  EXPECT_GE(2 * Quorum::for_replicas(5).q - n, f + 1);
}

}  // namespace
}  // namespace pbft::core
