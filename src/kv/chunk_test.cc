#include "kv/chunk.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "kv/buckets.h"
#include "kv/records.h"

namespace pbft::kv {
namespace {

Chunk sample(bool done) {
  Chunk c;
  c.records.push_back({3, "ka", std::string(1, '\0') + "1"});
  c.records.push_back({3, "kb", std::string(1, '\0') + ""});
  c.records.push_back({4097, "rid", std::string(25, 'x')});
  c.done = done;
  if (!done) {
    c.next_bucket = 4097;
    c.next_after = "rid";
  }
  return c;
}

TEST(Chunk, RoundTrips) {
  for (bool done : {true, false}) {
    const Chunk c = sample(done);
    auto back = decode_chunk(encode_chunk(c));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, c);
  }
  Chunk empty;
  empty.done = true;
  EXPECT_EQ(decode_chunk(encode_chunk(empty)), empty);
  Chunk at_bucket_start;
  at_bucket_start.next_bucket = 12;
  EXPECT_EQ(decode_chunk(encode_chunk(at_bucket_start)), at_bucket_start);
}

TEST(Chunk, ExactEncoding) {
  Chunk c;
  c.records.push_back({0x0102, "kx", "v"});
  c.next_bucket = 5;
  c.next_after = "kx";
  EXPECT_EQ(encode_chunk(c), (Bytes{1, 0, 0, 0,                 // one record
                                    0x02, 0x01, 0, 0,           // bucket
                                    2, 0, 0, 0, 'k', 'x',       // key
                                    1, 0, 0, 0, 'v',            // value
                                    0, 5, 0, 0, 0,              // not done, next bucket
                                    2, 0, 0, 0, 'k', 'x'}));    // after
  Chunk d;
  d.done = true;
  EXPECT_EQ(encode_chunk(d), (Bytes{0, 0, 0, 0, 1}));
}

TEST(Chunk, Malformed) {
  for (bool done : {true, false}) {
    const Bytes b = encode_chunk(sample(done));
    for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(decode_chunk(ByteView(b.data(), n)).has_value()) << n;
    Bytes trailing = b;
    trailing.push_back(0);
    EXPECT_FALSE(decode_chunk(trailing).has_value());
  }
  Bytes bad_end = encode_chunk(sample(true));
  bad_end.back() = 2;
  EXPECT_FALSE(decode_chunk(bad_end).has_value());

  Chunk c = sample(true);
  c.records[0].bucket = bucket_count;
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());
  c = sample(false);
  c.next_bucket = bucket_count;
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());
  c = sample(true);
  c.records[1].key.clear();
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());
  c = sample(true);
  c.records[1].key = "k" + std::string(record_key_bytes_max, 'x');
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());
  c.records[1].key.pop_back();
  EXPECT_TRUE(decode_chunk(encode_chunk(c)).has_value());
  c = sample(true);
  c.records[1].value = std::string(record_value_bytes_max + 1, 'v');
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());
  c = sample(false);
  c.next_after = std::string(record_key_bytes_max + 1, 'k');
  EXPECT_FALSE(decode_chunk(encode_chunk(c)).has_value());

  // Counts and lengths past the bytes present.
  EXPECT_FALSE(decode_chunk(Bytes{0xff, 0xff, 0xff, 0xff, 1}).has_value());
  EXPECT_FALSE(decode_chunk(Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'k', 0, 0, 0, 0, 1}).has_value());
}

// Random mutations of valid chunks never crash the decoder; whatever
// decodes is canonical (it re-encodes to exactly the bytes given).
TEST(Chunk, MutationsNeverCrashAndDecodeCanonically) {
  std::mt19937_64 rng(20240611);
  const Bytes bases[] = {encode_chunk(sample(true)), encode_chunk(sample(false))};
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = bases[i % 2];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        case 2: b.erase(b.begin() + static_cast<long>(at)); break;
        case 3: b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
      }
    }
    if (auto c = decode_chunk(b)) {
      ++decoded;
      EXPECT_EQ(encode_chunk(*c), b);
    }
  }
  EXPECT_GT(decoded, 0);  // some mutations (inside keys and values) stay well-formed
}

}  // namespace
}  // namespace pbft::kv
