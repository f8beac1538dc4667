// Tests only: fixed Ed25519 key pairs for the replicas of a small cluster,
// and the keyring one of them holds, for tests that use the production
// crypto.
#pragma once

#include <array>
#include <cstdint>

#include "crypto/sodium_crypto.h"

namespace pbft::crypto::test {

// Replica r's key pair; `tag` tells the clusters of different tests apart.
inline KeyPair replica_key(uint8_t tag, ReplicaId r) {
  std::array<uint8_t, seed_size> seed{};
  seed[0] = tag;
  seed[1] = static_cast<uint8_t>(r);
  return key_pair_from_seed(seed);
}

// What replica `self` of `replicas` holds: its own pair and every public key.
inline Keyring replica_keyring(uint8_t tag, ReplicaId self, uint32_t replicas) {
  Keyring k;
  k.self = replica_key(tag, self);
  k.self_id = self;
  for (ReplicaId r = 0; r < replicas; ++r) k.replicas.push_back(replica_key(tag, r).public_key);
  return k;
}

}  // namespace pbft::crypto::test
