// What both load generators (pbft-loadgen over HTTP, pbft-native-load over
// the binary protocol) share: the keys they use and how they report latency.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "bench/loadgen/histogram.h"

namespace pbft::bench {

// Key n: 'k' and n zero-padded to key_size bytes (longer when n needs it).
inline std::string key_name(uint64_t n, uint32_t key_size) {
  std::string digits = std::to_string(n);
  std::string k = "k";
  if (k.size() + digits.size() < key_size) k.append(key_size - k.size() - digits.size(), '0');
  return k + digits;
}

// The percentiles of a latency histogram in nanoseconds, in milliseconds.
inline nlohmann::json latency_json(const Histogram& h) {
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  return {{"count", h.count()},
          {"mean_ms", h.mean() / 1e6},
          {"p50_ms", ms(h.quantile(0.50))},
          {"p90_ms", ms(h.quantile(0.90))},
          {"p99_ms", ms(h.quantile(0.99))},
          {"p999_ms", ms(h.quantile(0.999))},
          {"max_ms", ms(h.max())}};
}

}  // namespace pbft::bench
