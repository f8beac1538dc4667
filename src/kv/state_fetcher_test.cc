#include "kv/state_fetcher.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kv/chunk.h"
#include "kv/kv_test_util.h"
#include "kv/manifest.h"
#include "wire/codec.h"

namespace pbft::kv {
namespace {

using testing::fetch_options;
using testing::install;
using testing::Responder;
using testing::run_fetch;
using testing::Source;
using testing::stored_records;
using testing::TestStore;

const crypto::FakeCrypto fetcher_crypto(1, crypto::Principal::replica(0));

void fill(TestStore& s, int keys, int ids, const std::string& tag = "") {
  for (int i = 0; i < keys; ++i) s.put("key" + std::to_string(i), tag + std::string(static_cast<size_t>(i % 50), 'v'));
  for (int i = 0; i < ids; ++i)
    s.kv->apply(10 + static_cast<Seq>(i),
                encode_operation({OpKind::put, "id-key" + std::to_string(i), tag + "v", "id" + std::to_string(i)}));
}

std::set<uint32_t> non_empty_buckets(const TestStore& s) {
  std::set<uint32_t> out;
  for (const auto& [pos, value] : stored_records(s.storage)) out.insert(pos.first);
  return out;
}

std::vector<std::string> keys_of(const KvStore& s) {
  std::vector<std::string> keys;
  s.scan_keys("", "", [&](const std::string& k) {
    keys.push_back(k);
    return true;
  });
  return keys;
}

// B holds exactly A's records and manifest, and answers alike (range reads
// included: the key index followed the transfer).
void expect_same_state(TestStore& a, TestStore& b) {
  EXPECT_EQ(keys_of(*b.kv), keys_of(*a.kv));
  EXPECT_EQ(keys_of(*b.kv).size(), a.kv->size());
  EXPECT_EQ(b.manifest(), a.manifest());
  EXPECT_EQ(stored_records(b.storage), stored_records(a.storage));
  EXPECT_EQ(b.kv->size(), a.kv->size());
  EXPECT_EQ(b.kv->idempotency_size(), a.kv->idempotency_size());
}

std::map<ReplicaId, Responder> honest_peers(const Source& src) {
  return {{1, src.honest(1)}, {2, src.honest(2)}, {3, src.honest(3)}};
}

TEST(StateTransfer, FetchesTheWholeStateIntoAnEmptyStore) {
  TestStore a;
  fill(a, 300, 20);
  const Bytes first = a.kv->apply(50, encode_operation({OpKind::put, "x", "1", "retry-me"}));
  Source src(a, 100);
  TestStore b;
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  std::map<ReplicaId, Responder> peers = honest_peers(src);
  std::set<ReplicaId> asked;
  for (auto& [id, responder] : peers) {
    responder = [&asked, id, inner = responder](const wire::StateRequest& r) {
      asked.insert(id);
      return inner(r);
    };
  }
  EXPECT_FALSE(f.active());
  f.start(100, src.checkpoint.digest);
  EXPECT_TRUE(f.active());
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_FALSE(f.active());
  EXPECT_EQ(ready->first, 100u);
  EXPECT_EQ(ready->second, src.checkpoint.snapshot);
  const StateFetcher::Progress p = f.progress();
  EXPECT_EQ(p.seq, 100u);
  EXPECT_EQ(p.buckets_total, non_empty_buckets(a).size());
  EXPECT_EQ(p.buckets_done, p.buckets_total);
  EXPECT_EQ(p.bad_replies, 0u);
  EXPECT_GT(p.chunks, 0u);
  EXPECT_GT(p.bytes, src.checkpoint.snapshot.size());
  EXPECT_EQ(asked.size(), 3u);  // spread over every peer

  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
  EXPECT_EQ(b.kv->get("key42"), a.kv->get("key42"));
  // The idempotency table came along: a retry gets the first answer.
  EXPECT_EQ(b.kv->apply(101, encode_operation({OpKind::put, "x", "1", "retry-me"})), first);
  // And it is durable.
  b.reopen();
  EXPECT_EQ(b.manifest(), a.manifest());
  EXPECT_TRUE(b.kv->remembers("id7"));
}

TEST(StateTransfer, ADivergedStoreConverges) {
  TestStore a, b;
  fill(a, 200, 10);
  fill(b, 250, 15, "other");
  b.put("stale", "x");
  b.persist();
  Source src(a, 40);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  auto peers = honest_peers(src);
  f.start(40, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
  EXPECT_EQ(b.kv->get("stale"), std::nullopt);
  EXPECT_EQ(b.kv->get("key220"), std::nullopt);
  EXPECT_FALSE(b.kv->remembers("id12"));
  EXPECT_TRUE(b.kv->remembers("id9"));
  b.reopen();
  expect_same_state(a, b);
}

TEST(StateTransfer, OnlyDifferingBucketsAreFetched) {
  TestStore a, b;
  fill(a, 300, 5);
  fill(b, 300, 5);
  a.put("one-more", "value", 60);
  Source src(a, 60);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  auto peers = honest_peers(src);
  f.start(60, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(f.progress().buckets_total, 1u);
  EXPECT_EQ(f.progress().chunks, 1u);
  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
  EXPECT_EQ(b.kv->get("one-more"), std::optional<std::string>("value"));
}

TEST(StateTransfer, SmallChunksSplitBuckets) {
  TestStore a, b;
  fill(a, 3000, 50);
  Source src(a, 10);
  // One record per chunk: every bucket with several records is fetched in
  // pieces, continuing past record keys.
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options(4, 1));
  auto peers = honest_peers(src);
  f.start(10, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(f.progress().chunks, stored_records(a.storage).size());
  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
}

TEST(StateTransfer, NothingToFetchWhenAlreadyEqual) {
  TestStore a, b;
  fill(a, 50, 5);
  fill(b, 50, 5);
  Source src(a, 10);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  auto peers = honest_peers(src);
  f.start(10, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(f.progress().buckets_total, 0u);
  EXPECT_EQ(f.progress().chunks, 0u);
  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
}

// ---- Byzantine and unhelpful peers ----

Bytes rewrite_chunk(const Bytes& payload, const std::function<void(Chunk&)>& edit) {
  std::optional<Chunk> c = decode_chunk(payload);
  if (!c) return payload;
  edit(*c);
  return encode_chunk(*c);
}

// A data record key that hashes to `bucket` (a data bucket).
std::string key_in_bucket(uint32_t bucket, const std::string& stem) {
  EXPECT_LT(bucket, data_bucket_count);
  for (int i = 0; i < 1000000; ++i) {
    std::string k = data_record_key(stem + std::to_string(i));
    if (bucket_of(k) == bucket) return k;
  }
  return "k";
}

struct Lie {
  std::string name;
  std::function<std::optional<wire::StateReply>(wire::StateReply)> apply;
  bool counts_as_bad = true;  // a verification failure, not just unhelpful
};

std::vector<Lie> lies() {
  auto on_chunks = [](std::function<void(Chunk&)> edit) {
    return [edit](wire::StateReply r) -> std::optional<wire::StateReply> {
      if (r.part == wire::StatePart::chunk && r.available) r.payload = rewrite_chunk(r.payload, edit);
      return r;
    };
  };
  return {
      {"wrong snapshot",
       [](wire::StateReply r) -> std::optional<wire::StateReply> {
         if (r.part == wire::StatePart::manifest && !r.payload.empty()) r.payload[r.payload.size() - 1] ^= 1;
         return r;
       }},
      {"altered value", on_chunks([](Chunk& c) {
         if (!c.records.empty()) c.records[0].value += "!";
       })},
      {"record of another bucket", on_chunks([](Chunk& c) {
         if (!c.records.empty()) c.records[0].key = key_in_bucket((c.records[0].bucket + 1) % data_bucket_count, "moved");
       })},
      {"record claimed by another bucket", on_chunks([](Chunk& c) {
         if (!c.records.empty()) c.records.back().bucket += 1;
       })},
      {"truncated chunk",
       [](wire::StateReply r) -> std::optional<wire::StateReply> {
         if (r.part == wire::StatePart::chunk) r.payload.resize(r.payload.size() / 2);
         return r;
       }},
      {"skipped record", on_chunks([](Chunk& c) {
         if (!c.records.empty()) c.records.erase(c.records.begin() + static_cast<long>(c.records.size() / 2));
       })},
      {"forged record", on_chunks([](Chunk& c) {
         if (c.records.empty() || is_request_bucket(c.records[0].bucket)) return;
         ChunkRecord forged{c.records[0].bucket, key_in_bucket(c.records[0].bucket, "forged"),
                            encode_data_value("evil")};
         auto at = std::find_if(c.records.begin(), c.records.end(), [&](const ChunkRecord& r) {
           return r.bucket > forged.bucket || (r.bucket == forged.bucket && r.key > forged.key);
         });
         if (at != c.records.begin() && (at - 1)->key == forged.key) return;
         c.records.insert(at, forged);
       })},
      {"reordered records", on_chunks([](Chunk& c) {
         if (c.records.size() >= 2) std::swap(c.records[0], c.records[1]);
         else if (!c.records.empty()) c.records.push_back(c.records[0]);
       })},
      {"claims done early", on_chunks([](Chunk& c) {
         c.records.clear();
         c.done = true;
       })},
      {"unavailable",
       [](wire::StateReply r) -> std::optional<wire::StateReply> {
         r.available = false;
         r.payload.clear();
         return r;
       },
       false},
      {"silent", [](wire::StateReply) -> std::optional<wire::StateReply> { return std::nullopt; }, false},
      {"answers another position",
       [](wire::StateReply r) -> std::optional<wire::StateReply> {
         r.bucket += 1;
         r.seq += 1;
         return r;
       },
       false},
  };
}

TEST(StateTransfer, ByzantinePeersAreOutvotedByVerification) {
  for (const Lie& lie : lies()) {
    SCOPED_TRACE(lie.name);
    TestStore a, b;
    fill(a, 300, 20);
    fill(b, 20, 3, "mine");
    b.persist();
    const Bytes b_before = b.manifest();
    Source src(a, 100);
    StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
    auto peers = honest_peers(src);
    peers[1] = [&src, &lie](const wire::StateRequest& r) -> std::optional<wire::StateReply> {
      return lie.apply(*src.honest(1)(r));
    };
    f.start(100, src.checkpoint.digest);
    // Before anything is installed, B's state is its own.
    EXPECT_EQ(b.manifest(), b_before);
    auto ready = run_fetch(f, peers, 20000);
    ASSERT_TRUE(ready.has_value());
    EXPECT_EQ(ready->second, src.checkpoint.snapshot);
    if (lie.counts_as_bad) {
      EXPECT_GT(f.progress().bad_replies, 0u);
      // Once caught, the liar is asked nothing more: only what was already
      // out to it comes back bad.
      EXPECT_LE(f.progress().bad_replies, fetch_options().in_flight);
    } else {
      EXPECT_EQ(f.progress().bad_replies, 0u);
    }
    ASSERT_TRUE(install(b, *ready));
    expect_same_state(a, b);
  }
}

TEST(StateTransfer, AllPeersButOneLie) {
  // Only replica 3 is honest; a fetcher keeps trying until it is done.
  TestStore a, b;
  fill(a, 300, 20);
  Source src(a, 100);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  const std::vector<Lie> all = lies();
  auto peers = honest_peers(src);
  peers[1] = [&](const wire::StateRequest& r) { return all[1].apply(*src.honest(1)(r)); };  // altered values
  peers[2] = [&](const wire::StateRequest& r) { return all[5].apply(*src.honest(2)(r)); };  // skipped records
  f.start(100, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_GT(f.progress().bad_replies, 1u);
  ASSERT_TRUE(install(b, *ready));
  expect_same_state(a, b);
}

TEST(StateTransfer, NoPeerHasTheCheckpoint) {
  TestStore a, b;
  fill(a, 10, 1);
  Source src(a, 100);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());  // timeout: 5 ticks
  auto peers = honest_peers(src);
  f.start(200, src.checkpoint.digest);  // nobody keeps 200
  // Every peer says so; the fetcher keeps asking, but after each round of
  // refusals it waits a timeout instead of asking again at once.
  uint64_t asked = 0;
  for (int tick = 0; tick < 100; ++tick) {
    for (int burst = 0; burst < 100; ++burst) {
      auto requests = f.take_requests();
      if (requests.empty()) break;
      for (auto& [to, request] : requests) {
        ++asked;
        f.on_reply(to, *peers.at(to)(request));
      }
    }
    f.tick();
  }
  EXPECT_TRUE(f.active());
  EXPECT_EQ(f.take_ready(), std::nullopt);
  EXPECT_EQ(f.progress().bad_replies, 0u);
  EXPECT_GE(asked, 3u * 15);
  EXPECT_LE(asked, 3u * 21);  // three refusals per 5 ticks
}

// ---- KvStore::stage_chunk and restore, directly ----

struct Staging {
  Staging() {
    fill(a, 300, 20);
    fill(b, 30, 2, "b");
    b.persist();
    before = b.manifest();
    src = std::make_unique<Source>(a, 100);
    size_t consumed = 0;
    EXPECT_TRUE(core::ClientTable::decode(src->checkpoint.snapshot, consumed).has_value());
    manifest = Bytes(src->checkpoint.snapshot.begin() + static_cast<long>(consumed), src->checkpoint.snapshot.end());
    auto d = b.kv->begin_transfer(100, manifest);
    EXPECT_TRUE(d.has_value());
    differing = d.value_or(std::vector<uint32_t>{});
  }
  Bytes honest(uint32_t bucket, const Bytes& after, uint32_t end, uint32_t max_bytes = 1 << 20) {
    return a.kv->read_chunk(100, bucket, after, end, max_bytes).value();
  }
  // Stages bucket `bucket` alone, from the start, with honest chunks.
  bool stage_bucket(uint32_t bucket) {
    ChunkPosition pos{bucket, {}, false};
    while (!pos.done) {
      StageResult r = b.kv->stage_chunk(100, pos.bucket, pos.after, bucket + 1, honest(pos.bucket, pos.after, bucket + 1));
      if (!r.ok) return false;
      pos = r.next;
    }
    return true;
  }
  TestStore a, b;
  Bytes before, manifest;
  std::unique_ptr<Source> src;
  std::vector<uint32_t> differing;
};

TEST(StageChunk, RejectsChunksThatDoNotFit) {
  Staging s;
  ASSERT_GE(s.differing.size(), 3u);
  const uint32_t b0 = s.differing[0];
  const Bytes good = s.honest(b0, {}, b0 + 1);
  const std::set<uint32_t> diff(s.differing.begin(), s.differing.end());
  uint32_t same = 0;  // a bucket that does not differ
  while (diff.contains(same)) ++same;

  EXPECT_FALSE(s.b.kv->stage_chunk(99, b0, {}, b0 + 1, good).ok);                    // another transfer
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, to_bytes("kzz"), b0 + 1, good).ok);     // not where staging stands
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0, good).ok);                       // empty range
  EXPECT_FALSE(s.b.kv->stage_chunk(100, same, {}, same + 1, s.honest(same, {}, same + 1)).ok);  // not differing
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, bucket_count + 1, good).ok);
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, Bytes{}).ok);
  // A chunk of another bucket, echoed as this one.
  const uint32_t b1 = s.differing[1];
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, s.honest(b1, {}, b1 + 1)).ok);
  {  // no progress: nothing, and "continue where you were"
    Chunk c;
    c.next_bucket = b0;
    EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, encode_chunk(c)).ok);
  }
  {  // ends past its range
    Chunk c = *decode_chunk(good);
    c.done = false;
    c.next_bucket = b0 + 1;
    EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, encode_chunk(c)).ok);
  }
  {  // a duplicate record
    Chunk c = *decode_chunk(good);
    c.records.push_back(c.records.back());
    EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, encode_chunk(c)).ok);
  }
  {  // a record apply() could not have written
    Chunk c = *decode_chunk(good);
    c.records.back().value = std::string(1, '\x07') + "unknown format";
    EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, encode_chunk(c)).ok);
  }
  // Nothing of that was staged: the honest chunk still fits, once.
  StageResult r = s.b.kv->stage_chunk(100, b0, {}, b0 + 1, good);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.next.done);
  EXPECT_EQ(r.buckets_verified, 1u);
  EXPECT_FALSE(s.b.kv->stage_chunk(100, b0, {}, b0 + 1, good).ok);  // already complete
}

