// The simulator's crypto: fast keyed hashes instead of Ed25519 and X25519.
// Each principal's secret is derived from a cluster secret and its identity;
// code inside the simulation is only ever handed the FakeCrypto of the
// principal it plays, so it cannot sign as anybody else. Digests are real
// BLAKE2b, so batch and state digests behave as in production.
#pragma once

#include <cstdint>

#include "crypto/crypto.h"

namespace pbft::crypto {

// Who a FakeCrypto speaks for.
struct Principal {
  enum class Kind : uint8_t { replica, client };
  Kind kind = Kind::replica;
  uint64_t id = 0;
  static Principal replica(ReplicaId r) { return {Kind::replica, r}; }
  static Principal client(ClientId c) { return {Kind::client, c}; }
};

class FakeCrypto final : public Crypto {
 public:
  FakeCrypto(uint64_t cluster_secret, Principal self);

  Digest digest(ByteView data) const override;
  Signature sign(ByteView data) const override;
  bool verify_replica(ReplicaId signer, ByteView data, const Signature& sig) const override;
  bool verify_client(ClientId signer, ByteView data, const Signature& sig) const override;
  Mac mac(ReplicaId peer, ByteView data) const override;
  bool verify_mac(ReplicaId peer, ByteView data, const Mac& mac) const override;

  Principal self() const { return self_; }
  // Client signatures checked so far (tests count what a path costs).
  uint64_t client_verifications() const { return client_verifications_; }

 private:
  Signature sign_as(Principal who, ByteView data) const;
  uint64_t cluster_secret_;
  Principal self_;
  mutable uint64_t client_verifications_ = 0;
};

}  // namespace pbft::crypto
