// Many requests, one signature. A signer that has several requests to sign
// at once (a replica's HTTP gateway, for every request of one turn of its
// event loop) builds a Merkle tree over them and signs its root: each
// request then carries the signature, its leaf's position and the sibling
// hashes up to the root (wire::Request::flag_bundled), and is checked on
// its own, wherever it travels, as a signed request is. A verifier that
// has checked one root's signature remembers it (VerifiedBundles), so the
// other requests of the bundle cost it a few hashes instead of an Ed25519
// verification each.
//
// The tree: leaves are BLAKE2b(wire::bundle_leaf_bytes(request)), padded
// with all-zero digests to a power of two; a node is
// BLAKE2b(wire::bundle_node_bytes(left, right)). The tags keep leaves,
// nodes and roots apart, and the padding is no request's digest.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "common/types.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::core {

// Signs `requests` with one signature: all of one signer (the same key:
// one gateway's clients, or one client), at most 2^bundle_depth_max of
// them. A single request is signed by itself, as if alone (no flag).
void sign_bundle(const crypto::Crypto& crypto, std::span<wire::Request* const> requests);

// The root a bundled request's path leads to.
Digest bundle_root(const crypto::Crypto& crypto, const wire::Request& request);

// Roots whose signatures checked, the last `capacity` of them (a ring: the
// requests of one bundle arrive together). Only a repeat of the same
// signer (Crypto::client_signer: the same key), root and signature counts
// as checked.
class VerifiedBundles {
 public:
  bool contains(uint64_t signer, const Digest& root, const Signature& sig) const;
  void insert(uint64_t signer, const Digest& root, const Signature& sig);

 private:
  struct Entry {
    uint64_t signer = 0;
    Digest root;
    Signature sig{};
    bool used = false;
  };
  static constexpr size_t capacity = 64;
  std::array<Entry, capacity> entries_{};
  size_t next_ = 0;
};

// Whether the client's signature on `request` checks: over its signing
// bytes, or for a bundled request over its bundle's root (once per root
// with `seen`). A bundled request whose path is empty, deeper than
// bundle_depth_max or shorter than its index needs fails.
bool check_client_signature(const crypto::Crypto& crypto, const wire::Request& request, VerifiedBundles& seen);

}  // namespace pbft::core
