// Encoding of key-value operations and their results.
//
// Operation: u8 kind, then u32-length-prefixed key, and for put a
// u32-length-prefixed value. Result: u8 status (0 ok, 1 not found, 2 bad
// operation), then for a found value a u32-length-prefixed value.
#pragma once

#include <optional>
#include <string>

#include "common/types.h"

namespace pbft::kv {

inline constexpr size_t key_bytes_max = 64u << 10;
inline constexpr size_t value_bytes_max = 1u << 20;

enum class OpKind : uint8_t { get = 1, put = 2, del = 3 };

struct Operation {
  OpKind kind = OpKind::get;
  std::string key;
  std::string value;  // put only
  bool operator==(const Operation&) const = default;
};

enum class ResultStatus : uint8_t { ok = 0, not_found = 1, bad_operation = 2 };

struct Result {
  ResultStatus status = ResultStatus::ok;
  std::optional<std::string> value;  // get: the value when found; put/del: none
  bool operator==(const Result&) const = default;
};

Bytes encode_operation(const Operation& op);
std::optional<Operation> decode_operation(ByteView bytes);
Bytes encode_result(const Result& r);
std::optional<Result> decode_result(ByteView bytes);

}  // namespace pbft::kv
