#include "kv/kv_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "kv/chunk.h"
#include "kv/kv_test_util.h"
#include "kv/manifest.h"
#include "kv/operation.h"

namespace pbft::kv {
namespace {

using testing::TestStore;

Result run(KvStore& s, const Operation& op, Seq seq = 1) {
  auto r = decode_result(s.apply(seq, encode_operation(op)));
  EXPECT_TRUE(r.has_value());
  return r.value_or(Result{ResultStatus::bad_operation, std::nullopt});
}

Result put(KvStore& s, const std::string& k, const std::string& v) { return run(s, {OpKind::put, k, v}); }
Result get(KvStore& s, const std::string& k) { return run(s, {OpKind::get, k, ""}); }
Result del(KvStore& s, const std::string& k) { return run(s, {OpKind::del, k, ""}); }

// The raw result of an operation with a request id.
Bytes apply_id(KvStore& s, Seq seq, const Operation& op) { return s.apply(seq, encode_operation(op)); }
Result decoded(const Bytes& b) {
  auto r = decode_result(b);
  EXPECT_TRUE(r.has_value());
  return r.value_or(Result{ResultStatus::bad_operation, std::nullopt});
}

// Results of the helpers above, which run at sequence 1.
const Result ok{ResultStatus::ok, std::nullopt, 1};
const Result not_found{ResultStatus::not_found, std::nullopt, 1};
Result ok_at(Seq seq) { return Result{ResultStatus::ok, std::nullopt, seq}; }
// A get's answer: record form, with the key's revision (by default that of
// the helpers' puts, which run at sequence 1).
Result value_at(const std::string& v, Seq seq, uint64_t revision = 1) {
  Result r{ResultStatus::ok, v, seq, ResultForm::record};
  r.revision = revision;
  return r;
}
Result absent_at(Seq seq) { return Result{ResultStatus::not_found, std::nullopt, seq, ResultForm::record}; }
const Result absent = absent_at(1);
Result conflict_at(Seq seq) { return Result{ResultStatus::conflict, std::nullopt, seq}; }

// The state's identity: its manifest.
Bytes manifest(KvStore& s) { return s.checkpoint(0); }

TEST(KvStore, ApplySemantics) {
  TestStore store;
  KvStore& s = *store.kv;
  EXPECT_EQ(get(s, "a"), absent);
  EXPECT_EQ(del(s, "a"), not_found);
  EXPECT_EQ(put(s, "a", "1"), ok);
  EXPECT_EQ(get(s, "a"), value_at("1", 1));
  EXPECT_EQ(put(s, "a", "2"), ok);
  EXPECT_EQ(get(s, "a"), value_at("2", 1));
  EXPECT_EQ(put(s, "empty", ""), ok);
  EXPECT_EQ(get(s, "empty"), value_at("", 1));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(del(s, "a"), ok);
  EXPECT_EQ(del(s, "a"), not_found);
  EXPECT_EQ(get(s, "a"), absent);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.get("empty"), std::optional<std::string>(""));
  EXPECT_EQ(s.get("a"), std::nullopt);
  EXPECT_EQ(s.idempotency_size(), 0u);
}

TEST(KvStore, ResultsCarryTheSequence) {
  TestStore store;
  KvStore& s = *store.kv;
  EXPECT_EQ(run(s, {OpKind::put, "a", "1"}, 17), ok_at(17));
  EXPECT_EQ(run(s, {OpKind::get, "a", ""}, 18), value_at("1", 18, 17));
  EXPECT_EQ(run(s, {OpKind::del, "b", ""}, 19), (Result{ResultStatus::not_found, std::nullopt, 19}));
  EXPECT_EQ(run(s, {OpKind::del, "a", ""}, ~uint64_t{0}), ok_at(~uint64_t{0}));
}

TEST(KvStore, BinaryKeysAndValues) {
  TestStore store;
  KvStore& s = *store.kv;
  const std::string k("\0k\xff", 3), v("\0\0\x01", 3);
  EXPECT_EQ(put(s, k, v), ok);
  EXPECT_EQ(get(s, k), value_at(v, 1));
  EXPECT_EQ(get(s, std::string("\0k", 2)), absent);
}

TEST(KvStore, MalformedOperationsAreBadAndChangeNothing) {
  TestStore store;
  KvStore& s = *store.kv;
  put(s, "a", "1");
  const Bytes before = manifest(s);
  Bytes trailing = encode_operation({OpKind::put, "b", "2", "id"});
  trailing.push_back(0);
  Bytes truncated = encode_operation({OpKind::put, "b", "2", "id"});
  truncated.pop_back();
  const std::vector<Bytes> malformed = {
      Bytes{},
      Bytes{9, 0, 0, 0, 0, 0, 0, 0, 0},
      trailing,
      truncated,
      encode_operation({OpKind::put, std::string(key_bytes_max + 1, 'k'), "v", "id"}),
      encode_operation({OpKind::put, "k", std::string(value_bytes_max + 1, 'v'), "id"}),
      encode_operation({OpKind::put, "k", "v", std::string(request_id_bytes_max + 1, 'r')}),
  };
  for (const Bytes& op : malformed) {
    EXPECT_EQ(decoded(s.apply(5, op)), (Result{ResultStatus::bad_operation, std::nullopt, 5}));
    // The same again: still bad, at its own sequence (nothing remembered).
    EXPECT_EQ(decoded(s.apply(6, op)), (Result{ResultStatus::bad_operation, std::nullopt, 6}));
  }
  EXPECT_EQ(s.idempotency_size(), 0u);
  EXPECT_EQ(manifest(s), before);
}

// ---- idempotency ----

TEST(KvStore, RetryReturnsTheFirstAnswerAndExecutesOnce) {
  TestStore store;
  KvStore& s = *store.kv;
  const Bytes first = apply_id(s, 5, {OpKind::put, "a", "1", "X"});
  EXPECT_EQ(decoded(first), ok_at(5));
  EXPECT_EQ(decoded(apply_id(s, 6, {OpKind::put, "a", "2", "Y"})), ok_at(6));
  const Bytes before = manifest(s);

  // The retry of X is not executed again: a stays 2, the answer is the
  // seq-5 one, byte for byte.
  const Bytes retry = apply_id(s, 7, {OpKind::put, "a", "1", "X"});
  EXPECT_EQ(retry, first);
  EXPECT_EQ(decoded(retry).sequence, 5u);
  EXPECT_EQ(s.get("a"), std::optional<std::string>("2"));
  EXPECT_EQ(manifest(s), before);
  EXPECT_EQ(s.idempotency_size(), 2u);

  // Again, in the same batch as another retry.
  EXPECT_EQ(apply_id(s, 8, {OpKind::put, "a", "1", "X"}), first);
  EXPECT_EQ(decoded(apply_id(s, 8, {OpKind::put, "a", "2", "Y"})), ok_at(6));
  EXPECT_EQ(manifest(s), before);
}

TEST(KvStore, RetriedGetAndDelReturnTheirFirstAnswers) {
  TestStore store;
  KvStore& s = *store.kv;
  run(s, {OpKind::put, "a", "1"}, 1);
  const Bytes got = apply_id(s, 2, {OpKind::get, "a", "", "G"});
  EXPECT_EQ(decoded(got), value_at("1", 2));
  const Bytes missing = apply_id(s, 2, {OpKind::get, "nope", "", "M"});
  EXPECT_EQ(decoded(missing), absent_at(2));
  const Bytes deleted = apply_id(s, 3, {OpKind::del, "a", "", "D"});
  EXPECT_EQ(decoded(deleted), ok_at(3));
  run(s, {OpKind::put, "a", "new"}, 4);
  run(s, {OpKind::put, "nope", "now"}, 4);

  EXPECT_EQ(apply_id(s, 5, {OpKind::get, "a", "", "G"}), got);          // still "1" at seq 2
  EXPECT_EQ(apply_id(s, 5, {OpKind::get, "nope", "", "M"}), missing);   // still not found
  EXPECT_EQ(apply_id(s, 5, {OpKind::del, "a", "", "D"}), deleted);      // not deleted again
  EXPECT_EQ(s.get("a"), std::optional<std::string>("new"));
  // A get's unencoded value field does not make it another operation.
  EXPECT_EQ(apply_id(s, 6, {OpKind::get, "a", "junk", "G"}), got);
}

TEST(KvStore, SameIdAnotherOperationIsAConflict) {
  TestStore store;
  KvStore& s = *store.kv;
  const Bytes first = apply_id(s, 5, {OpKind::put, "a", "1", "X"});
  const Bytes before = manifest(s);
  EXPECT_EQ(decoded(apply_id(s, 6, {OpKind::put, "a", "2", "X"})), conflict_at(6));
  EXPECT_EQ(decoded(apply_id(s, 7, {OpKind::put, "b", "1", "X"})), conflict_at(7));
  EXPECT_EQ(decoded(apply_id(s, 8, {OpKind::get, "a", "", "X"})), conflict_at(8));
  EXPECT_EQ(decoded(apply_id(s, 9, {OpKind::del, "a", "", "X"})), conflict_at(9));
  // Nothing ran, nothing was remembered: the first answer stands.
  EXPECT_EQ(s.get("a"), std::optional<std::string>("1"));
  EXPECT_EQ(s.get("b"), std::nullopt);
  EXPECT_EQ(manifest(s), before);
  EXPECT_EQ(apply_id(s, 10, {OpKind::put, "a", "1", "X"}), first);
}

TEST(KvStore, NoRequestIdMeansNoIdempotency) {
  TestStore store;
  KvStore& s = *store.kv;
  EXPECT_EQ(decoded(apply_id(s, 1, {OpKind::put, "a", "1", ""})), ok_at(1));
  EXPECT_EQ(decoded(apply_id(s, 2, {OpKind::del, "a", "", ""})), ok_at(2));
  EXPECT_EQ(decoded(apply_id(s, 3, {OpKind::put, "a", "1", ""})), ok_at(3));
  EXPECT_EQ(decoded(apply_id(s, 4, {OpKind::put, "a", "1", ""})), ok_at(4));
  EXPECT_EQ(s.idempotency_size(), 0u);
  EXPECT_EQ(s.get("a"), std::optional<std::string>("1"));
}

TEST(KvStore, EvictsTheSmallestSequenceThenRequestId) {
  TestStore store(3);
  KvStore& s = *store.kv;
  apply_id(s, 1, {OpKind::put, "k", "c", "c"});
  apply_id(s, 2, {OpKind::put, "k", "b", "b"});  // one batch: same sequence
  apply_id(s, 2, {OpKind::put, "k", "a", "a"});
  EXPECT_EQ(s.idempotency_size(), 3u);

  apply_id(s, 3, {OpKind::put, "k", "d", "d"});  // evicts (1, c)
  EXPECT_FALSE(s.remembers("c"));
  EXPECT_TRUE(s.remembers("a") && s.remembers("b") && s.remembers("d"));

  // A retry does not refresh its entry.
  EXPECT_EQ(decoded(apply_id(s, 4, {OpKind::put, "k", "a", "a"})), ok_at(2));
  apply_id(s, 4, {OpKind::put, "k", "e", "e"});  // evicts (2, a): "a" < "b"
  EXPECT_FALSE(s.remembers("a"));
  EXPECT_TRUE(s.remembers("b") && s.remembers("d") && s.remembers("e"));
  apply_id(s, 5, {OpKind::put, "k", "f", "f"});  // evicts (2, b)
  EXPECT_FALSE(s.remembers("b"));
  EXPECT_TRUE(s.remembers("d") && s.remembers("e") && s.remembers("f"));
  EXPECT_EQ(s.idempotency_size(), 3u);

  // A forgotten id is new again: executed, not a conflict.
  EXPECT_EQ(decoded(apply_id(s, 6, {OpKind::put, "k", "other", "c"})), ok_at(6));
  EXPECT_EQ(s.get("k"), std::optional<std::string>("other"));
  EXPECT_FALSE(s.remembers("d"));

  // A bound of zero remembers nothing.
  TestStore none_store(0);
  KvStore& none = *none_store.kv;
  apply_id(none, 1, {OpKind::put, "k", "1", "X"});
  EXPECT_EQ(none.idempotency_size(), 0u);
  EXPECT_EQ(decoded(apply_id(none, 2, {OpKind::put, "k", "2", "X"})), ok_at(2));
}

TEST(KvStore, DefaultBound) {
  EXPECT_EQ(idempotency_entries_max, 100000u);
  TestStore store;
  KvStore& s = *store.kv;
  for (Seq i = 0; i <= idempotency_entries_max; ++i)
    apply_id(s, i + 1, {OpKind::put, "k", "v", "id" + std::to_string(i)});
  EXPECT_EQ(s.idempotency_size(), idempotency_entries_max);
  EXPECT_FALSE(s.remembers("id0"));
  EXPECT_TRUE(s.remembers("id1"));
  EXPECT_TRUE(s.remembers("id" + std::to_string(idempotency_entries_max)));
}

// ---- manifests ----

TEST(KvStore, ManifestIsCanonical) {
  TestStore sa, sb;
  KvStore& a = *sa.kv;
  KvStore& b = *sb.kv;
  put(a, "x", "1");
  put(a, "y", "2");
  put(a, "z", "3");
  put(a, "w", "gone");
  del(a, "w");
  apply_id(a, 4, {OpKind::put, "p", "1", "second"});
  apply_id(a, 4, {OpKind::put, "q", "1", "first"});

  put(b, "z", "old");
  put(b, "y", "2");
  put(b, "x", "1");
  put(b, "z", "3");
  apply_id(b, 4, {OpKind::put, "q", "1", "first"});
  apply_id(b, 4, {OpKind::put, "p", "1", "second"});
  EXPECT_EQ(manifest(a), manifest(b));

  put(b, "z", "4");
  EXPECT_NE(manifest(a), manifest(b));
  put(b, "z", "3");
  EXPECT_EQ(manifest(a), manifest(b));
  apply_id(b, 5, {OpKind::get, "z", "", "third"});  // only the table differs
  EXPECT_NE(manifest(a), manifest(b));
  // Written or not makes no difference.
  sa.persist();
  apply_id(a, 5, {OpKind::get, "z", "", "third"});
  EXPECT_EQ(manifest(a), manifest(b));
}

TEST(KvStore, ManifestLayout) {
  TestStore store;
  const Bytes empty = manifest(*store.kv);
  ASSERT_EQ(empty.size(), manifest_tag.size() + 8 + size_t{bucket_count} * digest_size);
  EXPECT_EQ(std::string(empty.begin(), empty.begin() + static_cast<long>(manifest_tag.size())), manifest_tag);
  const Bytes counts(empty.begin() + static_cast<long>(manifest_tag.size()),
                     empty.begin() + static_cast<long>(manifest_tag.size()) + 8);
  EXPECT_EQ(counts, (Bytes{0x00, 0x10, 0, 0, 0x00, 0x01, 0, 0}));  // 4096, 256
  auto leaves = decode_manifest(empty);
  ASSERT_TRUE(leaves.has_value());
  for (const Digest& d : *leaves) EXPECT_EQ(d, Digest{});

  // One key: its bucket's leaf covers exactly that record; the rest stay empty.
  put(*store.kv, "key", "value");
  leaves = decode_manifest(manifest(*store.kv));
  ASSERT_TRUE(leaves.has_value());
  const uint32_t bucket = bucket_of("kkey");
  EXPECT_LT(bucket, data_bucket_count);
  for (uint32_t b = 0; b < bucket_count; ++b) {
    if (b == bucket) {
      EXPECT_EQ((*leaves)[b], bucket_leaf(b, LtHash::of_record("kkey", encode_data_value("value", 1))));
      EXPECT_NE((*leaves)[b], Digest{});
    } else {
      EXPECT_EQ((*leaves)[b], Digest{}) << b;
    }
  }
  // A request record lands in a request bucket.
  apply_id(*store.kv, 2, {OpKind::get, "key", "", "id"});
  leaves = decode_manifest(manifest(*store.kv));
  ASSERT_TRUE(leaves.has_value());
  const uint32_t request_bucket = bucket_of("rid");
  EXPECT_GE(request_bucket, data_bucket_count);
  EXPECT_NE((*leaves)[request_bucket], Digest{});
}

// ---- durability ----

TEST(KvStore, ReopenGivesTheSameStateAndManifest) {
  TestStore store(3);
  for (int i = 0; i < 200; ++i) store.put("key" + std::to_string(i), std::string(i, 'v'));
  store.del("key7");
  const Bytes first = apply_id(*store.kv, 10, {OpKind::put, "a", "1", "z"});
  apply_id(*store.kv, 11, {OpKind::put, "a", "2", "b"});
  apply_id(*store.kv, 11, {OpKind::get, "a", "", "a"});
  store.persist();
  const Bytes before = manifest(*store.kv);

  store.reopen();
  KvStore& s = *store.kv;
  EXPECT_EQ(manifest(s), before);
  EXPECT_EQ(s.size(), 200u);  // 201 keys, one deleted
  EXPECT_EQ(s.get("key7"), std::nullopt);
  EXPECT_EQ(s.get("key150"), std::optional<std::string>(std::string(150, 'v')));
  EXPECT_EQ(s.idempotency_size(), 3u);
  EXPECT_EQ(apply_id(s, 12, {OpKind::put, "a", "1", "z"}), first);
  // The eviction order was rebuilt: (10, z) goes first, then (11, a).
  apply_id(s, 12, {OpKind::put, "k", "1", "n1"});
  EXPECT_FALSE(s.remembers("z"));
  EXPECT_TRUE(s.remembers("a") && s.remembers("b"));
  apply_id(s, 12, {OpKind::put, "k", "2", "n2"});
  EXPECT_FALSE(s.remembers("a"));
  EXPECT_TRUE(s.remembers("b"));
}

TEST(KvStore, ChangesNotWrittenAreLostOnReopen) {
  TestStore store;
  store.put("kept", "1");
  apply_id(*store.kv, 2, {OpKind::put, "kept2", "1", "kept-id"});
  store.persist();
  const Bytes written = manifest(*store.kv);

  store.put("lost", "1", 3);
  store.del("kept", 3);
  apply_id(*store.kv, 3, {OpKind::put, "lost2", "1", "lost-id"});
  // Taken but never written is lost too.
  storage::WriteBatch dropped;
  store.kv->take_writes(dropped);
  EXPECT_FALSE(dropped.empty());
  store.put("lost3", "1", 4);
  EXPECT_NE(manifest(*store.kv), written);

  store.reopen();
  EXPECT_EQ(manifest(*store.kv), written);
  EXPECT_EQ(store.kv->get("kept"), std::optional<std::string>("1"));
  EXPECT_EQ(store.kv->get("lost"), std::nullopt);
  EXPECT_EQ(store.kv->get("lost3"), std::nullopt);
  EXPECT_TRUE(store.kv->remembers("kept-id"));
  EXPECT_FALSE(store.kv->remembers("lost-id"));
  EXPECT_EQ(store.kv->idempotency_size(), 1u);
}

TEST(KvStore, ReadsSeeChangesTakenButNotYetWritten) {
  TestStore store;
  store.put("a", "1");
  storage::WriteBatch batch;
  store.kv->take_writes(batch);
  EXPECT_EQ(store.storage.get(record_storage_key(bucket_of("ka"), 0, "ka")), std::nullopt);
  EXPECT_EQ(store.kv->get("a"), std::optional<std::string>("1"));
  store.del("a");
  EXPECT_EQ(store.kv->get("a"), std::nullopt);
  storage::WriteBatch second;
  store.kv->take_writes(second);
  store.storage.write(batch, false);
  store.storage.write(second, false);
  store.kv->written();
  EXPECT_EQ(store.kv->get("a"), std::nullopt);
  // Everything was handed over: nothing is left to take.
  storage::WriteBatch empty;
  store.kv->take_writes(empty);
  EXPECT_TRUE(empty.empty());
}

TEST(KvStore, OpeningDoesNotReadTheData) {
  storage::MemoryStorage memory;
  {
    KvStore s(memory);
    for (int i = 0; i < 20000; ++i) s.apply(1, encode_operation({OpKind::put, "key" + std::to_string(i), "v"}));
    storage::WriteBatch batch;
    s.take_writes(batch);
    memory.write(batch, false);
  }
  testing::CountingStorage counting(memory);
  KvStore s(counting);
  EXPECT_EQ(s.size(), 20000u);
  // Generations, summaries and the request buckets; a few bounded probes per
  // bucket, but no pass over the 20000 data records.
  EXPECT_LE(counting.visited, uint64_t{bucket_count});
  EXPECT_EQ(s.get("key19999"), std::optional<std::string>("v"));
}

TEST(KvStore, CheckpointRecomputesOnlyChangedBuckets) {
  storage::MemoryStorage memory;
  testing::CountingStorage counting(memory);
  KvStore s(counting);
  for (int i = 0; i < 500; ++i) s.apply(1, encode_operation({OpKind::put, "key" + std::to_string(i), "v"}));
  s.checkpoint(1);
  const uint64_t recomputed = s.leaf_recomputations();
  EXPECT_GT(recomputed, 0u);

  // Three keys in three different buckets, one of them changed twice.
  std::vector<std::string> keys;
  std::set<uint32_t> buckets;
  for (int i = 0; keys.size() < 3; ++i) {
    std::string k = "fresh" + std::to_string(i);
    if (buckets.insert(bucket_of(data_record_key(k))).second) keys.push_back(k);
  }
  for (const std::string& k : keys) s.apply(2, encode_operation({OpKind::put, k, "1"}));
  s.apply(2, encode_operation({OpKind::put, keys[0], "2"}));
  const uint64_t reads = counting.reads;
  s.checkpoint(2);
  EXPECT_EQ(s.leaf_recomputations() - recomputed, 3u);
  EXPECT_EQ(counting.reads, reads);  // no storage access at all
  s.checkpoint(3);                   // nothing changed since
  EXPECT_EQ(s.leaf_recomputations() - recomputed, 3u);
}

// ---- checkpoint read views ----

TEST(KvStore, CheckpointsGetReadViewsOnceWritten) {
  TestStore store;
  store.put("a", "old");
  const Bytes m10 = store.kv->checkpoint(10);
  const uint32_t b = bucket_of("ka");
  EXPECT_EQ(store.kv->read_chunk(10, b, {}, b + 1, 1000), std::nullopt);  // not written yet
  store.persist();
  ASSERT_TRUE(store.kv->has_read_view(10));
  auto chunk = [&](Seq seq) {
    auto bytes = store.kv->read_chunk(seq, b, {}, b + 1, 1000);
    EXPECT_TRUE(bytes.has_value());
    auto c = decode_chunk(bytes.value_or(Bytes{}));
    EXPECT_TRUE(c.has_value());
    return c.value_or(Chunk{});
  };
  Chunk c = chunk(10);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].value, encode_data_value("old", 1));
  EXPECT_TRUE(c.done);

  // Later changes do not show in the checkpoint's view.
  store.put("a", "new", 11);
  store.persist();
  EXPECT_EQ(chunk(10).records.at(0).value, encode_data_value("old", 1));

  // A checkpoint followed by changes before they were taken gets no view:
  // no view shows exactly its state.
  store.kv->checkpoint(20);
  store.put("a", "newer", 21);
  store.persist();
  EXPECT_FALSE(store.kv->has_read_view(20));
  store.kv->checkpoint(30);
  store.persist();
  EXPECT_EQ(chunk(30).records.at(0).value, encode_data_value("newer", 21));

  store.kv->discard_checkpoints_below(30);
  EXPECT_FALSE(store.kv->has_read_view(10));
  EXPECT_TRUE(store.kv->has_read_view(30));
  EXPECT_EQ(store.kv->read_chunk(10, b, {}, b + 1, 1000), std::nullopt);
  (void)m10;
}

TEST(KvStore, ReadChunkRejectsBadRanges) {
  TestStore store;
  store.put("a", "1");
  store.kv->checkpoint(5);
  store.persist();
  EXPECT_TRUE(store.kv->read_chunk(5, 0, {}, bucket_count, 1000).has_value());
  EXPECT_FALSE(store.kv->read_chunk(5, 3, {}, 3, 1000).has_value());
  EXPECT_FALSE(store.kv->read_chunk(5, 4, {}, 3, 1000).has_value());
  EXPECT_FALSE(store.kv->read_chunk(5, 0, {}, bucket_count + 1, 1000).has_value());
  EXPECT_FALSE(store.kv->read_chunk(6, 0, {}, bucket_count, 1000).has_value());
  EXPECT_FALSE(store.kv->read_chunk(5, 0, Bytes(record_key_bytes_max + 1, 'k'), 1, 1000).has_value());
}

}  // namespace
}  // namespace pbft::kv
