#include "kv/operation.h"

#include <gtest/gtest.h>

#include <string>

#include "common/byte_io.h"

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
      {OpKind::get, "k", "", "req-1"},
      {OpKind::put, "k", "v", "0f8fad5b-d9cb-469f-a165-70867728950e"},
      {OpKind::del, "k", "", std::string(request_id_bytes_max, 'r')},
      {OpKind::put, "", "", std::string("\0\xff", 2)},
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
  EXPECT_EQ(put, (Bytes{2, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 3, 0, 0, 0, 'x', 'y', 'z'}));
  EXPECT_EQ(encode_operation({OpKind::get, "ab", ""}), (Bytes{1, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 'b'}));
  EXPECT_EQ(encode_operation({OpKind::del, "ab", ""}), (Bytes{3, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 'b'}));
  // The request id comes right after the kind.
  EXPECT_EQ(encode_operation({OpKind::put, "ab", "xyz", "r1"}),
            (Bytes{2, 2, 0, 0, 0, 'r', '1', 2, 0, 0, 0, 'a', 'b', 3, 0, 0, 0, 'x', 'y', 'z'}));
  EXPECT_EQ(encode_operation({OpKind::get, "ab", "", "r"}),
            (Bytes{1, 1, 0, 0, 0, 'r', 2, 0, 0, 0, 'a', 'b'}));
}

