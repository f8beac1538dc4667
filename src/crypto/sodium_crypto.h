// Production crypto on libsodium: BLAKE2b-256 digests, Ed25519 signatures,
// and MACs (keyed BLAKE2b-256) under pairwise keys derived with X25519
// (crypto_kx) from each replica's Ed25519 key pair.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <vector>

#include "crypto/crypto.h"

namespace pbft::crypto {

inline constexpr size_t public_key_size = 32;
inline constexpr size_t secret_key_size = 64;  // libsodium's Ed25519 secret key (seed + public key)
inline constexpr size_t seed_size = 32;

using PublicKey = std::array<uint8_t, public_key_size>;
using SecretKey = std::array<uint8_t, secret_key_size>;

struct KeyPair {
  PublicKey public_key{};
  SecretKey secret_key{};
};

// Makes sure libsodium is initialised; safe to call more than once.
void init_sodium();

KeyPair generate_key_pair();
// Deterministic key pair from a 32-byte seed (dev-mode keys, tests).
KeyPair key_pair_from_seed(const std::array<uint8_t, seed_size>& seed);

// Who this process is and the public keys of everybody it talks to.
struct Keyring {
  KeyPair self;
  bool self_is_replica = true;
  uint64_t self_id = 0;
  std::vector<PublicKey> replicas;         // index = ReplicaId
  std::map<ClientId, PublicKey> clients;  // known clients
};

class SodiumCrypto final : public Crypto {
 public:
  explicit SodiumCrypto(Keyring keyring);

  Digest digest(ByteView data) const override;
  Signature sign(ByteView data) const override;
  bool verify_replica(ReplicaId signer, ByteView data, const Signature& sig) const override;
  bool verify_client(ClientId signer, ByteView data, const Signature& sig) const override;
  std::optional<uint64_t> client_signer(ClientId client) const override;
  Mac mac(ReplicaId peer, ByteView data) const override;
  bool verify_mac(ReplicaId peer, ByteView data, const Mac& mac) const override;

  // The binary client protocol (transport/client_server.h): each frame
  // between a replica and a known client carries a MAC under a key only the
  // two of them can derive (crypto_kx, the client playing the kx client;
  // one key per direction). nullopt / false for an unknown client or
  // replica, or a key that does not convert to X25519.
  std::optional<Mac> mac_to_client(ClientId client, ByteView data) const;       // a replica
  bool verify_client_mac(ClientId client, ByteView data, const Mac& mac) const;  // a replica
  std::optional<Mac> mac_to_replica(ReplicaId replica, ByteView data) const;    // a client
  bool verify_replica_mac(ReplicaId replica, ByteView data, const Mac& mac) const;  // a client

 private:
  using MacKey = std::array<uint8_t, 32>;
  const PublicKey* client_key(ClientId client) const;  // nullptr: unknown
  Keyring keyring_;
  // Pairwise MAC keys, one per direction (crypto_kx session keys; the lower
  // replica id plays the kx client): mac_keys_[p] authenticates what this
  // replica sends to p, verify_mac_keys_[p] what it receives from p. Empty
  // for this replica itself, for a client principal, and for peers whose
  // public key does not convert to X25519.
  std::vector<std::optional<MacKey>> mac_keys_;         // index = peer ReplicaId
  std::vector<std::optional<MacKey>> verify_mac_keys_;  // index = peer ReplicaId
  struct KeyPairOf {
    MacKey to;    // what this side sends
    MacKey from;  // what it receives
  };
  // A replica: the keys with its clients, derived when first needed.
  const std::optional<KeyPairOf>& client_keys(ClientId client) const;
  mutable std::map<ClientId, std::optional<KeyPairOf>> client_mac_keys_;
  // A client: the keys with each replica.
  std::vector<std::optional<KeyPairOf>> replica_link_keys_;  // index = ReplicaId
};

}  // namespace pbft::crypto
