#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common/assert.h"
#include "common/client_id.h"
#include "crypto/fake_crypto.h"
#include "crypto/sodium_crypto.h"

namespace pbft::crypto {
namespace {

constexpr uint32_t replica_count = 4;
constexpr ClientId client_a = 7;
constexpr ClientId client_b = 8;
constexpr ClientId unknown_client = 99;

KeyPair key_for(uint8_t kind, uint64_t id) {
  std::array<uint8_t, seed_size> seed{};
  seed[0] = kind;
  for (int i = 0; i < 8; ++i) seed[1 + i] = static_cast<uint8_t>(id >> (8 * i));
  return key_pair_from_seed(seed);
}

// Builds the crypto of one principal of a small cluster, for each
// implementation.
struct SodiumFactory {
  static Keyring keyring(bool is_replica, uint64_t id) {
    Keyring k;
    k.self = key_for(is_replica ? 1 : 2, id);
    k.self_is_replica = is_replica;
    k.self_id = id;
    for (uint32_t r = 0; r < replica_count; ++r) k.replicas.push_back(key_for(1, r).public_key);
    for (ClientId c : {client_a, client_b}) k.clients[c] = key_for(2, c).public_key;
    return k;
  }
  static std::unique_ptr<Crypto> replica(ReplicaId r) {
    return std::make_unique<SodiumCrypto>(keyring(true, r));
  }
  static std::unique_ptr<Crypto> client(ClientId c) {
    return std::make_unique<SodiumCrypto>(keyring(false, c));
  }
};

struct FakeFactory {
  static constexpr uint64_t cluster_secret = 0x5eed;
  static std::unique_ptr<Crypto> replica(ReplicaId r) {
    return std::make_unique<FakeCrypto>(cluster_secret, Principal::replica(r));
  }
  static std::unique_ptr<Crypto> client(ClientId c) {
    return std::make_unique<FakeCrypto>(cluster_secret, Principal::client(c));
  }
};

// PBFT_ASSERT throws instead of aborting while one of these is alive.
struct ThrowOnInvariant {
  ThrowOnInvariant() {
    set_invariant_handler([](const char*, int, const std::string& message) {
      throw std::logic_error(message);
    });
  }
  ~ThrowOnInvariant() { set_invariant_handler(nullptr); }
};

template <typename Factory>
class CryptoTest : public ::testing::Test {};

using Implementations = ::testing::Types<SodiumFactory, FakeFactory>;
class ImplementationNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SodiumFactory> ? "Sodium" : "Fake";
  }
};
TYPED_TEST_SUITE(CryptoTest, Implementations, ImplementationNames);

const Bytes message = to_bytes("pre-prepare v=3 n=17 d=...");

TYPED_TEST(CryptoTest, SignVerifyRoundTrip) {
  for (ReplicaId r = 0; r < replica_count; ++r) {
    auto signer = TypeParam::replica(r);
    const Signature sig = signer->sign(message);
    for (ReplicaId v = 0; v < replica_count; ++v)
      EXPECT_TRUE(TypeParam::replica(v)->verify_replica(r, message, sig)) << r << " at " << v;
    EXPECT_TRUE(TypeParam::client(client_a)->verify_replica(r, message, sig));
  }
  for (ClientId c : {client_a, client_b}) {
    const Signature sig = TypeParam::client(c)->sign(message);
    EXPECT_TRUE(TypeParam::replica(0)->verify_client(c, message, sig));
    EXPECT_TRUE(TypeParam::replica(3)->verify_client(c, message, sig));
  }
}

TYPED_TEST(CryptoTest, EmptyDataSignsAndMacs) {
  const Bytes empty;
  EXPECT_TRUE(TypeParam::replica(2)->verify_replica(1, empty, TypeParam::replica(1)->sign(empty)));
  EXPECT_TRUE(TypeParam::replica(2)->verify_mac(1, empty, TypeParam::replica(1)->mac(2, empty)));
  EXPECT_FALSE(TypeParam::replica(2)->verify_replica(1, to_bytes("x"),
                                                     TypeParam::replica(1)->sign(empty)));
}

TYPED_TEST(CryptoTest, SignatureIsDeterministicPerSignerAndData) {
  auto a = TypeParam::replica(1);
  EXPECT_EQ(a->sign(message), TypeParam::replica(1)->sign(message));
  EXPECT_NE(a->sign(message), TypeParam::replica(2)->sign(message));
  EXPECT_NE(a->sign(message), a->sign(to_bytes("something else")));
}

