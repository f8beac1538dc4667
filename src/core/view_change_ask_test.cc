// A suspicion of the primary is first an ask in the replica's STATUS: the
// replica leaves its view only when q replicas ask, joins when f+1 peers
// ask, and meanwhile goes on working in the view.
#include <gtest/gtest.h>

#include "core/replica.h"
#include "core/test_backup.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 21;

wire::Status asking(ReplicaId peer, View asks) { return wire::Status{peer, 0, true, 0, 0, {}, asks}; }

struct Backup : testing::TestBackup {
  Backup() : TestBackup(secret) {}
  wire::Request request() const {
    wire::Request r{7, 1, kv::encode_operation({kv::OpKind::put, "k", "v"}), {}};
    r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(7)).sign(wire::signing_bytes(r));
    return r;
  }
};

template <typename M>
size_t count_sent(const Output& out, auto&& match) {
  size_t n = 0;
  for (const Send& s : out.sends) {
    if (const M* m = std::get_if<M>(&s.message); m && match(*m)) ++n;
  }
  return n;
}

TEST(ViewChangeAsk, ALoneSuspicionAsksAndKeepsWorkingInTheView) {
  Backup b;
  const wire::Request r = b.request();
  b.replica.receive_request(r);
  (void)b.replica.take_output();
  Output out = b.ticks_collecting(Config{}.view_change_timeout_ticks);
  EXPECT_EQ(b.replica.asked_view(), 1u);
  EXPECT_TRUE(b.replica.view_active());
  EXPECT_EQ(b.replica.view(), 0u);
  EXPECT_GE(count_sent<wire::Status>(out, [](const wire::Status& s) { return s.asks_view == 1; }), 1u)
      << "the ask goes out at once, in a STATUS";
  EXPECT_EQ(count_sent<wire::ViewChange>(out, [](const wire::ViewChange&) { return true; }), 0u);

  // The primary's late proposal is still taken: the replica prepares it.
  wire::PrePrepare pp{0, 1, b.replica.batch_digest({r}), {r}, {}};
  pp.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(0)).sign(wire::signing_bytes(pp));
  b.replica.receive(0, pp);
  Output after = b.replica.take_output();
  EXPECT_EQ(count_sent<wire::Prepare>(after, [](const wire::Prepare& p) { return p.view == 0 && p.seq == 1; }), 1u);
}

TEST(ViewChangeAsk, FPlusOnePeersAskingMakeAQuorumWithThisReplica) {
  Backup b;
  b.replica.receive(2, asking(2, 1));
  EXPECT_EQ(b.replica.asked_view(), 0u) << "one peer may be the faulty one";
  EXPECT_TRUE(b.replica.view_active());
  b.replica.receive(3, asking(3, 1));
  EXPECT_EQ(b.replica.asked_view(), 1u);
  EXPECT_FALSE(b.replica.view_active()) << "two peers and this replica are q = 3";
  EXPECT_EQ(b.replica.view(), 1u);
  Output out = b.replica.take_output();
  EXPECT_EQ(count_sent<wire::ViewChange>(out, [](const wire::ViewChange& vc) { return vc.new_view == 1; }), 1u);
}

TEST(ViewChangeAsk, APeersViewChangeCountsAsItsAsk) {
  Backup b;
  wire::ViewChange vc{1, 0, {}, {}, 2, {}};
  vc.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(2)).sign(wire::signing_bytes(vc));
  b.replica.receive(2, vc);
  EXPECT_TRUE(b.replica.view_active());
  b.replica.receive(3, asking(3, 1));
  EXPECT_FALSE(b.replica.view_active());
  EXPECT_EQ(b.replica.view(), 1u);
}

TEST(ViewChangeAsk, ARestartedReplicaStillAsks) {
  // Its ask may be what made a peer leave the view: a restart must not
  // withdraw it.
  Backup b;
  b.replica.receive_request(b.request());
  b.ticks(Config{}.view_change_timeout_ticks);
  ASSERT_EQ(b.replica.asked_view(), 1u);
  EXPECT_EQ(b.replica.durable().asked_view, 1u);
  kv::MapStore kv;
  Replica restarted(Config{}, 1, b.crypto, kv, b.replica.durable());
  (void)restarted.take_output();
  EXPECT_EQ(restarted.asked_view(), 1u);
  Output out;
  for (uint32_t t = 0; t < Config{}.status_interval_ticks; ++t) {
    restarted.tick();
    for (Send& s : restarted.take_output().sends) out.sends.push_back(std::move(s));
  }
  EXPECT_GE(count_sent<wire::Status>(out, [](const wire::Status& s) { return s.asks_view == 1; }), 1u);
}

TEST(ViewChangeAsk, APeerChangingViewsAsksForTheViewItChangesTo) {
  Backup b;
  b.replica.receive(2, wire::Status{2, 1, false, 0, 0, {}, 0});
  b.replica.receive(3, asking(3, 1));
  EXPECT_FALSE(b.replica.view_active()) << "replica 2's VIEW-CHANGE has not come, its status says enough";
  EXPECT_EQ(b.replica.view(), 1u);
}

// Only a faulty or a restarted-from-nothing peer says nothing after asking.
TEST(ViewChangeAsk, AnAskWithdrawnInALaterStatusNoLongerCounts) {
  Backup b;
  b.replica.receive(2, asking(2, 1));
  b.replica.receive(2, asking(2, 0));
  b.replica.receive(3, asking(3, 1));
  EXPECT_EQ(b.replica.asked_view(), 0u);
  EXPECT_TRUE(b.replica.view_active());
}

TEST(ViewChangeAsk, AFarAskDoesNotChooseTheView) {
  Backup b;
  b.replica.receive(2, asking(2, 400000));
  b.replica.receive(3, asking(3, 1));
  EXPECT_FALSE(b.replica.view_active());
  EXPECT_EQ(b.replica.view(), 1u) << "q replicas ask for view 1 or later: view 1";
}

TEST(ViewChangeAsk, AStatusClaimingAnotherSenderIsNotCounted) {
  Backup b;
  b.replica.receive(2, asking(2, 1));
  b.replica.receive(2, asking(3, 1));  // replica 2's link, replica 3's name
  EXPECT_TRUE(b.replica.view_active());
  EXPECT_EQ(b.replica.rejected().wrong_sender, 1u);
}

}  // namespace
}  // namespace pbft::core
