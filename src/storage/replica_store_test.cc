#include <gtest/gtest.h>

#include <algorithm>

#include "common/temp_dir.h"
#include "storage/memory_storage.h"
#include "storage/replica_store.h"
#include "storage/rocks_storage.h"

namespace pbft::storage {
namespace {

Digest digest_of(uint8_t seed) {
  Digest d;
  for (size_t i = 0; i < d.bytes.size(); ++i) d.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return d;
}

Signature sig_of(uint8_t seed) {
  Signature s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(seed + 7 * i);
  return s;
}

wire::PrePrepare pre_prepare(View v, Seq n, int requests) {
  wire::PrePrepare m{v, n, digest_of(static_cast<uint8_t>(n)), {}, sig_of(static_cast<uint8_t>(n))};
  for (int i = 0; i < requests; ++i)
    m.batch.push_back({static_cast<ClientId>(100 + i), n * 10 + static_cast<uint64_t>(i),
                       Bytes{1, 2, static_cast<uint8_t>(i)}, sig_of(static_cast<uint8_t>(i))});
  return m;
}

wire::Prepare prepare(View v, Seq n, ReplicaId r) {
  return {v, n, digest_of(static_cast<uint8_t>(n)), r, sig_of(static_cast<uint8_t>(r))};
}

wire::Checkpoint checkpoint(Seq n, ReplicaId r) {
  return {n, digest_of(static_cast<uint8_t>(n + 100)), r, sig_of(static_cast<uint8_t>(r + 50))};
}

wire::PreparedCert prepared_cert(View v, Seq n) {
  return {pre_prepare(v, n, 2), {prepare(v, n, 1), prepare(v, n, 2)}};
}

// A replica in view 2 with slots 11..14 in every stage of agreement, a
// certificate from view 1, executed digests, two own checkpoints and a few
// clients.
core::DurableState rich_state() {
  core::DurableState d;
  d.view = 2;
  d.view_active = true;
  d.stable_seq = 10;
  d.stable_digest = digest_of(110);
  d.stable_cert = {checkpoint(10, 0), checkpoint(10, 1), checkpoint(10, 3)};
  d.last_executed = 12;
  d.last_proposed = 14;
  d.asked_view = 3;

  wire::ViewChange vc{2, 10, d.stable_cert, {prepared_cert(1, 11), prepared_cert(1, 12)}, 3, sig_of(3)};
  d.view_change = vc;
  wire::ViewChange other = vc;
  other.replica = 1;
  other.sig = sig_of(1);
  d.new_view = wire::NewView{2, {vc, other}, {pre_prepare(2, 11, 0), pre_prepare(2, 12, 0)}, 2, sig_of(2)};

  for (Seq n = 11; n <= 14; ++n) {
    core::Slot& slot = d.slots[n];
    slot.pre_prepare = pre_prepare(2, n, static_cast<int>(n % 3));
    if (n <= 13) {
      for (ReplicaId r : {0u, 1u, 3u}) slot.prepares[r] = prepare(2, n, r);
      slot.prepared = true;
    }
    if (n <= 12) {
      for (ReplicaId r : {0u, 1u, 2u}) slot.commits[r] = {2, n, digest_of(static_cast<uint8_t>(n)), r};
      slot.committed = true;
    }
  }
  d.slots[15] = core::Slot{};  // a slot with prepares seen before its pre-prepare
  d.slots[15].prepares[1] = prepare(2, 15, 1);

  d.prepared_certs[11] = prepared_cert(1, 11);
  d.prepared_certs[13] = prepared_cert(2, 13);
  d.executed_digests[11] = digest_of(11);
  d.executed_digests[12] = digest_of(12);
  d.checkpoints[10] = {digest_of(110), Bytes{9, 8, 7}};
  d.checkpoints[20] = {digest_of(120), Bytes(1000, 5)};
  d.clients.record(100, 5, Bytes{1});
  d.clients.record(101, 7, Bytes{});
  d.clients.record(7000, 1, Bytes(300, 2));
  return d;
}

// Stages `d` with a store and writes the batch; returns the batch size.
size_t save(ReplicaStore& store, Storage& storage, const core::DurableState& d) {
  WriteBatch batch;
  store.stage(d, batch);
  storage.write(batch, true);
  return batch.size();
}

std::vector<std::string> keys_under(const Storage& s, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string end = prefix;
  ++end.back();
  s.scan(prefix, end, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  return keys;
}

std::string seq_key(const std::string& prefix, Seq n) {
  std::string key = prefix;
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(n >> shift));
  return key;
}

TEST(ReplicaStore, EmptyStorageHoldsNoState) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  EXPECT_EQ(store.load(), std::nullopt);
}

TEST(ReplicaStore, RichStateRoundTrips) {
  MemoryStorage storage;
  core::DurableState d = rich_state();
  ReplicaStore writer(storage);
  save(writer, storage, d);

  ReplicaStore reader(storage);
  std::optional<core::DurableState> loaded = reader.load();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->slots, d.slots);
  EXPECT_EQ(loaded->new_view, d.new_view);
  EXPECT_EQ(loaded->clients, d.clients);
  EXPECT_EQ(*loaded, d);
  // One record per seq, in seq order.
  EXPECT_EQ(keys_under(storage, "p/slot/"),
            (std::vector<std::string>{seq_key("p/slot/", 11), seq_key("p/slot/", 12), seq_key("p/slot/", 13),
                                      seq_key("p/slot/", 14), seq_key("p/slot/", 15)}));
}

