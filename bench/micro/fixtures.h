// Shared set-up of the micro-benchmarks: a 4-replica cluster's keys (fixed
// seeds, libsodium crypto as in production), and gateway-signed put
// requests of the benchmark's default shape (16-byte key, 100-byte value).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/client_id.h"
#include "crypto/sodium_crypto.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::micro {

inline constexpr uint32_t replica_count = 4;
inline constexpr size_t key_size = 16;
inline constexpr size_t value_size = 100;

inline crypto::KeyPair replica_key(ReplicaId i) {
  std::array<uint8_t, crypto::seed_size> seed{};
  seed.fill(static_cast<uint8_t>(0x40 + i));
  return crypto::key_pair_from_seed(seed);
}

inline std::unique_ptr<crypto::SodiumCrypto> replica_crypto(ReplicaId self) {
  crypto::init_sodium();
  crypto::Keyring k;
  k.self = replica_key(self);
  k.self_is_replica = true;
  k.self_id = self;
  for (ReplicaId i = 0; i < replica_count; ++i) k.replicas.push_back(replica_key(i).public_key);
  return std::make_unique<crypto::SodiumCrypto>(std::move(k));
}

inline std::string bench_key(uint64_t n) {
  std::string digits = std::to_string(n);
  return "k" + std::string(key_size - 1 - std::min(key_size - 1, digits.size()), '0') + digits;
}

inline Bytes put_operation(uint64_t n) {
  return kv::encode_operation({kv::OpKind::put, bench_key(n), std::string(value_size, 'v')});
}

// A put from gateway client `slot` of replica `gateway`, signed by that
// replica as its gateway does.
inline wire::Request gateway_request(const crypto::Crypto& gateway_crypto, ReplicaId gateway, uint32_t slot,
                                     uint64_t timestamp, uint64_t key) {
  wire::Request r{gateway_client_id(gateway, slot), timestamp, put_operation(key), {}};
  r.sig = gateway_crypto.sign(wire::signing_bytes(r));
  return r;
}

}  // namespace pbft::micro
