#include "node/readiness.h"

#include <gtest/gtest.h>

namespace pbft::node {
namespace {

// A healthy replica of 5 (f = 1, quorum 4) in view 2 at seq 100.
ReadinessInputs healthy() {
  ReadinessInputs in;
  in.replica_count = 5;
  in.f = 1;
  in.quorum = 4;
  in.connected_peers = 4;
  in.view = 2;
  in.last_executed = 100;
  in.slack = 20;
  for (int i = 0; i < 4; ++i) in.peers.push_back({2, true, 100});
  return in;
}

TEST(Readiness, AHealthyReplicaIsReady) {
  const http::Readiness r = assess_readiness(healthy());
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, "");
}

TEST(Readiness, NotReadyWithoutAQuorumConnected) {
  ReadinessInputs in = healthy();
  in.connected_peers = 3;  // 4 of 5 with itself: still a quorum
  EXPECT_TRUE(assess_readiness(in).ready);
  in.connected_peers = 2;
  const http::Readiness r = assess_readiness(in);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "no quorum connected: 3 of 5 replicas reachable, need 4");
}

TEST(Readiness, NotReadyDuringStateTransferOrViewChange) {
  ReadinessInputs in = healthy();
  in.fetching = true;
  in.fetch_seq = 90;
  in.fetch_buckets_done = 3;
  in.fetch_buckets_total = 17;
  EXPECT_EQ(assess_readiness(in).reason, "state transfer in progress at seq 90 (buckets 3/17)");
  in = healthy();
  in.view_active = false;
  in.view = 3;
  EXPECT_EQ(assess_readiness(in).reason, "view change in progress to view 3");
}

TEST(Readiness, BehindWhenFPlusOnePeersAreFurtherThanTheSlack) {
  ReadinessInputs in = healthy();
  // One peer far ahead could be lying: not enough.
  in.peers = {{2, true, 500}, {2, true, 110}, {2, true, 100}, {2, true, 100}};
  EXPECT_TRUE(assess_readiness(in).ready);
  // Two (f + 1) at 121 or more: at least one correct replica is that far.
  in.peers = {{2, true, 500}, {2, true, 121}, {2, true, 100}, {2, true, 100}};
  const http::Readiness r = assess_readiness(in);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "behind: executed 100, 2 peers have executed 121 or more");
  // Within the slack is fine (pipelining keeps replicas a few apart).
  in.peers = {{2, true, 120}, {2, true, 120}, {2, true, 100}, {2, true, 100}};
  EXPECT_TRUE(assess_readiness(in).ready);
}

TEST(Readiness, BehindWhenFPlusOnePeersAreInALaterActiveView) {
  ReadinessInputs in = healthy();
  in.peers = {{4, true, 100}, {3, false, 100}, {2, true, 100}, {2, true, 100}};
  EXPECT_TRUE(assess_readiness(in).ready);  // one later active view, one still changing
  in.peers = {{4, true, 100}, {3, true, 100}, {2, true, 100}, {2, true, 100}};
  EXPECT_EQ(assess_readiness(in).reason, "behind: in view 2, 2 peers are in view 3 or later");
}

TEST(Readiness, FewerReportsThanFPlusOneSayNothing) {
  ReadinessInputs in = healthy();
  in.peers = {{9, true, 10'000}};
  EXPECT_TRUE(assess_readiness(in).ready);
}

}  // namespace
}  // namespace pbft::node
