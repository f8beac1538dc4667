// The deterministic key-value state machine, kept durably in a
// storage::Storage (RocksDB in production, memory in tests and the
// simulator), with an incremental state digest and verified, chunked state
// transfer.
//
// Semantics: get/put/del, range, cas and txn on byte-string keys (see
// operation.h and kv_store_execute.cc), each key with its revision (the
// sequence of its last change), plus a bounded
// idempotency table of request ids. An operation with a non-empty request
// id that was seen before is not executed again. If it is the same
// operation (same fingerprint, see operation_fingerprint()), apply()
// returns the stored result bytes of its first execution, unchanged (same
// sequence, same value); otherwise it returns `conflict` at the current
// sequence. Either way neither the data nor the table changes. The table
// keeps at most `entries_max` request ids; when full, the entry with the
// smallest (sequence, request id) is evicted. Every replica must use the
// same bound, since the table is part of the state.
//
// State model: the state is a set of records (records.h) spread over
// fixed buckets (buckets.h). Each bucket keeps an LtHash of its records
// (lthash.h), updated on every write (two record hashes per changed
// record, never a pass over the bucket) and persisted with it, so neither
// a checkpoint nor a restart scans the data. A checkpoint's manifest
// (manifest.h) lists every bucket's leaf digest; leaves are cached and
// recomputed only for buckets changed since the last checkpoint.
//
// Key order: range reads walk the key index, one storage entry per user
// key present (buckets.h), in byte order. It is not part of the digest and
// never shipped: it is a function of the data records alone. write_record()
// (the only way records change outside state transfer) changes the index
// entry in the same batch as the record, and restore() replaces the entries
// of every data bucket it installs (old keys out, staged keys in), in the
// same batch as the generation switch. So replicas with the same records
// (which the digest and state transfer guarantee) have the same index, and a
// range read gives the same answer on all of them, after a restart or a
// transfer too. A store written before the index existed builds it once,
// from its records, when it opens.
//
// Persistence is driven by the host: apply() and restore() only collect
// changes; take_writes() moves them into the host's batch, written
// atomically with the protocol state; written() says it was. Reads see
// the current state, written or not. The exception is state transfer:
// fetched records go straight to storage (unsynced) under a new bucket
// generation that nothing reads until restore() switches to it in the
// host's batch; generations left over by an interrupted transfer are
// deleted when a store opens (straight to storage, unsynced: they were
// never visible, so losing that delete in a crash only defers it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/state_machine.h"
#include "kv/buckets.h"
#include "kv/lthash.h"
#include "kv/operation.h"
#include "kv/records.h"
#include "storage/storage.h"

namespace pbft::kv {

inline constexpr size_t idempotency_entries_max = 100000;

// Where a chunk starts: past record key `after` in `bucket` (empty: at the
// bucket's start); `done` when a bucket range has nothing left.
struct ChunkPosition {
  uint32_t bucket = 0;
  Bytes after;
  bool done = false;
  bool operator==(const ChunkPosition&) const = default;
};

struct StageResult {
  bool ok = false;  // false: the chunk was dropped (bad or not asked for)
  // Where the range continues: past this chunk when ok; otherwise where to
  // ask again (the same position, or the start of a bucket that failed
  // verification, whose records were removed).
  ChunkPosition next;
  uint32_t buckets_verified = 0;  // buckets this chunk completed whose leaf matched
};

// A read-only view of the records at one checkpoint, kept alive by whoever
// holds it (after the store itself has discarded the checkpoint): what a
// snapshot export reads its chunks from.
class CheckpointReader {
 public:
  CheckpointReader(std::shared_ptr<const storage::ReadView> view, std::vector<uint32_t> generations)
      : view_(std::move(view)), generations_(std::move(generations)) {}
  // As KvStore::read_chunk, at this reader's checkpoint.
  std::optional<Bytes> read_chunk(uint32_t bucket, ByteView after, uint32_t bucket_end, uint32_t max_bytes) const;

