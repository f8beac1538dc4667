// The one storage interface of a replica: an ordered byte-string key-value
// store with atomic write batches, explicit sync and consistent read views.
// RocksStorage keeps it on disk; MemoryStorage in memory (tests,
// --in-memory, the simulator); FaultyStorage wraps either to lose unsynced
// writes or fail writes and syncs on demand.
//
// Failures are not recoverable here: a write or sync that fails throws
// StorageError, and the replica stops rather than run on a state it could
// not write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pbft::storage {

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Keys and values are arbitrary bytes held in std::string.
struct WriteOp {
  enum class Kind : uint8_t { put, del, del_range } kind = Kind::put;
  std::string key;    // del_range: first key removed
  std::string value;  // del_range: end of the range (excluded)
};

class WriteBatch {
 public:
  void put(std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    ops_.push_back({WriteOp::Kind::put, std::move(key), std::move(value)});
  }
  void del(std::string key) {
    bytes_ += key.size();
    ops_.push_back({WriteOp::Kind::del, std::move(key), {}});
  }
  // Removes every key in [begin, end); nothing when begin >= end.
  void del_range(std::string begin, std::string end) {
    bytes_ += begin.size() + end.size();
    ops_.push_back({WriteOp::Kind::del_range, std::move(begin), std::move(end)});
  }
  void append(WriteBatch&& other) {
    for (WriteOp& op : other.ops_) ops_.push_back(std::move(op));
    bytes_ += other.bytes_;
    other.clear();
  }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  size_t bytes() const { return bytes_; }  // sum of key and value sizes
  const std::vector<WriteOp>& ops() const { return ops_; }
  void clear() {
    ops_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<WriteOp> ops_;
  size_t bytes_ = 0;
};

// Visits keys in increasing (bytewise) order; return false to stop.
using Visitor = std::function<bool(std::string_view key, std::string_view value)>;

// A consistent read view.
class ReadView {
 public:
  virtual ~ReadView() = default;
  virtual std::optional<std::string> get(std::string_view key) const = 0;
  // Every key in [begin, end) in order (an empty `end` means no bound).
  virtual void scan(std::string_view begin, std::string_view end, const Visitor& visit) const = 0;
};

class Storage : public ReadView {
 public:
  // Applies the batch atomically: after a crash either all of it or none
  // of it is there, and if a batch is there, so is every batch written
  // before it. With `sync`, the batch (and all before it) is on stable
  // storage when write() returns. Throws StorageError.
  virtual void write(const WriteBatch& batch, bool sync) = 0;
  // Makes every write that returned before the call durable. Throws
  // StorageError. RocksStorage and MemoryStorage allow it on another
  // thread while writes go on (group commit, storage/sync_thread.h);
  // FaultyStorage is for one thread only.
  virtual void sync() = 0;
  // A read view of the current contents that later writes do not change.
  virtual std::shared_ptr<const ReadView> snapshot() const = 0;
};

}  // namespace pbft::storage