TEST(ReplicaStore, DefaultStateRoundTrips) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  core::DurableState d;
  d.view_active = false;
  save(store, storage, d);
  EXPECT_EQ(ReplicaStore(storage).load(), d);
}

TEST(ReplicaStore, RoundTripsThroughRocksDBReopen) {
  TempDir dir;
  core::DurableState d = rich_state();
  {
    auto db = RocksStorage::open(dir.file("db"));
    ReplicaStore store(*db);
    save(store, *db, d);
  }
  auto db = RocksStorage::open(dir.file("db"));
  EXPECT_EQ(ReplicaStore(*db).load(), d);
}

TEST(ReplicaStore, SecondStageWritesOnlyWhatChanged) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  core::DurableState d = rich_state();
  save(store, storage, d);

  WriteBatch unchanged;
  store.stage(d, unchanged);
  EXPECT_EQ(unchanged.size(), 0u);

  d.slots[13].commits[0] = {2, 13, digest_of(13), 0};  // one slot changes
  WriteBatch one_slot;
  store.stage(d, one_slot);
  ASSERT_EQ(one_slot.size(), 1u);
  EXPECT_EQ(one_slot.ops()[0].kind, WriteOp::Kind::put);
  EXPECT_EQ(one_slot.ops()[0].key, seq_key("p/slot/", 13));
  storage.write(one_slot, true);

  d.last_executed = 13;  // meta and one executed digest
  d.executed_digests[13] = digest_of(13);
  WriteBatch executed;
  store.stage(d, executed);
  ASSERT_EQ(executed.size(), 2u);
  EXPECT_EQ(executed.ops()[0].key, "p/meta");
  EXPECT_EQ(executed.ops()[1].key, seq_key("p/exec/", 13));
  storage.write(executed, true);

  EXPECT_EQ(ReplicaStore(storage).load(), d);
}

TEST(ReplicaStore, GarbageCollectedRecordsAreDeleted) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  core::DurableState d = rich_state();
  save(store, storage, d);

  // A new stable checkpoint at 12 drops everything at or below it.
  d.stable_seq = 12;
  d.slots.erase(d.slots.begin(), d.slots.upper_bound(12));
  d.prepared_certs.erase(11);
  d.executed_digests.clear();
  d.checkpoints.erase(10);
  WriteBatch gc;
  store.stage(d, gc);
  size_t dels = 0;
  for (const WriteOp& op : gc.ops()) dels += op.kind == WriteOp::Kind::del;
  EXPECT_EQ(dels, 2u * 2 + 1 + 2 + 1);  // two slots are two records each: votes and pre-prepare
  EXPECT_EQ(gc.size(), dels + 1);  // and the meta record
  storage.write(gc, true);

  EXPECT_EQ(keys_under(storage, "p/slot/"),
            (std::vector<std::string>{seq_key("p/slot/", 13), seq_key("p/slot/", 14), seq_key("p/slot/", 15)}));
  for (const std::string& key : keys_under(storage, "p/pp/")) EXPECT_GT(key, seq_key("p/pp/", 12));
  EXPECT_TRUE(keys_under(storage, "p/exec/").empty());
  EXPECT_EQ(keys_under(storage, "p/ckpt/"), (std::vector<std::string>{seq_key("p/ckpt/", 20)}));
  EXPECT_EQ(ReplicaStore(storage).load(), d);
}

