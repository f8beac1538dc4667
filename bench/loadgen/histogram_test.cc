#include "bench/loadgen/histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace pbft::bench {
namespace {

TEST(Histogram, EmptyHasZeroes) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.quantile(0.5), 50u);
  EXPECT_EQ(h.quantile(0.9), 90u);
  EXPECT_EQ(h.quantile(0.99), 99u);
  EXPECT_EQ(h.quantile(1.0), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, BucketsCoverEveryValueInOrder) {
  for (uint64_t v : {uint64_t{0}, uint64_t{255}, uint64_t{256}, uint64_t{257}, uint64_t{1} << 20,
                     (uint64_t{1} << 40) + 12345, UINT64_MAX}) {
    const size_t i = Histogram::index_of(v);
    ASSERT_LT(i, Histogram::bucket_count) << v;
    EXPECT_LE(Histogram::lowest_of(i), v) << v;
    EXPECT_LE(v - Histogram::lowest_of(i), Histogram::width_of(i) - 1) << v;
  }
  for (size_t i = 1; i < Histogram::bucket_count; ++i)
    ASSERT_EQ(Histogram::lowest_of(i), Histogram::lowest_of(i - 1) + Histogram::width_of(i - 1)) << i;
}

TEST(Histogram, QuantilesWithinHalfAPercentOfSortedSamples) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(2e6), 0.8);  // ns around 2 ms
  std::vector<uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<uint64_t>(latency(rng));
    samples.push_back(v);
    h.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = static_cast<double>(samples[static_cast<size_t>(std::ceil(q * samples.size())) - 1]);
    EXPECT_NEAR(static_cast<double>(h.quantile(q)), exact, exact * 0.005) << q;
  }
}

TEST(Histogram, AddMergesCounts) {
  Histogram a, b;
  a.record(10);
  b.record(1000000);
  b.record(20);
  a.add(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.quantile(0.5), 20u);
}

}  // namespace
}  // namespace pbft::bench
