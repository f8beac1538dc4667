// The operations beyond get/put/del: revisions, range and prefix reads,
// compare-and-swap and transactions, on a real KvStore.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kv/kv_store.h"
#include "kv/kv_test_util.h"
#include "kv/operation.h"

namespace pbft::kv {
namespace {

using testing::TestStore;

Operation range_op(const std::string& start, const std::string& end, uint32_t limit) {
  Operation op{OpKind::range, start, ""};
  op.range_end = end;
  op.limit = limit;
  return op;
}

Operation cas_op(const std::string& key, std::optional<std::string> expected, const std::string& value) {
  Operation op{OpKind::cas, key, value};
  op.expected = std::move(expected);
  return op;
}

std::vector<std::string> keys(const Result& r) {
  std::vector<std::string> out;
  for (const Entry& e : r.entries) out.push_back(e.key);
  return out;
}

TEST(KvOps, ReadOnlyAnswersReadsFromTheCurrentStateWithoutSequence) {
  TestStore s;
  s.put("a", "1", 5);
  s.put("b", "2", 6);
  const KvStore& kv = *s.kv;
  std::optional<Bytes> got = kv.read_only(encode_operation({OpKind::get, "a", ""}));
  ASSERT_TRUE(got.has_value());
  std::optional<Result> r = decode_result(*got);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, "1");
  EXPECT_EQ(r->revision, 5u);
  EXPECT_EQ(r->sequence, 0u) << "replicas at different sequence numbers must agree";
  std::optional<Bytes> absent = kv.read_only(encode_operation({OpKind::get, "zz", ""}));
  ASSERT_TRUE(absent.has_value());
  EXPECT_EQ(decode_result(*absent)->status, ResultStatus::not_found);
  std::optional<Bytes> range = kv.read_only(encode_operation(range_op("a", "", 10)));
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(keys(*decode_result(*range)), (std::vector<std::string>{"a", "b"}));
  // Not reads: no answer, and nothing changes.
  EXPECT_FALSE(kv.read_only(encode_operation({OpKind::put, "a", "9"})).has_value());
  EXPECT_FALSE(kv.read_only(encode_operation({OpKind::del, "a", ""})).has_value());
  EXPECT_FALSE(kv.read_only(encode_operation(cas_op("a", "1", "9"))).has_value());
  EXPECT_FALSE(kv.read_only(Bytes{1, 2, 3}).has_value());
  EXPECT_EQ(s.run({OpKind::get, "a", ""}, 7).value, "1");
}

TEST(KvOps, EveryKeyCarriesTheSequenceOfItsLastChange) {
  TestStore s;
  s.put("a", "1", 5);
  Result r = s.run({OpKind::get, "a", ""}, 6);
  EXPECT_EQ(r.form, ResultForm::record);
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(r.revision, 5u);
  EXPECT_EQ(r.sequence, 6u);
  s.put("a", "2", 9);
  EXPECT_EQ(s.run({OpKind::get, "a", ""}, 10).revision, 9u);
  // A read does not change the revision, nor does a write to another key.
  s.put("b", "x", 11);
  EXPECT_EQ(s.run({OpKind::get, "a", ""}, 12).revision, 9u);
  // Deleted: absent, revision 0; written again: the new sequence.
  s.del("a", 13);
  r = s.run({OpKind::get, "a", ""}, 14);
  EXPECT_EQ(r.status, ResultStatus::not_found);
  EXPECT_EQ(r.revision, 0u);
  s.put("a", "3", 15);
  EXPECT_EQ(s.run({OpKind::get, "a", ""}, 16).revision, 15u);
  // Revisions survive a restart.
  s.persist();
  s.reopen();
  EXPECT_EQ(s.run({OpKind::get, "a", ""}, 17).revision, 15u);
}

TEST(KvOps, FormatZeroRecordsReadWithRevisionZero) {
  TestStore s;
  // A record as written before revisions existed.
  storage::WriteBatch batch;
  const std::string record_key = data_record_key("old");
  const uint32_t bucket = bucket_of(record_key);
  batch.put(record_storage_key(bucket, 0, record_key), encode_data_value("v"));
  batch.put(summary_key(bucket), [&] {
    LtHash h;
    h.add(LtHash::of_record(record_key, encode_data_value("v")));
    return encode_summary(h, 1);
  }());
  s.storage.write(batch, true);
  s.reopen();
  Result r = s.run({OpKind::get, "old", ""}, 3);
  EXPECT_EQ(r.value, "v");
  EXPECT_EQ(r.revision, 0u);
}

TEST(KvOps, AStoreWithoutAKeyIndexBuildsItOnce) {
  TestStore s;
  for (int i = 0; i < 50; ++i) s.put("k" + std::to_string(100 + i), "v", 2);
  s.persist();
  // Take the index away, as in a store written before it existed.
  storage::WriteBatch drop;
  drop.del_range(std::string(key_index_prefix), std::string(key_index_end));
  drop.del(std::string(key_index_marker));
  s.storage.write(drop, true);
  s.reopen();
  Result r = s.run(range_op("", "", 1000), 3);
  EXPECT_EQ(r.entries.size(), 50u);
  EXPECT_EQ(r.entries.front().key, "k100");
  EXPECT_EQ(r.entries.back().key, "k149");
  EXPECT_TRUE(s.storage.get(key_index_marker).has_value());
}

TEST(KvOps, RangeInKeyOrderWithLimitAndContinuation) {
  TestStore s;
  // Inserted out of order, with binary and high bytes: byte order it is.
  for (const std::string& k : std::vector<std::string>{"b", "a", "c/2", "c/1", std::string("\xff", 1), std::string("a\0", 2), "c"})
    s.put(k, "v-" + k, 3);
  Result all = s.run(range_op("", "", 100), 4);
  EXPECT_EQ(all.status, ResultStatus::ok);
  EXPECT_EQ(all.form, ResultForm::range);
  EXPECT_EQ(keys(all), (std::vector<std::string>{"a", std::string("a\0", 2), "b", "c", "c/1", "c/2", "\xff"}));
  EXPECT_EQ(all.entries[2].value, "v-b");
  EXPECT_EQ(all.entries[2].revision, 3u);
  EXPECT_FALSE(all.next.has_value());

  // Pages of two, following the continuation: the same keys, once each.
  std::vector<std::string> paged;
  std::string start;
  int pages = 0;
  for (;;) {
    Result page = s.run(range_op(start, "", 2), 5);
    EXPECT_LE(page.entries.size(), 2u);
    for (const std::string& k : keys(page)) paged.push_back(k);
    ++pages;
    if (!page.next) break;
    start = *page.next;
  }
  EXPECT_EQ(paged, keys(all));
  EXPECT_EQ(pages, 4);

  // An end bound is exclusive; start inclusive.
  EXPECT_EQ(keys(s.run(range_op("b", "c/2", 100), 6)), (std::vector<std::string>{"b", "c", "c/1"}));
  // Exactly `limit` keys left: no continuation.
  EXPECT_FALSE(s.run(range_op("c/1", "", 3), 6).next.has_value());
  EXPECT_EQ(s.run(range_op("c/1", "", 2), 6).next, std::string("\xff", 1));
  // Empty range.
  Result none = s.run(range_op("d", "e", 10), 7);
  EXPECT_EQ(none.status, ResultStatus::ok);
  EXPECT_TRUE(none.entries.empty());
}

TEST(KvOps, PrefixReadsUsePrefixEnd) {
  EXPECT_EQ(prefix_end("c/"), "c0");
  EXPECT_EQ(prefix_end(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff", 1)), "");
  EXPECT_EQ(prefix_end(""), "");
  TestStore s;
  for (const char* k : {"c", "c/", "c/a", "c/b", "c0", "d"}) s.put(k, "v", 2);
  EXPECT_EQ(keys(s.run(range_op("c/", prefix_end("c/"), 100), 3)), (std::vector<std::string>{"c/", "c/a", "c/b"}));
}

TEST(KvOps, RangeSeesDeletesAndUnwrittenChangesAndSurvivesReopen) {
  TestStore s;
  for (int i = 0; i < 10; ++i) s.put("k" + std::to_string(i), "v", 2);
  s.persist();
  s.del("k3", 3);
  s.put("k35", "new", 3);  // not written yet: still seen
  const std::vector<std::string> expected{"k0", "k1", "k2", "k35", "k4", "k5", "k6", "k7", "k8", "k9"};
  EXPECT_EQ(keys(s.run(range_op("", "", 100), 4)), expected);
  storage::WriteBatch batch;
  s.kv->take_writes(batch);  // taken, not yet written
  EXPECT_EQ(keys(s.run(range_op("", "", 100), 4)), expected);
  s.storage.write(batch, true);
  s.kv->written();
  s.reopen();
  EXPECT_EQ(keys(s.run(range_op("", "", 100), 5)), expected);
  // A put over an existing key keeps one entry.
  s.put("k0", "again", 6);
  EXPECT_EQ(s.run(range_op("", "", 100), 7).entries.size(), expected.size());
}

TEST(KvOps, RangePagesStopAtTheByteBound) {
  TestStore s;
  const std::string big(300u << 10, 'x');  // 300 KiB: three fit in a 1 MiB page, not four
  for (int i = 0; i < 5; ++i) s.put("big" + std::to_string(i), big, 2);
  Result page = s.run(range_op("", "", 100), 3);
  EXPECT_EQ(page.entries.size(), 3u);
  EXPECT_EQ(page.next, "big3");
  EXPECT_LE(encode_result(page).size(), result_bytes_max);
  // One value larger than the page bound still comes, alone.
  s.put("huge", std::string(value_bytes_max, 'h'), 4);
  page = s.run(range_op("huge", "", 100), 5);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_FALSE(page.next.has_value());
}

TEST(KvOps, CompareAndSwap) {
  TestStore s;
  // Absent expected and absent: swapped.
  Result r = s.run(cas_op("k", std::nullopt, "1"), 2);
  EXPECT_EQ(r.status, ResultStatus::ok);
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(r.revision, 2u);
  // Absent expected but present: refused, with the current value and revision.
  r = s.run(cas_op("k", std::nullopt, "2"), 3);
  EXPECT_EQ(r.status, ResultStatus::compare_failed);
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(r.revision, 2u);
  EXPECT_EQ(s.kv->get("k"), "1");
  // Wrong value: refused.
  r = s.run(cas_op("k", "0", "2"), 4);
  EXPECT_EQ(r.status, ResultStatus::compare_failed);
  EXPECT_EQ(s.kv->get("k"), "1");
  // Right value: swapped.
  r = s.run(cas_op("k", "1", "2"), 5);
  EXPECT_EQ(r.status, ResultStatus::ok);
  EXPECT_EQ(s.kv->get("k"), "2");
  EXPECT_EQ(s.run({OpKind::get, "k", ""}, 6).revision, 5u);
  // A value expected on an absent key: refused, nothing current.
  r = s.run(cas_op("other", "x", "y"), 7);
  EXPECT_EQ(r.status, ResultStatus::compare_failed);
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.revision, 0u);
  EXPECT_EQ(s.kv->get("other"), std::nullopt);
  // The empty value is a value, not absence.
  s.put("e", "", 8);
  EXPECT_EQ(s.run(cas_op("e", std::nullopt, "z"), 9).status, ResultStatus::compare_failed);
  EXPECT_EQ(s.run(cas_op("e", "", "z"), 10).status, ResultStatus::ok);
}

Operation txn(std::vector<Compare> compares, std::vector<TxnOp> success, std::vector<TxnOp> failure) {
  Operation op{OpKind::txn, "", ""};
  op.compares = std::move(compares);
  op.success = std::move(success);
  op.failure = std::move(failure);
  return op;
}

TEST(KvOps, TransactionTakesTheBranchItsComparesChoose) {
  TestStore s;
  s.put("a", "1", 2);
  s.put("b", "2", 3);
  const std::vector<TxnOp> then{{OpKind::put, "c", "3"}, {OpKind::del, "a", ""}, {OpKind::get, "c", ""},
                                {OpKind::get, "a", ""}};
  const std::vector<TxnOp> otherwise{{OpKind::get, "b", ""}, {OpKind::put, "failed", "yes"}};
  const std::vector<Compare> hold{{CompareTarget::value, "a", "1", 0},
                                  {CompareTarget::revision, "b", "", 3},
                                  {CompareTarget::absent, "c", "", 0},
                                  {CompareTarget::revision, "nope", "", 0}};
  Result r = s.run(txn(hold, then, otherwise), 10);
  EXPECT_EQ(r.status, ResultStatus::ok);
  EXPECT_EQ(r.form, ResultForm::txn);
  EXPECT_TRUE(r.succeeded);
  ASSERT_EQ(r.responses.size(), 4u);
  EXPECT_EQ(r.responses[0].status, ResultStatus::ok);         // put
  EXPECT_EQ(r.responses[1].status, ResultStatus::ok);         // del of a present key
  EXPECT_EQ(r.responses[2].value, "3");                       // reads its own write
  EXPECT_EQ(r.responses[2].revision, 10u);
  EXPECT_EQ(r.responses[3].status, ResultStatus::not_found);  // and its own delete
  EXPECT_EQ(s.kv->get("c"), "3");
  EXPECT_EQ(s.kv->get("a"), std::nullopt);
  EXPECT_EQ(s.kv->get("failed"), std::nullopt);

  // One compare fails: the other branch, and only it.
  for (const Compare& broken : {Compare{CompareTarget::value, "b", "wrong", 0},
                                Compare{CompareTarget::revision, "b", "", 2},
                                Compare{CompareTarget::absent, "b", "", 0},
                                Compare{CompareTarget::value, "a", "", 0}}) {
    r = s.run(txn({{CompareTarget::absent, "a", "", 0}, broken}, {{OpKind::put, "x", "no"}}, otherwise), 11);
    EXPECT_EQ(r.status, ResultStatus::ok);
    EXPECT_FALSE(r.succeeded);
    ASSERT_EQ(r.responses.size(), 2u);
    EXPECT_EQ(r.responses[0].value, "2");
    EXPECT_EQ(s.kv->get("x"), std::nullopt);
    EXPECT_EQ(s.kv->get("failed"), "yes");
  }
  // No compares: the success branch.
  EXPECT_TRUE(s.run(txn({}, {}, {}), 12).succeeded);
}

TEST(KvOps, ATransactionWhoseAnswerIsTooLargeWritesNothing) {
  TestStore s;
  s.put("big", std::string(value_bytes_max, 'b'), 2);
  const Bytes before = s.manifest();
  std::vector<TxnOp> ops{{OpKind::put, "written?", "no"}};
  for (int i = 0; i < 3; ++i) ops.push_back({OpKind::get, "big", ""});
  Result r = s.run(txn({}, ops, {}), 3);
  EXPECT_EQ(r.status, ResultStatus::too_large);
  EXPECT_TRUE(r.responses.empty());
  EXPECT_EQ(s.kv->get("written?"), std::nullopt);
  EXPECT_EQ(s.manifest(), before);
}

TEST(KvOps, RetriesOfEveryNewOperationGetTheirFirstAnswer) {
  TestStore s;
  s.put("a", "1", 2);
  Operation cas = cas_op("a", "1", "2");
  cas.request_id = "C";
  Operation t = txn({{CompareTarget::value, "a", "2", 0}}, {{OpKind::put, "t", "1"}}, {});
  t.request_id = "T";
  Operation r = range_op("", "", 10);
  r.request_id = "R";
  const Bytes first_cas = s.kv->apply(3, encode_operation(cas));
  const Bytes first_txn = s.kv->apply(4, encode_operation(t));
  const Bytes first_range = s.kv->apply(5, encode_operation(r));
  s.put("z", "later", 6);
  // Retries at later sequences: byte-for-byte the first answers, nothing executed again.
  EXPECT_EQ(s.kv->apply(7, encode_operation(cas)), first_cas);
  EXPECT_EQ(decode_result(first_cas)->status, ResultStatus::ok);
  EXPECT_EQ(s.kv->apply(8, encode_operation(t)), first_txn);
  EXPECT_EQ(s.kv->apply(9, encode_operation(r)), first_range);
  EXPECT_EQ(decode_result(first_range)->entries.size(), 2u);  // "a" and "t", not "z"
  EXPECT_EQ(s.run({OpKind::get, "t", ""}, 10).revision, 4u);
  // The same id for another operation: conflict.
  Operation other = range_op("a", "", 5);
  other.request_id = "R";
  EXPECT_EQ(s.run(other, 11).status, ResultStatus::conflict);
  // Remembered across a restart, with the cached answers valid records.
  s.persist();
  s.reopen();
  EXPECT_EQ(s.kv->apply(12, encode_operation(t)), first_txn);
}

}  // namespace
}  // namespace pbft::kv
