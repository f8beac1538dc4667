// Requests signed together (core/request_bundle.h), with the production
// crypto: every request of a bundle checks on its own, nothing in it can be
// changed or moved, and a replica pays one signature check per bundle.
#include "core/request_bundle.h"

#include <gtest/gtest.h>

#include <memory>

#include "common/client_id.h"
#include "core/replica.h"
#include "crypto/sodium_crypto.h"
#include "crypto/test_keys.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint32_t replicas = 4;

// The production crypto of one replica, counting the client signatures it
// checks and the signatures it makes.
class Counting final : public crypto::Crypto {
 public:
  explicit Counting(ReplicaId self) : inner_(crypto::test::replica_keyring(0xb0, self, replicas)) {}
  Digest digest(ByteView d) const override { return inner_.digest(d); }
  Signature sign(ByteView d) const override {
    ++signs;
    return inner_.sign(d);
  }
  bool verify_replica(ReplicaId s, ByteView d, const Signature& sig) const override {
    return inner_.verify_replica(s, d, sig);
  }
  bool verify_client(ClientId s, ByteView d, const Signature& sig) const override {
    ++client_checks;
    return inner_.verify_client(s, d, sig);
  }
  std::optional<uint64_t> client_signer(ClientId c) const override { return inner_.client_signer(c); }
  Mac mac(ReplicaId p, ByteView d) const override { return inner_.mac(p, d); }
  bool verify_mac(ReplicaId p, ByteView d, const Mac& m) const override { return inner_.verify_mac(p, d, m); }
  mutable int client_checks = 0;
  mutable int signs = 0;

 private:
  crypto::SodiumCrypto inner_;
};

// `count` requests of replica `gateway`'s gateway clients, signed by it as one bundle.
std::vector<wire::Request> bundle(const crypto::Crypto& gateway_crypto, ReplicaId gateway, size_t count,
                                  uint32_t first_slot = 0) {
  std::vector<wire::Request> rs;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t slot = first_slot + static_cast<uint32_t>(i);
    rs.push_back(wire::Request{gateway_client_id(gateway, slot), 1,
                               kv::encode_operation({kv::OpKind::put, "k" + std::to_string(slot), "v"}), {}});
  }
  std::vector<wire::Request*> ptrs;
  for (wire::Request& r : rs) ptrs.push_back(&r);
  sign_bundle(gateway_crypto, ptrs);
  return rs;
}

bool checks(const crypto::Crypto& c, const wire::Request& r) {
  VerifiedBundles fresh;
  return check_client_signature(c, r, fresh);
}

TEST(RequestBundle, EveryRequestOfABundleChecksOnItsOwnUnderOneSignature) {
  const Counting gateway(2);
  const Counting verifier(0);
  for (size_t n : {2u, 3u, 4u, 5u, 8u, 9u, 32u}) {
    gateway.signs = 0;
    std::vector<wire::Request> rs = bundle(gateway, 2, n);
    EXPECT_EQ(gateway.signs, 1) << n << " requests, one signature";
    size_t depth = 0;
    while ((size_t{1} << depth) < n) ++depth;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NE(rs[i].flags & wire::Request::flag_bundled, 0);
      EXPECT_EQ(rs[i].bundle_path.size(), depth);
      EXPECT_EQ(rs[i].bundle_index, i);
      EXPECT_EQ(rs[i].sig, rs[0].sig);
      EXPECT_EQ(bundle_root(verifier, rs[i]), bundle_root(verifier, rs[0]));
      EXPECT_TRUE(checks(verifier, rs[i])) << "request " << i << " of " << n;
      // And after the wire, as a peer gets it.
      wire::Decoded<wire::Message> d = wire::decode_frame(wire::encode_frame(1, rs[i]), 1);
      ASSERT_TRUE(d.ok()) << d.error;
      EXPECT_EQ(std::get<wire::Request>(*d.value), rs[i]);
      EXPECT_TRUE(checks(verifier, std::get<wire::Request>(*d.value)));
    }
  }
}

TEST(RequestBundle, ASingleRequestIsSignedAlone) {
  const Counting gateway(2);
  std::vector<wire::Request> rs = bundle(gateway, 2, 1);
  EXPECT_EQ(rs[0].flags & wire::Request::flag_bundled, 0);
  EXPECT_TRUE(rs[0].bundle_path.empty());
  const Counting verifier(1);
  EXPECT_TRUE(verifier.verify_client(rs[0].client, wire::signing_bytes(rs[0]), rs[0].sig));
}

