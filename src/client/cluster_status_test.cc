#include "client/cluster_status.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace pbft::client {
namespace {

const Endpoint kE{"127.0.0.1", 10001};

TEST(StatusFromAnswers, ReadsRoleViewProgressAndReadiness) {
  ReplicaStatus s = status_from_answers(
      kE,
      R"({"replica_state":{"Leader":{"sequence":12}},"view":5,"last_applied":12,)"
      R"("last_stable_checkpoint_sequence":10,"replica_id":0,"connected_peers":4})",
      200, R"({"ready":true})");
  EXPECT_TRUE(s.reachable);
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.role, "primary");
  EXPECT_EQ(s.view, 5u);
  EXPECT_EQ(s.last_executed, 12u);
  EXPECT_EQ(s.stable_checkpoint, 10u);
  EXPECT_EQ(s.id, 0u);
  EXPECT_EQ(s.connected_peers, 4u);
  EXPECT_TRUE(s.ready);

  ReplicaStatus b = status_from_answers(
      kE, R"({"replica_state":"ViewChange","view":6,"last_applied":3,"last_stable_checkpoint_sequence":null})",
      503, R"({"ready":false,"error":"view change in progress to view 6"})");
  EXPECT_EQ(b.role, "view-change");
  EXPECT_FALSE(b.stable_checkpoint);
  EXPECT_FALSE(b.ready);
  EXPECT_EQ(b.not_ready_reason, "view change in progress to view 6");
}

TEST(StatusFromAnswers, AnAnswerOfTheWrongShapeIsReportedNotGuessed) {
  ReplicaStatus s = status_from_answers(kE, R"({"view":"x"})", 200, "{}");
  EXPECT_TRUE(s.reachable);
  EXPECT_NE(s.error.find("unexpected /api/v1/pbft/state answer"), std::string::npos);
  ReplicaStatus t = status_from_answers(kE, "not json", 200, "{}");
  EXPECT_FALSE(t.error.empty());
}

TEST(FetchStatus, AReplicaThatDoesNotListenIsUnreachable) {
  // Port 1 on loopback: nothing listens there in a test environment.
  ReplicaStatus s = fetch_status(Endpoint{"127.0.0.1", 1}, 500);
  EXPECT_FALSE(s.reachable);
  EXPECT_FALSE(s.error.empty());
}

TEST(FormatStatusTable, OneAlignedRowPerReplicaAndASummary) {
  std::vector<ReplicaStatus> rows;
  rows.push_back(status_from_answers(
      kE, R"({"replica_state":"Replica","view":1,"last_applied":40,"last_stable_checkpoint_sequence":40,"replica_id":1,"connected_peers":3})",
      200, "{}"));
  ReplicaStatus down;
  down.endpoint = Endpoint{"127.0.0.1", 10002};
  down.error = "Connection refused";
  rows.push_back(down);
  const std::string t = format_status_table(rows);
  EXPECT_EQ(t,
            "REPLICA  ENDPOINT         ROLE    VIEW  EXECUTED  CHECKPOINT  PEERS  REACHABLE                "
            "READY\n"
            "1        127.0.0.1:10001  backup  1     40        40          3      yes                      "
            "yes\n"
            "?        127.0.0.1:10002  -       -     -         -           -      no (Connection refused)  "
            "-\n"
            "1 of 2 replicas reachable, 1 ready\n");
  nlohmann::ordered_json j = status_json(rows);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["role"], "backup");
  EXPECT_EQ(j[0]["stable_checkpoint"], 40);
  EXPECT_EQ(j[1]["reachable"], false);
  EXPECT_EQ(j[1]["error"], "Connection refused");
}

}  // namespace
}  // namespace pbft::client
