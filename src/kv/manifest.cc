#include "kv/manifest.h"

#include <cstring>

#include "common/assert.h"
#include "common/byte_io.h"
#include "kv/buckets.h"

namespace pbft::kv {
namespace {
constexpr size_t header_size = manifest_tag.size() + 4 + 4;
constexpr size_t manifest_size = header_size + size_t{bucket_count} * digest_size;
}  // namespace

Bytes encode_manifest(const std::vector<Digest>& leaves) {
  PBFT_ASSERT(leaves.size() == bucket_count, "a manifest has one leaf per bucket");
  Bytes out(manifest_tag.begin(), manifest_tag.end());
  out.reserve(manifest_size);
  byte_io::put_u32(out, data_bucket_count);
  byte_io::put_u32(out, request_bucket_count);
  for (const Digest& d : leaves) out.insert(out.end(), d.bytes.begin(), d.bytes.end());
  return out;
}

std::optional<std::vector<Digest>> decode_manifest(ByteView bytes) {
  if (bytes.size() != manifest_size) return std::nullopt;
  byte_io::Reader in(bytes);
  if (!in.expect(ByteView(reinterpret_cast<const uint8_t*>(manifest_tag.data()), manifest_tag.size())))
    return std::nullopt;
  if (in.u32() != data_bucket_count || in.u32() != request_bucket_count) return std::nullopt;
  std::vector<Digest> leaves(bucket_count);
  for (uint32_t b = 0; b < bucket_count; ++b)
    std::memcpy(leaves[b].bytes.data(), bytes.data() + header_size + size_t{b} * digest_size, digest_size);
  return leaves;
}

}  // namespace pbft::kv
