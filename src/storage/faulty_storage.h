// A Storage wrapper that fails and crashes on demand, for tests and the
// simulator.
//
// Writes go straight through to the wrapped storage, so reads, scans and
// snapshots see everything, as a process sees its writes in the OS page
// cache. For each batch written without sync since the last sync it keeps
// an undo batch (the previous values of the keys the batch touched);
// crash(keep) applies the undo batches of all but the first `keep`, newest
// first, which leaves exactly the synced writes and a prefix of the
// unsynced ones: what RocksDB's point-in-time WAL recovery gives after a
// machine crash.
#pragma once

#include <cstdint>
#include <vector>

#include "storage/storage.h"

namespace pbft::storage {

class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(Storage& inner) : inner_(inner) {}

  std::optional<std::string> get(std::string_view key) const override { return inner_.get(key); }
  void scan(std::string_view begin, std::string_view end, const Visitor& visit) const override {
    inner_.scan(begin, end, visit);
  }
  // Throws StorageError without applying anything while fail_writes is on,
  // or when `sync` is set while fail_syncs is on.
  void write(const WriteBatch& batch, bool sync) override;
  // Throws StorageError while fail_syncs is on (the unsynced batches stay
  // unsynced).
  void sync() override;
  std::shared_ptr<const ReadView> snapshot() const override { return inner_.snapshot(); }

  void fail_writes(bool on) { fail_writes_ = on; }
  void fail_syncs(bool on) { fail_syncs_ = on; }

  // A machine crash: of the batches written without sync since the last
  // sync, the first `keep` survive (all of them if there are fewer) and
  // the rest are undone. What survives is then durable.
  void crash(size_t keep);
  size_t unsynced_batches() const { return undo_.size(); }

  // What succeeded: writes, syncs (sync() calls and writes with sync), and
  // the bytes of the batches written.
  uint64_t writes() const { return writes_; }
  uint64_t syncs() const { return syncs_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  // The batch that puts back what `batch` is about to change.
  WriteBatch undo_for(const WriteBatch& batch) const;
  void forget_unsynced() { undo_.clear(); }

  Storage& inner_;
  bool fail_writes_ = false;
  bool fail_syncs_ = false;
  std::vector<WriteBatch> undo_;  // one per unsynced batch, oldest first
  uint64_t writes_ = 0;
  uint64_t syncs_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace pbft::storage
