#include "node/activity.h"

#include <gtest/gtest.h>

namespace pbft::node {
namespace {

TEST(ActivityLog, SumsEachSecondAndKeepsTheMaxLatency) {
  ActivityLog log;
  log.executed(10'000, 3);
  log.committed(10'200, 0.004);
  log.committed(10'999, 0.010);
  log.executed(12'500, 7);
  ASSERT_EQ(log.seconds().size(), 2u);
  const auto& first = log.seconds()[0];
  EXPECT_EQ(first.unix_s, 10);
  EXPECT_EQ(first.executed_requests, 3u);
  EXPECT_EQ(first.commits, 2u);
  EXPECT_DOUBLE_EQ(first.latency_sum_s, 0.014);
  EXPECT_DOUBLE_EQ(first.latency_max_s, 0.010);
  EXPECT_EQ(log.seconds()[1].unix_s, 12);
  EXPECT_EQ(log.seconds()[1].executed_requests, 7u);
  EXPECT_EQ(log.seconds()[1].commits, 0u);
}

TEST(ActivityLog, ForgetsSecondsOlderThanTheWindow) {
  ActivityLog log;
  log.executed(0, 1);
  log.executed(1'000, 1);
  log.executed(int64_t{ActivityLog::seconds_max} * 1000, 1);  // second 300: second 0 falls out
  ASSERT_EQ(log.seconds().size(), 2u);
  EXPECT_EQ(log.seconds().front().unix_s, 1);
  EXPECT_EQ(log.seconds().back().unix_s, 300);
}

TEST(ActivityLog, AClockSteppingBackCountsInTheNewestSecond) {
  ActivityLog log;
  log.executed(50'000, 1);
  log.executed(49'000, 2);
  ASSERT_EQ(log.seconds().size(), 1u);
  EXPECT_EQ(log.seconds()[0].unix_s, 50);
  EXPECT_EQ(log.seconds()[0].executed_requests, 3u);
}

TEST(EventLog, KeepsTheLatestEventsInOrder) {
  EventLog log;
  for (uint64_t i = 0; i < EventLog::events_max + 5; ++i) {
    log.add({static_cast<int64_t>(i), "checkpoint", 0, i * 10, "stable"});
  }
  ASSERT_EQ(log.events().size(), EventLog::events_max);
  EXPECT_EQ(log.events().front().seq, 50u);
  EXPECT_EQ(log.events().back().seq, (EventLog::events_max + 4) * 10);
}

}  // namespace
}  // namespace pbft::node
