// How records are spread over buckets, and where they live in storage.
//
// Data records go to one of 4096 data buckets, request records to one of
// 256 request buckets (numbered after the data buckets), by the first four
// bytes of BLAKE2b-256(record key). Keeping request records apart lets a
// store rebuild its idempotency eviction index from the request buckets
// alone. The counts are part of the state's definition: every replica
// must use the same ones (the manifest carries them).
//
// Storage keys (all under "s/"; "p/" holds the protocol state):
//   "s/d" + bucket (u16 BE) + generation (u32 BE) + record key  -> record value
//   "s/g" + bucket (u16 BE)  -> the bucket's current generation (u32 BE), only when non-zero
//   "s/h" + bucket (u16 BE)  -> the bucket's summary: LtHash (2048 bytes) + u64 LE record count,
//                               only when the bucket is not empty
//   "s/o" + user key         -> "" : the ordered key index (one entry per key present),
//                               outside the digest; see kv_store.h
//   "s/i"                    -> "1": the key index is complete (written with the first
//                               entries, so a store from before the index builds it once)
// Big-endian bucket and generation keep each bucket, and each generation
// within it, one contiguous key range: one range delete drops a
// generation, one scan reads a bucket. State transfer writes fetched
// records under a new generation, invisible until the bucket's generation
// switches to it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/types.h"
#include "kv/lthash.h"

namespace pbft::kv {

inline constexpr uint32_t data_bucket_count = 4096;
inline constexpr uint32_t request_bucket_count = 256;
inline constexpr uint32_t bucket_count = data_bucket_count + request_bucket_count;
static_assert(bucket_count <= 0xffff, "buckets are u16 in storage keys");

inline bool is_request_bucket(uint32_t bucket) { return bucket >= data_bucket_count; }

// The bucket of a record key (which must start with a record tag, see records.h).
uint32_t bucket_of(std::string_view record_key);

// Storage keys.
std::string generation_prefix(uint32_t bucket, uint32_t generation);  // + record key = record's key
std::string record_storage_key(uint32_t bucket, uint32_t generation, std::string_view record_key);
// The first key past every record of (bucket, generation).
std::string generation_end(uint32_t bucket, uint32_t generation);
std::string bucket_records_begin(uint32_t bucket);  // generation 0 of the bucket
std::string bucket_records_end(uint32_t bucket);    // past its last generation
inline constexpr size_t record_prefix_size = 3 + 2 + 4;

std::string generation_key(uint32_t bucket);
std::string generations_begin();
std::string generations_end();
std::string summary_key(uint32_t bucket);
std::string summaries_begin();
std::string summaries_end();
// The bucket named by a generation or summary key; false when `key` is not one.
bool parse_bucket_key(std::string_view key, std::string_view prefix, uint32_t& bucket);
inline constexpr std::string_view generation_key_prefix = "s/g";
inline constexpr std::string_view summary_key_prefix = "s/h";

std::string key_index_key(std::string_view user_key);
inline constexpr std::string_view key_index_prefix = "s/o";
inline constexpr std::string_view key_index_end = "s/p";  // past every index entry
inline constexpr std::string_view key_index_marker = "s/i";

// Values of the generation and summary keys; decoding is exact.
std::string encode_generation(uint32_t generation);
bool decode_generation(std::string_view value, uint32_t& generation);
std::string encode_summary(const LtHash& hash, uint64_t records);
bool decode_summary(std::string_view value, LtHash& hash, uint64_t& records);

// A bucket's leaf in the manifest: BLAKE2b-256(u32 LE bucket, LtHash
// bytes); an empty bucket (zero LtHash) has the all-zero leaf.
Digest bucket_leaf(uint32_t bucket, const LtHash& hash);

}  // namespace pbft::kv