TYPED_TEST(CryptoTest, FlippedDataByteFails) {
  auto signer = TypeParam::replica(1);
  auto verifier = TypeParam::replica(0);
  const Signature sig = signer->sign(message);
  for (size_t i = 0; i < message.size(); ++i) {
    Bytes altered = message;
    altered[i] ^= 0x01;
    EXPECT_FALSE(verifier->verify_replica(1, altered, sig)) << "byte " << i;
  }
  Bytes longer = message;
  longer.push_back(0);
  EXPECT_FALSE(verifier->verify_replica(1, longer, sig));
  Bytes shorter(message.begin(), message.end() - 1);
  EXPECT_FALSE(verifier->verify_replica(1, shorter, sig));

  const Signature csig = TypeParam::client(client_a)->sign(message);
  Bytes altered = message;
  altered[0] ^= 0x80;
  EXPECT_FALSE(verifier->verify_client(client_a, altered, csig));
}

TYPED_TEST(CryptoTest, FlippedSignatureByteFails) {
  auto verifier = TypeParam::replica(0);
  const Signature sig = TypeParam::replica(1)->sign(message);
  const Signature csig = TypeParam::client(client_a)->sign(message);
  for (size_t i = 0; i < signature_size; ++i) {
    Signature bad = sig;
    bad[i] ^= 0x01;
    EXPECT_FALSE(verifier->verify_replica(1, message, bad)) << "byte " << i;
    Signature cbad = csig;
    cbad[i] ^= 0x01;
    EXPECT_FALSE(verifier->verify_client(client_a, message, cbad)) << "byte " << i;
  }
  EXPECT_FALSE(verifier->verify_replica(1, message, Signature{}));
}

TYPED_TEST(CryptoTest, VerifyingAsAnotherSignerFails) {
  auto verifier = TypeParam::replica(0);
  const Signature sig = TypeParam::replica(1)->sign(message);
  for (ReplicaId r = 0; r < replica_count; ++r)
    if (r != 1) {
      EXPECT_FALSE(verifier->verify_replica(r, message, sig)) << r;
    }
  // A replica's signature is not a client's, not even one with the same id.
  EXPECT_FALSE(verifier->verify_client(1, message, sig));
  EXPECT_FALSE(verifier->verify_client(client_a, message, sig));

  const Signature csig = TypeParam::client(client_a)->sign(message);
  EXPECT_TRUE(verifier->verify_client(client_a, message, csig));
  EXPECT_FALSE(verifier->verify_client(client_b, message, csig));
  for (ReplicaId r = 0; r < replica_count; ++r) EXPECT_FALSE(verifier->verify_replica(r, message, csig));
}

TYPED_TEST(CryptoTest, UnknownClientFails) {
  auto verifier = TypeParam::replica(0);
  const Signature csig = TypeParam::client(client_a)->sign(message);
  EXPECT_FALSE(verifier->verify_client(unknown_client, message, csig));
  EXPECT_FALSE(verifier->verify_client(unknown_client, message, Signature{}));
}

TYPED_TEST(CryptoTest, MacVerifiesOnlyAtReceiverAsFromSender) {
  for (ReplicaId a = 0; a < replica_count; ++a) {
    auto sender = TypeParam::replica(a);
    for (ReplicaId b = 0; b < replica_count; ++b) {
      if (b == a) continue;
      const Mac m = sender->mac(b, message);
      auto receiver = TypeParam::replica(b);
      EXPECT_TRUE(receiver->verify_mac(a, message, m)) << a << "->" << b;
      // At B, but claimed to come from anybody else.
      for (ReplicaId c = 0; c < replica_count; ++c)
        if (c != a) {
          EXPECT_FALSE(receiver->verify_mac(c, message, m)) << a << "->" << b << " as " << c;
        }
      // At any other replica, whoever it is claimed to come from.
      for (ReplicaId c = 0; c < replica_count; ++c) {
        if (c == b) continue;
        auto other = TypeParam::replica(c);
        for (ReplicaId from = 0; from < replica_count; ++from)
          EXPECT_FALSE(other->verify_mac(from, message, m)) << a << "->" << b << " at " << c;
      }
      // Altered data or MAC.
      Bytes altered = message;
      altered.back() ^= 0x20;
      EXPECT_FALSE(receiver->verify_mac(a, altered, m));
      for (size_t i = 0; i < mac_size; ++i) {
        Mac bad = m;
        bad[i] ^= 0x01;
        EXPECT_FALSE(receiver->verify_mac(a, message, bad)) << "byte " << i;
      }
    }
  }
}

TYPED_TEST(CryptoTest, MacDirectionsDiffer) {
  EXPECT_NE(TypeParam::replica(0)->mac(1, message), TypeParam::replica(1)->mac(0, message));
  EXPECT_NE(TypeParam::replica(0)->mac(1, message), TypeParam::replica(0)->mac(2, message));
}

