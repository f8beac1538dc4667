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

const Result ok{ResultStatus::ok, std::nullopt};
const Result not_found{ResultStatus::not_found, std::nullopt};
const Result bad{ResultStatus::bad_operation, std::nullopt};

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
Bytes snapshot_header(uint64_t count) {
  Bytes b = to_bytes("pbft-kv/snapshot/v1");
  put_u64(b, count);
  return b;
}

TEST(KvStore, ApplySemantics) {
  KvStore s;
  EXPECT_EQ(get(s, "a"), not_found);
  EXPECT_EQ(del(s, "a"), not_found);
  EXPECT_EQ(put(s, "a", "1"), ok);
  EXPECT_EQ(get(s, "a"), (Result{ResultStatus::ok, "1"}));
  EXPECT_EQ(put(s, "a", "2"), ok);
  EXPECT_EQ(get(s, "a"), (Result{ResultStatus::ok, "2"}));
  EXPECT_EQ(put(s, "empty", ""), ok);
  EXPECT_EQ(get(s, "empty"), (Result{ResultStatus::ok, ""}));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(del(s, "a"), ok);
  EXPECT_EQ(del(s, "a"), not_found);
  EXPECT_EQ(get(s, "a"), not_found);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.get("empty"), std::optional<std::string>(""));
  EXPECT_EQ(s.get("a"), std::nullopt);
}

TEST(KvStore, BinaryKeysAndValues) {
  KvStore s;
  const std::string k("\0k\xff", 3), v("\0\0\x01", 3);
  EXPECT_EQ(put(s, k, v), ok);
  EXPECT_EQ(get(s, k), (Result{ResultStatus::ok, v}));
  EXPECT_EQ(get(s, std::string("\0k", 2)), not_found);
}

TEST(KvStore, MalformedOperationsAreBadAndChangeNothing) {
  KvStore s;
  put(s, "a", "1");
  const Bytes before = s.snapshot();
  Bytes trailing = encode_operation({OpKind::put, "b", "2"});
  trailing.push_back(0);
  Bytes truncated = encode_operation({OpKind::put, "b", "2"});
  truncated.pop_back();
  const std::vector<Bytes> malformed = {
      Bytes{},
      Bytes{9, 0, 0, 0, 0},
      trailing,
      truncated,
      encode_operation({OpKind::put, std::string(key_bytes_max + 1, 'k'), "v"}),
      encode_operation({OpKind::put, "k", std::string(value_bytes_max + 1, 'v')}),
  };
  for (const Bytes& op : malformed) {
    auto r = decode_result(s.apply(5, op));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, bad);
  }
  EXPECT_EQ(s.snapshot(), before);
}

TEST(KvStore, SnapshotIsCanonical) {
  KvStore a, b;
  put(a, "x", "1");
  put(a, "y", "2");
  put(a, "z", "3");
  put(a, "w", "gone");
  del(a, "w");

  put(b, "z", "old");
  put(b, "y", "2");
  put(b, "x", "1");
  put(b, "z", "3");
  EXPECT_EQ(a.snapshot(), b.snapshot());

  put(b, "z", "4");
  EXPECT_NE(a.snapshot(), b.snapshot());
  EXPECT_EQ(KvStore().snapshot(), snapshot_header(0));
}

TEST(KvStore, SnapshotExactLayout) {
  KvStore s;
  put(s, "b", "22");
  put(s, "a", "1");
  Bytes expected = snapshot_header(2);
  put_str(expected, "a");
  put_str(expected, "1");
  put_str(expected, "b");
  put_str(expected, "22");
  EXPECT_EQ(s.snapshot(), expected);
}

TEST(KvStore, RestoreReproducesState) {
  KvStore a;
  for (int i = 0; i < 100; ++i) put(a, "key" + std::to_string(i * 7 % 100), std::string(i, 'v'));
  put(a, "", "empty key");
  const Bytes snap = a.snapshot();

  KvStore b;
  put(b, "stale", "entry");
  ASSERT_TRUE(b.restore(snap));
  EXPECT_EQ(b.snapshot(), snap);
  EXPECT_EQ(b.size(), a.size());
  EXPECT_EQ(b.get("stale"), std::nullopt);
  EXPECT_EQ(b.get(""), std::optional<std::string>("empty key"));
  EXPECT_EQ(get(b, "key14"), get(a, "key14"));

  KvStore empty;
  ASSERT_TRUE(b.restore(empty.snapshot()));
  EXPECT_EQ(b.size(), 0u);
}

TEST(KvStore, RestoreRejectsEveryTruncationAndLeavesStateUnchanged) {
  KvStore src;
  put(src, "alpha", "1");
  put(src, "beta", "22");
  const Bytes snap = src.snapshot();

  KvStore s;
  put(s, "mine", "x");
  const Bytes before = s.snapshot();
  for (size_t n = 0; n < snap.size(); ++n) {
    EXPECT_FALSE(s.restore(ByteView(snap.data(), n))) << n;
    EXPECT_EQ(s.snapshot(), before);
  }
  Bytes trailing = snap;
  trailing.push_back(0);
  EXPECT_FALSE(s.restore(trailing));
  EXPECT_EQ(s.snapshot(), before);
}

TEST(KvStore, RestoreRejectsCorruptSnapshots) {
  KvStore s;
  put(s, "mine", "x");
  const Bytes before = s.snapshot();
  std::vector<Bytes> corrupt;

  {  // wrong tag
    Bytes b = snapshot_header(0);
    b[0] = 'P';
    corrupt.push_back(b);
  }
  {  // count larger than the entries present
    Bytes b = snapshot_header(2);
    put_str(b, "a");
    put_str(b, "1");
    corrupt.push_back(b);
  }
  {  // count smaller than the entries present (trailing bytes)
    Bytes b = snapshot_header(1);
    put_str(b, "a");
    put_str(b, "1");
    put_str(b, "b");
    put_str(b, "2");
    corrupt.push_back(b);
  }
  {  // absurd count
    Bytes b = snapshot_header(~uint64_t{0});
    put_str(b, "a");
    put_str(b, "1");
    corrupt.push_back(b);
  }
  {  // keys out of order
    Bytes b = snapshot_header(2);
    put_str(b, "b");
    put_str(b, "1");
    put_str(b, "a");
    put_str(b, "2");
    corrupt.push_back(b);
  }
  {  // duplicate key
    Bytes b = snapshot_header(2);
    put_str(b, "a");
    put_str(b, "1");
    put_str(b, "a");
    put_str(b, "2");
    corrupt.push_back(b);
  }
  {  // over-long key
    Bytes b = snapshot_header(1);
    put_str(b, std::string(key_bytes_max + 1, 'k'));
    put_str(b, "v");
    corrupt.push_back(b);
  }
  {  // over-long value
    Bytes b = snapshot_header(1);
    put_str(b, "k");
    put_str(b, std::string(value_bytes_max + 1, 'v'));
    corrupt.push_back(b);
  }
  {  // length prefix past the end
    Bytes b = snapshot_header(1);
    put_u32(b, 1000);
    b.push_back('k');
    corrupt.push_back(b);
  }
  for (size_t i = 0; i < corrupt.size(); ++i) {
    EXPECT_FALSE(s.restore(corrupt[i])) << "case " << i;
    EXPECT_EQ(s.snapshot(), before) << "case " << i;
  }
}

TEST(KvStore, RestoreOfFlippedBytesNeverCorruptsState) {
  // Any single-byte change either is rejected or decodes to a well-formed
  // state whose snapshot is exactly the bytes given.
  KvStore src;
  put(src, "a", "1");
  put(src, "c", "3");
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
