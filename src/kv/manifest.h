// The manifest: what KvStore::checkpoint() returns and restore() takes.
// It identifies the state without holding it: the tag
// "pbft-kv/manifest/v1" (19 raw bytes), u32 LE data bucket count, u32 LE
// request bucket count, then every bucket's leaf digest in bucket order
// (32 bytes each; about 139 KB). Canonical: equal states give equal
// manifests. Its digest, with the reply cache, is what checkpoints certify,
// and each fetched bucket is checked against its leaf.
#pragma once

#include <optional>
#include <vector>

#include "common/types.h"

namespace pbft::kv {

inline constexpr std::string_view manifest_tag = "pbft-kv/manifest/v1";

Bytes encode_manifest(const std::vector<Digest>& leaves);
// The leaves; nullopt unless `bytes` is exactly a manifest for this build's
// bucket counts.
std::optional<std::vector<Digest>> decode_manifest(ByteView bytes);

}  // namespace pbft::kv
