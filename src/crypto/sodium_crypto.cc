#include "crypto/sodium_crypto.h"

#include "common/client_id.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/assert.h"

namespace pbft::crypto {

static_assert(public_key_size == crypto_sign_PUBLICKEYBYTES);
static_assert(secret_key_size == crypto_sign_SECRETKEYBYTES);
static_assert(seed_size == crypto_sign_SEEDBYTES);
static_assert(signature_size == crypto_sign_BYTES);
static_assert(digest_size == 32 && digest_size >= crypto_generichash_BYTES_MIN &&
              digest_size <= crypto_generichash_BYTES_MAX);
static_assert(mac_size == 32 && mac_size >= crypto_generichash_BYTES_MIN &&
              mac_size <= crypto_generichash_BYTES_MAX);
static_assert(crypto_kx_SESSIONKEYBYTES == 32);
static_assert(crypto_kx_SESSIONKEYBYTES >= crypto_generichash_KEYBYTES_MIN &&
              crypto_kx_SESSIONKEYBYTES <= crypto_generichash_KEYBYTES_MAX);
static_assert(crypto_kx_PUBLICKEYBYTES == crypto_scalarmult_curve25519_BYTES);
static_assert(crypto_kx_SECRETKEYBYTES == crypto_scalarmult_curve25519_BYTES);

void init_sodium() {
  // sodium_init() is itself safe to call repeatedly and from several
  // threads; the static only saves the repeated calls.
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "pbft: sodium_init() failed\n");
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

KeyPair generate_key_pair() {
  init_sodium();
  KeyPair kp;
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

KeyPair key_pair_from_seed(const std::array<uint8_t, seed_size>& seed) {
  init_sodium();
  KeyPair kp;
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

namespace {

Digest blake2b_256(ByteView data, const uint8_t* key, size_t key_size) {
  Digest d;
  crypto_generichash(d.bytes.data(), d.bytes.size(), data.data(), data.size(), key, key_size);
  return d;
}

}  // namespace

SodiumCrypto::SodiumCrypto(Keyring keyring) : keyring_(std::move(keyring)) {
  init_sodium();
  // Gateway ids are the replicas' (common/client_id.h); client_signer
  // relies on no listed client having one.
  for (const auto& [id, key] : keyring_.clients)
    PBFT_ASSERT(!gateway_of(id).has_value(), "client id " + std::to_string(id) + " is a replica gateway's id");
  if (!keyring_.self_is_replica) {
    std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> self_pk{};
    std::array<uint8_t, crypto_kx_SECRETKEYBYTES> self_sk{};
    if (crypto_sign_ed25519_pk_to_curve25519(self_pk.data(), keyring_.self.public_key.data()) != 0) return;
    crypto_sign_ed25519_sk_to_curve25519(self_sk.data(), keyring_.self.secret_key.data());
    replica_link_keys_.resize(keyring_.replicas.size());
    for (size_t r = 0; r < keyring_.replicas.size(); ++r) {
      std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> replica_pk{};
      if (crypto_sign_ed25519_pk_to_curve25519(replica_pk.data(), keyring_.replicas[r].data()) != 0) continue;
      MacKey rx{}, tx{};
      if (crypto_kx_client_session_keys(rx.data(), tx.data(), self_pk.data(), self_sk.data(), replica_pk.data()) == 0)
        replica_link_keys_[r] = KeyPairOf{tx, rx};
      sodium_memzero(rx.data(), rx.size());
      sodium_memzero(tx.data(), tx.size());
    }
    sodium_memzero(self_sk.data(), self_sk.size());
    return;
  }

  const size_t n = keyring_.replicas.size();
  PBFT_ASSERT(keyring_.self_id < n, "replica id " + std::to_string(keyring_.self_id) +
                                        " outside a keyring of " + std::to_string(n) + " replicas");
  const auto self = static_cast<ReplicaId>(keyring_.self_id);
  mac_keys_.resize(n);
  verify_mac_keys_.resize(n);

  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> self_pk{};
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> self_sk{};
  PBFT_ASSERT(crypto_sign_ed25519_pk_to_curve25519(self_pk.data(),
                                                   keyring_.self.public_key.data()) == 0,
              "own Ed25519 public key does not convert to X25519");
  crypto_sign_ed25519_sk_to_curve25519(self_sk.data(), keyring_.self.secret_key.data());

  for (ReplicaId peer = 0; peer < n; ++peer) {
    if (peer == self) continue;
    std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> peer_pk{};
    if (crypto_sign_ed25519_pk_to_curve25519(peer_pk.data(), keyring_.replicas[peer].data()) != 0)
      continue;  // not a valid key: no MACs with this peer
    MacKey rx{}, tx{};
    const int rc = self < peer ? crypto_kx_client_session_keys(rx.data(), tx.data(), self_pk.data(),
                                                               self_sk.data(), peer_pk.data())
                               : crypto_kx_server_session_keys(rx.data(), tx.data(), self_pk.data(),
                                                               self_sk.data(), peer_pk.data());
    if (rc == 0) {
      mac_keys_[peer] = tx;
      verify_mac_keys_[peer] = rx;
    }
    sodium_memzero(rx.data(), rx.size());
    sodium_memzero(tx.data(), tx.size());
  }
  sodium_memzero(self_sk.data(), self_sk.size());
}

Digest SodiumCrypto::digest(ByteView data) const { return blake2b_256(data, nullptr, 0); }

Signature SodiumCrypto::sign(ByteView data) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, data.data(), data.size(),
                       keyring_.self.secret_key.data());
  return sig;
}

bool SodiumCrypto::verify_replica(ReplicaId signer, ByteView data, const Signature& sig) const {
  if (signer >= keyring_.replicas.size()) return false;
  return crypto_sign_verify_detached(sig.data(), data.data(), data.size(),
                                     keyring_.replicas[signer].data()) == 0;
}

const PublicKey* SodiumCrypto::client_key(ClientId client) const {
  if (auto it = keyring_.clients.find(client); it != keyring_.clients.end()) return &it->second;
  if (auto gateway = gateway_of(client); gateway && *gateway < keyring_.replicas.size())
    return &keyring_.replicas[*gateway];  // a replica's gateway signs with the replica's key
  return nullptr;
}

bool SodiumCrypto::verify_client(ClientId signer, ByteView data, const Signature& sig) const {
  const PublicKey* key = client_key(signer);
  if (key == nullptr) return false;
  return crypto_sign_verify_detached(sig.data(), data.data(), data.size(), key->data()) == 0;
}

// The same lookup as verify_client's: a listed client is its own signer
// (listed ids are never gateway ids: the constructor checks), a gateway
// client its replica's, and a client with no key has none.
std::optional<uint64_t> SodiumCrypto::client_signer(ClientId client) const {
  if (client_key(client) == nullptr) return std::nullopt;
  if (keyring_.clients.contains(client)) return client;
  return uint64_t{1} << 63 | *gateway_of(client);
}

Mac SodiumCrypto::mac(ReplicaId peer, ByteView data) const {
  PBFT_ASSERT(keyring_.self_is_replica, "a client has no MAC keys");
  PBFT_ASSERT(peer != keyring_.self_id, "a replica cannot MAC to itself");
  PBFT_ASSERT(peer < mac_keys_.size() && mac_keys_[peer].has_value(),
              "no MAC key for replica " + std::to_string(peer));
  const MacKey& key = *mac_keys_[peer];
  Mac out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), key.data(), key.size());
  return out;
}