TEST(StageChunk, AFailedBucketStartsOver) {
  Staging s;
  const uint32_t b0 = s.differing[0];
  Chunk bad = *decode_chunk(s.honest(b0, {}, b0 + 1));
  bad.records[0].value = encode_data_value("tampered");
  const size_t stored = s.b.storage.size();
  StageResult r = s.b.kv->stage_chunk(100, b0, {}, b0 + 1, encode_chunk(bad));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.next, (ChunkPosition{b0, {}, false}));
  EXPECT_EQ(r.buckets_verified, 0u);
  EXPECT_EQ(s.b.storage.size(), stored);  // its staged records were removed
  EXPECT_TRUE(s.stage_bucket(b0));
}

TEST(StageChunk, PartialBucketsContinueExactly) {
  Staging s;
  // A bucket with at least two records, fetched one record at a time.
  std::map<uint32_t, int> counts;
  for (const auto& [pos, v] : stored_records(s.a.storage)) ++counts[pos.first];
  uint32_t multi = bucket_count;
  for (uint32_t b : s.differing)
    if (counts[b] >= 2) {
      multi = b;
      break;
    }
  ASSERT_LT(multi, bucket_count);
  const Bytes first = s.honest(multi, {}, multi + 1, 1);
  StageResult r = s.b.kv->stage_chunk(100, multi, {}, multi + 1, first);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.next.done);
  EXPECT_EQ(r.next.bucket, multi);
  EXPECT_EQ(r.buckets_verified, 0u);
  const Chunk c = *decode_chunk(first);
  EXPECT_EQ(r.next.after, to_bytes(c.records.back().key));
  // Asking again from the start no longer fits; from the position given, it does.
  EXPECT_FALSE(s.b.kv->stage_chunk(100, multi, {}, multi + 1, first).ok);
  r = s.b.kv->stage_chunk(100, multi, r.next.after, multi + 1, s.honest(multi, r.next.after, multi + 1));
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.next.done);
  EXPECT_EQ(r.buckets_verified, 1u);
}