TYPED_TEST(CryptoTest, ClientPrincipalHasNoMacs) {
  auto client = TypeParam::client(client_a);
  const Mac m = TypeParam::replica(0)->mac(1, message);
  for (ReplicaId r = 0; r < replica_count; ++r) EXPECT_FALSE(client->verify_mac(r, message, m));
  ThrowOnInvariant guard;
  EXPECT_THROW(client->mac(0, message), std::logic_error);
}

TYPED_TEST(CryptoTest, ReplicaCannotMacToItself) {
  auto r = TypeParam::replica(2);
  {
    ThrowOnInvariant guard;
    EXPECT_THROW(r->mac(2, message), std::logic_error);
  }
  EXPECT_FALSE(r->verify_mac(2, message, Mac{}));
}

TYPED_TEST(CryptoTest, DigestKnownAnswer) {
  auto c = TypeParam::replica(0);
  EXPECT_EQ(to_hex(c->digest(as_bytes("abc"))),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(to_hex(c->digest(Bytes{})),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(c->digest(as_bytes("abc")), TypeParam::client(client_a)->digest(as_bytes("abc")));
  EXPECT_NE(c->digest(as_bytes("abc")), c->digest(as_bytes("abd")));
}

TEST(Digest, SodiumAndFakeAgree) {
  auto sodium = SodiumFactory::replica(0);
  auto fake = FakeFactory::replica(0);
  Bytes data;
  for (size_t n = 0; n < 300; ++n) {
    EXPECT_EQ(sodium->digest(data), fake->digest(data)) << "length " << n;
    data.push_back(static_cast<uint8_t>(n * 31 + 7));
  }
}

TEST(KeyPair, FromSeedIsDeterministic) {
  std::array<uint8_t, seed_size> seed{};
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(i);
  const KeyPair a = key_pair_from_seed(seed);
  const KeyPair b = key_pair_from_seed(seed);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_EQ(a.secret_key, b.secret_key);
  // libsodium's secret key is the seed followed by the public key.
  EXPECT_TRUE(std::equal(seed.begin(), seed.end(), a.secret_key.begin()));
  EXPECT_TRUE(std::equal(a.public_key.begin(), a.public_key.end(), a.secret_key.begin() + seed_size));
  seed[0] ^= 1;
  EXPECT_NE(key_pair_from_seed(seed).public_key, a.public_key);
}

TEST(KeyPair, GeneratedKeysSign) {
  const KeyPair a = generate_key_pair();
  const KeyPair b = generate_key_pair();
  EXPECT_NE(a.public_key, b.public_key);
  Keyring signer;
  signer.self = a;
  signer.self_is_replica = false;
  signer.self_id = 5;
  Keyring verifier;
  verifier.self = b;
  verifier.self_id = 0;
  verifier.replicas = {b.public_key};
  verifier.clients[5] = a.public_key;
  const Signature sig = SodiumCrypto(signer).sign(message);
  EXPECT_TRUE(SodiumCrypto(verifier).verify_client(5, message, sig));
  EXPECT_FALSE(SodiumCrypto(verifier).verify_client(6, message, sig));
}

TEST(Sodium, OutOfRangeReplicaFails) {
  auto verifier = SodiumFactory::replica(0);
  const Signature sig = SodiumFactory::replica(1)->sign(message);
  EXPECT_FALSE(verifier->verify_replica(replica_count, message, sig));
  EXPECT_FALSE(verifier->verify_replica(UINT32_MAX, message, sig));
  EXPECT_FALSE(verifier->verify_mac(replica_count, message, Mac{}));
  ThrowOnInvariant guard;
  EXPECT_THROW(verifier->mac(replica_count, message), std::logic_error);
}

TEST(Sodium, WrongPublicKeyInKeyringFails) {
  // Replica 1 signs with a key the verifier does not hold for it.
  Keyring k = SodiumFactory::keyring(true, 1);
  k.self = key_for(3, 1);
  const SodiumCrypto impostor(k);
  auto verifier = SodiumFactory::replica(0);
  EXPECT_FALSE(verifier->verify_replica(1, message, impostor.sign(message)));
  EXPECT_FALSE(verifier->verify_mac(1, message, impostor.mac(0, message)));
}

TEST(Sodium, OneReplicaClusterHasNoPeers) {
  Keyring k;
  k.self = key_for(1, 0);
  k.self_id = 0;
  k.replicas = {k.self.public_key};
  const SodiumCrypto c(k);
  EXPECT_TRUE(c.verify_replica(0, message, c.sign(message)));
  EXPECT_FALSE(c.verify_mac(0, message, Mac{}));
}

TEST(Fake, ClusterSecretSeparatesClusters) {
  const FakeCrypto a(1, Principal::replica(0));
  const FakeCrypto b(2, Principal::replica(1));
  const FakeCrypto a1(1, Principal::replica(1));
  EXPECT_FALSE(b.verify_replica(0, message, a.sign(message)));
  EXPECT_TRUE(a1.verify_replica(0, message, a.sign(message)));
  EXPECT_FALSE(b.verify_mac(0, message, a.mac(1, message)));
  EXPECT_TRUE(a1.verify_mac(0, message, a.mac(1, message)));
}

TEST(Fake, SignatureTailIsZeroAndChecked) {
  const FakeCrypto a(1, Principal::client(3));
  const Signature sig = a.sign(message);
  for (size_t i = 16; i < signature_size; ++i) EXPECT_EQ(sig[i], 0) << i;
  EXPECT_EQ(a.self().kind, Principal::Kind::client);
  EXPECT_EQ(a.self().id, 3u);
}

TEST(Fake, EveryLengthAndByteMatters) {
  // The tail handling: data that differs only in length (trailing zero
  // bytes) or in any single byte gets a different signature.
  const FakeCrypto a(42, Principal::replica(0));
  Bytes data;
  Signature prev = a.sign(data);
  for (size_t n = 1; n <= 40; ++n) {
    data.push_back(0);
    const Signature s = a.sign(data);
    EXPECT_NE(s, prev) << n;
    prev = s;
    for (size_t i = 0; i < n; ++i) {
      Bytes altered = data;
      altered[i] = 0x80;
      EXPECT_NE(a.sign(altered), s) << n << " " << i;
    }
  }
}

}  // namespace
}  // namespace pbft::crypto

