#include "crypto/fake_crypto.h"

#include <sodium.h>

#include <cstring>

#include "common/assert.h"
#include "crypto/sodium_crypto.h"

namespace pbft::crypto {
namespace {

// Domain tags keep principal secrets and pairwise MAC secrets apart.
constexpr uint64_t principal_tag = 0x7062667470726e63ull;  // "pbftprnc"
constexpr uint64_t mac_tag = 0x706266746d61636bull;        // "pbftmack"
// Seeds of the two hash lanes, so that they are independent functions.
constexpr uint64_t lane1_tag = 0x243f6a8885a308d3ull;
constexpr uint64_t lane2_tag = 0x13198a2e03707344ull;

// xxHash64 primes.
constexpr uint64_t prime1 = 0x9e3779b185ebca87ull;
constexpr uint64_t prime2 = 0xc2b2ae3d27d4eb4full;
constexpr uint64_t prime3 = 0x165667b19e3779f9ull;
constexpr uint64_t prime4 = 0x85ebca77c2b2ae63ull;

constexpr uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// The splitmix64 output function: a bijective 64-bit mixer.
constexpr uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// One splitmix64 step from state x.
constexpr uint64_t splitmix64(uint64_t x) { return mix64(x + 0x9e3779b97f4a7c15ull); }

// A secret that depends on every one of (a, b, c, d), in order.
constexpr uint64_t derive(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return splitmix64(splitmix64(splitmix64(splitmix64(a) ^ b) ^ c) ^ d);
}

// Little-endian loads, whatever the host's byte order (compilers turn these
// into plain loads on little-endian machines).
inline uint64_t load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline void store64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// A fast keyed 128-bit hash: two xxHash64-style lanes with independent seeds
// derived from the key, one pass over the data, each finished with the
// splitmix64 mixer. Not cryptographic; inside the simulation nobody but the
// owner of a secret ever computes with it.
struct Hash128 {
  uint64_t h1, h2;
};

Hash128 keyed_hash(uint64_t key, ByteView data) {
  uint64_t h1 = splitmix64(key ^ lane1_tag);
  uint64_t h2 = splitmix64(key ^ lane2_tag);
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    const uint64_t w = load64(p);
    h1 = rotl(h1 + w * prime2, 31) * prime1;
    h2 = rotl(h2 ^ (w * prime3), 27) * prime4 + prime1;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    for (size_t i = n; i-- > 0;) w = (w << 8) | p[i];
    h1 = rotl(h1 + w * prime2, 31) * prime1;
    h2 = rotl(h2 ^ (w * prime3), 27) * prime4 + prime1;
  }
  const uint64_t len = data.size();
  h1 = mix64(h1 ^ (len * prime3));
  h2 = mix64(h2 ^ (len * prime2) ^ rotl(h1, 17));
  return {h1, h2};
}

uint64_t principal_secret(uint64_t cluster_secret, Principal who) {
  return derive(cluster_secret ^ principal_tag, static_cast<uint64_t>(who.kind), who.id, 0);
}

// The secret for MACs sent by replica `from` to replica `to`.
uint64_t pair_secret(uint64_t cluster_secret, ReplicaId from, ReplicaId to) {
  return derive(cluster_secret ^ mac_tag, from, to, 1);
}

}  // namespace

FakeCrypto::FakeCrypto(uint64_t cluster_secret, Principal self)
    : cluster_secret_(cluster_secret), self_(self) {
  init_sodium();
}

Digest FakeCrypto::digest(ByteView data) const {
  Digest d;
  crypto_generichash(d.bytes.data(), d.bytes.size(), data.data(), data.size(), nullptr, 0);
  return d;
}

Signature FakeCrypto::sign_as(Principal who, ByteView data) const {
  const Hash128 h = keyed_hash(principal_secret(cluster_secret_, who), data);
  Signature sig{};
  store64(sig.data(), h.h1);
  store64(sig.data() + 8, h.h2);
  return sig;
}

Signature FakeCrypto::sign(ByteView data) const { return sign_as(self_, data); }

bool FakeCrypto::verify_replica(ReplicaId signer, ByteView data, const Signature& sig) const {
  return sign_as(Principal::replica(signer), data) == sig;
}

bool FakeCrypto::verify_client(ClientId signer, ByteView data, const Signature& sig) const {
  ++client_verifications_;
  return sign_as(Principal::client(signer), data) == sig;
}

Mac FakeCrypto::mac(ReplicaId peer, ByteView data) const {
  PBFT_ASSERT(self_.kind == Principal::Kind::replica, "a client has no MAC keys");
  PBFT_ASSERT(peer != self_.id, "a replica cannot MAC to itself");
  const auto self = static_cast<ReplicaId>(self_.id);
  const Hash128 h = keyed_hash(pair_secret(cluster_secret_, self, peer), data);
  Mac out{};
  store64(out.data(), h.h1);
  store64(out.data() + 8, h.h2);
  return out;
}

bool FakeCrypto::verify_mac(ReplicaId peer, ByteView data, const Mac& mac) const {
  if (self_.kind != Principal::Kind::replica) return false;
  if (peer == self_.id) return false;
  const auto self = static_cast<ReplicaId>(self_.id);
  const Hash128 h = keyed_hash(pair_secret(cluster_secret_, peer, self), data);
  Mac expected{};
  store64(expected.data(), h.h1);
  store64(expected.data() + 8, h.h2);
  return expected == mac;
}

}  // namespace pbft::crypto
