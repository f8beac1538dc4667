// A chunk of state transfer: records of consecutive buckets in (bucket,
// record key) order, and where the next chunk starts.
//
// Encoding (integers little-endian): u32 record count; per record u32
// bucket, u32-length-prefixed key, u32-length-prefixed value; then u8 1
// ("done": the requested bucket range is complete) or u8 0, u32 next
// bucket, u32-length-prefixed `after` (the next chunk starts past that
// record key in that bucket; empty: at the start of the bucket).
//
// Decoding is strict and bounded (every length checked against the record
// limits and the bytes present, no trailing bytes): it comes from a peer.
// Whether the records belong where they claim is checked by
// KvStore::stage_chunk, not here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"

namespace pbft::kv {

struct ChunkRecord {
  uint32_t bucket = 0;
  std::string key;  // record key (records.h)
  std::string value;
  bool operator==(const ChunkRecord&) const = default;
};

struct Chunk {
  std::vector<ChunkRecord> records;
  bool done = false;
  uint32_t next_bucket = 0;  // when not done
  std::string next_after;
  bool operator==(const Chunk&) const = default;
};

Bytes encode_chunk(const Chunk& chunk);
std::optional<Chunk> decode_chunk(ByteView bytes);

// The bytes a record adds to an encoded chunk.
inline size_t chunk_record_size(size_t key_size, size_t value_size) { return 12 + key_size + value_size; }

}  // namespace pbft::kv
