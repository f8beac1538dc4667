// Encoding of key-value operations and their results. All integers are
// little-endian; every string is u32-length-prefixed.
//
// Operation: u8 kind (1 get, 2 put, 3 del), the request id (0..64 bytes;
// empty means none), the key, and for put only the value.
//
// Result: u8 status (0 ok, 1 not found, 2 bad operation, 3 conflict), u64
// sequence (the sequence number at which the operation took effect; for a
// retried request id, that of its first execution), then, only for an ok
// result carrying a value (a get that found its key), the value.
//
// Request ids make retries idempotent (see KvStore::apply): a retry with the
// same id and the same operation gets the first answer, byte for byte;
// the same id with a different operation gets `conflict`.
//
// Decoding is strict: decode(b) succeeds only when b == encode(decode(b)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/types.h"

namespace pbft::kv {

inline constexpr size_t key_bytes_max = 64u << 10;
inline constexpr size_t value_bytes_max = 1u << 20;
inline constexpr size_t request_id_bytes_max = 64;

enum class OpKind : uint8_t { get = 1, put = 2, del = 3 };

// Field order keeps {kind, key, value} aggregate initialisation working;
// the wire order differs (see above).
struct Operation {
  OpKind kind = OpKind::get;
  std::string key;
  std::string value;       // put only
  std::string request_id;  // empty: none
  bool operator==(const Operation&) const = default;
};

enum class ResultStatus : uint8_t { ok = 0, not_found = 1, bad_operation = 2, conflict = 3 };

struct Result {
  ResultStatus status = ResultStatus::ok;
  std::optional<std::string> value;  // get: the value when found; otherwise none
  uint64_t sequence = 0;             // where the operation took effect
  bool operator==(const Result&) const = default;
};

Bytes encode_operation(const Operation& op);
std::optional<Operation> decode_operation(ByteView bytes);
Bytes encode_result(const Result& r);
std::optional<Result> decode_result(ByteView bytes);

// 64-bit FNV-1a over the encoding of `op` with its request id cleared: what
// a request id is bound to. Deterministic on every platform.
uint64_t operation_fingerprint(const Operation& op);

}  // namespace pbft::kv
