#include "kv/chunk.h"

#include "common/byte_io.h"
#include "kv/buckets.h"
#include "kv/records.h"

namespace pbft::kv {
namespace {
// A record takes at least its bucket, two lengths and one key byte.
constexpr size_t record_bytes_min = 13;
}  // namespace

Bytes encode_chunk(const Chunk& chunk) {
  size_t total = 4 + 1 + 8 + chunk.next_after.size();
  for (const ChunkRecord& r : chunk.records) total += chunk_record_size(r.key.size(), r.value.size());
  Bytes out;
  out.reserve(total);
  byte_io::put_u32(out, static_cast<uint32_t>(chunk.records.size()));
  for (const ChunkRecord& r : chunk.records) {
    byte_io::put_u32(out, r.bucket);
    byte_io::put_string(out, r.key);
    byte_io::put_string(out, r.value);
  }
  byte_io::put_u8(out, chunk.done ? 1 : 0);
  if (!chunk.done) {
    byte_io::put_u32(out, chunk.next_bucket);
    byte_io::put_string(out, chunk.next_after);
  }
  return out;
}

std::optional<Chunk> decode_chunk(ByteView bytes) {
  byte_io::Reader in(bytes);
  auto count = in.u32();
  if (!count || *count > in.remaining() / record_bytes_min) return std::nullopt;
  Chunk c;
  c.records.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    ChunkRecord r;
    auto bucket = in.u32();
    if (!bucket || *bucket >= bucket_count) return std::nullopt;
    r.bucket = *bucket;
    auto key = in.string(record_key_bytes_max);
    if (!key || key->empty()) return std::nullopt;
    auto value = in.string(record_value_bytes_max);
    if (!value) return std::nullopt;
    r.key = std::move(*key);
    r.value = std::move(*value);
    c.records.push_back(std::move(r));
  }
  auto end = in.u8();
  if (!end || *end > 1) return std::nullopt;
  c.done = *end == 1;
  if (!c.done) {
    auto bucket = in.u32();
    if (!bucket || *bucket >= bucket_count) return std::nullopt;
    auto after = in.string(record_key_bytes_max);
    if (!after) return std::nullopt;
    c.next_bucket = *bucket;
    c.next_after = std::move(*after);
  }
  if (!in.at_end()) return std::nullopt;
  return c;
}

}  // namespace pbft::kv
