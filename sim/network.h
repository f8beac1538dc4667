// The simulated network: per-message drop, delay (with occasional long
// delays, which reorder), duplication, and timed partitions between groups
// of replicas. Pure bookkeeping: the simulation asks when (if ever) a
// message arrives and schedules the delivery itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/types.h"
#include "sim/event_queue.h"
#include "sim/rng.h"

namespace pbft::sim {

struct LinkFaults {
  double drop = 0;       // probability a message is lost
  double duplicate = 0;  // probability a message arrives twice
  Time delay_min = 1 * us_per_ms;
  Time delay_max = 5 * us_per_ms;
  double long_delay = 0;  // probability of an extra long delay (reordering)
  Time long_delay_max = 0;

  std::string describe() const;
};

// Replicas whose bit is set in `side` cannot talk to the others during
// [start, end).
struct Partition {
  Time start = 0;
  Time end = 0;
  uint32_t side = 0;
};

// When a message arrives: not at all, once, or twice.
struct Deliveries {
  uint32_t count = 0;
  Time at[2] = {0, 0};
};

class Network {
 public:
  Network(LinkFaults faults, std::vector<Partition> partitions, Rng rng)
      : faults_(faults), partitions_(std::move(partitions)), rng_(rng) {}

  // Ends every fault: no more drops, duplicates or partitions.
  void heal(const LinkFaults& healed) {
    faults_ = healed;
    healed_ = true;
  }
  bool healed() const { return healed_; }

  // Whether replicas a and b can reach each other at `now`.
  bool connected(ReplicaId a, ReplicaId b, Time now) const;

  // When a message sent at `now` from replica a to replica b arrives.
  Deliveries between_replicas(ReplicaId a, ReplicaId b, Time now);
  // Client links are lossy and slow like the others, but never partitioned.
  Deliveries to_or_from_client(Time now);

  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  Time delay();
  Deliveries roll(Time now);

  LinkFaults faults_;
  std::vector<Partition> partitions_;
  Rng rng_;
  bool healed_ = false;
  uint64_t dropped_ = 0;
  uint64_t duplicated_ = 0;
};

}  // namespace pbft::sim