 private:
  std::shared_ptr<const storage::ReadView> view_;
  std::vector<uint32_t> generations_;  // per bucket, at the checkpoint
};

class KvStore final : public core::StateMachine {
 public:
  // Opens the state kept in `storage` (empty storage: empty state): reads
  // the bucket generations and summaries, rebuilds the idempotency eviction
  // index from the request buckets, and deletes leftover generations
  // (straight to storage, unsynced).
  explicit KvStore(storage::Storage& storage, size_t entries_max = idempotency_entries_max);
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  Bytes apply(Seq seq, ByteView operation) override;
  // Gets and ranges, answered with sequence 0 (a fast read has none); the
  // request id of the operation is ignored (nothing is remembered).
  std::optional<Bytes> read_only(ByteView operation) const override;
  // The manifest of the current state (after `seq`); remembers a pending
  // checkpoint that gets a read view at the next written().
  Bytes checkpoint(Seq seq) override;
  // Succeeds when every bucket either has the manifest's leaf already or
  // has a verified staged copy with that leaf (see begin_transfer); then
  // switches those buckets to their staged generation. Otherwise returns
  // false and changes nothing. Also false when the installed idempotency
  // table would exceed this store's bound. The core takes checkpoint(seq)
  // right after, which gives the restored state its read view.
  bool restore(Seq seq, ByteView manifest) override;
  void discard_checkpoints_below(Seq seq) override;

  // Moves every change since the last call (records, bucket summaries,
  // generation switches, range deletes of replaced generations) into
  // `batch`, for the host to write atomically with the protocol state.
  void take_writes(storage::WriteBatch& batch);
  // The batch from the last take_writes() is written: checkpoints whose
  // state it completes get storage.snapshot() as their read view. (A
  // checkpoint followed by more changes before take_writes() gets none.)
  void written();

  // Local reads of the current state (including changes not yet written).
  std::optional<std::string> get(const std::string& key) const;
  std::optional<DataValue> get_entry(const std::string& key) const;
  // Calls visit(key) for the user keys present with start <= key < end
  // (empty end: no end), in byte order, until it returns false.
  void scan_keys(const std::string& start, const std::string& end,
                 const std::function<bool(const std::string&)>& visit) const;
  uint64_t size() const { return data_records_; }  // keys present
  size_t idempotency_size() const { return eviction_order_.size(); }
  bool remembers(const std::string& request_id) const;

  // ---- state transfer, serving side ----
  // The encoded chunk (chunk.h) of the records of buckets [bucket,
  // bucket_end) at checkpoint `seq`, starting past record key `after` in
  // `bucket`, of about max_bytes (at least one record; capped at
  // chunk_bytes_cap). nullopt when this store keeps no read view for `seq`
  // or the range is invalid.
  std::optional<Bytes> read_chunk(Seq seq, uint32_t bucket, ByteView after, uint32_t bucket_end,
                                  uint32_t max_bytes) const;
  static constexpr uint32_t chunk_bytes_cap = 16u << 20;
  bool has_read_view(Seq seq) const { return readable_.contains(seq); }
  // A reader of checkpoint `seq` that outlives discard_checkpoints_below();
  // nullopt when this store keeps no read view for it.
  std::optional<CheckpointReader> reader(Seq seq) const;

  // ---- state transfer, fetching side ----
  // Starts staging toward `manifest` (the caller checked it against a
  // certified digest). Returns the buckets still to fetch: those whose leaf
  // differs from the current state, in increasing order, except buckets a
  // previous transfer already staged and verified with the same leaf, which
  // are kept; nullopt for a malformed manifest. Everything else the
  // previous transfer staged is deleted.
  std::optional<std::vector<uint32_t>> begin_transfer(Seq seq, ByteView manifest);
  // Verifies and stages one fetched chunk, the answer to a request for
  // buckets [bucket, bucket_end) from (bucket, after). Rejected unless: a
  // transfer for `seq` is active; every bucket of the range differs and is
  // not complete; (bucket, after) is exactly where staging of `bucket`
  // stands; the chunk decodes; its records are valid, strictly increasing
  // in (bucket, key), each in the bucket its key hashes to, within the
  // range; it ends right past its last record (a key short enough for a
  // StateRequest's `after`) or at the start of a later bucket, having made
  // progress. Every bucket the chunk completes must then have the
  // manifest's leaf; if one does not, it and the later buckets the chunk
  // touched are emptied again and the range continues from its start. Staged records go straight to storage (unsynced) under
  // the bucket's next generation.
  StageResult stage_chunk(Seq seq, uint32_t bucket, ByteView after, uint32_t bucket_end, ByteView chunk);

