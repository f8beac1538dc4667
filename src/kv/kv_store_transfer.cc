// KvStore's side of state transfer: serving chunks from checkpoint read
// views, staging verified chunks under new generations, and installing
// them in restore().
#include <algorithm>

#include "common/assert.h"
#include "kv/chunk.h"
#include "kv/kv_store.h"
#include "kv/manifest.h"
#include "wire/codec.h"

namespace pbft::kv {
namespace {

// Positions travel in StateRequest::after: the wire must carry any record key.
static_assert(wire::state_key_bytes_max >= record_key_bytes_max);

// (bucket, key) order, as chunks list records.
bool before(uint32_t b1, std::string_view k1, uint32_t b2, std::string_view k2) {
  return b1 < b2 || (b1 == b2 && k1 < k2);
}

}  // namespace

std::optional<Bytes> KvStore::read_chunk(Seq seq, uint32_t bucket, ByteView after, uint32_t bucket_end,
                                         uint32_t max_bytes) const {
  std::optional<CheckpointReader> r = reader(seq);
  if (!r) return std::nullopt;
  return r->read_chunk(bucket, after, bucket_end, max_bytes);
}

std::optional<CheckpointReader> KvStore::reader(Seq seq) const {
  auto it = readable_.find(seq);
  if (it == readable_.end()) return std::nullopt;
  return CheckpointReader(it->second.view, it->second.generations);
}

std::optional<Bytes> CheckpointReader::read_chunk(uint32_t bucket, ByteView after, uint32_t bucket_end,
                                                  uint32_t max_bytes) const {
  if (bucket >= bucket_end || bucket_end > bucket_count || after.size() > record_key_bytes_max)
    return std::nullopt;
  const size_t budget = std::clamp<size_t>(max_bytes, 1, KvStore::chunk_bytes_cap);
  Chunk chunk;
  size_t bytes = 0;
  for (uint32_t b = bucket; b < bucket_end; ++b) {
    const uint32_t g = generations_[b];
    const std::string prefix = generation_prefix(b, g);
    std::string begin = prefix;
    if (b == bucket && !after.empty()) {
      begin.append(after.begin(), after.end());
      begin.push_back('\0');  // the first key past `after`
    }
    bool stopped = false;
    view_->scan(begin, generation_end(b, g), [&](std::string_view key, std::string_view value) {
      // Stop once the budget is spent (at least one record per chunk, so
      // every chunk makes progress).
      if (bytes >= budget) {
        stopped = true;
        return false;
      }
      chunk.records.push_back(ChunkRecord{b, std::string(key.substr(prefix.size())), std::string(value)});
      bytes += chunk_record_size(key.size() - prefix.size(), value.size());
      return true;
    });
    if (stopped) {
      chunk.next_bucket = b;
      chunk.next_after = chunk.records.back().key;
      return encode_chunk(chunk);
    }
    if (bytes >= budget && b + 1 < bucket_end) {
      chunk.next_bucket = b + 1;
      return encode_chunk(chunk);
    }
  }
  chunk.done = true;
  return encode_chunk(chunk);
}

std::optional<std::vector<uint32_t>> KvStore::begin_transfer(Seq seq, ByteView manifest) {
  std::optional<std::vector<Digest>> leaves = decode_manifest(manifest);
  if (!leaves) return std::nullopt;
  // Buckets already staged and verified for an earlier target keep their
  // records when the new target has the same leaf: under load the target
  // moves on every stable checkpoint, and a large transfer that started
  // over each time would never finish.
  std::map<uint32_t, StagedBucket> kept;
  if (transfer_) {
    for (auto it = transfer_->buckets.begin(); it != transfer_->buckets.end();) {
      if (it->second.verified && transfer_->leaves[it->first] == (*leaves)[it->first]) {
        kept.insert(std::move(*it));
        it = transfer_->buckets.erase(it);
      } else {
        ++it;
      }
    }
  }
  drop_transfer();
  refresh_leaves();
  Transfer t{seq, std::move(*leaves), {}};
  std::vector<uint32_t> differing;
  storage::WriteBatch deletes;
  for (uint32_t b = 0; b < bucket_count; ++b) {
    auto k = kept.find(b);
    if (leaves_[b] == t.leaves[b]) {
      if (k != kept.end()) unstage(b, k->second, deletes);  // this replica has it now
      continue;
    }
    if (k != kept.end()) {
      t.buckets[b] = std::move(k->second);
      continue;
    }
    PBFT_ASSERT(generations_[b] < UINT32_MAX, "bucket generations do not run out");
    differing.push_back(b);
    t.buckets[b].generation = generations_[b] + 1;
  }
  if (!deletes.empty()) storage_.write(deletes, false);
  transfer_ = std::move(t);
  return differing;
}

// Deletes what is staged for `bucket` (into `deletes`) and starts it over.
void KvStore::unstage(uint32_t bucket, StagedBucket& staged, storage::WriteBatch& deletes) {
  if (staged.records > 0 || !staged.last_key.empty())
    deletes.del_range(generation_prefix(bucket, staged.generation), generation_end(bucket, staged.generation));
  staged = StagedBucket{staged.generation, LtHash{}, 0, {}, false};
}

void KvStore::drop_transfer() {
  if (!transfer_) return;
  storage::WriteBatch deletes;
  for (auto& [bucket, staged] : transfer_->buckets) unstage(bucket, staged, deletes);
  transfer_.reset();
  if (!deletes.empty()) storage_.write(deletes, false);
}

StageResult KvStore::stage_chunk(Seq seq, uint32_t bucket, ByteView after_bytes, uint32_t bucket_end,
                                 ByteView payload) {
  const std::string after = to_string(after_bytes);
  StageResult result;
  result.next = ChunkPosition{bucket, Bytes(after_bytes.begin(), after_bytes.end()), false};
  if (!transfer_ || transfer_->seq != seq) return result;
  if (bucket >= bucket_end || bucket_end > bucket_count) return result;
  auto& staged = transfer_->buckets;
  for (uint32_t b = bucket; b < bucket_end; ++b) {
    auto it = staged.find(b);
    if (it == staged.end() || it->second.verified) return result;
  }
  if (staged.at(bucket).last_key != after) return result;  // not where staging stands
  std::optional<Chunk> chunk = decode_chunk(payload);
  if (!chunk) return result;

  // Check everything before staging anything.
  uint32_t last_bucket = bucket;
  std::string_view last_key = after;
  for (const ChunkRecord& r : chunk->records) {
    if (r.bucket >= bucket_end || !before(last_bucket, last_key, r.bucket, r.key)) return result;
    if (!valid_record(r.key, r.value) || bucket_of(r.key) != r.bucket) return result;
    last_bucket = r.bucket;
    last_key = r.key;
  }
  uint32_t end_bucket = bucket_end;  // buckets before it are complete
  std::string end_after;
  if (!chunk->done) {
    end_bucket = chunk->next_bucket;
    end_after = chunk->next_after;
    if (end_bucket >= bucket_end) return result;
    const bool past_last_record = !chunk->records.empty() && end_bucket == last_bucket && end_after == last_key;
    const bool at_later_bucket = end_after.empty() && end_bucket > last_bucket;
    if (!past_last_record && !at_later_bucket) return result;
  }
  // The buckets after the first one that this chunk touches must be untouched so far.
  const uint32_t touched_end = end_after.empty() ? end_bucket : end_bucket + 1;
  for (uint32_t b = bucket + 1; b < touched_end; ++b)
    if (!staged.at(b).last_key.empty()) return result;

  storage::WriteBatch writes;
  for (const ChunkRecord& r : chunk->records) {
    StagedBucket& s = staged.at(r.bucket);
    s.hash.add(LtHash::of_record(r.key, r.value));
    ++s.records;
    s.last_key = r.key;
    writes.put(record_storage_key(r.bucket, s.generation, r.key), r.value);
  }
  if (!writes.empty()) storage_.write(writes, false);

  for (uint32_t b = bucket; b < end_bucket; ++b) {
    StagedBucket& s = staged.at(b);
    if (bucket_leaf(b, s.hash) == transfer_->leaves[b]) {
      s.verified = true;
      ++result.buckets_verified;
      continue;
    }
    // Wrong contents: this bucket and what the chunk put after it start over.
    storage::WriteBatch deletes;
    for (uint32_t u = b; u < touched_end; ++u) unstage(u, staged.at(u), deletes);
    if (!deletes.empty()) storage_.write(deletes, false);
    result.next = ChunkPosition{b, {}, false};
    return result;
  }
  result.ok = true;
  result.next = chunk->done ? ChunkPosition{bucket_end, {}, true}
                            : ChunkPosition{end_bucket, to_bytes(end_after), false};
  return result;
}

bool KvStore::restore(Seq seq, ByteView manifest) {
  (void)seq;  // the manifest alone says what state to reach
  std::optional<std::vector<Digest>> leaves = decode_manifest(manifest);
  if (!leaves) return false;
  refresh_leaves();
  std::vector<uint32_t> install;
  for (uint32_t b = 0; b < bucket_count; ++b) {
    if (leaves_[b] == (*leaves)[b]) continue;
    if (!transfer_) return false;
    auto it = transfer_->buckets.find(b);
    if (it == transfer_->buckets.end() || !it->second.verified || bucket_leaf(b, it->second.hash) != (*leaves)[b])
      return false;
    install.push_back(b);
  }

  // The idempotency entries of replaced request buckets: out with the old,
  // in with the staged ones; refused if the result exceeds this store's bound.
  std::set<uint32_t> replaced_request_buckets;
  std::vector<std::pair<Seq, std::string>> added;
  for (uint32_t b : install) {
    if (!is_request_bucket(b)) continue;
    replaced_request_buckets.insert(b);
    const uint32_t g = transfer_->buckets.at(b).generation;
    const std::string prefix = generation_prefix(b, g);
    storage_.scan(prefix, generation_end(b, g), [&](std::string_view key, std::string_view value) {
      std::optional<RequestEntry> entry = decode_request_entry(value);
      PBFT_ASSERT(entry.has_value(), "staged request records were checked");
      added.emplace_back(entry->seq, std::string(key.substr(prefix.size() + 1)));
      return true;
    });
  }
  std::vector<std::pair<Seq, std::string>> removed;
  if (!replaced_request_buckets.empty()) {
    for (const auto& e : eviction_order_)
      if (replaced_request_buckets.contains(bucket_of(request_record_key(e.second)))) removed.push_back(e);
  }
  if (eviction_order_.size() - removed.size() + added.size() > entries_max_) return false;

  // The key index follows the installed data buckets: out with the keys of
  // the old generation (with its unwritten changes), in with the staged
  // records (already in storage, see stage_chunk).
  for (uint32_t b : install) {
    if (is_request_bucket(b)) continue;
    for (const std::string& key : bucket_keys(b, generations_[b], true)) pending_.insert_or_assign(key_index_key(key), std::nullopt);
    for (const std::string& key : bucket_keys(b, transfer_->buckets.at(b).generation, false))
      pending_.insert_or_assign(key_index_key(key), "");
  }

  for (uint32_t b : install) {
    BucketState& s = buckets_[b];
    StagedBucket& staged = transfer_->buckets.at(b);
    const std::string old_begin = generation_prefix(b, generations_[b]);
    const std::string old_end = generation_end(b, generations_[b]);
    // Unwritten changes to the old generation are moot: the range delete covers them.
    pending_.erase(pending_.lower_bound(old_begin), pending_.lower_bound(old_end));
    pending_range_deletes_.emplace_back(old_begin, old_end);
    if (!is_request_bucket(b)) data_records_ = data_records_ - s.records + staged.records;
    generations_[b] = staged.generation;
    hash_of(b) = staged.hash;
    s.records = staged.records;
    leaves_[b] = (*leaves)[b];
    mark_changed(b);
    s.leaf_dirty = false;  // known: it was verified
    if (!s.generation_dirty) {
      s.generation_dirty = true;
      dirty_generations_.push_back(b);
    }
    transfer_->buckets.erase(b);  // installed: not to be dropped below
  }
  for (const auto& e : removed) eviction_order_.erase(e);
  for (auto& e : added) eviction_order_.insert(std::move(e));
  drop_transfer();
  ++version_;
  return true;
}

}  // namespace pbft::kv
