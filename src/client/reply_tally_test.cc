#include "client/reply_tally.h"

#include <gtest/gtest.h>

#include "crypto/fake_crypto.h"
#include "wire/codec.h"

namespace pbft::client {
namespace {

constexpr uint64_t secret = 11;
constexpr uint32_t n = 4;

class ReplyTallyTest : public ::testing::Test {
 protected:
  crypto::FakeCrypto client{secret, crypto::Principal::client(5)};
  wire::Request request{5, 77, Bytes{'o', 'p'}, {}, wire::Request::flag_signed_reply};

  // Replica r's reply, signed as a correct replica signs it.
  wire::Reply reply(ReplicaId r, Bytes result, Seq seq, bool fast = false) const {
    crypto::FakeCrypto replica(secret, crypto::Principal::replica(r));
    wire::Reply out{0, request.timestamp, request.client, r, result, seq, std::nullopt};
    const Digest op = replica.digest(request.operation), res = replica.digest(result);
    out.sig = replica.sign(fast ? wire::fast_reply_signing_bytes(request.client, request.timestamp, seq, r, op, res)
                                : wire::reply_signing_bytes(request.client, request.timestamp, seq, r, op, res));
    return out;
  }
};

TEST_F(ReplyTallyTest, AcceptsFPlusOneMatchingSignedReplies) {
  ReplyTally t(request, false, 2, n, client);
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3)));
  std::optional<TalliedAnswer> a = t.add(2, reply(2, {1}, 3));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->result, Bytes{1});
  EXPECT_EQ(a->seq, 3u);
  EXPECT_EQ(t.refused(), 0u);
}

TEST_F(ReplyTallyTest, ALiarsReplyNeverMakesAQuorum) {
  ReplyTally t(request, false, 2, n, client);
  EXPECT_FALSE(t.add(3, reply(3, {9}, 3)));        // forged result, properly signed by the liar
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3)));
  EXPECT_FALSE(t.add(3, reply(3, {1}, 3)));        // a second vote, now the right one: not counted
  // The liar again, now claiming replica 1's identity on its own connection.
  wire::Reply stolen = reply(1, {9}, 3);
  EXPECT_FALSE(t.add(3, stolen));
  EXPECT_TRUE(t.add(1, reply(1, {1}, 3)));
  EXPECT_EQ(t.refused(), 2u);
}

TEST_F(ReplyTallyTest, UnsignedBadlySignedAndOtherRequestsRepliesDoNotCount) {
  ReplyTally t(request, false, 2, n, client);
  wire::Reply unsigned_reply = reply(0, {1}, 3);
  unsigned_reply.sig.reset();
  wire::Reply bad = reply(1, {1}, 3);
  (*bad.sig)[0] ^= 1;
  wire::Reply altered = reply(2, {1}, 3);
  altered.result = {2};
  wire::Reply older = reply(0, {1}, 3);
  older.timestamp = 76;
  for (const wire::Reply& r : {unsigned_reply, bad, altered}) EXPECT_FALSE(t.add(r.replica, r));
  EXPECT_FALSE(t.add(0, older));
  EXPECT_EQ(t.refused(), 3u);
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3)));
  EXPECT_TRUE(t.add(1, reply(1, {1}, 3)));
}

TEST_F(ReplyTallyTest, WithoutSignaturesAskedForTheLinksMacDecides) {
  wire::Request plain = request;
  plain.flags = 0;
  ReplyTally t(plain, false, 2, n, client);
  wire::Reply r0 = reply(0, {1}, 3), r1 = reply(1, {1}, 3);
  r0.sig.reset();
  r1.sig.reset();
  EXPECT_FALSE(t.add(0, r0, false)) << "no MAC, no signature asked for: nothing vouches for it";
  EXPECT_EQ(t.refused(), 1u);
  EXPECT_FALSE(t.add(0, r0, true));
  EXPECT_TRUE(t.add(1, r1, true));
}

TEST_F(ReplyTallyTest, FastAnswersNeedTheirOwnDomainAndEveryReplica) {
  ReplyTally t(request, true, n, n, client);
  // An ordered reply's signature is no fast answer's.
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3, false)));
  EXPECT_EQ(t.refused(), 1u);
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3, true)));
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3, true)));  // one answer per replica
  // Replicas answer at different points: the sequence numbers may differ.
  EXPECT_FALSE(t.add(1, reply(1, {1}, 4, true)));
  EXPECT_FALSE(t.add(2, reply(2, {1}, 3, true)));
  EXPECT_FALSE(t.hopeless());
  std::optional<TalliedAnswer> a = t.add(3, reply(3, {1}, 2, true));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->seq, 2u) << "the lowest claim";
}

TEST_F(ReplyTallyTest, AFastReadIsHopelessOnceAnswersDiffer) {
  ReplyTally t(request, true, n, n, client);
  EXPECT_FALSE(t.add(0, reply(0, {1}, 3, true)));
  EXPECT_FALSE(t.hopeless());
  EXPECT_FALSE(t.add(1, reply(1, {2}, 3, true)));
  EXPECT_TRUE(t.hopeless());
}

}  // namespace
}  // namespace pbft::client