TEST(Restore, FailsWhileABucketIsMissingAndChangesNothing) {
  Staging s;
  for (size_t i = 1; i < s.differing.size(); ++i) ASSERT_TRUE(s.stage_bucket(s.differing[i]));
  EXPECT_FALSE(s.b.kv->restore(100, s.manifest));
  EXPECT_EQ(s.b.manifest(), s.before);
  EXPECT_EQ(s.b.kv->get("key5"), std::optional<std::string>("b" + std::string(5, 'v')));
  ASSERT_TRUE(s.stage_bucket(s.differing[0]));
  EXPECT_TRUE(s.b.kv->restore(100, s.manifest));
  EXPECT_EQ(s.b.kv->checkpoint(100), s.manifest);
  s.b.persist();
  expect_same_state(s.a, s.b);
}

TEST(Restore, RechecksTheCurrentState) {
  Staging s;
  for (uint32_t b : s.differing) ASSERT_TRUE(s.stage_bucket(b));
  // A change after begin_transfer, in a bucket that was equal then.
  const std::set<uint32_t> diff(s.differing.begin(), s.differing.end());
  std::string key;
  for (int i = 0; key.empty(); ++i)
    if (!diff.contains(bucket_of(data_record_key("late" + std::to_string(i))))) key = "late" + std::to_string(i);
  s.b.put(key, "x", 90);
  const Bytes changed = s.b.manifest();
  EXPECT_FALSE(s.b.kv->restore(100, s.manifest));
  EXPECT_EQ(s.b.manifest(), changed);
  // Undoing it makes the staged state installable again.
  s.b.del(key, 91);
  EXPECT_TRUE(s.b.kv->restore(100, s.manifest));
  s.b.persist();
  expect_same_state(s.a, s.b);
}

