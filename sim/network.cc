#include "sim/network.h"

#include <cstdio>

namespace pbft::sim {

std::string LinkFaults::describe() const {
  char buf[200];
  std::snprintf(buf, sizeof buf, "drop=%.0f%% dup=%.1f%% delay=%llu-%llums long=%.1f%%(<=%llums)",
                drop * 100, duplicate * 100, static_cast<unsigned long long>(delay_min / us_per_ms),
                static_cast<unsigned long long>(delay_max / us_per_ms), long_delay * 100,
                static_cast<unsigned long long>(long_delay_max / us_per_ms));
  return buf;
}

bool Network::connected(ReplicaId a, ReplicaId b, Time now) const {
  if (healed_) return true;
  for (const Partition& p : partitions_) {
    if (now < p.start || now >= p.end) continue;
    bool a_in = (p.side >> a) & 1u;
    bool b_in = (p.side >> b) & 1u;
    if (a_in != b_in) return false;
  }
  return true;
}

Time Network::delay() {
  Time d = rng_.range(faults_.delay_min, faults_.delay_max);
  if (faults_.long_delay_max > 0 && rng_.chance(faults_.long_delay)) {
    d += rng_.range(0, faults_.long_delay_max);
  }
  return d;
}

Deliveries Network::roll(Time now) {
  Deliveries out;
  if (rng_.chance(faults_.drop)) {
    ++dropped_;
    return out;
  }
  out.at[out.count++] = now + delay();
  if (rng_.chance(faults_.duplicate)) {
    ++duplicated_;
    out.at[out.count++] = now + delay();
  }
  return out;
}

Deliveries Network::between_replicas(ReplicaId a, ReplicaId b, Time now) {
  if (!connected(a, b, now)) {
    ++dropped_;
    return {};
  }
  return roll(now);
}

Deliveries Network::to_or_from_client(Time now) { return roll(now); }

}  // namespace pbft::sim
