// Group commit: SyncThread's coalescing and failure reports, and syncs
// running beside writes on the two storages the node uses.
#include "storage/sync_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "storage/memory_storage.h"
#include "storage/rocks_storage.h"

namespace pbft::storage {
namespace {

// Counts syncs; each one blocks until the test lets it through, so the
// test decides what arrives while a sync runs.
class GatedStorage final : public Storage {
 public:
  std::optional<std::string> get(std::string_view key) const override { return inner.get(key); }
  void scan(std::string_view b, std::string_view e, const Visitor& v) const override { inner.scan(b, e, v); }
  void write(const WriteBatch& batch, bool sync) override { inner.write(batch, sync); }
  void sync() override {
    std::unique_lock lock(mutex);
    ++entered;
    changed.notify_all();
    changed.wait(lock, [&] { return released >= entered; });
    if (fail) throw StorageError("injected sync failure");
  }
  std::shared_ptr<const ReadView> snapshot() const override { return inner.snapshot(); }

  void wait_entered(int n) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered >= n; }));
  }
  void release() {
    std::lock_guard lock(mutex);
    ++released;
    changed.notify_all();
  }

  MemoryStorage inner;
  std::mutex mutex;
  std::condition_variable changed;
  int entered = 0;
  int released = 0;
  bool fail = false;
};

struct Reports {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<uint64_t> synced;
  std::vector<std::string> failures;

  SyncThread::Synced on_synced() {
    return [this](uint64_t g, double seconds) {
      EXPECT_GE(seconds, 0.0);
      std::lock_guard lock(mutex);
      synced.push_back(g);
      changed.notify_all();
    };
  }
  SyncThread::Failed on_failed() {
    return [this](const std::string& what) {
      std::lock_guard lock(mutex);
      failures.push_back(what);
      changed.notify_all();
    };
  }
  bool wait_for(size_t synced_count, size_t failure_count = 0) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] {
      return synced.size() >= synced_count && failures.size() >= failure_count;
    });
  }
};

TEST(SyncThread, OneSyncCoversEveryRequestMadeWhileThePreviousRan) {
  GatedStorage storage;
  Reports reports;
  {
    SyncThread thread(storage, reports.on_synced(), reports.on_failed());
    thread.request(1);
    storage.wait_entered(1);
    // While sync 1 runs, three more writes return.
    thread.request(2);
    thread.request(3);
    thread.request(4);
    storage.release();
    storage.wait_entered(2);
    storage.release();
    ASSERT_TRUE(reports.wait_for(2));
    std::lock_guard lock(reports.mutex);
    EXPECT_EQ(reports.synced, (std::vector<uint64_t>{1, 4}));
    EXPECT_EQ(storage.entered, 2);
  }
  EXPECT_TRUE(reports.failures.empty());
}

TEST(SyncThread, NothingIsReportedSyncedAfterAFailedSync) {
  GatedStorage storage;
  storage.fail = true;
  Reports reports;
  {
    SyncThread thread(storage, reports.on_synced(), reports.on_failed());
    thread.request(1);
    storage.wait_entered(1);
    storage.release();
    ASSERT_TRUE(reports.wait_for(0, 1));
    storage.fail = false;
    thread.request(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reports.synced.empty());
  ASSERT_EQ(reports.failures.size(), 1u);
  EXPECT_NE(reports.failures[0].find("injected sync failure"), std::string::npos);
  EXPECT_EQ(storage.entered, 1);  // no second sync was tried
}

TEST(SyncThread, StopsWithRequestsPending) {
  GatedStorage storage;
  Reports reports;
  auto thread = std::make_unique<SyncThread>(storage, reports.on_synced(), reports.on_failed());
  thread->request(1);
  storage.wait_entered(1);
  thread->request(2);
  auto stopped = std::async(std::launch::async, [&] { thread.reset(); });
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "the running sync completes before the thread stops";
  storage.release();
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(storage.entered, 1);  // request 2 was dropped, not synced
  EXPECT_EQ(reports.synced, (std::vector<uint64_t>{1}));
}

// Syncs on one thread while another writes: every write stays, and reads
// see them all (RocksDB's FlushWAL beside Write; the memory no-op).
template <typename Open>
void concurrent_syncs_keep_every_write(Open open) {
  auto [storage, keep] = open();
  std::atomic<bool> done{false};
  std::atomic<int> syncs{0};
  std::thread syncer([&] {
    while (!done) {
      storage->sync();
      ++syncs;
    }
  });
  constexpr int writes = 2000;
  for (int i = 0; i < writes; ++i) {
    WriteBatch b;
    b.put("k" + std::to_string(i), std::string(100, static_cast<char>('a' + i % 26)));
    if (i > 0) b.del("k" + std::to_string(i - 1) + "-gone");
    b.put("k" + std::to_string(i) + "-gone", "x");
    storage->write(b, false);
    if (i == writes / 2) {
      while (syncs.load() == 0) std::this_thread::yield();  // some writes run beside a sync
    }
  }
  done = true;
  syncer.join();
  storage->sync();
  EXPECT_GT(syncs.load(), 0);
  int found = 0;
  storage->scan("k", "l", [&](std::string_view key, std::string_view) {
    ++found;
    return key.size() > 0;
  });
  EXPECT_EQ(found, writes + 1);  // every k<i>, and the last k<i>-gone
  EXPECT_EQ(storage->get("k1999"), std::string(100, static_cast<char>('a' + 1999 % 26)));
}

TEST(ConcurrentSync, MemoryStorage) {
  concurrent_syncs_keep_every_write([] {
    return std::pair{std::make_unique<MemoryStorage>(), 0};
  });
}

TEST(ConcurrentSync, RocksStorage) {
  auto dir = std::make_shared<TempDir>("pbft-sync");
  concurrent_syncs_keep_every_write([dir] { return std::pair{RocksStorage::open(dir->file("db")), dir}; });
}

}  // namespace
}  // namespace pbft::storage