TEST(Restore, RebuildsTheEvictionOrder) {
  TestStore a(3), b(3);
  // Request-id order differs from eviction order.
  a.kv->apply(1, encode_operation({OpKind::put, "k", "1", "z"}));
  a.kv->apply(2, encode_operation({OpKind::put, "k", "2", "b"}));
  a.kv->apply(2, encode_operation({OpKind::put, "k", "3", "a"}));
  b.kv->apply(1, encode_operation({OpKind::put, "k", "0", "stale-id"}));
  Source src(a, 10);
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  auto peers = honest_peers(src);
  f.start(10, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  ASSERT_TRUE(install(b, *ready));
  EXPECT_FALSE(b.kv->remembers("stale-id"));
  EXPECT_EQ(b.kv->idempotency_size(), 3u);
  for (TestStore* s : {&a, &b}) {
    s->kv->apply(3, encode_operation({OpKind::put, "k", "4", "n1"}));  // evicts (1, z)
    EXPECT_FALSE(s->kv->remembers("z"));
    s->kv->apply(3, encode_operation({OpKind::put, "k", "5", "n2"}));  // evicts (2, a)
    EXPECT_FALSE(s->kv->remembers("a"));
    EXPECT_TRUE(s->kv->remembers("b"));
  }
  EXPECT_EQ(a.manifest(), b.manifest());
}

TEST(Restore, RefusesATableOverTheBound) {
  TestStore a(3), small(2);
  for (int i = 0; i < 3; ++i)
    a.kv->apply(1, encode_operation({OpKind::put, "k", "v", "id" + std::to_string(i)}));
  small.put("mine", "x");
  const Bytes before = small.manifest();
  Source src(a, 10);
  StateFetcher f(*small.kv, fetcher_crypto, fetch_options());
  auto peers = honest_peers(src);
  f.start(10, src.checkpoint.digest);
  auto ready = run_fetch(f, peers);
  ASSERT_TRUE(ready.has_value());
  EXPECT_FALSE(install(small, *ready));
  EXPECT_EQ(small.manifest(), before);
  EXPECT_EQ(small.kv->idempotency_size(), 0u);
}

TEST(Restore, AnInterruptedTransferLeavesTheOldStateAndNoLeftovers) {
  Staging s;
  const size_t stored_before = s.b.storage.size();
  const auto records_before = stored_records(s.b.storage);
  for (size_t i = 0; i + 1 < s.differing.size(); ++i) ASSERT_TRUE(s.stage_bucket(s.differing[i]));
  // Half of the last bucket too, if it has several records.
  const uint32_t last = s.differing.back();
  s.b.kv->stage_chunk(100, last, {}, last + 1, s.honest(last, {}, last + 1, 1));
  EXPECT_GT(s.b.storage.size(), stored_before);  // staged records went to storage

  s.b.reopen();  // the replica restarts mid-transfer
  EXPECT_EQ(s.b.manifest(), s.before);
  EXPECT_EQ(s.b.storage.size(), stored_before);
  EXPECT_EQ(stored_records(s.b.storage), records_before);
  EXPECT_EQ(s.b.kv->get("key5"), std::optional<std::string>("b" + std::string(5, 'v')));
  EXPECT_FALSE(s.b.kv->restore(100, s.manifest));  // the staging is gone with it
}

TEST(Restore, ANewTransferKeepsVerifiedBucketsAndDropsTheRest) {
  Staging s;
  ASSERT_GE(s.differing.size(), 3u);
  const size_t stored_before = s.b.storage.size();
  ASSERT_TRUE(s.stage_bucket(s.differing[0]));
  const size_t stored_one = s.b.storage.size();
  EXPECT_GT(stored_one, stored_before);
  // A part of another bucket (its first record only), not verified yet.
  uint32_t partial = 0;
  for (size_t i = 1; i < s.differing.size() && partial == 0; ++i) {
    const uint32_t b = s.differing[i];
    if (!decode_chunk(s.honest(b, {}, b + 1, 1)).value().done) partial = b;
  }
  ASSERT_NE(partial, 0u) << "no bucket with two records";
  StageResult part = s.b.kv->stage_chunk(100, partial, {}, partial + 1, s.honest(partial, {}, partial + 1, 1));
  ASSERT_TRUE(part.ok);
  ASSERT_EQ(part.buckets_verified, 0u);
  EXPECT_EQ(s.b.storage.size(), stored_one + 1);
  // The same target again: the verified bucket stays, the partial one goes.
  auto again = s.b.kv->begin_transfer(100, s.manifest);
  ASSERT_TRUE(again.has_value());
  std::vector<uint32_t> expected(s.differing.begin() + 1, s.differing.end());
  EXPECT_EQ(*again, expected);
  EXPECT_EQ(s.b.storage.size(), stored_one);
  EXPECT_FALSE(s.b.kv->restore(100, s.manifest));
  for (uint32_t b : expected) ASSERT_TRUE(s.stage_bucket(b));
  EXPECT_TRUE(s.b.kv->restore(100, s.manifest));
  s.b.persist();
  expect_same_state(s.a, s.b);
}

// Under load the certified checkpoint moves while a replica fetches: a new
// target with one changed bucket costs that bucket, not the whole transfer.
TEST(Restore, ANewTargetRefetchesOnlyWhatChanged) {
  Staging s;
  for (uint32_t b : s.differing) ASSERT_TRUE(s.stage_bucket(b));
  s.a.put("key5", "changed", 105);  // one bucket of the source changes
  Source next(s.a, 110);
  size_t consumed = 0;
  ASSERT_TRUE(core::ClientTable::decode(next.checkpoint.snapshot, consumed).has_value());
  const Bytes manifest(next.checkpoint.snapshot.begin() + static_cast<long>(consumed), next.checkpoint.snapshot.end());
  auto todo = s.b.kv->begin_transfer(110, manifest);
  ASSERT_TRUE(todo.has_value());
  ASSERT_EQ(todo->size(), 1u);
  EXPECT_EQ(todo->front(), bucket_of(data_record_key("key5")));
  ChunkPosition pos{todo->front(), {}, false};
  while (!pos.done) {
    StageResult r = s.b.kv->stage_chunk(110, pos.bucket, pos.after, todo->front() + 1,
                                        s.a.kv->read_chunk(110, pos.bucket, pos.after, todo->front() + 1, 1 << 20).value());
    ASSERT_TRUE(r.ok);
    pos = r.next;
  }
  EXPECT_TRUE(s.b.kv->restore(110, manifest));
  s.b.persist();
  expect_same_state(s.a, s.b);
}

// ---- the fetcher's bookkeeping ----

TEST(StateFetcher, TargetsAndRequests) {
  TestStore b;
  StateFetcher f(*b.kv, fetcher_crypto, fetch_options());
  Digest d;
  d.bytes[0] = 1;
  f.start(100, d);
  auto r = f.take_requests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second.seq, 100u);
  EXPECT_EQ(r[0].second.part, wire::StatePart::manifest);
  EXPECT_NE(r[0].first, 0u);
  f.start(100, d);  // the same target: nothing new
  f.start(90, d);   // an older one: ignored
  EXPECT_TRUE(f.take_requests().empty());
  f.start(110, d);  // a newer one replaces it
  r = f.take_requests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second.seq, 110u);
  EXPECT_EQ(f.progress().seq, 110u);
  // Unanswered: after the timeout, another peer is asked.
  const ReplicaId first = r[0].first;
  for (int i = 0; i < 5; ++i) f.tick();
  r = f.take_requests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].first, first);
  EXPECT_NE(r[0].first, 0u);
  // A late answer from the first peer is ignored.
  wire::StateReply late{110, first, wire::StatePart::manifest, 0, {}, true, Bytes{1, 2, 3}};
  f.on_reply(first, late);
  EXPECT_EQ(f.progress().bad_replies, 0u);
}

