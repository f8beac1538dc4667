// A latency histogram with logarithmic buckets, in the manner of
// HdrHistogram: values below 2^sub_bucket_bits are kept exactly, larger ones
// in buckets 1/2^(sub_bucket_bits-1) of their magnitude wide (0.4% with 8
// bits). Fixed size (about 60 KB), so a long run costs no more memory than a
// short one, and two histograms add bucket by bucket.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace pbft::bench {

class Histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 8;
  static constexpr uint64_t sub_bucket_count = uint64_t{1} << sub_bucket_bits;  // 256
  static constexpr uint64_t half_count = sub_bucket_count / 2;                  // 128
  // Every uint64_t value has a bucket: exact ones, then half_count per power of two.
  static constexpr size_t bucket_count = sub_bucket_count + (64 - sub_bucket_bits) * half_count;

  void record(uint64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    sum_ += static_cast<double>(value);
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  void add(const Histogram& other) {
    for (size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }

  // The value at quantile q in [0, 1]: the middle of the bucket holding the
  // ceil(q * count)-th smallest value, within the smallest and largest
  // values seen. 0 for an empty histogram.
  uint64_t quantile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(middle_of(i), min_, max_);
    }
    return max_;
  }

  static size_t index_of(uint64_t value) {
    if (value < sub_bucket_count) return static_cast<size_t>(value);
    const unsigned msb = 63 - static_cast<unsigned>(std::countl_zero(value));  // >= sub_bucket_bits
    const unsigned shift = msb - (sub_bucket_bits - 1);                          // >= 1
    const uint64_t mantissa = value >> shift;  // in [half_count, sub_bucket_count)
    return static_cast<size_t>(sub_bucket_count + (shift - 1) * half_count + (mantissa - half_count));
  }
  // The smallest value and the width of bucket i.
  static uint64_t lowest_of(size_t i) {
    if (i < sub_bucket_count) return i;
    const uint64_t shift = (i - sub_bucket_count) / half_count + 1;
    const uint64_t mantissa = (i - sub_bucket_count) % half_count + half_count;
    return mantissa << shift;
  }
  static uint64_t width_of(size_t i) {
    if (i < sub_bucket_count) return 1;
    return uint64_t{1} << ((i - sub_bucket_count) / half_count + 1);
  }
  static uint64_t middle_of(size_t i) { return lowest_of(i) + (width_of(i) - 1) / 2; }

 private:
  std::array<uint64_t, bucket_count> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace pbft::bench
