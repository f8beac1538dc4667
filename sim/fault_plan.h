// What one seed gets: the cluster's size and settings, the clients, the
// network faults, partitions, crashes and Byzantine replicas of phase 1,
// and when phase 2 (healing) starts. Everything is drawn from the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "sim/byzantine.h"
#include "sim/event_queue.h"
#include "sim/network.h"

namespace pbft::sim {

// Negative controls: plans that break the fault assumptions on purpose, so
// that the checkers must find violations.
enum class Control : uint8_t {
  none,
  f1_liars,         // f+1 replicas tell clients the same wrong result
  f1_equivocators,  // f+1 colluding equivocators split the correct replicas
  seed_quorum,      // n = 5 with the seed project's quorum 3 and one equivocator
};
std::string_view control_name(Control c);
std::optional<Control> control_from_name(std::string_view name);

struct PlanOptions {
  std::optional<uint32_t> replicas;  // forces n
  Control control = Control::none;
  bool no_faults = false;  // a calm network, no crashes, no Byzantine replicas
};

struct CrashPlan {
  ReplicaId replica = 0;
  Time crash_at = 0;
  Time restart_at = 0;  // at the latest when phase 2 starts
  // The disk is lost too: the replica restarts empty and must catch up by
  // state transfer. Having forgotten what it promised, it counts as faulty
  // (against f) for the rest of the run, but its executions are checked.
  bool wipe = false;
};

struct ByzantinePlan {
  ReplicaId replica = 0;
  std::vector<ByzMode> modes;
};

struct FaultPlan {
  uint64_t seed = 0;
  Control control = Control::none;
  core::Config config;
  uint64_t cluster_id = 0;
  uint64_t cluster_secret = 0;

  uint32_t client_count = 3;
  uint32_t key_count = 3;
  Time think_max = 0;         // a client's pause between operations
  Time client_retry = 0;      // resend to every replica after this long
  uint32_t ops_after_heal = 3;  // operations each client runs in phase 2

  Time heal_at = 0;         // phase 2 starts
  Time liveness_bound = 0;  // after heal_at, every operation must be done

  LinkFaults faults;  // phase 1
  LinkFaults healed;  // phase 2
  std::vector<Partition> partitions;
  std::vector<CrashPlan> crashes;
  std::vector<ByzantinePlan> byzantine;
  // Clients read through the read-only fast path half the time (as the
  // node's gateway does: accepted when every replica answers alike).
  bool fast_reads = false;
  bool colluding = false;  // Byzantine replicas share one equivocation plan

  const ByzantinePlan* byzantine_plan(ReplicaId r) const;
  std::string describe() const;
};

inline constexpr Time tick_us = 10 * us_per_ms;

FaultPlan make_fault_plan(uint64_t seed, const PlanOptions& options);

}  // namespace pbft::sim
