// KvStore: applying operations, collecting their writes, checkpoints and
// local reads. Opening is in kv_store_open.cc, state transfer in
// kv_store_transfer.cc.
#include "kv/kv_store.h"

#include <map>
#include <utility>

#include "common/assert.h"
#include "kv/manifest.h"

namespace pbft::kv {

Bytes KvStore::apply(Seq seq, ByteView operation) {
  const std::optional<Operation> op = decode_operation(operation);
  // Malformed operations are answered but not remembered: they carry no
  // trustworthy request id.
  if (!op) return encode_result({ResultStatus::bad_operation, std::nullopt, seq});
  if (op->request_id.empty()) return execute(seq, *op);

  const uint64_t fingerprint = operation_fingerprint(*op);
  const std::string record_key = request_record_key(op->request_id);
  const uint32_t bucket = bucket_of(record_key);
  if (std::optional<std::string> stored = read_record(bucket, record_key)) {
    std::optional<RequestEntry> entry = decode_request_entry(*stored);
    PBFT_ASSERT(entry.has_value(), "stored request records decode");
    // A retry: the first answer, not a second execution.
    if (entry->fingerprint == fingerprint) return entry->result;
    return encode_result({ResultStatus::conflict, std::nullopt, seq});
  }
  Bytes result = execute(seq, *op);
  remember(bucket, record_key, op->request_id, RequestEntry{seq, fingerprint, result});
  return result;
}

void KvStore::remember(uint32_t bucket, const std::string& record_key, const std::string& request_id,
                       const RequestEntry& entry) {
  if (entries_max_ == 0) return;
  while (eviction_order_.size() >= entries_max_) {
    auto oldest = eviction_order_.begin();
    const std::string evicted_key = request_record_key(oldest->second);
    const uint32_t evicted_bucket = bucket_of(evicted_key);
    std::optional<std::string> old = read_record(evicted_bucket, evicted_key);
    PBFT_ASSERT(old.has_value(), "the eviction order tracks the request records");
    write_record(evicted_bucket, evicted_key, old, std::nullopt);
    eviction_order_.erase(oldest);
  }
  write_record(bucket, record_key, std::nullopt, encode_request_entry(entry));
  eviction_order_.emplace(entry.seq, request_id);
}

std::optional<std::string> KvStore::read_record(uint32_t bucket, const std::string& record_key) const {
  const std::string key = record_storage_key(bucket, generations_[bucket], record_key);
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  if (auto it = taken_.find(key); it != taken_.end()) return it->second;
  return storage_.get(key);
}

// The only way records change outside state transfer: the bucket's LtHash
// takes out the old record and adds the new one.
void KvStore::write_record(uint32_t bucket, const std::string& record_key, const std::optional<std::string>& old,
                           std::optional<std::string> value) {
  BucketState& b = buckets_[bucket];
  if (old) {
    hash_of(bucket).remove(LtHash::of_record(record_key, *old));
    --b.records;
    if (!is_request_bucket(bucket)) --data_records_;
  }
  if (value) {
    hash_of(bucket).add(LtHash::of_record(record_key, *value));
    ++b.records;
    if (!is_request_bucket(bucket)) ++data_records_;
  }
  if (!is_request_bucket(bucket) && old.has_value() != value.has_value()) {
    // Not part of the digest: no hash, no version change of its own.
    pending_.insert_or_assign(key_index_key(std::string_view(record_key).substr(1)),
                              value ? std::optional<std::string>("") : std::nullopt);
  }
  pending_.insert_or_assign(record_storage_key(bucket, generations_[bucket], record_key), std::move(value));
  mark_changed(bucket);
}

LtHash& KvStore::hash_of(uint32_t bucket) {
  std::unique_ptr<LtHash>& h = buckets_[bucket].hash;
  if (!h) h = std::make_unique<LtHash>();
  return *h;
}

const LtHash& KvStore::hash_of(uint32_t bucket) const {
  static const LtHash empty;
  const std::unique_ptr<LtHash>& h = buckets_[bucket].hash;
  return h ? *h : empty;
}

void KvStore::mark_changed(uint32_t bucket) {
  BucketState& b = buckets_[bucket];
  if (!b.leaf_dirty) {
    b.leaf_dirty = true;
    dirty_leaves_.push_back(bucket);
  }
  if (!b.summary_dirty) {
    b.summary_dirty = true;
    dirty_summaries_.push_back(bucket);
  }
  ++version_;
}

void KvStore::refresh_leaves() {
  for (uint32_t bucket : dirty_leaves_) {
    BucketState& b = buckets_[bucket];
    if (!b.leaf_dirty) continue;
    leaves_[bucket] = bucket_leaf(bucket, hash_of(bucket));
    b.leaf_dirty = false;
    ++leaf_recomputations_;
  }
  dirty_leaves_.clear();
}

Bytes KvStore::checkpoint(Seq seq) {
  refresh_leaves();
  pending_checkpoints_[seq] = PendingCheckpoint{version_, generations_};
  return encode_manifest(leaves_);
}

void KvStore::discard_checkpoints_below(Seq seq) {
  std::erase_if(pending_checkpoints_, [seq](const auto& e) { return e.first < seq; });
  std::erase_if(readable_, [seq](const auto& e) { return e.first < seq; });
}

void KvStore::take_writes(storage::WriteBatch& batch) {
  for (auto& [key, value] : pending_) {
    if (value) batch.put(key, *value);
    else batch.del(key);
    taken_.insert_or_assign(key, std::move(value));
  }
  pending_.clear();
  // Only generations nothing reads any more: no record put above falls in them.
  for (auto& [begin, end] : pending_range_deletes_) batch.del_range(std::move(begin), std::move(end));
  pending_range_deletes_.clear();
  for (uint32_t bucket : dirty_summaries_) {
    BucketState& b = buckets_[bucket];
    if (b.records == 0) batch.del(summary_key(bucket));
    else batch.put(summary_key(bucket), encode_summary(hash_of(bucket), b.records));
    b.summary_dirty = false;
  }
  dirty_summaries_.clear();
  for (uint32_t bucket : dirty_generations_) {
    BucketState& b = buckets_[bucket];
    if (generations_[bucket] == 0) batch.del(generation_key(bucket));
    else batch.put(generation_key(bucket), encode_generation(generations_[bucket]));
    b.generation_dirty = false;
  }
  dirty_generations_.clear();
  taken_version_ = version_;
}

void KvStore::written() {
  taken_.clear();
  std::shared_ptr<const storage::ReadView> view;
  for (auto it = pending_checkpoints_.begin(); it != pending_checkpoints_.end();) {
    if (it->second.version > taken_version_) {  // not written yet
      ++it;
      continue;
    }
    if (it->second.version == taken_version_) {
      if (!view) view = storage_.snapshot();
      readable_[it->first] = ReadableCheckpoint{view, std::move(it->second.generations)};
    }
    // Older: the state moved on before it was written; no view shows it.
    it = pending_checkpoints_.erase(it);
  }
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  std::optional<DataValue> entry = get_entry(key);
  if (!entry) return std::nullopt;
  return std::move(entry->value);
}

std::optional<DataValue> KvStore::get_entry(const std::string& key) const {
  const std::string record_key = data_record_key(key);
  std::optional<std::string> record = read_record(bucket_of(record_key), record_key);
  if (!record) return std::nullopt;
  std::optional<DataValue> entry = decode_data_record(*record);
  PBFT_ASSERT(entry.has_value(), "stored data records decode");
  return entry;
}

bool KvStore::remembers(const std::string& request_id) const {
  if (request_id.empty()) return false;
  const std::string record_key = request_record_key(request_id);
  return read_record(bucket_of(record_key), record_key).has_value();
}

}  // namespace pbft::kv

