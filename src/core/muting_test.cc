// Config::mute_faulty_peer_ticks: a peer caught signing garbage over its own
// link is not heard for a while; nobody else is muted for what it relays.
#include <gtest/gtest.h>

#include "core/replica.h"
#include "core/test_backup.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 23;

wire::Prepare prepare(ReplicaId signer, Seq seq, bool good) {
  wire::Prepare p{0, seq, {}, signer, {}};
  p.digest.bytes[0] = static_cast<uint8_t>(seq);
  p.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(signer)).sign(wire::signing_bytes(p));
  if (!good) p.sig[0] ^= 1;
  return p;
}

struct Backup : testing::TestBackup {
  explicit Backup(Config c = {}) : TestBackup(secret, c) {}
};

TEST(Muting, APeerSigningGarbageIsNotHeardForAWhile) {
  Backup b;
  b.replica.receive(2, prepare(2, 1, false));
  EXPECT_EQ(b.replica.rejected().bad_signature, 1u);
  EXPECT_TRUE(b.replica.muted(2));
  EXPECT_EQ(b.replica.mutes(), 1u);
  b.replica.receive(2, prepare(2, 2, true));
  EXPECT_EQ(b.replica.rejected().muted, 1u);
  EXPECT_FALSE(b.replica.durable().slots.contains(2)) << "a muted peer's valid prepare is not taken";
  EXPECT_FALSE(b.replica.muted(3));
  b.replica.receive(3, prepare(3, 2, true));
  EXPECT_TRUE(b.replica.durable().slots.at(2).prepares.contains(3));

  b.ticks(b.config.mute_faulty_peer_ticks);
  EXPECT_FALSE(b.replica.muted(2));
  b.replica.receive(2, prepare(2, 2, true));
  EXPECT_TRUE(b.replica.durable().slots.at(2).prepares.contains(2)) << "heard again after the mute";
}

TEST(Muting, WhatAPeerRelaysDoesNotMuteIt) {
  Backup b;
  // Replica 2's link carries a prepare signed (badly) in replica 3's name.
  b.replica.receive(2, prepare(3, 1, false));
  EXPECT_EQ(b.replica.rejected().bad_signature, 1u);
  EXPECT_FALSE(b.replica.muted(2));
  EXPECT_FALSE(b.replica.muted(3));
  // A client's request with a bad signature, passed on by replica 2 (a
  // backup passes on its gateways' requests unchecked).
  wire::Request r{7, 1, kv::encode_operation({kv::OpKind::put, "k", "v"}), {}};
  r.sig[0] = 1;
  b.replica.receive(2, r);
  EXPECT_FALSE(b.replica.muted(2));
  EXPECT_EQ(b.replica.mutes(), 0u);
}

TEST(Muting, OffWhenZero) {
  Config c;
  c.mute_faulty_peer_ticks = 0;
  Backup b(c);
  b.replica.receive(2, prepare(2, 1, false));
  EXPECT_FALSE(b.replica.muted(2));
  b.replica.receive(2, prepare(2, 2, true));
  EXPECT_TRUE(b.replica.durable().slots.at(2).prepares.contains(2));
}

}  // namespace
}  // namespace pbft::core