TEST(Operation, GetAndDelCarryNoValue) {
  // A value given to get/del is not encoded.
  EXPECT_EQ(encode_operation({OpKind::get, "k", "ignored"}), encode_operation({OpKind::get, "k", ""}));
  EXPECT_EQ(encode_operation({OpKind::del, "k", "ignored"}), encode_operation({OpKind::del, "k", ""}));
  // A get/del followed by a value field is malformed (trailing bytes).
  for (OpKind kind : {OpKind::get, OpKind::del}) {
    Bytes b = encode_operation({kind, "k", "", "id"});
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
  // A huge declared length with no bytes behind it (request id, then key).
  Bytes b{1};
  put_u32(b, 0xffffffffu);
  EXPECT_FALSE(decode_operation(b).has_value());
  Bytes k{1, 0, 0, 0, 0};
  put_u32(k, 0xffffffffu);
  EXPECT_FALSE(decode_operation(k).has_value());
}

TEST(Operation, OverlongRequestId) {
  for (OpKind kind : {OpKind::get, OpKind::put, OpKind::del}) {
    EXPECT_TRUE(decode_operation(encode_operation({kind, "k", "v", std::string(request_id_bytes_max, 'r')}))
                    .has_value());
    EXPECT_FALSE(
        decode_operation(encode_operation({kind, "k", "v", std::string(request_id_bytes_max + 1, 'r')}))
            .has_value());
  }
}

TEST(Operation, EveryTruncationFails) {
  for (const Operation& op :
       {Operation{OpKind::put, "key", "value"}, Operation{OpKind::get, "key", ""}, Operation{OpKind::put, "", ""},
        Operation{OpKind::put, "key", "value", "rid"}, Operation{OpKind::del, "key", "", "rid"}}) {
    const Bytes b = encode_operation(op);
    for (size_t n = 0; n < b.size(); ++n)
      EXPECT_FALSE(decode_operation(ByteView(b.data(), n)).has_value()) << n;
  }
}

TEST(Operation, TrailingBytesFail) {
  for (const Operation& op : {Operation{OpKind::put, "key", "value"}, Operation{OpKind::get, "key", ""},
                              Operation{OpKind::del, "", ""}, Operation{OpKind::get, "key", "", "rid"}}) {
    Bytes b = encode_operation(op);
    b.push_back(0);
    EXPECT_FALSE(decode_operation(b).has_value());
  }
}

TEST(Fingerprint, Fnv1a64KnownVectors) {
  EXPECT_EQ(byte_io::fnv1a_64(Bytes{}), 0xcbf29ce484222325ull);
  EXPECT_EQ(byte_io::fnv1a_64(to_bytes("a")), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(byte_io::fnv1a_64(to_bytes("foobar")), 0x85944171f73967e8ull);
}

TEST(Fingerprint, IsFnvOfTheEncodingWithoutRequestId) {
  const Operation op{OpKind::put, "ab", "xyz", "some-id"};
  EXPECT_EQ(operation_fingerprint(op),
            byte_io::fnv1a_64(Bytes{2, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 3, 0, 0, 0, 'x', 'y', 'z'}));
  // The request id does not take part; a get/del's unencoded value neither.
  EXPECT_EQ(operation_fingerprint(op), operation_fingerprint({OpKind::put, "ab", "xyz", "other"}));
  EXPECT_EQ(operation_fingerprint({OpKind::get, "k", "x", "a"}), operation_fingerprint({OpKind::get, "k", "", "b"}));
  // Everything else does.
  EXPECT_NE(operation_fingerprint(op), operation_fingerprint({OpKind::put, "ab", "xy", "some-id"}));
  EXPECT_NE(operation_fingerprint(op), operation_fingerprint({OpKind::put, "a", "bxyz", "some-id"}));
  EXPECT_NE(operation_fingerprint({OpKind::get, "k", ""}), operation_fingerprint({OpKind::del, "k", ""}));
}

TEST(Result, RoundTrips) {
  const Result results[] = {
      {ResultStatus::ok, std::nullopt},
      {ResultStatus::ok, ""},
      {ResultStatus::ok, "value", 7},
      {ResultStatus::ok, std::string(value_bytes_max, 'v'), ~uint64_t{0}},
      {ResultStatus::not_found, std::nullopt, 1},
      {ResultStatus::bad_operation, std::nullopt, 2},
      {ResultStatus::conflict, std::nullopt, 3},
  };
  for (const Result& r : results) {
    auto back = decode_result(encode_result(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, r);
  }
}

TEST(Result, ExactEncoding) {
  EXPECT_EQ(encode_result({ResultStatus::ok, std::nullopt}), (Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_result({ResultStatus::ok, std::nullopt, 0x0102030405060708ull}),
            (Bytes{0, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(encode_result({ResultStatus::ok, "", 1}), (Bytes{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_result({ResultStatus::ok, "hi", 2}),
            (Bytes{0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'}));
  EXPECT_EQ(encode_result({ResultStatus::not_found, std::nullopt, 3}), (Bytes{1, 3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_result({ResultStatus::bad_operation, std::nullopt, 4}), (Bytes{2, 4, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_result({ResultStatus::conflict, std::nullopt, 5}), (Bytes{3, 5, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Result, Malformed) {
  EXPECT_FALSE(decode_result(Bytes{}).has_value());
  // Unknown statuses (6..15) and forms (4..15).
  for (int status : {6, 15, 0x40, 0x80, 0xff}) {
    Bytes b{static_cast<uint8_t>(status), 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_FALSE(decode_result(b).has_value()) << status;
  }
  // Only an ok result may carry a value.
  EXPECT_FALSE(decode_result(Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(decode_result(Bytes{2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'x'}).has_value());
  EXPECT_FALSE(decode_result(Bytes{3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'x'}).has_value());
  // Truncated and trailing. Cut right after the sequence, it is a distinct,
  // well-formed result (ok, no value); any other cut fails.
  const Bytes b = encode_result({ResultStatus::ok, "value", 42});
  for (size_t n = 0; n < b.size(); ++n) {
    auto r = decode_result(ByteView(b.data(), n));
    if (n == 9) {
      EXPECT_EQ(r, (Result{ResultStatus::ok, std::nullopt, 42}));
    } else {
      EXPECT_FALSE(r.has_value()) << n;
    }
  }
  Bytes longer = b;
  longer.push_back('!');
  EXPECT_FALSE(decode_result(longer).has_value());
  // Over-long value.
  Bytes big{0, 0, 0, 0, 0, 0, 0, 0, 0};
  put_u32(big, static_cast<uint32_t>(value_bytes_max + 1));
  big.resize(big.size() + value_bytes_max + 1, 'v');
  EXPECT_FALSE(decode_result(big).has_value());
}

}  // namespace
}  // namespace pbft::kv

namespace pbft::kv {
namespace {

Operation sample_range() {
  Operation op{OpKind::range, "a", "", "id-r"};
  op.range_end = "b";
  op.limit = 10;
  return op;
}

Operation sample_cas(std::optional<std::string> expected) {
  Operation op{OpKind::cas, "k", "new"};
  op.expected = std::move(expected);
  return op;
}

Operation sample_txn() {
  Operation op{OpKind::txn, "", "", "id-t"};
  op.compares = {{CompareTarget::value, "a", "1", 0},
                 {CompareTarget::absent, "b", "", 0},
                 {CompareTarget::revision, "c", "", 42}};
  op.success = {{OpKind::put, "a", "2"}, {OpKind::del, "b", ""}, {OpKind::get, "c", ""}};
  op.failure = {{OpKind::get, "a", ""}};
  return op;
}

TEST(Operation, NewKindsRoundTrip) {
  const Operation ops[] = {sample_range(), sample_cas(std::nullopt), sample_cas(""), sample_cas("old"), sample_txn(),
                           Operation{OpKind::txn, "", ""}};
  for (const Operation& op : ops) {
    const Bytes b = encode_operation(op);
    auto back = decode_operation(b);
    ASSERT_TRUE(back.has_value()) << static_cast<int>(op.kind);
    EXPECT_EQ(*back, op);
    EXPECT_EQ(encode_operation(*back), b);
    // Every truncation and any trailing byte is malformed.
    for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(decode_operation(ByteView(b.data(), n)).has_value()) << n;
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(decode_operation(longer).has_value());
  }
  // cas absent vs cas expecting the empty value differ on the wire.
  EXPECT_NE(encode_operation(sample_cas(std::nullopt)), encode_operation(sample_cas("")));
}

TEST(Operation, NewKindsAreStrict) {
  // A range limit of 0 or above the bound.
  for (uint32_t limit : {0u, range_limit_max + 1}) {
    Operation op = sample_range();
    op.limit = limit;
    EXPECT_FALSE(decode_operation(encode_operation(op)).has_value()) << limit;
  }
  // cas: the expect flag is 0 or 1.
  Bytes cas = encode_operation(sample_cas(std::nullopt));
  const size_t flag_at = 1 + 4 + 4 + 1;  // kind, empty request id, key "k"
  ASSERT_EQ(cas[flag_at], 0);
  cas[flag_at] = 2;
  EXPECT_FALSE(decode_operation(cas).has_value());
  // A transaction holds get, put and del only, and valid compare targets.
  // kind, empty request id, 0 compares, 1 success op of kind range (4), key "", 0 failure ops
  Bytes nested{6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(decode_operation(nested).has_value());
  nested[13] = 1;  // a get: fine
  EXPECT_TRUE(decode_operation(nested).has_value());
  Bytes bad_compare{6, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(decode_operation(bad_compare).has_value());
  bad_compare[9] = 2;  // absent
  EXPECT_TRUE(decode_operation(bad_compare).has_value());
  // Counts over the bounds.
  Bytes many{6, 0, 0, 0, 0};
  put_u32(many, txn_compares_max + 1);
  EXPECT_FALSE(decode_operation(many).has_value());
}

TEST(Result, NewFormsRoundTrip) {
  Result record{ResultStatus::ok, "v", 7, ResultForm::record};
  record.revision = 5;
  Result absent{ResultStatus::not_found, std::nullopt, 7, ResultForm::record};
  Result failed{ResultStatus::compare_failed, "cur", 7, ResultForm::record};
  failed.revision = 3;
  Result range{ResultStatus::ok, std::nullopt, 7, ResultForm::range};
  range.entries = {{"a", "1", 2}, {"b", "", 3}};
  range.next = "c";
  Result empty_range{ResultStatus::ok, std::nullopt, 7, ResultForm::range};
  Result txn{ResultStatus::ok, std::nullopt, 7, ResultForm::txn};
  txn.succeeded = true;
  txn.responses = {Result{ResultStatus::ok, std::nullopt, 7}, record, absent};
  Result too_large{ResultStatus::too_large, std::nullopt, 7, ResultForm::txn};
  for (const Result& r : {record, absent, failed, range, empty_range, txn, too_large}) {
    const Bytes b = encode_result(r);
    auto back = decode_result(b);
    ASSERT_TRUE(back.has_value()) << static_cast<int>(r.form);
    EXPECT_EQ(*back, r);
    for (size_t n = 0; n < b.size(); ++n) {
      auto cut = decode_result(ByteView(b.data(), n));
      // A plain result cut right after the sequence is itself well formed.
      if (cut) {
        EXPECT_EQ(encode_result(*cut), Bytes(b.begin(), b.begin() + static_cast<long>(n)));
      }
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(decode_result(longer).has_value());
  }
  // The form is in the high nibble of the first byte.
  EXPECT_EQ(encode_result(record)[0], 0x10);
  EXPECT_EQ(encode_result(failed)[0], 0x14);
  EXPECT_EQ(encode_result(range)[0], 0x20);
  // A get's answer in plain form (as older replies caches hold it) still decodes.
  EXPECT_EQ(decode_result(encode_result({ResultStatus::ok, "v", 1}))->value, "v");
}

TEST(Result, ATransactionDoesNotNestRangesOrTransactions) {
  Result txn{ResultStatus::ok, std::nullopt, 7, ResultForm::txn};
  Bytes b = encode_result(txn);  // succeeded 0, count 0
  const Bytes inner = encode_result(Result{ResultStatus::ok, std::nullopt, 7, ResultForm::range});
  b[b.size() - 4] = 1;
  put_u32(b, static_cast<uint32_t>(inner.size()));
  b.insert(b.end(), inner.begin(), inner.end());
  EXPECT_FALSE(decode_result(b).has_value());
  // The same with a record inside is fine.
  Bytes ok = encode_result(txn);
  const Bytes rec = encode_result(Result{ResultStatus::ok, std::nullopt, 7, ResultForm::record});
  ok[ok.size() - 4] = 1;
  put_u32(ok, static_cast<uint32_t>(rec.size()));
  ok.insert(ok.end(), rec.begin(), rec.end());
  EXPECT_TRUE(decode_result(ok).has_value());
}

}  // namespace
}  // namespace pbft::kv