namespace pbft::kv {

// The stored index entries, with the unwritten changes (taken_, then
// pending_) merged in key order.
void KvStore::scan_keys(const std::string& start, const std::string& end,
                        const std::function<bool(const std::string&)>& visit) const {
  const std::string begin_key = key_index_key(start);
  const std::string end_key = end.empty() ? std::string(key_index_end) : key_index_key(end);
  std::map<std::string, bool> overlay;  // index key -> present
  for (const Overlay* o : {&taken_, &pending_})
    for (auto it = o->lower_bound(begin_key); it != o->end() && it->first < end_key; ++it)
      overlay[it->first] = it->second.has_value();
  const size_t prefix = key_index_prefix.size();
  auto ov = overlay.begin();
  bool more = true;
  storage_.scan(begin_key, end_key, [&](std::string_view key, std::string_view) {
    for (; more && ov != overlay.end() && ov->first < key; ++ov)
      if (ov->second) more = visit(ov->first.substr(prefix));
    if (!more) return false;
    if (ov != overlay.end() && ov->first == key) {
      if (ov->second) more = visit(ov->first.substr(prefix));
      ++ov;
    } else {
      more = visit(std::string(key.substr(prefix)));
    }
    return more;
  });
  for (; more && ov != overlay.end(); ++ov)
    if (ov->second) more = visit(ov->first.substr(prefix));
}

std::set<std::string> KvStore::bucket_keys(uint32_t bucket, uint32_t generation, bool overlays) const {
  std::set<std::string> keys;
  const std::string begin = generation_prefix(bucket, generation);
  const std::string end = generation_end(bucket, generation);
  storage_.scan(begin, end, [&](std::string_view key, std::string_view) {
    keys.emplace(key.substr(begin.size() + 1));  // past the prefix and the record tag
    return true;
  });
  if (overlays) {
    for (const Overlay* o : {&taken_, &pending_}) {
      for (auto it = o->lower_bound(begin); it != o->end() && it->first < end; ++it) {
        std::string user_key = it->first.substr(begin.size() + 1);
        if (it->second) keys.insert(std::move(user_key));
        else keys.erase(user_key);
      }
    }
  }
  return keys;
}

}  // namespace pbft::kv
