// LtHash16: the homomorphic multiset hash of Bellare and Micciancio in the
// lattice form of Lewi et al., "Securing Update Propagation with
// Homomorphic Hashing" (2019): 1024 lanes of 16 bits (2048 bytes), added
// lane-wise mod 2^16.
//
// Each record is hashed to 2048 pseudo-random bytes; a set of records
// hashes to the lane-wise sum of its members. Adding or removing a record
// costs one record hash, whatever the size of the set, which is what lets
// every bucket keep its digest current on each write. XOR or a single
// 256-bit sum would be just as cheap but are broken (a set with the same
// hash can be solved for by linear algebra / generalized birthday); the
// 16384-bit lattice sum is not, at about 200 bits of security.
//
// The record hash: k = BLAKE2b-256(u32 little-endian key length, key,
// value), expanded by ChaCha20 (IETF, key k, zero nonce) to 2048 bytes,
// read as little-endian u16 lanes. Fixed here for all builds: replicas
// must agree on it bit for bit (lthash_test pins known answers).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "common/types.h"

namespace pbft::kv {

class LtHash {
 public:
  static constexpr size_t lanes = 1024;
  static constexpr size_t bytes_size = 2 * lanes;

  LtHash() = default;  // the hash of the empty set: every lane zero

  // The hash of the one-record set {(key, value)}.
  static LtHash of_record(std::string_view key, std::string_view value);
  // The 2048-byte form: little-endian lanes. from_bytes() takes exactly
  // bytes_size bytes (false otherwise).
  static bool from_bytes(ByteView bytes, LtHash& out);
  void to_bytes(uint8_t* out) const;
  Bytes to_bytes() const;

  void add(const LtHash& other);
  void remove(const LtHash& other);
  bool is_zero() const;

  bool operator==(const LtHash&) const = default;

 private:
  std::array<uint16_t, lanes> lanes_{};
};

}  // namespace pbft::kv
