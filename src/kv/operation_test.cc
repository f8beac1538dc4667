#include "kv/operation.h"

#include <gtest/gtest.h>

#include <string>

namespace pbft::kv {
namespace {

void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

TEST(Operation, RoundTrips) {
  const Operation ops[] = {
      {OpKind::get, "k", ""},
      {OpKind::get, "", ""},
      {OpKind::put, "key", "value"},
      {OpKind::put, "", ""},
      {OpKind::put, std::string("a\0b", 3), std::string("\0\xff", 2)},
      {OpKind::del, "gone", ""},
      {OpKind::put, std::string(key_bytes_max, 'k'), std::string(value_bytes_max, 'v')},
      {OpKind::get, std::string(key_bytes_max, 'k'), ""},
  };
  for (const Operation& op : ops) {
    const Bytes b = encode_operation(op);
    auto back = decode_operation(b);
    ASSERT_TRUE(back.has_value()) << op.key.size();
    EXPECT_EQ(*back, op);
  }
}

TEST(Operation, ExactEncoding) {
  const Bytes put = encode_operation({OpKind::put, "ab", "xyz"});
  EXPECT_EQ(put, (Bytes{2, 2, 0, 0, 0, 'a', 'b', 3, 0, 0, 0, 'x', 'y', 'z'}));
  EXPECT_EQ(encode_operation({OpKind::get, "ab", ""}), (Bytes{1, 2, 0, 0, 0, 'a', 'b'}));
  EXPECT_EQ(encode_operation({OpKind::del, "ab", ""}), (Bytes{3, 2, 0, 0, 0, 'a', 'b'}));
}

TEST(Operation, GetAndDelCarryNoValue) {
  // A value given to get/del is not encoded.
  EXPECT_EQ(encode_operation({OpKind::get, "k", "ignored"}), encode_operation({OpKind::get, "k", ""}));
  EXPECT_EQ(encode_operation({OpKind::del, "k", "ignored"}), encode_operation({OpKind::del, "k", ""}));
  // A get/del followed by a value field is malformed (trailing bytes).
  for (OpKind kind : {OpKind::get, OpKind::del}) {
    Bytes b = encode_operation({kind, "k", ""});
    put_u32(b, 1);
    b.push_back('v');
    EXPECT_FALSE(decode_operation(b).has_value());
  }
}

TEST(Operation, UnknownKind) {
  for (int kind : {0, 4, 5, 0x7f, 0xff}) {
    Bytes b = encode_operation({OpKind::get, "k", ""});
    b[0] = static_cast<uint8_t>(kind);
    EXPECT_FALSE(decode_operation(b).has_value()) << kind;
  }
}

TEST(Operation, EmptyInput) { EXPECT_FALSE(decode_operation(Bytes{}).has_value()); }

TEST(Operation, OverlongKeyOrValue) {
  EXPECT_FALSE(decode_operation(encode_operation({OpKind::get, std::string(key_bytes_max + 1, 'k'), ""}))
                   .has_value());
  EXPECT_FALSE(decode_operation(encode_operation({OpKind::del, std::string(key_bytes_max + 1, 'k'), ""}))
                   .has_value());
  EXPECT_FALSE(
      decode_operation(encode_operation({OpKind::put, std::string(key_bytes_max + 1, 'k'), "v"}))
          .has_value());
  EXPECT_FALSE(
      decode_operation(encode_operation({OpKind::put, "k", std::string(value_bytes_max + 1, 'v')}))
          .has_value());
  // A huge declared length with no bytes behind it.
  Bytes b{1};
  put_u32(b, 0xffffffffu);
  EXPECT_FALSE(decode_operation(b).has_value());
}

TEST(Operation, EveryTruncationFails) {
  for (const Operation& op : {Operation{OpKind::put, "key", "value"}, Operation{OpKind::get, "key", ""},
                              Operation{OpKind::put, "", ""}}) {
    const Bytes b = encode_operation(op);
    for (size_t n = 0; n < b.size(); ++n)
      EXPECT_FALSE(decode_operation(ByteView(b.data(), n)).has_value()) << n;
  }
}

TEST(Operation, TrailingBytesFail) {
  for (const Operation& op : {Operation{OpKind::put, "key", "value"}, Operation{OpKind::get, "key", ""},
                              Operation{OpKind::del, "", ""}}) {
    Bytes b = encode_operation(op);
    b.push_back(0);
    EXPECT_FALSE(decode_operation(b).has_value());
  }
}

TEST(Result, RoundTrips) {
  const Result results[] = {
      {ResultStatus::ok, std::nullopt},
      {ResultStatus::ok, ""},
      {ResultStatus::ok, "value"},
      {ResultStatus::ok, std::string(value_bytes_max, 'v')},
      {ResultStatus::not_found, std::nullopt},
      {ResultStatus::bad_operation, std::nullopt},
  };
  for (const Result& r : results) {
    auto back = decode_result(encode_result(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
  }
}

TEST(Result, ExactEncoding) {
  EXPECT_EQ(encode_result({ResultStatus::ok, std::nullopt}), (Bytes{0}));
  EXPECT_EQ(encode_result({ResultStatus::ok, ""}), (Bytes{0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_result({ResultStatus::ok, "hi"}), (Bytes{0, 2, 0, 0, 0, 'h', 'i'}));
  EXPECT_EQ(encode_result({ResultStatus::not_found, std::nullopt}), (Bytes{1}));
  EXPECT_EQ(encode_result({ResultStatus::bad_operation, std::nullopt}), (Bytes{2}));
}

TEST(Result, Malformed) {
  EXPECT_FALSE(decode_result(Bytes{}).has_value());
  for (int status : {3, 4, 0x80, 0xff}) EXPECT_FALSE(decode_result(Bytes{static_cast<uint8_t>(status)}));
  // Only an ok result may carry a value.
  EXPECT_FALSE(decode_result(Bytes{1, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(decode_result(Bytes{2, 1, 0, 0, 0, 'x'}).has_value());
  // Truncated and trailing.
  const Bytes b = encode_result({ResultStatus::ok, "value"});
  for (size_t n = 2; n < b.size(); ++n) EXPECT_FALSE(decode_result(ByteView(b.data(), n)).has_value()) << n;
  Bytes longer = b;
  longer.push_back('!');
  EXPECT_FALSE(decode_result(longer).has_value());
  // Over-long value.
  Bytes big{0};
  put_u32(big, static_cast<uint32_t>(value_bytes_max + 1));
  big.resize(big.size() + value_bytes_max + 1, 'v');
  EXPECT_FALSE(decode_result(big).has_value());
}

}  // namespace
}  // namespace pbft::kv
