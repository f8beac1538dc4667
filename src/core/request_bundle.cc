#include "core/request_bundle.h"

#include <vector>

#include "common/assert.h"
#include "wire/codec.h"

namespace pbft::core {

namespace {

Digest leaf_of(const crypto::Crypto& crypto, const wire::Request& request) {
  return crypto.digest(wire::bundle_leaf_bytes(request));
}

Digest node_of(const crypto::Crypto& crypto, const Digest& left, const Digest& right) {
  return crypto.digest(wire::bundle_node_bytes(left, right));
}

}  // namespace

void sign_bundle(const crypto::Crypto& crypto, std::span<wire::Request* const> requests) {
  PBFT_ASSERT(!requests.empty(), "a bundle of no requests");
  if (requests.size() == 1) {
    wire::Request& r = *requests[0];
    r.flags &= static_cast<uint8_t>(~wire::Request::flag_bundled);
    r.bundle_path.clear();
    r.bundle_index = 0;
    r.sig = crypto.sign(wire::signing_bytes(r));
    return;
  }
  size_t depth = 0;
  while ((size_t{1} << depth) < requests.size()) ++depth;
  PBFT_ASSERT(depth <= wire::Request::bundle_depth_max, "a bundle larger than 2^bundle_depth_max requests");
  for (wire::Request* r : requests) {
    PBFT_ASSERT(crypto.client_signer(r->client).has_value() &&
                    crypto.client_signer(r->client) == crypto.client_signer(requests[0]->client),
                "a bundle of requests of several signers, or of a client with no key");
    r->flags |= wire::Request::flag_bundled;  // before the leaf: the flag is signed
    r->bundle_path.clear();
  }
  // level[i]: the nodes at the current height; the padding is all zeros.
  std::vector<Digest> level(size_t{1} << depth);
  for (size_t i = 0; i < requests.size(); ++i) level[i] = leaf_of(crypto, *requests[i]);
  for (size_t i = 0; i < requests.size(); ++i) requests[i]->bundle_index = static_cast<uint32_t>(i);
  for (size_t height = 0; height < depth; ++height) {
    for (size_t i = 0; i < requests.size(); ++i) {
      const size_t at = i >> height;
      requests[i]->bundle_path.push_back(level[at ^ 1]);
    }
    std::vector<Digest> up(level.size() / 2);
    for (size_t j = 0; j < up.size(); ++j) up[j] = node_of(crypto, level[2 * j], level[2 * j + 1]);
    level = std::move(up);
  }
  const Signature sig = crypto.sign(wire::bundle_signing_bytes(level[0]));
  for (wire::Request* r : requests) r->sig = sig;
}

Digest bundle_root(const crypto::Crypto& crypto, const wire::Request& request) {
  PBFT_ASSERT((request.flags & wire::Request::flag_bundled) != 0, "the root of a request that is not bundled");
  Digest node = leaf_of(crypto, request);
  for (size_t height = 0; height < request.bundle_path.size(); ++height) {
    const bool right = ((request.bundle_index >> height) & 1) != 0;
    const Digest& sibling = request.bundle_path[height];
    node = right ? node_of(crypto, sibling, node) : node_of(crypto, node, sibling);
  }
  return node;
}

bool VerifiedBundles::contains(uint64_t signer, const Digest& root, const Signature& sig) const {
  for (const Entry& e : entries_)
    if (e.used && e.signer == signer && e.root == root && e.sig == sig) return true;
  return false;
}

void VerifiedBundles::insert(uint64_t signer, const Digest& root, const Signature& sig) {
  entries_[next_] = Entry{signer, root, sig, true};
  next_ = (next_ + 1) % capacity;
}

bool check_client_signature(const crypto::Crypto& crypto, const wire::Request& request, VerifiedBundles& seen) {
  if ((request.flags & wire::Request::flag_bundled) == 0)
    return crypto.verify_client(request.client, wire::signing_bytes(request), request.sig);
  const size_t depth = request.bundle_path.size();
  if (depth == 0 || depth > wire::Request::bundle_depth_max || request.bundle_index >> depth != 0) return false;
  const Digest root = bundle_root(crypto, request);
  // A client with no key never checks, and so never borrows a remembered root.
  const std::optional<uint64_t> signer = crypto.client_signer(request.client);
  if (!signer) return false;
  if (seen.contains(*signer, root, request.sig)) return true;
  if (!crypto.verify_client(request.client, wire::bundle_signing_bytes(root), request.sig)) return false;
  seen.insert(*signer, root, request.sig);
  return true;
}

}  // namespace pbft::core
