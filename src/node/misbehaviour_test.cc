#include "node/misbehaviour.h"

#include <gtest/gtest.h>

#include "crypto/fake_crypto.h"
#include "wire/codec.h"

namespace pbft::node {
namespace {

TEST(Misbehaviour, EveryModeParsesByItsName) {
  for (const auto& [mode, name] : misbehaviour_names) {
    EXPECT_EQ(parse_misbehaviour(name), mode);
    EXPECT_EQ(to_string(mode), name);
  }
  EXPECT_EQ(parse_misbehaviour("Silent"), std::nullopt);
  EXPECT_EQ(misbehaviour_choices(),
            "none, wrong-results, silent, corrupt-signatures, equivocate, wrong-checkpoint-digest, replay, slow-primary, flood, bad-state-chunks");
}

TEST(Misbehaviour, CorruptSignaturesFlipsTheMessageSignature) {
  wire::PrePrepare p{1, 2, {}, {}, {}};
  p.sig.fill(7);
  wire::Message m = p;
  ASSERT_TRUE(corrupt_signatures(m));
  const auto& out = std::get<wire::PrePrepare>(m);
  EXPECT_NE(out.sig, p.sig);
  EXPECT_EQ(out.sig[0], 7 ^ 1);
  EXPECT_TRUE(std::equal(out.sig.begin() + 1, out.sig.end(), p.sig.begin() + 1));
  EXPECT_EQ(out.view, p.view);
  EXPECT_EQ(out.seq, p.seq);

  wire::Message checkpoint = wire::Checkpoint{10, {}, 3, {}};
  ASSERT_TRUE(corrupt_signatures(checkpoint));
  EXPECT_EQ(std::get<wire::Checkpoint>(checkpoint).sig[0], 1);
}

TEST(Misbehaviour, FloodPreparesDifferAndCarryNoValidSignature) {
  const crypto::FakeCrypto own(5, crypto::Principal::replica(2));
  const wire::Prepare a = flood_prepare(3, 41, 2, 0);
  const wire::Prepare b = flood_prepare(3, 41, 2, 1);
  EXPECT_EQ(a.view, 3u);
  EXPECT_EQ(a.seq, 41u);
  EXPECT_EQ(a.replica, 2u);
  EXPECT_NE(a.digest, b.digest);
  EXPECT_FALSE(own.verify_replica(2, wire::signing_bytes(a), a.sig));
  EXPECT_FALSE(own.verify_replica(2, wire::signing_bytes(b), b.sig));
}

TEST(Misbehaviour, ABadStateReplyDiffersInOneByte) {
  wire::StateReply reply{20, 2, wire::StatePart::chunk, 0, {}, true, Bytes{1, 2, 3, 4}};
  ASSERT_TRUE(corrupt_state_reply(reply));
  EXPECT_EQ(reply.payload, (Bytes{1, 2, 3 ^ 0x20, 4}));
  wire::StateReply unavailable{20, 2, wire::StatePart::chunk, 0, {}, false, {}};
  EXPECT_FALSE(corrupt_state_reply(unavailable));
}

TEST(Misbehaviour, AMessageWithoutSignatureIsLeftAlone) {
  wire::Message reply = wire::Reply{};
  EXPECT_FALSE(corrupt_signatures(reply));
  EXPECT_EQ(std::get<wire::Reply>(reply), wire::Reply{});
}

TEST(Misbehaviour, AConflictingPrePrepareIsAnotherValidProposalForTheSameSlot) {
  crypto::FakeCrypto primary(5, crypto::Principal::replica(0));
  crypto::FakeCrypto backup(5, crypto::Principal::replica(1));
  wire::PrePrepare pp{3, 7, {}, {wire::Request{1, 1, Bytes{1, 2}, {}}}, {}};
  pp.digest = primary.digest(wire::batch_bytes(pp.batch));
  pp.sig = primary.sign(wire::signing_bytes(pp));
  {
    const wire::PrePrepare& original = pp;
    wire::PrePrepare other = conflicting_pre_prepare(original, primary);
    EXPECT_EQ(other.view, original.view);
    EXPECT_EQ(other.seq, original.seq);
    EXPECT_NE(other.digest, original.digest);
    EXPECT_EQ(other.digest, primary.digest(wire::batch_bytes(other.batch)));
    EXPECT_TRUE(backup.verify_replica(0, wire::signing_bytes(other), other.sig));
  }
}

TEST(Misbehaviour, AForgedCheckpointDigestIsSignedAgain) {
  crypto::FakeCrypto self(5, crypto::Principal::replica(2));
  crypto::FakeCrypto peer(5, crypto::Principal::replica(0));
  wire::Checkpoint c{20, {}, 2, {}};
  c.state_digest.bytes.fill(1);
  c.sig = self.sign(wire::signing_bytes(c));
  wire::Message m = c;
  ASSERT_TRUE(forge_checkpoint_digest(m, self));
  const auto& out = std::get<wire::Checkpoint>(m);
  EXPECT_NE(out.state_digest, c.state_digest);
  EXPECT_EQ(out.seq, c.seq);
  EXPECT_TRUE(peer.verify_replica(2, wire::signing_bytes(out), out.sig));
  wire::Message prepare = wire::Prepare{};
  EXPECT_FALSE(forge_checkpoint_digest(prepare, self));
}

}  // namespace
}  // namespace pbft::node