  // How many leaf digests were recomputed so far (a checkpoint recomputes
  // only those of buckets changed since the previous one).
  uint64_t leaf_recomputations() const { return leaf_recomputations_; }

 private:
  // Per bucket; the leaves and generations are kept apart, contiguous,
  // since every checkpoint copies them whole.
  struct BucketState {
    // Allocated once the bucket has held a record: an empty store costs a
    // few bytes per bucket, not 2 KB (stores are opened often in the
    // simulator and tests).
    std::unique_ptr<LtHash> hash;
    uint64_t records = 0;
    bool leaf_dirty = false;  // leaves_[bucket] is stale
    bool summary_dirty = false;
    bool generation_dirty = false;
  };
  struct StagedBucket {
    uint32_t generation = 0;
    LtHash hash;
    uint64_t records = 0;
    std::string last_key;  // empty: nothing staged yet
    bool verified = false;
  };
  struct Transfer {
    Seq seq = 0;
    std::vector<Digest> leaves;
    std::map<uint32_t, StagedBucket> buckets;  // the differing ones
  };
  struct PendingCheckpoint {
    uint64_t version = 0;  // of the state it describes
    std::vector<uint32_t> generations;
  };
  struct ReadableCheckpoint {
    std::shared_ptr<const storage::ReadView> view;
    std::vector<uint32_t> generations;
  };
  using Overlay = std::map<std::string, std::optional<std::string>, std::less<>>;

  // kv_store_open.cc
  void load();
  void drop_leftover_generations();
  void rebuild_eviction_index();
  void build_key_index();  // once, for a store from before the key index
  // The stored keys of data bucket `bucket`, generation `generation`, as
  // changed by the overlays.
  std::set<std::string> bucket_keys(uint32_t bucket, uint32_t generation, bool overlays) const;

  // kv_store_execute.cc
  Bytes execute(Seq seq, const Operation& op);
  Result execute_range(Seq seq, const Operation& op) const;
  Result execute_cas(Seq seq, const Operation& op);
  Result execute_txn(Seq seq, const Operation& op);
  void put_entry(const std::string& key, const std::optional<std::string>& value, Seq seq);

  // kv_store.cc
  void remember(uint32_t bucket, const std::string& record_key, const std::string& request_id,
                const RequestEntry& entry);
  std::optional<std::string> read_record(uint32_t bucket, const std::string& record_key) const;
  void write_record(uint32_t bucket, const std::string& record_key, const std::optional<std::string>& old,
                    std::optional<std::string> value);
  void mark_changed(uint32_t bucket);
  LtHash& hash_of(uint32_t bucket);
  const LtHash& hash_of(uint32_t bucket) const;
  void refresh_leaves();

  // kv_store_transfer.cc
  void drop_transfer();
  void unstage(uint32_t bucket, StagedBucket& staged, storage::WriteBatch& deletes);

  storage::Storage& storage_;
  size_t entries_max_;
  std::vector<BucketState> buckets_;
  std::vector<Digest> leaves_;          // per bucket
  std::vector<uint32_t> generations_;   // per bucket: where its records are
  std::vector<uint32_t> dirty_leaves_, dirty_summaries_, dirty_generations_;
  uint64_t data_records_ = 0;
  std::set<std::pair<Seq, std::string>> eviction_order_;  // (seq, request id), smallest goes first

  Overlay pending_;  // record changes not yet taken, by storage key (nullopt: deleted)
  Overlay taken_;    // taken but not yet written
  std::vector<std::pair<std::string, std::string>> pending_range_deletes_;
  uint64_t version_ = 0;        // counts state changes
  uint64_t taken_version_ = 0;  // the version the last take_writes() covered

  std::map<Seq, PendingCheckpoint> pending_checkpoints_;
  std::map<Seq, ReadableCheckpoint> readable_;
  std::optional<Transfer> transfer_;
  uint64_t leaf_recomputations_ = 0;
};

}  // namespace pbft::kv