namespace pbft::crypto {
namespace {

// A replica's HTTP gateway signs requests of its gateway clients with the
// replica's own key; other replicas accept them under that replica only.
TEST(Sodium, GatewayClientsVerifyUnderTheirReplicasKey) {
  auto gateway = SodiumFactory::replica(2);
  auto verifier = SodiumFactory::replica(0);
  Bytes data = to_bytes("request");
  Signature sig = gateway->sign(data);
  EXPECT_TRUE(verifier->verify_client(gateway_client_id(2, 17), data, sig));
  EXPECT_FALSE(verifier->verify_client(gateway_client_id(1, 17), data, sig));
  EXPECT_FALSE(verifier->verify_client(gateway_client_id(replica_count, 0), data, sig));
}

TEST(SodiumCrypto, ClientReplyMacsVerifyOnlyForThatClientFromThatReplica) {
  const SodiumCrypto r1(SodiumFactory::keyring(true, 1)), r2(SodiumFactory::keyring(true, 2));
  const SodiumCrypto a(SodiumFactory::keyring(false, client_a)), b(SodiumFactory::keyring(false, client_b));
  const Bytes frame = {1, 2, 3, 4};
  const std::optional<Mac> to_a = r1.mac_to_client(client_a, frame);
  ASSERT_TRUE(to_a.has_value());
  EXPECT_TRUE(a.verify_replica_mac(1, frame, *to_a));
  EXPECT_FALSE(a.verify_replica_mac(2, frame, *to_a)) << "not from replica 2";
  EXPECT_FALSE(b.verify_replica_mac(1, frame, *to_a)) << "not for client b";
  EXPECT_FALSE(a.verify_replica_mac(1, Bytes{1, 2, 3, 5}, *to_a));
  EXPECT_NE(*r2.mac_to_client(client_a, frame), *to_a);
  EXPECT_TRUE(a.verify_replica_mac(2, frame, *r2.mac_to_client(client_a, frame)));
  // The replicas' link keys are other keys: a peer MAC is no client MAC.
  EXPECT_NE(r1.mac(2, frame), *to_a);
  EXPECT_FALSE(r1.mac_to_client(unknown_client, frame).has_value());
  EXPECT_FALSE(a.mac_to_client(client_b, frame).has_value()) << "a client MACs nothing";
  EXPECT_FALSE(a.verify_replica_mac(replica_count, frame, *to_a));
  // The other way, under the other key of the pair.
  const std::optional<Mac> from_a = a.mac_to_replica(1, frame);
  ASSERT_TRUE(from_a.has_value());
  EXPECT_NE(*from_a, *to_a);
  EXPECT_TRUE(r1.verify_client_mac(client_a, frame, *from_a));
  EXPECT_FALSE(r1.verify_client_mac(client_b, frame, *from_a)) << "not from client b";
  EXPECT_FALSE(r2.verify_client_mac(client_a, frame, *from_a)) << "not to replica 2";
  EXPECT_FALSE(r1.verify_client_mac(client_a, frame, *to_a)) << "a reply's MAC is no request's";
  EXPECT_FALSE(r1.verify_client_mac(unknown_client, frame, *from_a));
  EXPECT_FALSE(a.mac_to_replica(replica_count, frame).has_value());
}

}  // namespace
}  // namespace pbft::crypto
