#include "kv/buckets.h"

#include <sodium.h>

#include "common/assert.h"
#include "crypto/sodium_crypto.h"
#include "kv/records.h"

namespace pbft::kv {

std::string key_index_key(std::string_view user_key) {
  std::string k(key_index_prefix);
  k.append(user_key);
  return k;
}
namespace {

constexpr std::string_view record_key_prefix = "s/d";

void put_u16_be(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void put_u32_be(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

std::string bucket_key(std::string_view prefix, uint32_t bucket) {
  PBFT_ASSERT(bucket <= bucket_count, "bucket out of range");
  std::string k(prefix);
  put_u16_be(k, bucket);
  return k;
}

// The first key past every key starting with `prefix` (prefix is never all 0xff here).
std::string successor_of_prefix(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<uint8_t&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  PBFT_ASSERT(false, "no successor of an all-0xff prefix");
  return prefix;
}

}  // namespace

uint32_t bucket_of(std::string_view record_key) {
  PBFT_ASSERT(!record_key.empty(), "a record key has a tag");
  crypto::init_sodium();
  uint8_t h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const uint8_t*>(record_key.data()), record_key.size(),
                     nullptr, 0);
  const uint32_t x = static_cast<uint32_t>(h[0]) | static_cast<uint32_t>(h[1]) << 8 |
                     static_cast<uint32_t>(h[2]) << 16 | static_cast<uint32_t>(h[3]) << 24;
  if (record_key[0] == request_record_tag) return data_bucket_count + x % request_bucket_count;
  return x % data_bucket_count;
}

std::string generation_prefix(uint32_t bucket, uint32_t generation) {
  std::string k = bucket_key(record_key_prefix, bucket);
  put_u32_be(k, generation);
  return k;
}

std::string record_storage_key(uint32_t bucket, uint32_t generation, std::string_view record_key) {
  std::string k = generation_prefix(bucket, generation);
  k.append(record_key);
  return k;
}

std::string generation_end(uint32_t bucket, uint32_t generation) {
  return successor_of_prefix(generation_prefix(bucket, generation));
}

std::string bucket_records_begin(uint32_t bucket) { return generation_prefix(bucket, 0); }
std::string bucket_records_end(uint32_t bucket) { return bucket_key(record_key_prefix, bucket + 1); }

std::string generation_key(uint32_t bucket) { return bucket_key(generation_key_prefix, bucket); }
std::string generations_begin() { return std::string(generation_key_prefix); }
std::string generations_end() { return successor_of_prefix(std::string(generation_key_prefix)); }
std::string summary_key(uint32_t bucket) { return bucket_key(summary_key_prefix, bucket); }
std::string summaries_begin() { return std::string(summary_key_prefix); }
std::string summaries_end() { return successor_of_prefix(std::string(summary_key_prefix)); }

bool parse_bucket_key(std::string_view key, std::string_view prefix, uint32_t& bucket) {
  if (key.size() != prefix.size() + 2 || key.substr(0, prefix.size()) != prefix) return false;
  bucket = static_cast<uint32_t>(static_cast<uint8_t>(key[prefix.size()])) << 8 |
           static_cast<uint8_t>(key[prefix.size() + 1]);
  return bucket < bucket_count;
}

std::string encode_generation(uint32_t generation) {
  std::string v;
  put_u32_be(v, generation);
  return v;
}

bool decode_generation(std::string_view value, uint32_t& generation) {
  if (value.size() != 4) return false;
  generation = 0;
  for (char c : value) generation = generation << 8 | static_cast<uint8_t>(c);
  return true;
}

std::string encode_summary(const LtHash& hash, uint64_t records) {
  std::string v(LtHash::bytes_size + 8, '\0');
  hash.to_bytes(reinterpret_cast<uint8_t*>(v.data()));
  for (int i = 0; i < 8; ++i) v[LtHash::bytes_size + static_cast<size_t>(i)] = static_cast<char>(records >> (8 * i));
  return v;
}

bool decode_summary(std::string_view value, LtHash& hash, uint64_t& records) {
  if (value.size() != LtHash::bytes_size + 8) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(value.data());
  if (!LtHash::from_bytes(ByteView(p, LtHash::bytes_size), hash)) return false;
  records = 0;
  for (int i = 7; i >= 0; --i) records = records << 8 | p[LtHash::bytes_size + static_cast<size_t>(i)];
  return true;
}

Digest bucket_leaf(uint32_t bucket, const LtHash& hash) {
  Digest leaf;
  if (hash.is_zero()) return leaf;
  crypto::init_sodium();
  uint8_t buf[4 + LtHash::bytes_size];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<uint8_t>(bucket >> (8 * i));
  hash.to_bytes(buf + 4);
  crypto_generichash(leaf.bytes.data(), leaf.bytes.size(), buf, sizeof buf, nullptr, 0);
  return leaf;
}

}  // namespace pbft::kv
