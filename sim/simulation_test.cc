#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "sim/event_queue.h"
#include "sim/rng.h"

namespace pbft::sim {
namespace {

RunResult run(uint64_t seed, PlanOptions plan = {}, std::ostream* trace = nullptr) {
  RunOptions o;
  o.seed = seed;
  o.plan = plan;
  o.trace = trace;
  return run_simulation(o);
}

std::string violations_of(const RunResult& r) {
  std::string s;
  for (const Violation& v : r.violations) s += v.checker + ": " + v.details + "\n";
  return s + r.plan + "replay: " + r.replay;
}

TEST(EventQueue, OrdersByTimeThenInsertion) {
  EventQueue<int> q;
  q.push(5, 1);
  q.push(3, 2);
  q.push(5, 3);
  q.push(3, 4);
  q.push(0, 5);
  std::vector<int> order;
  while (!q.empty()) order.push_back(q.pop().second);
  EXPECT_EQ(order, (std::vector<int>{5, 2, 4, 1, 3}));
}

TEST(Rng, SameSeedSameStream) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
  }
  Rng r(1);
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = r.range(3, 6);
    EXPECT_GE(v, 3u);
    EXPECT_LE(v, 6u);
  }
}

TEST(Simulation, FaultFreeRunCompletesEveryOperation) {
  for (uint32_t n : {4u, 5u, 7u}) {
    PlanOptions plan;
    plan.no_faults = true;
    plan.replicas = n;
    RunResult r = run(11, plan);
    EXPECT_TRUE(r.violations.empty()) << violations_of(r);
    EXPECT_GT(r.stats.ops_completed, 50u) << "n=" << n;
    EXPECT_EQ(r.stats.ops_completed, r.stats.ops_invoked) << "n=" << n;
    EXPECT_EQ(r.stats.mac_failures, 0u);
    EXPECT_EQ(r.stats.max_view, 0u) << "no faults, no view change";
  }
}

TEST(Simulation, RandomSeedsHaveNoViolations) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    RunResult r = run(seed);
    EXPECT_TRUE(r.violations.empty()) << violations_of(r);
    EXPECT_EQ(r.stats.ops_completed, r.stats.ops_invoked) << "seed " << seed;
  }
}

// A replica that lost its disk rebuilds itself by state transfer while a
// Byzantine peer serves altered manifests and chunks: the transfer still
// completes, from what the other peers serve, and nothing is violated.
TEST(Simulation, WipedReplicaFetchesStateDespiteABadPeer) {
  int runs = 0;
  uint64_t transfers = 0, tampered = 0;
  for (uint64_t seed = 1; seed < 5000 && runs < 3; ++seed) {
    FaultPlan plan = make_fault_plan(seed, {});
    bool wiped = std::any_of(plan.crashes.begin(), plan.crashes.end(), [](const CrashPlan& c) { return c.wipe; });
    bool bad_peer = std::any_of(plan.byzantine.begin(), plan.byzantine.end(), [](const ByzantinePlan& b) {
      return std::find(b.modes.begin(), b.modes.end(), ByzMode::bad_state) != b.modes.end();
    });
    if (!wiped || !bad_peer) continue;
    RunResult r = run(seed);
    EXPECT_TRUE(r.violations.empty()) << violations_of(r);
    ++runs;
    transfers += r.stats.state_transfers;
    tampered += r.stats.state_replies_tampered;
  }
  ASSERT_EQ(runs, 3);
  EXPECT_GT(transfers, 0u);
  EXPECT_GT(tampered, 0u) << "the bad peer never got to answer a state request";
}

// Seeds that once deadlocked a view change: correct replicas split across
// two neighbouring views, the lower group short of a quorum because a
// replica's newer VIEW-CHANGE had replaced the one it sent for their view.
TEST(Simulation, ViewChangeDeadlockSeedsRecover) {
  for (uint64_t seed : {211, 1674, 2623, 2782, 22646}) {
    RunResult r = run(seed);
    EXPECT_TRUE(r.violations.empty()) << violations_of(r);
  }
  PlanOptions seven;
  seven.replicas = 7;
  for (uint64_t seed : {50362, 50428}) {
    RunResult r = run(seed, seven);
    EXPECT_TRUE(r.violations.empty()) << violations_of(r);
  }
}

TEST(Simulation, SameSeedSameRun) {
  for (uint64_t seed : {3u, 6u, 11u}) {
    RunResult a = run(seed), b = run(seed);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.stats.events, b.stats.events);
    EXPECT_EQ(a.stats.ops_completed, b.stats.ops_completed);
    EXPECT_EQ(a.plan, b.plan);
    // Tracing only observes: the run is the same with it on, and so is the text.
    std::ostringstream t1, t2;
    RunResult c = run(seed, {}, &t1), d = run(seed, {}, &t2);
    EXPECT_EQ(a.trace_hash, c.trace_hash);
    EXPECT_EQ(t1.str(), t2.str());
    EXPECT_GT(t1.str().size(), 1000u);
  }
  EXPECT_NE(run(1).trace_hash, run(2).trace_hash);
}

// The negative controls break the fault assumptions; the checkers must notice.
void expect_control_fails(Control control, std::optional<uint32_t> replicas = std::nullopt) {
  PlanOptions plan;
  plan.control = control;
  plan.replicas = replicas;
  int found = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    RunResult r = run(seed, plan);
    for (const Violation& v : r.violations) {
      if (is_safety_violation(v)) {
        ++found;
        break;
      }
    }
  }
  EXPECT_GT(found, 0) << "control " << control_name(control) << " found no violation in 20 seeds";
}

TEST(NegativeControls, FPlusOneLiarsAreCaught) { expect_control_fails(Control::f1_liars); }
TEST(NegativeControls, FPlusOneLiarsAreCaughtAtSeven) { expect_control_fails(Control::f1_liars, 7); }
TEST(NegativeControls, FPlusOneEquivocatorsAreCaught) { expect_control_fails(Control::f1_equivocators); }
TEST(NegativeControls, SeedQuorumIsCaught) { expect_control_fails(Control::seed_quorum); }

TEST(NegativeControls, ReplayCommandNamesTheControl) {
  PlanOptions plan;
  plan.control = Control::seed_quorum;
  EXPECT_EQ(replay_command(9, plan), "pbft-sim --seed 9 --control seed-quorum --trace");
  EXPECT_EQ(replay_command(9, {}), "pbft-sim --seed 9 --trace");
}

}  // namespace
}  // namespace pbft::sim
