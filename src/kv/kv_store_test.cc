#include "kv/kv_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kv/operation.h"

namespace pbft::kv {
namespace {

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
Result value_at(const std::string& v, Seq seq) { return Result{ResultStatus::ok, v, seq}; }
Result conflict_at(Seq seq) { return Result{ResultStatus::conflict, std::nullopt, seq}; }

void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(Bytes& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
void put_raw(Bytes& out, const Bytes& b) {
  put_u32(out, static_cast<uint32_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}
Bytes snapshot_header(uint64_t count) {
  Bytes b = to_bytes("pbft-kv/snapshot/v2");
  put_u64(b, count);
  return b;
}
// One idempotency-table entry as a snapshot holds it.
void put_entry(Bytes& out, const std::string& id, Seq seq, uint64_t fingerprint, const Bytes& result) {
  put_str(out, id);
  put_u64(out, seq);
  put_u64(out, fingerprint);
  put_raw(out, result);
}
// An empty data section, then the table count.
Bytes table_header(uint64_t count) {
  Bytes b = snapshot_header(0);
  put_u64(b, count);
  return b;
}

TEST(KvStore, ApplySemantics) {
  KvStore s;
  EXPECT_EQ(get(s, "a"), not_found);
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
  EXPECT_EQ(get(s, "a"), not_found);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.get("empty"), std::optional<std::string>(""));
  EXPECT_EQ(s.get("a"), std::nullopt);
  EXPECT_EQ(s.idempotency_size(), 0u);
}

TEST(KvStore, ResultsCarryTheSequence) {
  KvStore s;
  EXPECT_EQ(run(s, {OpKind::put, "a", "1"}, 17), ok_at(17));
  EXPECT_EQ(run(s, {OpKind::get, "a", ""}, 18), value_at("1", 18));
  EXPECT_EQ(run(s, {OpKind::del, "b", ""}, 19), (Result{ResultStatus::not_found, std::nullopt, 19}));
  EXPECT_EQ(run(s, {OpKind::del, "a", ""}, ~uint64_t{0}), ok_at(~uint64_t{0}));
}

TEST(KvStore, BinaryKeysAndValues) {
  KvStore s;
  const std::string k("\0k\xff", 3), v("\0\0\x01", 3);
  EXPECT_EQ(put(s, k, v), ok);
  EXPECT_EQ(get(s, k), value_at(v, 1));
  EXPECT_EQ(get(s, std::string("\0k", 2)), not_found);
}

TEST(KvStore, MalformedOperationsAreBadAndChangeNothing) {
  KvStore s;
  put(s, "a", "1");
  const Bytes before = s.snapshot();
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
  EXPECT_EQ(s.snapshot(), before);
}

// ---- idempotency ----

TEST(KvStore, RetryReturnsTheFirstAnswerAndExecutesOnce) {
  KvStore s;
  const Bytes first = apply_id(s, 5, {OpKind::put, "a", "1", "X"});
  EXPECT_EQ(decoded(first), ok_at(5));
  EXPECT_EQ(decoded(apply_id(s, 6, {OpKind::put, "a", "2", "Y"})), ok_at(6));
  const Bytes before = s.snapshot();

  // The retry of X is not executed again: a stays 2, the answer is the
  // seq-5 one, byte for byte.
  const Bytes retry = apply_id(s, 7, {OpKind::put, "a", "1", "X"});
  EXPECT_EQ(retry, first);
  EXPECT_EQ(decoded(retry).sequence, 5u);
  EXPECT_EQ(s.get("a"), std::optional<std::string>("2"));
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_EQ(s.idempotency_size(), 2u);

  // Again, in the same batch as another retry.
  EXPECT_EQ(apply_id(s, 8, {OpKind::put, "a", "1", "X"}), first);
  EXPECT_EQ(decoded(apply_id(s, 8, {OpKind::put, "a", "2", "Y"})), ok_at(6));
  EXPECT_EQ(s.snapshot(), before);
}

TEST(KvStore, RetriedGetAndDelReturnTheirFirstAnswers) {
  KvStore s;
  run(s, {OpKind::put, "a", "1"}, 1);
  const Bytes got = apply_id(s, 2, {OpKind::get, "a", "", "G"});
  EXPECT_EQ(decoded(got), value_at("1", 2));
  const Bytes missing = apply_id(s, 2, {OpKind::get, "nope", "", "M"});
  EXPECT_EQ(decoded(missing), (Result{ResultStatus::not_found, std::nullopt, 2}));
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
  KvStore s;
  const Bytes first = apply_id(s, 5, {OpKind::put, "a", "1", "X"});
  const Bytes before = s.snapshot();
  EXPECT_EQ(decoded(apply_id(s, 6, {OpKind::put, "a", "2", "X"})), conflict_at(6));
  EXPECT_EQ(decoded(apply_id(s, 7, {OpKind::put, "b", "1", "X"})), conflict_at(7));
  EXPECT_EQ(decoded(apply_id(s, 8, {OpKind::get, "a", "", "X"})), conflict_at(8));
  EXPECT_EQ(decoded(apply_id(s, 9, {OpKind::del, "a", "", "X"})), conflict_at(9));
  // Nothing ran, nothing was remembered: the first answer stands.
  EXPECT_EQ(s.get("a"), std::optional<std::string>("1"));
  EXPECT_EQ(s.get("b"), std::nullopt);
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_EQ(apply_id(s, 10, {OpKind::put, "a", "1", "X"}), first);
}

TEST(KvStore, NoRequestIdMeansNoIdempotency) {
  KvStore s;
  EXPECT_EQ(decoded(apply_id(s, 1, {OpKind::put, "a", "1", ""})), ok_at(1));
  EXPECT_EQ(decoded(apply_id(s, 2, {OpKind::del, "a", "", ""})), ok_at(2));
  EXPECT_EQ(decoded(apply_id(s, 3, {OpKind::put, "a", "1", ""})), ok_at(3));
  EXPECT_EQ(decoded(apply_id(s, 4, {OpKind::put, "a", "1", ""})), ok_at(4));
  EXPECT_EQ(s.idempotency_size(), 0u);
  EXPECT_EQ(s.get("a"), std::optional<std::string>("1"));
}

TEST(KvStore, EvictsTheSmallestSequenceThenRequestId) {
  KvStore s(3);
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
  KvStore none(0);
  apply_id(none, 1, {OpKind::put, "k", "1", "X"});
  EXPECT_EQ(none.idempotency_size(), 0u);
  EXPECT_EQ(decoded(apply_id(none, 2, {OpKind::put, "k", "2", "X"})), ok_at(2));
}

TEST(KvStore, DefaultBound) {
  EXPECT_EQ(idempotency_entries_max, 100000u);
  KvStore s;
  for (Seq i = 0; i <= idempotency_entries_max; ++i)
    apply_id(s, i + 1, {OpKind::put, "k", "v", "id" + std::to_string(i)});
  EXPECT_EQ(s.idempotency_size(), idempotency_entries_max);
  EXPECT_FALSE(s.remembers("id0"));
  EXPECT_TRUE(s.remembers("id1"));
  EXPECT_TRUE(s.remembers("id" + std::to_string(idempotency_entries_max)));
}

// ---- snapshots ----

TEST(KvStore, SnapshotIsCanonical) {
  KvStore a, b;
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
  EXPECT_EQ(a.snapshot(), b.snapshot());

  put(b, "z", "4");
  EXPECT_NE(a.snapshot(), b.snapshot());
  put(b, "z", "3");
  EXPECT_EQ(a.snapshot(), b.snapshot());
  apply_id(b, 5, {OpKind::get, "z", "", "third"});  // only the table differs
  EXPECT_NE(a.snapshot(), b.snapshot());

  Bytes empty = snapshot_header(0);
  put_u64(empty, 0);
  EXPECT_EQ(KvStore().snapshot(), empty);
}

TEST(KvStore, SnapshotExactLayout) {
  KvStore s;
  put(s, "b", "22");
  apply_id(s, 9, {OpKind::get, "b", "", "r2"});
  apply_id(s, 7, {OpKind::put, "a", "1", "r1"});
  Bytes expected = snapshot_header(2);
  put_str(expected, "a");
  put_str(expected, "1");
  put_str(expected, "b");
  put_str(expected, "22");
  put_u64(expected, 2);
  put_entry(expected, "r1", 7, operation_fingerprint({OpKind::put, "a", "1"}),
            encode_result({ResultStatus::ok, std::nullopt, 7}));
  put_entry(expected, "r2", 9, operation_fingerprint({OpKind::get, "b", ""}),
            encode_result({ResultStatus::ok, "22", 9}));
  EXPECT_EQ(s.snapshot(), expected);
}

TEST(KvStore, RestoreReproducesState) {
  KvStore a;
  for (int i = 0; i < 100; ++i) put(a, "key" + std::to_string(i * 7 % 100), std::string(i, 'v'));
  put(a, "", "empty key");
  for (Seq i = 0; i < 20; ++i)
    apply_id(a, 10 + i, {OpKind::put, "id-key" + std::to_string(i), "v", "id" + std::to_string(i)});
  const Bytes snap = a.snapshot();

  KvStore b;
  put(b, "stale", "entry");
  apply_id(b, 3, {OpKind::put, "stale2", "x", "stale-id"});
  ASSERT_TRUE(b.restore(snap));
  EXPECT_EQ(b.snapshot(), snap);
  EXPECT_EQ(b.size(), a.size());
  EXPECT_EQ(b.idempotency_size(), 20u);
  EXPECT_FALSE(b.remembers("stale-id"));
  EXPECT_EQ(b.get("stale"), std::nullopt);
  EXPECT_EQ(b.get(""), std::optional<std::string>("empty key"));
  EXPECT_EQ(get(b, "key14"), get(a, "key14"));

  KvStore empty;
  ASSERT_TRUE(b.restore(empty.snapshot()));
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.idempotency_size(), 0u);
}

TEST(KvStore, RetryAfterRestoreReturnsTheOriginalResult) {
  KvStore a;
  const Bytes first = apply_id(a, 5, {OpKind::put, "a", "1", "X"});
  const Bytes got = apply_id(a, 5, {OpKind::get, "a", "", "G"});
  apply_id(a, 6, {OpKind::put, "a", "2", "Y"});

  KvStore b;  // a replica brought up to date by state transfer
  ASSERT_TRUE(b.restore(a.snapshot()));
  EXPECT_EQ(apply_id(b, 7, {OpKind::put, "a", "1", "X"}), first);
  EXPECT_EQ(apply_id(b, 7, {OpKind::get, "a", "", "G"}), got);
  EXPECT_EQ(b.get("a"), std::optional<std::string>("2"));
  EXPECT_EQ(decoded(apply_id(b, 8, {OpKind::put, "a", "3", "X"})), conflict_at(8));
  // And both replicas answer everything alike from here on.
  EXPECT_EQ(apply_id(a, 7, {OpKind::put, "a", "1", "X"}), first);
  EXPECT_EQ(decoded(apply_id(a, 8, {OpKind::put, "a", "3", "X"})), conflict_at(8));
  EXPECT_EQ(a.snapshot(), b.snapshot());
}

TEST(KvStore, RestoreRebuildsTheEvictionOrder) {
  KvStore a(3);
  // Request-id order differs from eviction order.
  apply_id(a, 1, {OpKind::put, "k", "1", "z"});
  apply_id(a, 2, {OpKind::put, "k", "2", "b"});
  apply_id(a, 2, {OpKind::put, "k", "3", "a"});
  KvStore b(3);
  ASSERT_TRUE(b.restore(a.snapshot()));
  for (KvStore* s : {&a, &b}) {
    apply_id(*s, 3, {OpKind::put, "k", "4", "n1"});  // evicts (1, z)
    EXPECT_FALSE(s->remembers("z"));
    apply_id(*s, 3, {OpKind::put, "k", "5", "n2"});  // evicts (2, a)
    EXPECT_FALSE(s->remembers("a"));
    EXPECT_TRUE(s->remembers("b"));
  }
  EXPECT_EQ(a.snapshot(), b.snapshot());

  // A table larger than this store's bound is refused.
  KvStore small(2);
  small.apply(1, encode_operation({OpKind::put, "mine", "x"}));
  const Bytes before = small.snapshot();
  EXPECT_FALSE(small.restore(a.snapshot()));
  EXPECT_EQ(small.snapshot(), before);
}

TEST(KvStore, RestoreRejectsEveryTruncationAndLeavesStateUnchanged) {
  KvStore src;
  put(src, "alpha", "1");
  put(src, "beta", "22");
  apply_id(src, 3, {OpKind::put, "gamma", "3", "id-1"});
  apply_id(src, 4, {OpKind::get, "beta", "", "id-2"});
  apply_id(src, 4, {OpKind::del, "alpha", "", "id-0"});
  const Bytes snap = src.snapshot();
  ASSERT_EQ(src.idempotency_size(), 3u);

  KvStore s;
  put(s, "mine", "x");
  apply_id(s, 2, {OpKind::put, "mine2", "y", "my-id"});
  const Bytes before = s.snapshot();
  for (size_t n = 0; n < snap.size(); ++n) {
    EXPECT_FALSE(s.restore(ByteView(snap.data(), n))) << n;
    EXPECT_EQ(s.snapshot(), before);
  }
  Bytes trailing = snap;
  trailing.push_back(0);
  EXPECT_FALSE(s.restore(trailing));
  EXPECT_EQ(s.snapshot(), before);
  ASSERT_TRUE(s.restore(snap));
  EXPECT_EQ(s.snapshot(), snap);
}

TEST(KvStore, RestoreRejectsCorruptSnapshots) {
  KvStore s;
  put(s, "mine", "x");
  apply_id(s, 2, {OpKind::put, "mine2", "y", "my-id"});
  const Bytes before = s.snapshot();
  std::vector<Bytes> corrupt;

  {  // wrong tag
    Bytes b = table_header(0);
    b[0] = 'P';
    corrupt.push_back(b);
  }
  {  // the v1 tag
    Bytes b = to_bytes("pbft-kv/snapshot/v1");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // a v1 body under the v2 tag: no table
    corrupt.push_back(snapshot_header(0));
  }
  {  // count larger than the entries present
    Bytes b = snapshot_header(2);
    put_str(b, "a");
    put_str(b, "1");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // count smaller than the entries present (trailing bytes)
    Bytes b = snapshot_header(1);
    put_str(b, "a");
    put_str(b, "1");
    put_str(b, "b");
    put_str(b, "2");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // absurd count
    Bytes b = snapshot_header(~uint64_t{0});
    put_str(b, "a");
    put_str(b, "1");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // keys out of order
    Bytes b = snapshot_header(2);
    put_str(b, "b");
    put_str(b, "1");
    put_str(b, "a");
    put_str(b, "2");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // duplicate key
    Bytes b = snapshot_header(2);
    put_str(b, "a");
    put_str(b, "1");
    put_str(b, "a");
    put_str(b, "2");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // over-long key
    Bytes b = snapshot_header(1);
    put_str(b, std::string(key_bytes_max + 1, 'k'));
    put_str(b, "v");
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // over-long value
    Bytes b = snapshot_header(1);
    put_str(b, "k");
    put_str(b, std::string(value_bytes_max + 1, 'v'));
    put_u64(b, 0);
    corrupt.push_back(b);
  }
  {  // length prefix past the end
    Bytes b = snapshot_header(1);
    put_u32(b, 1000);
    b.push_back('k');
    corrupt.push_back(b);
  }

  // The idempotency table.
  const uint64_t fp = operation_fingerprint({OpKind::put, "k", "v"});
  const Bytes ok5 = encode_result({ResultStatus::ok, std::nullopt, 5});
  const Bytes ok6 = encode_result({ResultStatus::ok, std::nullopt, 6});
  {  // table count larger than the entries present
    Bytes b = table_header(2);
    put_entry(b, "a", 5, fp, ok5);
    corrupt.push_back(b);
  }
  {  // table count smaller than the entries present
    Bytes b = table_header(1);
    put_entry(b, "a", 5, fp, ok5);
    put_entry(b, "b", 6, fp, ok6);
    corrupt.push_back(b);
  }
  {  // absurd table count
    Bytes b = table_header(~uint64_t{0});
    put_entry(b, "a", 5, fp, ok5);
    corrupt.push_back(b);
  }
  {  // table count over the bound
    Bytes b = table_header(idempotency_entries_max + 1);
    corrupt.push_back(b);
  }
  {  // request ids out of order
    Bytes b = table_header(2);
    put_entry(b, "b", 6, fp, ok6);
    put_entry(b, "a", 5, fp, ok5);
    corrupt.push_back(b);
  }
  {  // duplicate request id
    Bytes b = table_header(2);
    put_entry(b, "a", 5, fp, ok5);
    put_entry(b, "a", 6, fp, ok6);
    corrupt.push_back(b);
  }
  {  // empty request id
    Bytes b = table_header(1);
    put_entry(b, "", 5, fp, ok5);
    corrupt.push_back(b);
  }
  {  // over-long request id
    Bytes b = table_header(1);
    put_entry(b, std::string(request_id_bytes_max + 1, 'r'), 5, fp, ok5);
    corrupt.push_back(b);
  }
  {  // result that does not decode
    Bytes b = table_header(1);
    put_entry(b, "a", 5, fp, Bytes{0, 5, 0, 0});
    corrupt.push_back(b);
  }
  {  // result of another sequence than its entry
    Bytes b = table_header(1);
    put_entry(b, "a", 5, fp, ok6);
    corrupt.push_back(b);
  }
  {  // results that are never remembered
    for (ResultStatus st : {ResultStatus::bad_operation, ResultStatus::conflict}) {
      Bytes b = table_header(1);
      put_entry(b, "a", 5, fp, encode_result({st, std::nullopt, 5}));
      corrupt.push_back(b);
    }
  }
  {  // result length past the end
    Bytes b = table_header(1);
    put_str(b, "a");
    put_u64(b, 5);
    put_u64(b, fp);
    put_u32(b, 1000);
    b.insert(b.end(), ok5.begin(), ok5.end());
    corrupt.push_back(b);
  }
  {  // over-long result
    Bytes b = table_header(1);
    Bytes big = encode_result({ResultStatus::ok, std::string(value_bytes_max, 'v'), 5});
    big.push_back(0);
    put_entry(b, "a", 5, fp, big);
    corrupt.push_back(b);
  }
  for (size_t i = 0; i < corrupt.size(); ++i) {
    EXPECT_FALSE(s.restore(corrupt[i])) << "case " << i;
    EXPECT_EQ(s.snapshot(), before) << "case " << i;
  }

  // The well-formed neighbours of those cases are accepted.
  {
    Bytes b = table_header(2);
    put_entry(b, "a", 5, fp, ok5);
    put_entry(b, "b", 6, fp, encode_result({ResultStatus::ok, std::string(value_bytes_max, 'v'), 6}));
    KvStore t;
    ASSERT_TRUE(t.restore(b));
    EXPECT_EQ(t.snapshot(), b);
    EXPECT_EQ(t.apply(7, encode_operation({OpKind::put, "k", "v", "a"})), ok5);
  }
}

TEST(KvStore, RestoreOfFlippedBytesNeverCorruptsState) {
  // Any single-byte change either is rejected or decodes to a well-formed
  // state whose snapshot is exactly the bytes given.
  KvStore src;
  put(src, "a", "1");
  put(src, "c", "3");
  apply_id(src, 4, {OpKind::get, "c", "", "g"});
  apply_id(src, 5, {OpKind::put, "d", "4", "p"});
  const Bytes snap = src.snapshot();
  KvStore s;
  put(s, "mine", "x");
  for (size_t i = 0; i < snap.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes b = snap;
      b[i] ^= flip;
      KvStore t;
      put(t, "mine", "x");
      if (t.restore(b)) {
        EXPECT_EQ(t.snapshot(), b) << i;
      } else {
        EXPECT_EQ(t.snapshot(), s.snapshot()) << i;
      }
    }
  }
}

}  // namespace
}  // namespace pbft::kv