// A vote for a slot rewrites the slot's small votes record, never its
// pre-prepare, whose batch can be megabytes.
TEST(ReplicaStore, AVoteDoesNotRewriteThePrePrepare) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  core::DurableState d = rich_state();
  save(store, storage, d);
  auto it = std::find_if(d.slots.begin(), d.slots.end(), [](const auto& e) { return e.second.pre_prepare.has_value(); });
  ASSERT_NE(it, d.slots.end());
  wire::Commit vote = it->second.commits.empty() ? wire::Commit{} : it->second.commits.begin()->second;
  vote.replica = 99;
  it->second.commits[99] = vote;
  WriteBatch b;
  store.stage(d, b);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b.ops()[0].key, seq_key("p/slot/", it->first));
  storage.write(b, true);
  EXPECT_EQ(ReplicaStore(storage).load(), d);
}

TEST(ReplicaStore, LoadedStateIsTheBaseOfTheNextStage) {
  MemoryStorage storage;
  core::DurableState d = rich_state();
  {
    ReplicaStore first(storage);
    save(first, storage, d);
  }
  ReplicaStore restarted(storage);
  ASSERT_TRUE(restarted.load().has_value());
  WriteBatch batch;
  restarted.stage(d, batch);
  EXPECT_EQ(batch.size(), 0u);
}

TEST(ReplicaStore, StageWithoutLoadReplacesWhateverIsThere) {
  MemoryStorage storage;
  {
    ReplicaStore old(storage);
    save(old, storage, rich_state());
  }
  core::DurableState d;
  d.view = 9;
  ReplicaStore blind(storage);  // never loaded: must not leave old slots behind
  save(blind, storage, d);
  EXPECT_TRUE(keys_under(storage, "p/slot/").empty());
  EXPECT_EQ(ReplicaStore(storage).load(), d);
}

std::string load_error(const Storage& storage) {
  try {
    ReplicaStore(storage).load();
  } catch (const StorageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ReplicaStore, CorruptMetaThrowsNamingTheKey) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  save(store, storage, rich_state());
  std::string meta = *storage.get("p/meta");

  WriteBatch truncated;
  truncated.put("p/meta", meta.substr(0, meta.size() - 1));
  storage.write(truncated, true);
  EXPECT_EQ(load_error(storage), "replica state record p/meta does not decode");

  WriteBatch flipped;  // view_active must be 0 or 1
  flipped.put("p/meta", meta.substr(0, 9) + "\x02" + meta.substr(10));
  storage.write(flipped, true);
  EXPECT_EQ(load_error(storage), "replica state record p/meta does not decode");

  WriteBatch future;
  future.put("p/meta", "\x63" + meta.substr(1));
  storage.write(future, true);
  EXPECT_EQ(load_error(storage), "replica state record p/meta has unknown format version 99 (this build reads 2)");
}

TEST(ReplicaStore, CorruptRecordThrowsNamingTheKey) {
  MemoryStorage storage;
  ReplicaStore store(storage);
  save(store, storage, rich_state());
  std::string slot = *storage.get(seq_key("p/slot/", 12));
  ++slot[slot.size() / 2];  // inside a frame: its checksum no longer matches

  WriteBatch b;
  b.put(seq_key("p/slot/", 12), slot);
  storage.write(b, true);
  EXPECT_EQ(load_error(storage), "replica state record p/slot/12 does not decode");
}

}  // namespace
}  // namespace pbft::storage
