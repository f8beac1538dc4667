// Group commit: a thread that makes the storage's writes durable while the
// writer goes on. The writer numbers its writes (1, 2, ...) and, after
// write number g returned, calls request(g); the thread syncs and reports
// synced(g') for the highest g' requested before that sync began, so one
// sync covers every write made while the previous one ran. The writer
// holds back whatever depends on write g until synced(g' >= g).
//
// The storage's sync() must be safe to call while another thread writes
// (RocksStorage's and MemoryStorage's are; see storage_contract_test).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "storage/storage.h"

namespace pbft::storage {

class SyncThread {
 public:
  // Both callbacks run on the sync thread. `synced(g, seconds)`: every
  // write up to g is durable, after a sync that took `seconds`. `failed`:
  // a sync threw StorageError; nothing after it is reported synced.
  using Synced = std::function<void(uint64_t generation, double seconds)>;
  using Failed = std::function<void(const std::string& what)>;

  SyncThread(Storage& storage, Synced synced, Failed failed);
  // Stops the thread; a sync already running completes first. Requests not
  // yet started are dropped (their writes stay unsynced, as after a crash).
  ~SyncThread();
  SyncThread(const SyncThread&) = delete;
  SyncThread& operator=(const SyncThread&) = delete;

  // Write `generation` (higher than any before) has returned.
  void request(uint64_t generation);

 private:
  void run();

  Storage& storage_;
  Synced synced_;
  Failed failed_;
  std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t requested_ = 0;
  uint64_t started_ = 0;  // the generation the running or last sync covers
  bool stopping_ = false;
  bool failed_once_ = false;
  std::thread thread_;  // last: starts once the fields above exist
};

}  // namespace pbft::storage