TEST(RequestBundle, NothingInABundledRequestCanBeChangedOrMoved) {
  const Counting gateway(2);
  const Counting verifier(0);
  const std::vector<wire::Request> rs = bundle(gateway, 2, 5);
  const std::vector<wire::Request> others = bundle(gateway, 2, 5, 100);
  ASSERT_TRUE(checks(verifier, rs[3]));
  std::vector<std::pair<const char*, std::function<void(wire::Request&)>>> changes = {
      {"operation", [](wire::Request& r) { r.operation.back() ^= 1; }},
      {"timestamp", [](wire::Request& r) { ++r.timestamp; }},
      {"client", [](wire::Request& r) { r.client = gateway_client_id(2, 77); }},
      {"flags", [](wire::Request& r) { r.flags |= wire::Request::flag_signed_reply; }},
      {"path entry", [](wire::Request& r) { r.bundle_path[1].bytes[0] ^= 1; }},
      {"index", [](wire::Request& r) { r.bundle_index ^= 1; }},
      {"path cut short", [](wire::Request& r) { r.bundle_path.pop_back(); }},
      {"path one longer", [](wire::Request& r) { r.bundle_path.push_back(r.bundle_path.back()); }},
      {"no path", [](wire::Request& r) { r.bundle_path.clear(); }},
      {"index past its path", [](wire::Request& r) { r.bundle_index |= 1u << 7; }},
      {"signature", [](wire::Request& r) { r.sig[5] ^= 1; }},
      {"another bundle's signature", [&](wire::Request& r) { r.sig = others[0].sig; }},
      {"not bundled", [](wire::Request& r) { r.flags &= ~wire::Request::flag_bundled; }},
  };
  for (auto& [what, change] : changes) {
    wire::Request r = rs[3];
    change(r);
    EXPECT_FALSE(checks(verifier, r)) << what;
  }
  // Another replica's gateway clients are not this replica's to sign for.
  std::vector<wire::Request> forged = bundle(gateway, 1, 3);
  for (const wire::Request& r : forged) EXPECT_FALSE(checks(verifier, r));
}

TEST(RequestBundle, ARootIsCheckedOnceAndOnlyItsOwnSignatureCounts) {
  const Counting gateway(2);
  const Counting verifier(0);
  const std::vector<wire::Request> rs = bundle(gateway, 2, 8);
  VerifiedBundles seen;
  for (const wire::Request& r : rs) EXPECT_TRUE(check_client_signature(verifier, r, seen));
  EXPECT_EQ(verifier.client_checks, 1) << "eight requests, one check";
  // The same root with a bad signature is checked (and fails), and is not
  // remembered.
  wire::Request bad = rs[4];
  bad.sig[0] ^= 1;
  EXPECT_FALSE(check_client_signature(verifier, bad, seen));
  EXPECT_FALSE(check_client_signature(verifier, bad, seen));
  EXPECT_EQ(verifier.client_checks, 3);
  // An unbundled request is always checked.
  const std::vector<wire::Request> single = bundle(gateway, 2, 1, 50);
  EXPECT_TRUE(check_client_signature(verifier, single[0], seen));
  EXPECT_TRUE(check_client_signature(verifier, single[0], seen));
  EXPECT_EQ(verifier.client_checks, 5);
}

// Two requests under one root signed by `signer` as it likes, whoever
// their clients are (what a faulty gateway replica can build by hand).
std::pair<wire::Request, wire::Request> hand_made_pair(const crypto::Crypto& signer, ClientId a, ClientId b) {
  wire::Request left{a, 1, kv::encode_operation({kv::OpKind::put, "x", "1"}), {}, wire::Request::flag_bundled};
  wire::Request right{b, 1, kv::encode_operation({kv::OpKind::put, "y", "2"}), {}, wire::Request::flag_bundled};
  const Digest l = signer.digest(wire::bundle_leaf_bytes(left));
  const Digest r = signer.digest(wire::bundle_leaf_bytes(right));
  const Signature sig = signer.sign(wire::bundle_signing_bytes(signer.digest(wire::bundle_node_bytes(l, r))));
  left.bundle_path = {r};
  left.bundle_index = 0;
  left.sig = sig;
  right.bundle_path = {l};
  right.bundle_index = 1;
  right.sig = sig;
  return {left, right};
}

// A root checked for one signer counts for no other, even with the cache
// warm: replica 2 cannot vouch for replica 1's gateway clients, nor for a
// client with no key, by putting them under a root it signed.
TEST(RequestBundle, AWarmCacheVouchesOnlyForTheSignerWhoseKeyChecked) {
  const Counting gateway(2);
  const Counting verifier(0);
  for (ClientId stranger : {gateway_client_id(1, 0), uint64_t{1} << 63 | 2, ClientId{12345}}) {
    auto [own, other] = hand_made_pair(gateway, gateway_client_id(2, 0), stranger);
    VerifiedBundles seen;
    ASSERT_TRUE(check_client_signature(verifier, own, seen));
    EXPECT_EQ(bundle_root(verifier, own), bundle_root(verifier, other)) << "the same root";
    EXPECT_FALSE(check_client_signature(verifier, other, seen)) << stranger;
    EXPECT_TRUE(check_client_signature(verifier, own, seen)) << "the signer's own still checks";
  }
  // Production keys: a replica's gateway clients share its key; a client
  // with no key has no signer.
  EXPECT_NE(verifier.client_signer(gateway_client_id(2, 0)), verifier.client_signer(gateway_client_id(1, 0)));
  EXPECT_EQ(verifier.client_signer(gateway_client_id(2, 0)), verifier.client_signer(gateway_client_id(2, 9)));
  EXPECT_FALSE(verifier.client_signer(uint64_t{1} << 63 | 2).has_value());
  EXPECT_FALSE(verifier.client_signer(gateway_client_id(replicas, 0)).has_value());
  EXPECT_FALSE(verifier.client_signer(12345).has_value());
}

