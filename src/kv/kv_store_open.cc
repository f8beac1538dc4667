// Opening a KvStore on what a previous one wrote.
#include <string>

#include "common/assert.h"
#include "kv/kv_store.h"

namespace pbft::kv {
namespace {

[[noreturn]] void corrupt(const std::string& what) {
  throw storage::StorageError("key-value state in storage is corrupt: " + what);
}

}  // namespace

KvStore::KvStore(storage::Storage& storage, size_t entries_max)
    : storage_(storage),
      entries_max_(entries_max),
      buckets_(bucket_count),
      leaves_(bucket_count),
      generations_(bucket_count) {
  load();
  drop_leftover_generations();
  rebuild_eviction_index();
  if (!storage_.get(key_index_marker)) build_key_index();
}

// Once per store: the index entries of every stored data record and the
// marker, in one synced batch (an interrupted build is redone).
void KvStore::build_key_index() {
  storage::WriteBatch batch;
  for (uint32_t bucket = 0; bucket < data_bucket_count; ++bucket) {
    if (buckets_[bucket].records == 0) continue;
    for (const std::string& key : bucket_keys(bucket, generations_[bucket], false))
      batch.put(key_index_key(key), "");
  }
  batch.put(std::string(key_index_marker), "1");
  storage_.write(batch, true);
}

// Generations and summaries: a few bytes per non-empty bucket, never the
// records themselves.
void KvStore::load() {
  storage_.scan(generations_begin(), generations_end(), [&](std::string_view key, std::string_view value) {
    uint32_t bucket = 0;
    if (!parse_bucket_key(key, generation_key_prefix, bucket) ||
        !decode_generation(value, generations_[bucket]))
      corrupt("bad generation entry");
    return true;
  });
  storage_.scan(summaries_begin(), summaries_end(), [&](std::string_view key, std::string_view value) {
    uint32_t bucket = 0;
    if (!parse_bucket_key(key, summary_key_prefix, bucket)) corrupt("bad summary key");
    BucketState& b = buckets_[bucket];
    if (!decode_summary(value, hash_of(bucket), b.records)) corrupt("bad summary entry");
    if (!is_request_bucket(bucket)) data_records_ += b.records;
    // Empty buckets keep the fixed all-zero leaf they start with.
    b.leaf_dirty = true;
    dirty_leaves_.push_back(bucket);
    return true;
  });
}

// A transfer interrupted before restore() leaves records under a
// generation that is not the bucket's current one. Two bounded probes per
// bucket (each stops at the first key) find them without reading the
// current records.
void KvStore::drop_leftover_generations() {
  storage::WriteBatch deletes;
  auto any_in = [&](const std::string& begin, const std::string& end) {
    bool found = false;
    storage_.scan(begin, end, [&](std::string_view, std::string_view) {
      found = true;
      return false;
    });
    return found;
  };
  for (uint32_t bucket = 0; bucket < bucket_count; ++bucket) {
    const uint32_t g = generations_[bucket];
    const std::string begin = bucket_records_begin(bucket);
    const std::string current = generation_prefix(bucket, g);
    if (g > 0 && any_in(begin, current)) deletes.del_range(begin, current);
    const std::string past = generation_end(bucket, g);
    const std::string end = bucket_records_end(bucket);
    if (any_in(past, end)) deletes.del_range(past, end);
  }
  if (!deletes.empty()) storage_.write(deletes, false);
}

void KvStore::rebuild_eviction_index() {
  uint64_t records = 0;
  for (uint32_t bucket = data_bucket_count; bucket < bucket_count; ++bucket) {
    const uint32_t g = generations_[bucket];
    const std::string prefix = generation_prefix(bucket, g);
    storage_.scan(prefix, generation_end(bucket, g), [&](std::string_view key, std::string_view value) {
      std::string_view record_key = key.substr(prefix.size());
      std::optional<RequestEntry> entry = decode_request_entry(value);
      if (record_key.size() < 2 || record_key[0] != request_record_tag || !entry) corrupt("bad request record");
      eviction_order_.emplace(entry->seq, std::string(record_key.substr(1)));
      ++records;
      return true;
    });
  }
  uint64_t summarized = 0;
  for (uint32_t bucket = data_bucket_count; bucket < bucket_count; ++bucket) summarized += buckets_[bucket].records;
  if (records != summarized) corrupt("request records do not match their bucket summaries");
  // Every replica uses the same bound; a larger table was written with another one.
  PBFT_ASSERT(eviction_order_.size() <= entries_max_, "the stored idempotency table fits this store's bound");
}

}  // namespace pbft::kv
