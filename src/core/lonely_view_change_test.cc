// A replica whose view change gets no quorum: after a timeout it follows a
// peer changing to the next view, and only to the next view.
#include <gtest/gtest.h>

#include "core/replica.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 13;

wire::ViewChange view_change(View to, ReplicaId from) {
  wire::ViewChange vc;
  vc.new_view = to;
  vc.replica = from;
  vc.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(from)).sign(wire::signing_bytes(vc));
  return vc;
}

// Replica 1 of 4, changing to view 1 (its request timer expired and two
// peers asked for view 1 too) but without view changes from them.
struct Alone {
  Alone() : crypto(secret, crypto::Principal::replica(1)), replica(Config{}, 1, crypto, kv) {
    wire::Request r{7, 1, kv::encode_operation({kv::OpKind::put, "k", "v"}), {}};
    r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(7)).sign(wire::signing_bytes(r));
    replica.receive_request(r);
    ticks(Config{}.view_change_timeout_ticks);
    EXPECT_EQ(replica.asked_view(), 1u);
    for (ReplicaId peer : {2u, 3u}) replica.receive(peer, wire::Status{peer, 0, true, 0, 0, {}, 1});
    EXPECT_EQ(replica.view(), 1u);
    EXPECT_FALSE(replica.view_active());
    (void)replica.take_output();
  }
  void ticks(uint32_t n) {
    for (uint32_t t = 0; t < n; ++t) replica.tick();
    (void)replica.take_output();
  }
  crypto::FakeCrypto crypto;
  kv::MapStore kv;
  Replica replica;
};

TEST(LonelyViewChange, FollowsAPeerChangingToTheNextView) {
  Alone a;
  a.replica.receive(2, view_change(2, 2));
  a.ticks(1);
  EXPECT_EQ(a.replica.view(), 1u) << "one peer is not f+1: not at once";
  a.ticks(Config{}.view_change_timeout_ticks);
  EXPECT_EQ(a.replica.view(), 2u) << "after a timeout without a quorum for view 1";
}

TEST(LonelyViewChange, IsNotDraggedToAFarView) {
  Alone a;
  a.replica.receive(3, view_change(400000, 3));
  a.ticks(4 * Config{}.view_change_timeout_ticks);
  EXPECT_EQ(a.replica.view(), 1u);
}

}  // namespace
}  // namespace pbft::core