namespace {
Mac keyed_mac(const std::array<uint8_t, 32>& key, ByteView data) {
  Mac out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), key.data(), key.size());
  return out;
}
bool same_mac(const Mac& a, const Mac& b) { return sodium_memcmp(a.data(), b.data(), a.size()) == 0; }
}  // namespace

const std::optional<SodiumCrypto::KeyPairOf>& SodiumCrypto::client_keys(ClientId client) const {
  // Only known clients are kept: ids from unauthenticated frames must not grow the cache.
  static const std::optional<KeyPairOf> none;
  if (!keyring_.self_is_replica || !keyring_.clients.contains(client)) return none;
  auto [it, fresh] = client_mac_keys_.try_emplace(client);
  if (fresh) {
    auto known = keyring_.clients.find(client);
    std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> self_pk{}, client_pk{};
    std::array<uint8_t, crypto_kx_SECRETKEYBYTES> self_sk{};
    if (known != keyring_.clients.end() &&
        crypto_sign_ed25519_pk_to_curve25519(client_pk.data(), known->second.data()) == 0 &&
        crypto_sign_ed25519_pk_to_curve25519(self_pk.data(), keyring_.self.public_key.data()) == 0) {
      crypto_sign_ed25519_sk_to_curve25519(self_sk.data(), keyring_.self.secret_key.data());
      MacKey rx{}, tx{};
      if (crypto_kx_server_session_keys(rx.data(), tx.data(), self_pk.data(), self_sk.data(), client_pk.data()) == 0)
        it->second = KeyPairOf{tx, rx};
      sodium_memzero(rx.data(), rx.size());
      sodium_memzero(tx.data(), tx.size());
      sodium_memzero(self_sk.data(), self_sk.size());
    }
  }
  return it->second;
}

std::optional<Mac> SodiumCrypto::mac_to_client(ClientId client, ByteView data) const {
  const std::optional<KeyPairOf>& keys = client_keys(client);
  if (!keys) return std::nullopt;
  return keyed_mac(keys->to, data);
}

bool SodiumCrypto::verify_client_mac(ClientId client, ByteView data, const Mac& mac) const {
  const std::optional<KeyPairOf>& keys = client_keys(client);
  return keys && same_mac(keyed_mac(keys->from, data), mac);
}

std::optional<Mac> SodiumCrypto::mac_to_replica(ReplicaId replica, ByteView data) const {
  if (replica >= replica_link_keys_.size() || !replica_link_keys_[replica]) return std::nullopt;
  return keyed_mac(replica_link_keys_[replica]->to, data);
}

bool SodiumCrypto::verify_replica_mac(ReplicaId replica, ByteView data, const Mac& mac) const {
  if (replica >= replica_link_keys_.size() || !replica_link_keys_[replica]) return false;
  return same_mac(keyed_mac(replica_link_keys_[replica]->from, data), mac);
}

bool SodiumCrypto::verify_mac(ReplicaId peer, ByteView data, const Mac& mac) const {
  if (!keyring_.self_is_replica) return false;
  if (peer >= verify_mac_keys_.size() || !verify_mac_keys_[peer].has_value()) return false;
  const MacKey& key = *verify_mac_keys_[peer];
  Mac expected{};
  crypto_generichash(expected.data(), expected.size(), data.data(), data.size(), key.data(),
                     key.size());
  return sodium_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}

}  // namespace pbft::crypto