TEST(StateFetcher, ServeAnswersFromCheckpointsOnly) {
  TestStore a;
  fill(a, 20, 2);
  Source src(a, 10);
  wire::StateRequest ask{10, 2, wire::StatePart::manifest, 0, 0, {}, 1000};
  wire::StateReply r = StateFetcher::serve(ask, 1, &src.checkpoint, *a.kv);
  EXPECT_TRUE(r.available);
  EXPECT_EQ(r.replica, 1u);
  EXPECT_EQ(r.payload, src.checkpoint.snapshot);
  EXPECT_FALSE(StateFetcher::serve(ask, 1, nullptr, *a.kv).available);
  ask.part = wire::StatePart::chunk;
  ask.bucket = 5;
  ask.bucket_end = 9;
  ask.after = to_bytes("kq");
  r = StateFetcher::serve(ask, 1, nullptr, *a.kv);
  EXPECT_TRUE(r.available);
  EXPECT_EQ(r.bucket, 5u);
  EXPECT_EQ(r.after, to_bytes("kq"));
  EXPECT_EQ(r.payload, *a.kv->read_chunk(10, 5, to_bytes("kq"), 9, 1000));
  ask.seq = 11;
  EXPECT_FALSE(StateFetcher::serve(ask, 1, nullptr, *a.kv).available);
}

}  // namespace
}  // namespace pbft::kv
