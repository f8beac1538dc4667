// The simulator's only source of randomness: splitmix64, seeded from the run's
// seed. Every random choice of a run comes from one of these, so a seed
// replays exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "common/assert.h"

namespace pbft::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) {
    PBFT_ASSERT(n > 0, "Rng::below(0)");
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) {
    PBFT_ASSERT(lo <= hi, "Rng::range with lo > hi");
    return lo + below(hi - lo + 1);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  bool chance(double p) { return p > 0 && unit() < p; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

  // An independent stream, so that one part of the simulation drawing more
  // numbers does not shift the choices of another.
  Rng fork() { return Rng(next() ^ 0x5851f42d4c957f2dULL); }

 private:
  uint64_t state_;
};

}  // namespace pbft::sim
