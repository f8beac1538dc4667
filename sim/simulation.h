// One run of one seed: build the cluster and the clients its fault plan
// describes, run them on virtual time through the faults and the heal,
// check the invariants after every step, and report.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/replica.h"
#include "sim/checkers.h"
#include "sim/fault_plan.h"

namespace pbft::sim {

struct RunOptions {
  uint64_t seed = 1;
  PlanOptions plan;
  std::ostream* trace = nullptr;  // a readable event trace when set
};

struct RunStats {
  uint32_t replicas = 0;
  uint64_t events = 0;
  uint64_t messages = 0;        // replica-to-replica deliveries attempted
  uint64_t mac_failures = 0;    // dropped by the receiver: bad MAC
  uint64_t decode_failures = 0; // dropped by the receiver: bad frame
  uint64_t ops_invoked = 0;
  uint64_t ops_completed = 0;
  uint64_t executions = 0;      // requests executed by correct replicas
  uint64_t fast_reads = 0;      // reads accepted through the read-only fast path
  uint64_t fast_fallbacks = 0;  // fast reads that had to be ordered
  bool model_replayed = false;  // the whole history replayed on the reference model
  uint64_t state_transfers = 0; // fetched states handed to replicas
  uint64_t state_replies_tampered = 0;  // state-transfer answers a Byzantine peer altered or withheld
  uint64_t byzantine_tampered = 0;
  core::RejectCounts rejected;  // summed over correct replicas still up at the end
  View max_view = 0;
  Time end_time = 0;
};

struct RunResult {
  uint64_t seed = 0;
  std::string plan;  // FaultPlan::describe()
  std::vector<Violation> violations;
  RunStats stats;
  uint64_t trace_hash = 0;  // of every event of the run, for determinism checks
  std::string replay;       // the command that replays this run
};

RunResult run_simulation(const RunOptions& options);

// Safety violations (agreement, validity, linearizability, a broken core
// invariant), as opposed to liveness or the event budget. Negative controls
// count these.
bool is_safety_violation(const Violation& v);

// "pbft-sim --seed S [--replicas n] [--control NAME] --trace"
std::string replay_command(uint64_t seed, const PlanOptions& plan);

}  // namespace pbft::sim
