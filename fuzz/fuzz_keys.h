// Deterministic Ed25519 keys for the fuzz targets and the seed writer: the
// replicas of a 4-replica cluster and a few clients, each from a fixed seed,
// so that seeds written once stay valid.
#pragma once

#include <array>
#include <cstdint>

#include "crypto/sodium_crypto.h"

namespace pbft::fuzz {

inline constexpr uint32_t replica_count = 4;
inline constexpr uint64_t cluster_id = 0x5eed;
inline constexpr ClientId first_client = 100;
inline constexpr uint32_t client_count = 4;  // clients first_client .. first_client + 3

inline crypto::KeyPair replica_key(uint32_t i) {
  std::array<uint8_t, crypto::seed_size> seed{};
  seed[0] = 0xa0;
  seed[1] = static_cast<uint8_t>(i);
  return crypto::key_pair_from_seed(seed);
}

inline crypto::KeyPair client_key(ClientId c) {
  std::array<uint8_t, crypto::seed_size> seed{};
  seed[0] = 0xc0;
  for (int b = 0; b < 8; ++b) seed[1 + b] = static_cast<uint8_t>(c >> (8 * b));
  return crypto::key_pair_from_seed(seed);
}

inline crypto::Keyring keyring_for_replica(uint32_t self) {
  crypto::Keyring k;
  k.self = replica_key(self);
  k.self_is_replica = true;
  k.self_id = self;
  for (uint32_t i = 0; i < replica_count; ++i) k.replicas.push_back(replica_key(i).public_key);
  for (ClientId c = first_client; c < first_client + client_count; ++c) k.clients[c] = client_key(c).public_key;
  return k;
}

inline crypto::Keyring keyring_for_client(ClientId c) {
  crypto::Keyring k = keyring_for_replica(0);
  k.self = client_key(c);
  k.self_is_replica = false;
  k.self_id = c;
  return k;
}

}  // namespace pbft::fuzz