TEST(RequestBundle, VerifiedRootsAreForgottenOldestFirst) {
  VerifiedBundles seen;
  Signature sig{};
  auto root = [](int i) {
    Digest d;
    d.bytes[0] = static_cast<uint8_t>(i);
    d.bytes[1] = static_cast<uint8_t>(i >> 8);
    return d;
  };
  for (int i = 0; i < 64; ++i) seen.insert(1, root(i), sig);
  EXPECT_TRUE(seen.contains(1, root(0), sig));
  EXPECT_FALSE(seen.contains(2, root(0), sig)) << "another signer";
  seen.insert(1, root(64), sig);
  EXPECT_FALSE(seen.contains(1, root(0), sig));
  EXPECT_TRUE(seen.contains(1, root(1), sig));
  EXPECT_TRUE(seen.contains(1, root(64), sig));
}

// The replicas: one check per bundle at the primary, and at a backup that
// gets the requests only inside the pre-prepare.
struct Host {
  explicit Host(ReplicaId id, Config config) : crypto(id), replica(config, id, crypto, kv) {
    (void)replica.take_output();
  }
  Counting crypto;
  kv::MapStore kv;
  Replica replica;
};

Config four() {
  Config c;
  c.replica_count = replicas;
  return c;
}

std::vector<wire::PrePrepare> pre_prepares(const Output& out) {
  std::vector<wire::PrePrepare> found;
  for (const Send& s : out.sends)
    if (auto* pp = std::get_if<wire::PrePrepare>(&s.message)) found.push_back(*pp);
  return found;
}

TEST(RequestBundle, ThePrimaryChecksABundleOnceAndBatchesAllOfIt) {
  Config c = four();
  c.defer_proposals = true;
  Host primary(0, c);
  const Counting gateway(2);
  const std::vector<wire::Request> rs = bundle(gateway, 2, 8);
  for (const wire::Request& r : rs) primary.replica.receive(2, r);  // over replica 2's link
  EXPECT_EQ(primary.crypto.client_checks, 1);
  EXPECT_EQ(primary.replica.rejected().bad_signature, 0u);
  (void)primary.replica.take_output();
  primary.replica.propose();
  std::vector<wire::PrePrepare> pps = pre_prepares(primary.replica.take_output());
  ASSERT_EQ(pps.size(), 1u);
  EXPECT_EQ(pps[0].batch, rs);

  // A bundled request whose path was tampered with is refused.
  std::vector<wire::Request> more = bundle(gateway, 2, 4, 20);
  more[2].bundle_path[0].bytes[3] ^= 1;
  primary.replica.receive(2, more[2]);
  EXPECT_EQ(primary.replica.rejected().bad_signature, 1u);
}

TEST(RequestBundle, ABackupThatGetsABundleOnlyInAPrePrepareChecksItOnceAndPrepares) {
  Host backup(1, four());
  const Counting primary_crypto(0);
  const Counting gateway(2);
  wire::PrePrepare pp{0, 1, {}, bundle(gateway, 2, 6), {}};
  pp.digest = backup.replica.batch_digest(pp.batch);
  pp.sig = primary_crypto.sign(wire::signing_bytes(pp));
  backup.replica.receive(0, pp);
  EXPECT_EQ(backup.crypto.client_checks, 1);
  bool prepared = false;
  for (const Send& s : backup.replica.take_output().sends) prepared |= std::holds_alternative<wire::Prepare>(s.message);
  EXPECT_TRUE(prepared);

  // The same batch with one request moved to another position of its
  // bundle is refused: no prepare.
  Host other(3, four());
  wire::PrePrepare moved{0, 1, {}, bundle(gateway, 2, 6, 40), {}};
  moved.batch[1].bundle_index = 0;
  moved.digest = other.replica.batch_digest(moved.batch);
  moved.sig = primary_crypto.sign(wire::signing_bytes(moved));
  other.replica.receive(0, moved);
  for (const Send& s : other.replica.take_output().sends)
    EXPECT_FALSE(std::holds_alternative<wire::Prepare>(s.message));
  EXPECT_EQ(other.replica.rejected().malformed, 1u);
}

}  // namespace
}  // namespace pbft::core
