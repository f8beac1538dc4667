// Config::proposal_timeout_ticks: a backup replaces a primary that leaves a
// gateway's request unproposed while it has room to propose.
#include <gtest/gtest.h>

#include "common/client_id.h"
#include "core/replica.h"
#include "core/test_backup.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 17;

wire::Request gateway_request(ReplicaId gateway, uint32_t slot) {
  wire::Request r{gateway_client_id(gateway, slot), 1, kv::encode_operation({kv::OpKind::put, "k", "v"}), {}};
  r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(r.client)).sign(wire::signing_bytes(r));
  return r;
}

// Primary 0's pre-prepare at seq 1.
wire::PrePrepare proposal(const Replica& backup, const wire::Request& r) {
  wire::PrePrepare pp{0, 1, backup.batch_digest({r}), {r}, {}};
  pp.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(0)).sign(wire::signing_bytes(pp));
  return pp;
}

struct Backup : testing::TestBackup {
  explicit Backup(Config c = {}) : TestBackup(secret, c) {}
};

TEST(SlowPrimary, ARequestLeftUnproposedAsksForAViewChange) {
  Backup b;
  const wire::Request r = gateway_request(2, 1);
  b.replica.receive(2, r);
  b.ticks(b.config.proposal_timeout_ticks - 1);
  b.replica.tick();
  // Overdue once: the primary may never have had it (a faulty gateway can
  // send a request to one backup alone), so it gets it from this backup.
  Output out = b.replica.take_output();
  size_t passed_on = 0;
  for (const Send& s : out.sends) {
    if (const auto* m = std::get_if<wire::Request>(&s.message); m && *m == r && s.to == ReplicaId{0}) ++passed_on;
  }
  EXPECT_EQ(passed_on, 1u);
  EXPECT_EQ(b.replica.asked_view(), 0u);
  b.ticks(b.config.proposal_timeout_ticks - 1);
  EXPECT_EQ(b.replica.asked_view(), 0u);
  b.ticks(1);
  EXPECT_EQ(b.replica.asked_view(), 1u) << "overdue again: the primary had it";
  EXPECT_TRUE(b.replica.view_active()) << "alone, it stays in the view";
  b.ticks(b.config.proposal_timeout_ticks);
  EXPECT_EQ(b.replica.slow_primary_view_changes(), 1u) << "asked once, not at every tick";
  // The other backups saw the same: q replicas ask, the primary is replaced.
  for (ReplicaId peer : {2u, 3u}) b.replica.receive(peer, wire::Status{peer, 0, true, 0, 0, {}, 1});
  EXPECT_FALSE(b.replica.view_active());
  EXPECT_EQ(b.replica.view(), 1u);
}

TEST(SlowPrimary, AProposedRequestIsNotWaitedFor) {
  Backup b;
  const wire::Request r = gateway_request(2, 1);
  b.replica.receive(2, r);
  b.ticks(1);
  b.replica.receive(0, proposal(b.replica, r));
  b.ticks(2 * b.config.proposal_timeout_ticks);
  EXPECT_EQ(b.replica.asked_view(), 0u);
  EXPECT_EQ(b.replica.slow_primary_view_changes(), 0u);
}

TEST(SlowPrimary, AFullPipelineExcusesThePrimary) {
  Config c;
  c.pipeline_depth_max = 1;
  Backup b(c);
  const wire::Request first = gateway_request(2, 1);
  b.replica.receive(2, first);
  b.replica.receive(0, proposal(b.replica, first));  // in flight, not executed: the pipeline is full
  b.replica.receive(2, gateway_request(2, 2));
  b.ticks(2 * c.proposal_timeout_ticks);
  EXPECT_EQ(b.replica.asked_view(), 0u);
  EXPECT_EQ(b.replica.slow_primary_view_changes(), 0u);
}

// A faulty primary that keeps a small batch in flight all the time, and
// leaves one client out of every batch, is not excused by the batching
// rule (Config::batch_requests_min): a correct one holds a request only
// until the batches in flight execute.
TEST(SlowPrimary, ASmallBatchAlwaysInFlightDoesNotExcuseLeavingAClientOut) {
  Config c;
  c.view_change_timeout_ticks = 1000;  // only the slow-primary rule asks here
  Backup b(c);
  const wire::Request victim = gateway_request(3, 1);
  b.replica.receive(3, victim);
  for (uint32_t n = 1; n <= 6; ++n) {
    const wire::Request other = gateway_request(2, n);
    b.replica.receive(2, other);
    wire::PrePrepare pp{0, n, b.replica.batch_digest({other}), {other}, {}};
    pp.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(0)).sign(wire::signing_bytes(pp));
    b.replica.receive(0, pp);
    b.ticks(c.proposal_timeout_ticks / 2);
  }
  EXPECT_EQ(b.replica.asked_view(), 1u);
  EXPECT_EQ(b.replica.slow_primary_view_changes(), 1u);
}

TEST(SlowPrimary, OffWhenTheTimeoutIsZero) {
  Config c;
  c.proposal_timeout_ticks = 0;
  Backup b(c);
  b.replica.receive(2, gateway_request(2, 1));
  b.ticks(c.view_change_timeout_ticks - 1);
  EXPECT_EQ(b.replica.asked_view(), 0u);
}

}  // namespace
}  // namespace pbft::core
