#include <gtest/gtest.h>

#include <random>

#include "common/temp_dir.h"
#include "storage/faulty_storage.h"
#include "storage/memory_storage.h"
#include "storage/rocks_storage.h"
#include "storage/test_util.h"

namespace pbft::storage {
namespace {

using testing::Contents;
using testing::contents;

WriteBatch put(const std::string& k, const std::string& v) {
  WriteBatch b;
  b.put(k, v);
  return b;
}

TEST(FaultyStorage, CrashKeepsSyncedWritesAndAPrefixOfUnsyncedBatches) {
  MemoryStorage inner;
  FaultyStorage s(inner);
  s.write(put("a", "synced"), true);
  s.write(put("b", "synced by sync()"), false);
  s.sync();
  EXPECT_EQ(s.unsynced_batches(), 0u);

  s.write(put("c", "1"), false);
  WriteBatch second;
  second.put("a", "overwritten");
  second.del("b");
  s.write(second, false);
  s.write(put("d", "3"), false);
  EXPECT_EQ(s.unsynced_batches(), 3u);
  // Reads see everything until the crash.
  EXPECT_EQ(contents(s), (Contents{{"a", "overwritten"}, {"c", "1"}, {"d", "3"}}));

  s.crash(1);
  EXPECT_EQ(contents(s), (Contents{{"a", "synced"}, {"b", "synced by sync()"}, {"c", "1"}}));
  EXPECT_EQ(s.unsynced_batches(), 0u);
  s.crash(0);  // what survived a crash is durable
  EXPECT_EQ(contents(s), (Contents{{"a", "synced"}, {"b", "synced by sync()"}, {"c", "1"}}));
}

TEST(FaultyStorage, SyncedWriteMakesEarlierBatchesDurable) {
  MemoryStorage inner;
  FaultyStorage s(inner);
  s.write(put("a", "1"), false);
  s.write(put("b", "2"), true);
  s.write(put("c", "3"), false);
  EXPECT_EQ(s.unsynced_batches(), 1u);
  s.crash(0);
  EXPECT_EQ(contents(s), (Contents{{"a", "1"}, {"b", "2"}}));
}

// Random batches of puts, deletes and range deletes over a few keys, with
// syncs in between; after crash(keep) the contents must equal a reference
// that applied the synced batches and the first `keep` unsynced ones.
TEST(FaultyStorage, CrashMatchesReferenceOnRandomHistories) {
  std::mt19937 rng(20240611);
  auto key = [&] { return std::string(1, static_cast<char>('a' + rng() % 8)); };
  for (int round = 0; round < 200; ++round) {
    MemoryStorage inner;
    FaultyStorage s(inner);
    KeyValueMap durable;
    std::vector<WriteBatch> unsynced;
    size_t batches = 1 + rng() % 12;
    for (size_t i = 0; i < batches; ++i) {
      WriteBatch b;
      size_t ops = 1 + rng() % 4;
      for (size_t j = 0; j < ops; ++j) {
        switch (rng() % 4) {
          case 0:
          case 1: b.put(key(), std::to_string(rng() % 100)); break;
          case 2: b.del(key()); break;
          default: b.del_range(key(), key()); break;
        }
      }
      bool sync = rng() % 5 == 0;
      s.write(b, sync);
      unsynced.push_back(b);
      if (sync || rng() % 7 == 0) {
        if (!sync) s.sync();
        for (const WriteBatch& u : unsynced) apply_to_map(durable, u);
        unsynced.clear();
      }
    }
    ASSERT_EQ(s.unsynced_batches(), unsynced.size());
    size_t keep = rng() % (unsynced.size() + 1);
    for (size_t i = 0; i < keep; ++i) apply_to_map(durable, unsynced[i]);
    s.crash(keep);
    ASSERT_EQ(contents(s), Contents(durable.begin(), durable.end())) << "round " << round << " keep " << keep;
  }
}

TEST(FaultyStorage, CrashUndoesUnsyncedBatchesInRocksDB) {
  TempDir dir;
  auto db = RocksStorage::open(dir.file("db"));
  FaultyStorage s(*db);
  s.write(put("a", "1"), true);
  WriteBatch wipe;
  wipe.del_range("a", "z");
  wipe.put("b", "2");
  s.write(wipe, false);
  EXPECT_EQ(contents(s), (Contents{{"b", "2"}}));
  s.crash(0);
  EXPECT_EQ(contents(*db), (Contents{{"a", "1"}}));
}

TEST(FaultyStorage, FailedWritesApplyNothing) {
  MemoryStorage inner;
  FaultyStorage s(inner);
  s.write(put("a", "1"), false);
  s.fail_writes(true);
  EXPECT_THROW(s.write(put("b", "2"), false), StorageError);
  EXPECT_THROW(s.write(put("b", "2"), true), StorageError);
  EXPECT_EQ(contents(s), (Contents{{"a", "1"}}));
  EXPECT_EQ(s.unsynced_batches(), 1u);
  EXPECT_EQ(s.writes(), 1u);
  s.fail_writes(false);
  s.write(put("b", "2"), false);
  EXPECT_EQ(contents(s), (Contents{{"a", "1"}, {"b", "2"}}));
}

TEST(FaultyStorage, FailedSyncsMakeNothingDurable) {
  MemoryStorage inner;
  FaultyStorage s(inner);
  s.fail_syncs(true);
  s.write(put("a", "1"), false);  // unsynced writes still work
  EXPECT_THROW(s.sync(), StorageError);
  EXPECT_THROW(s.write(put("b", "2"), true), StorageError);
  EXPECT_EQ(contents(s), (Contents{{"a", "1"}}));
  EXPECT_EQ(s.unsynced_batches(), 1u);
  EXPECT_EQ(s.syncs(), 0u);
  s.crash(0);  // the failed sync did not make "a" durable
  EXPECT_TRUE(contents(s).empty());
  s.fail_syncs(false);
  s.write(put("a", "1"), false);
  s.sync();
  s.crash(0);
  EXPECT_EQ(contents(s), (Contents{{"a", "1"}}));
}

TEST(FaultyStorage, CountsWritesSyncsAndBytes) {
  MemoryStorage inner;
  FaultyStorage s(inner);
  s.write(put("ab", "cde"), false);  // 5 bytes
  s.write(put("f", "g"), true);      // 2 bytes, and a sync
  s.sync();
  EXPECT_EQ(s.writes(), 2u);
  EXPECT_EQ(s.syncs(), 2u);
  EXPECT_EQ(s.bytes_written(), 7u);
}

}  // namespace
}  // namespace pbft::storage
