// The authentication interface the protocol core sees. One instance speaks
// for one principal (a replica or a client): it signs as that principal and
// checks everybody else. Implementations: SodiumCrypto (libsodium: BLAKE2b,
// Ed25519, X25519 pairwise keys with keyed BLAKE2b MACs) and FakeCrypto (the
// simulator's cheap, still unforgeable-within-the-simulation stand-in).
#pragma once

#include <optional>

#include "common/types.h"

namespace pbft::crypto {

class Crypto {
 public:
  virtual ~Crypto() = default;

  // A collision-resistant digest (BLAKE2b-256 in production).
  virtual Digest digest(ByteView data) const = 0;

  // Signs as this principal.
  virtual Signature sign(ByteView data) const = 0;
  virtual bool verify_replica(ReplicaId signer, ByteView data, const Signature& sig) const = 0;
  virtual bool verify_client(ClientId signer, ByteView data, const Signature& sig) const = 0;
  // Which key verify_client checks `client`'s signatures under, as a
  // number: two clients with the same number have one key, so a signature
  // that checks for one checks for the other (a replica's gateway clients
  // share its key); nullopt for a client with no key. The default gives
  // every client its own.
  virtual std::optional<uint64_t> client_signer(ClientId client) const { return client; }

  // Point-to-point MACs with the pairwise key shared with replica `peer`.
  virtual Mac mac(ReplicaId peer, ByteView data) const = 0;
  virtual bool verify_mac(ReplicaId peer, ByteView data, const Mac& mac) const = 0;
};

}  // namespace pbft::crypto
