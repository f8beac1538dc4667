#include "storage/rocks_storage.h"

#include <cstdarg>
#include <cstdio>

#include <filesystem>
#include <system_error>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

namespace pbft::storage {
namespace {

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

[[noreturn]] void fail(const char* operation, const std::string& dir, const rocksdb::Status& s) {
  throw StorageError(std::string("storage ") + operation + " failed in " + dir + ": " + s.ToString());
}

// RocksDB reports a held LOCK file as an I/O error: "While lock file:
// <dir>/LOCK: Resource temporarily unavailable" when another process holds
// it, "lock hold by current process" when this one does. Says who holds it,
// or nothing for other errors.
std::optional<std::string> lock_holder(const rocksdb::Status& s) {
  if (!s.IsIOError()) return std::nullopt;
  std::string text = s.ToString();
  if (text.find("lock hold by current process") != std::string::npos) return "this process";
  if (text.find("lock file") != std::string::npos) return "another process";
  return std::nullopt;
}

// RocksDB's own log goes to stderr (warnings and worse), not to a LOG file
// in the data folder: on a full disk, writing that file after a failed
// write trips an assertion inside RocksDB (seen with Debian's build) before
// the error can reach us, and the replica must stop with a clear message.
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    std::fprintf(stderr, "rocksdb: %s\n", line);
  }
};

rocksdb::Options make_options() {
  rocksdb::Options options;
  options.info_log = std::make_shared<StderrLogger>();
  options.create_if_missing = true;
  options.paranoid_checks = true;
  // A machine crash may tear the end of the log: recover every complete
  // batch before the tear and stop there, never skipping one.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Sized for a 2-core machine holding a replica's state: flushes and
  // compactions on two background threads, 32 MiB memtables, 64 MiB of
  // block cache.
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  options.write_buffer_size = 32u << 20;
  options.max_write_buffer_number = 2;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(64u << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// Closes before deleting, so that a last error surfaces in the LOG rather
// than nowhere; nothing can be thrown from a deleter.
void close_db(rocksdb::DB* db) {
  (void)db->Close();
  delete db;
}

void scan_db(rocksdb::DB& db, const rocksdb::Snapshot* snap, const std::string& dir,
             std::string_view begin, std::string_view end, const Visitor& visit) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  rocksdb::Slice upper = slice(end);  // must outlive the iterator
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));
  for (it->Seek(slice(begin)); it->Valid(); it->Next()) {
    if (!visit(it->key().ToStringView(), it->value().ToStringView())) return;
  }
  if (!it->status().ok()) fail("scan", dir, it->status());
}

std::optional<std::string> get_db(rocksdb::DB& db, const rocksdb::Snapshot* snap,
                                  const std::string& dir, std::string_view key) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string value;
  rocksdb::Status s = db.Get(ro, slice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) fail("read", dir, s);
  return value;
}

// Reads at one RocksDB snapshot, released when the view goes away.
class RocksView final : public ReadView {
 public:
  RocksView(std::shared_ptr<rocksdb::DB> db, std::string dir)
      : db_(std::move(db)), dir_(std::move(dir)), snap_(db_->GetSnapshot()) {}
  ~RocksView() override { db_->ReleaseSnapshot(snap_); }
  RocksView(const RocksView&) = delete;
  RocksView& operator=(const RocksView&) = delete;

  std::optional<std::string> get(std::string_view key) const override {
    return get_db(*db_, snap_, dir_, key);
  }
  void scan(std::string_view begin, std::string_view end, const Visitor& visit) const override {
    scan_db(*db_, snap_, dir_, begin, end, visit);
  }

 private:
  std::shared_ptr<rocksdb::DB> db_;
  std::string dir_;
  const rocksdb::Snapshot* snap_;
};

}  // namespace

std::unique_ptr<RocksStorage> RocksStorage::open(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec))
    throw StorageError("data folder " + dir + " exists but is not a folder");
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create data folder " + dir + ": " + ec.message());

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(make_options(), dir, &raw);
  if (auto holder = lock_holder(s))
    throw StorageError("data folder " + dir + " is in use by " + *holder + " (" + s.ToString() + ")");
  if (!s.ok()) fail("open", dir, s);
  return std::unique_ptr<RocksStorage>(new RocksStorage(dir, std::shared_ptr<rocksdb::DB>(raw, close_db)));
}

RocksStorage::RocksStorage(std::string dir, std::shared_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}

RocksStorage::~RocksStorage() = default;

std::optional<std::string> RocksStorage::get(std::string_view key) const {
  return get_db(*db_, nullptr, dir_, key);
}

void RocksStorage::scan(std::string_view begin, std::string_view end, const Visitor& visit) const {
  scan_db(*db_, nullptr, dir_, begin, end, visit);
}

void RocksStorage::write(const WriteBatch& batch, bool sync) {
  if (batch.empty()) return;
  rocksdb::WriteBatch wb;
  for (const WriteOp& op : batch.ops()) {
    rocksdb::Status s;
    switch (op.kind) {
      case WriteOp::Kind::put:
        s = wb.Put(op.key, op.value);
        break;
      case WriteOp::Kind::del:
        s = wb.Delete(op.key);
        break;
      case WriteOp::Kind::del_range:
        // RocksDB rejects a range whose end precedes its start; an empty
        // range removes nothing, as in MemoryStorage.
        if (op.key < op.value) s = wb.DeleteRange(op.key, op.value);
        break;
    }
    if (!s.ok()) fail("write", dir_, s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) fail("write", dir_, s);
}

void RocksStorage::sync() {
  rocksdb::Status s = db_->FlushWAL(/*sync=*/true);
  if (!s.ok()) fail("sync", dir_, s);
}

std::shared_ptr<const ReadView> RocksStorage::snapshot() const {
  return std::make_shared<RocksView>(db_, dir_);
}

}  // namespace pbft::storage
