#include "sim/fault_plan.h"

#include <gtest/gtest.h>

#include <string>

namespace pbft::sim {
namespace {

// Replicas down (or wiped, which counts for the rest of the run) at t.
uint32_t faulty_at(const FaultPlan& p, Time t) {
  uint32_t n = static_cast<uint32_t>(p.byzantine.size());
  for (const CrashPlan& c : p.crashes)
    if (c.crash_at <= t && (c.wipe || t < c.restart_at)) ++n;
  return n;
}

TEST(FaultPlan, NeverMoreThanFFaultyAtOnce) {
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    FaultPlan p = make_fault_plan(seed, {});
    const uint32_t n = p.config.replica_count;
    const uint32_t f = core::faults_tolerated(n);
    ASSERT_EQ(std::string(p.config.validate()), "") << p.describe();
    EXPECT_EQ(p.config.window_size % p.config.checkpoint_interval, 0u);
    EXPECT_LE(p.byzantine.size(), f);
    for (const CrashPlan& c : p.crashes) {
      EXPECT_EQ(p.byzantine_plan(c.replica), nullptr) << "a Byzantine replica also crashes\n" << p.describe();
      EXPECT_LT(c.crash_at, c.restart_at);
      EXPECT_LE(c.restart_at, p.heal_at);
      EXPECT_LE(faulty_at(p, c.crash_at), f) << p.describe();
    }
    for (const Partition& part : p.partitions) {
      EXPECT_NE(part.side, 0u);
      EXPECT_NE(part.side, (1u << n) - 1) << "a partition cuts nobody off";
      EXPECT_LE(part.end, p.heal_at);
    }
    for (const ByzantinePlan& b : p.byzantine) EXPECT_FALSE(b.modes.empty());
  }
}

TEST(FaultPlan, SameSeedSamePlan) {
  EXPECT_EQ(make_fault_plan(77, {}).describe(), make_fault_plan(77, {}).describe());
  EXPECT_NE(make_fault_plan(77, {}).describe(), make_fault_plan(78, {}).describe());
  PlanOptions seven;
  seven.replicas = 7;
  EXPECT_EQ(make_fault_plan(77, seven).config.replica_count, 7u);
}

TEST(FaultPlan, NoFaultsMeansNone) {
  PlanOptions calm;
  calm.no_faults = true;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    FaultPlan p = make_fault_plan(seed, calm);
    EXPECT_TRUE(p.byzantine.empty());
    EXPECT_TRUE(p.crashes.empty());
    EXPECT_TRUE(p.partitions.empty());
    EXPECT_EQ(p.faults.drop, 0.0);
  }
}

TEST(FaultPlan, ControlsBreakTheAssumptions) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    PlanOptions liars;
    liars.control = Control::f1_liars;
    FaultPlan p = make_fault_plan(seed, liars);
    EXPECT_EQ(p.byzantine.size(), core::faults_tolerated(p.config.replica_count) + 1);

    PlanOptions seed_quorum;
    seed_quorum.control = Control::seed_quorum;
    FaultPlan q = make_fault_plan(seed, seed_quorum);
    EXPECT_EQ(q.config.replica_count, 5u);
    EXPECT_EQ(q.config.quorum().q, 3u);
  }
  EXPECT_EQ(control_from_name("f1-equivocators"), Control::f1_equivocators);
  EXPECT_FALSE(control_from_name("nonsense").has_value());
}

}  // namespace
}  // namespace pbft::sim
