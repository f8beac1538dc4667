#include "kv/lthash.h"

#include <gtest/gtest.h>

#include <sodium.h>

#include <string>
#include <vector>

#include "kv/buckets.h"

namespace pbft::kv {
namespace {

LtHash sum(const std::vector<LtHash>& parts) {
  LtHash h;
  for (const LtHash& p : parts) h.add(p);
  return h;
}

std::string hex_blake2b(const Bytes& b) {
  uint8_t d[32];
  crypto_generichash(d, sizeof d, b.data(), b.size(), nullptr, 0);
  return to_hex(ByteView(d, sizeof d));
}

TEST(LtHash, AddAndRemoveCommuteAndCancel) {
  const LtHash a = LtHash::of_record("ka", "1"), b = LtHash::of_record("kb", "2"), c = LtHash::of_record("kc", "3");
  EXPECT_EQ(sum({a, b, c}), sum({c, a, b}));
  EXPECT_EQ(sum({a, b, c}), sum({b, c, a}));
  LtHash h = sum({a, b, c});
  h.remove(b);
  EXPECT_EQ(h, sum({a, c}));
  h.remove(a);
  h.remove(c);
  EXPECT_TRUE(h.is_zero());
  EXPECT_EQ(h, LtHash{});
  // Removing first, adding later gives the same.
  LtHash g;
  g.remove(a);
  g.add(b);
  g.add(a);
  EXPECT_EQ(g, b);
}

TEST(LtHash, DifferentSetsDiffer) {
  const LtHash a = LtHash::of_record("ka", "1"), b = LtHash::of_record("kb", "2");
  EXPECT_NE(a, b);
  EXPECT_FALSE(a.is_zero());
  EXPECT_NE(sum({a, b}), sum({a}));
  EXPECT_NE(sum({a, a}), sum({a}));  // a multiset hash: two of a are not one
  EXPECT_NE(LtHash::of_record("ka", "1"), LtHash::of_record("ka", "2"));
  // The key's length prefix keeps key/value boundaries apart.
  EXPECT_NE(LtHash::of_record("ka", "b"), LtHash::of_record("kab", ""));
  EXPECT_NE(LtHash::of_record("", "kab"), LtHash::of_record("kab", ""));
}

TEST(LtHash, BytesRoundTrip) {
  const LtHash a = sum({LtHash::of_record("ka", "1"), LtHash::of_record("kb", "2")});
  const Bytes b = a.to_bytes();
  ASSERT_EQ(b.size(), LtHash::bytes_size);
  LtHash back;
  ASSERT_TRUE(LtHash::from_bytes(b, back));
  EXPECT_EQ(back, a);
  EXPECT_FALSE(LtHash::from_bytes(ByteView(b.data(), b.size() - 1), back));
  EXPECT_EQ(LtHash().to_bytes(), Bytes(LtHash::bytes_size, 0));
}

// Pinned answers, computed by an independent implementation (Python:
// hashlib BLAKE2b and an RFC 8439 ChaCha20 checked against the RFC's test
// vector). Every replica of every build must hash records exactly so.
TEST(LtHash, KnownAnswers) {
  const Bytes record = LtHash::of_record("key", "value").to_bytes();
  EXPECT_EQ(to_hex(ByteView(record.data(), 16)), "01525f301ab64bb60fa7a8cd1f70ede3");
  EXPECT_EQ(hex_blake2b(record), "e6f738edfd8bc24b3b6ddb1d0440f0e5a9fb7b58a1c6a9ec28a1d2f8f88460a7");

  const LtHash set = sum({LtHash::of_record("a", "1"), LtHash::of_record("b", "2")});
  EXPECT_EQ(hex_blake2b(set.to_bytes()), "e267e7f31e986374c06aa2de31ede3b72681600df4ea519fd19c522696e50000");
  EXPECT_EQ(to_hex(bucket_leaf(7, set)), "8b37af40e92b36b9ca66bd33ba2c9f5dacb6fc470f3b9e20cb1f5895e1272a8f");
  EXPECT_EQ(bucket_leaf(7, LtHash{}), Digest{});  // empty buckets: the fixed all-zero leaf
  EXPECT_NE(bucket_leaf(8, set), bucket_leaf(7, set));

  EXPECT_EQ(bucket_of("kkey"), 3528u);
  EXPECT_EQ(bucket_of("k"), 3682u);
  EXPECT_EQ(bucket_of("rid"), 4285u);
  EXPECT_EQ(bucket_of("rsome-request"), 4186u);
}

TEST(Buckets, SpreadOverTheirRanges) {
  std::vector<int> data(data_bucket_count), requests(request_bucket_count);
  for (int i = 0; i < 20000; ++i) {
    const uint32_t d = bucket_of("kkey" + std::to_string(i));
    ASSERT_LT(d, data_bucket_count);
    ++data[d];
    const uint32_t r = bucket_of("rid" + std::to_string(i));
    ASSERT_GE(r, data_bucket_count);
    ASSERT_LT(r, bucket_count);
    ++requests[r - data_bucket_count];
  }
  int empty = 0;
  for (int n : data) empty += n == 0;
  EXPECT_LT(empty, 100);  // about 4096 * e^-4.9 = 30 expected
  for (int n : requests) EXPECT_GT(n, 30);  // about 78 each
}

TEST(Buckets, StorageKeysOrderByBucketThenGeneration) {
  EXPECT_LT(record_storage_key(1, 0, "kzzz"), record_storage_key(1, 1, "ka"));
  EXPECT_LT(record_storage_key(1, 0xffffffff, "kzzz"), record_storage_key(2, 0, "ka"));
  EXPECT_LT(record_storage_key(1, 5, "kzzz"), generation_end(1, 5));
  EXPECT_LE(generation_end(1, 5), generation_prefix(1, 6));
  EXPECT_LE(generation_end(1, 0xffffffff), bucket_records_begin(2));
  EXPECT_LE(bucket_records_end(1), bucket_records_begin(2));
  EXPECT_LT(record_storage_key(1, 0xffffffff, "k\xff\xff"), bucket_records_end(1));
  EXPECT_EQ(record_storage_key(0x102, 0x03040506, "kx"), std::string("s/d\x01\x02\x03\x04\x05\x06kx", 11));
  uint32_t b = 0;
  EXPECT_TRUE(parse_bucket_key(summary_key(4351), summary_key_prefix, b));
  EXPECT_EQ(b, 4351u);
  EXPECT_FALSE(parse_bucket_key(summary_key(4351), generation_key_prefix, b));
  EXPECT_FALSE(parse_bucket_key(std::string("s/h\x11\x00", 5), summary_key_prefix, b));  // bucket 4352
}

}  // namespace
}  // namespace pbft::kv
