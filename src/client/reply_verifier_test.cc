#include "client/reply_verifier.h"

#include <gtest/gtest.h>

#include "node/config.h"
#include "wire/codec.h"

namespace pbft::client {
namespace {

// A certificate signed by `signers` of a 4-replica cluster with keys from
// seeds, over `op` and `result` (as a replica does in Replica::make_reply).
struct Fixture {
  std::vector<crypto::KeyPair> keys;
  std::vector<crypto::PublicKey> public_keys;
  kv::Operation op{kv::OpKind::get, "k", "", "7f3c1c9e-0000-4000-8000-000000000001"};
  kv::Result result{kv::ResultStatus::ok, "v", 12, kv::ResultForm::record, 9};

  Fixture() {
    for (uint8_t i = 0; i < 4; ++i) {
      std::array<uint8_t, crypto::seed_size> seed{};
      seed[0] = static_cast<uint8_t>(i + 1);
      keys.push_back(crypto::key_pair_from_seed(seed));
      public_keys.push_back(keys.back().public_key);
    }
  }

  http::ReplyCertificate make(const std::vector<ReplicaId>& signers) const {
    http::ReplyCertificate c{4294967296u + 3, 1000, 12, kv::encode_operation(op), kv::encode_result(result), {}};
    for (ReplicaId r : signers) {
      crypto::Keyring k;
      k.self = keys[r];
      k.self_id = r;
      k.replicas = public_keys;
      crypto::SodiumCrypto signer(k);
      Bytes b = wire::reply_signing_bytes(c.client, c.timestamp, c.sequence, r, signer.digest(c.operation),
                                          signer.digest(c.result));
      c.replies.push_back({r, signer.sign(b)});
    }
    return c;
  }
};

TEST(ReplyVerifier, AcceptsFPlusOneMatchingSignedReplies) {
  Fixture f;
  VerifyOutcome v = verify_certificate(f.make({0, 2}), f.public_keys);
  ASSERT_TRUE(v.ok()) << v.error;
  EXPECT_EQ(v.verified->result, f.result);
  EXPECT_TRUE(matches_request(*v.verified, f.op));
  kv::Operation other = f.op;
  other.request_id = "7f3c1c9e-0000-4000-8000-000000000002";
  EXPECT_FALSE(matches_request(*v.verified, other));
  other = f.op;
  other.key = "other";
  EXPECT_FALSE(matches_request(*v.verified, other));
}

TEST(ReplyVerifier, RefusesTooFewDuplicatesAndStrangers) {
  Fixture f;
  EXPECT_NE(verify_certificate(f.make({1}), f.public_keys).error.find("need f+1 = 2"), std::string::npos);
  EXPECT_NE(verify_certificate(f.make({1, 1}), f.public_keys).error.find("twice"), std::string::npos);
  http::ReplyCertificate c = f.make({0, 1});
  c.replies[1].replica = 9;
  EXPECT_NE(verify_certificate(c, f.public_keys).error.find("outside a cluster of 4"), std::string::npos);
  EXPECT_FALSE(verify_certificate(f.make({0, 1}), {}).ok());
}

TEST(ReplyVerifier, RefusesAnyChangeToWhatWasSigned) {
  Fixture f;
  const http::ReplyCertificate good = f.make({0, 3});
  ASSERT_TRUE(verify_certificate(good, f.public_keys).ok());
  auto refused = [&](http::ReplyCertificate c) { return !verify_certificate(c, f.public_keys).ok(); };
  http::ReplyCertificate c = good;
  kv::Result forged = f.result;
  forged.value = "forged";
  c.result = kv::encode_result(forged);
  EXPECT_TRUE(refused(c));
  c = good;
  kv::Operation other = f.op;
  other.key = "k2";
  c.operation = kv::encode_operation(other);
  EXPECT_TRUE(refused(c));
  c = good;
  c.sequence += 1;
  EXPECT_TRUE(refused(c));
  c = good;
  c.timestamp += 1;
  EXPECT_TRUE(refused(c));
  c = good;
  c.client += 1;
  EXPECT_TRUE(refused(c));
  c = good;
  c.replies[0].signature[5] ^= 1;
  EXPECT_TRUE(refused(c));
  c = good;
  std::swap(c.replies[0].replica, c.replies[1].replica);  // signatures under the wrong names
  EXPECT_TRUE(refused(c));
  // Signed by keys the cluster does not have.
  std::vector<crypto::PublicKey> others = f.public_keys;
  std::swap(others[0], others[1]);
  EXPECT_FALSE(verify_certificate(good, others).ok());
}

TEST(ReplyVerifier, CertificateJsonRoundTripsAndRejectsBadShapes) {
  Fixture f;
  const http::ReplyCertificate c = f.make({0, 1});
  std::string error;
  std::optional<http::ReplyCertificate> back =
      http::certificate_from_json(nlohmann::json::parse(http::certificate_to_json(c).dump()), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, c);
  nlohmann::json j = nlohmann::json::parse(http::certificate_to_json(c).dump());
  j["result"] = "abc";  // odd length
  EXPECT_FALSE(http::certificate_from_json(j, error));
  EXPECT_NE(error.find("result"), std::string::npos);
  j = nlohmann::json::parse(http::certificate_to_json(c).dump());
  j["replies"][0]["signature"] = "00";
  EXPECT_FALSE(http::certificate_from_json(j, error));
  j = nlohmann::json::parse(http::certificate_to_json(c).dump());
  j.erase("sequence");
  EXPECT_FALSE(http::certificate_from_json(j, error));
  EXPECT_FALSE(http::certificate_from_json(nlohmann::json::array(), error));
}

}  // namespace
}  // namespace pbft::client
