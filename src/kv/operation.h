// Encoding of key-value operations and their results. All integers are
// little-endian; every string is u32-length-prefixed.
//
// Operation: u8 kind, the request id (0..64 bytes; empty means none), then
// by kind:
//   1 get    key
//   2 put    key, value
//   3 del    key
//   4 range  start key, end key (empty: no end), u32 limit (1..range_limit_max)
//            - the keys k with start <= k < end, in byte order
//   5 cas    key, u8 expect (0: absent, 1: present), [expected value], new value
//   6 txn    u32 count + compares, u32 count + success ops, u32 count + failure ops
//            compare: u8 target (1 value equals, 2 absent, 3 revision equals),
//                     key, then the value (1) or a u64 revision (3)
//            txn op:  u8 kind (get, put or del only), key, [value for put]
// The request id and kind fields come first for every kind, so get, put and
// del encode exactly as they always did.
//
// Result: u8 (status | form << 4), u64 sequence (where the operation took
// effect; for a retried request id, that of its first execution), then by
// form:
//   0 plain   [value] - present only for an ok result (put, del, and the
//             older get answers kept in reply caches); whether a value
//             follows is told by whether any bytes follow
//   1 record  u8 has_value, [value], u64 revision (get, cas)
//   2 range   u32 count + entries (key, value, u64 revision), u8 has_next,
//             [next key: where the following page starts]
//   3 txn     u8 succeeded, u32 count + results (each u32-length-prefixed,
//             of form plain or record)
// Statuses: 0 ok, 1 not found, 2 bad operation, 3 conflict (request id
// reused for another operation), 4 compare failed (cas), 5 too large (a
// transaction's answer would exceed result_bytes_max; nothing was written).
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
#include <vector>

#include "common/types.h"

namespace pbft::kv {

inline constexpr size_t key_bytes_max = 64u << 10;
inline constexpr size_t value_bytes_max = 1u << 20;
inline constexpr size_t request_id_bytes_max = 64;
inline constexpr uint32_t range_limit_max = 1000;
// A range page stops before an entry that would take it past this many
// encoded bytes (key, value and revision; it always holds one entry).
inline constexpr size_t range_page_bytes_max = 1u << 20;
inline constexpr uint32_t txn_compares_max = 64;
inline constexpr uint32_t txn_ops_max = 64;  // per branch
// Every encoded result fits this (the wire's reply limit is the same).
inline constexpr size_t result_bytes_max = 2u << 20;
inline constexpr size_t range_entry_bytes_max = 4 + key_bytes_max + 4 + value_bytes_max + 8;
static_assert((range_page_bytes_max > range_entry_bytes_max ? range_page_bytes_max : range_entry_bytes_max) +
                      4 + key_bytes_max + 64 < result_bytes_max,
              "a range page (or one larger entry) and its next key fit a result");

enum class OpKind : uint8_t { get = 1, put = 2, del = 3, range = 4, cas = 5, txn = 6 };

enum class CompareTarget : uint8_t { value = 1, absent = 2, revision = 3 };

struct Compare {
  CompareTarget target = CompareTarget::absent;
  std::string key;
  std::string value;      // target value
  uint64_t revision = 0;  // target revision (0: the key is absent)
  bool operator==(const Compare&) const = default;
};

// An operation inside a transaction: get, put or del.
struct TxnOp {
  OpKind kind = OpKind::get;
  std::string key;
  std::string value;  // put only
  bool operator==(const TxnOp&) const = default;
};

// Field order keeps {kind, key, value, request_id} aggregate initialisation
// working; the wire order differs (see above). Fields a kind does not use
// are not encoded and decode as their defaults.
struct Operation {
  OpKind kind = OpKind::get;
  std::string key;         // range: the start key
  std::string value;       // put, cas: the value to store
  std::string request_id;  // empty: none
  std::string range_end;   // range: exclusive end; empty: no end
  uint32_t limit = 0;      // range
  std::optional<std::string> expected;  // cas: the value required (nullopt: absence)
  std::vector<Compare> compares;        // txn
  std::vector<TxnOp> success;           // txn: when every compare holds
  std::vector<TxnOp> failure;           // txn: otherwise
  bool operator==(const Operation&) const = default;
};

enum class ResultStatus : uint8_t {
  ok = 0,
  not_found = 1,
  bad_operation = 2,
  conflict = 3,
  compare_failed = 4,
  too_large = 5,
};

enum class ResultForm : uint8_t { plain = 0, record = 1, range = 2, txn = 3 };

struct Entry {
  std::string key;
  std::string value;
  uint64_t revision = 0;
  bool operator==(const Entry&) const = default;
};

struct Result {
  ResultStatus status = ResultStatus::ok;
  // get, cas: the value (cas: the new one on success, the current one
  // otherwise); plain form: only on ok
  std::optional<std::string> value;
  uint64_t sequence = 0;  // where the operation took effect
  ResultForm form = ResultForm::plain;
  uint64_t revision = 0;              // record: the key's revision (0: absent or never recorded)
  std::vector<Entry> entries;         // range
  std::optional<std::string> next;    // range: the start key of the following page
  bool succeeded = false;             // txn: whether the compares held
  std::vector<Result> responses;      // txn: one per executed op
  bool operator==(const Result&) const = default;
};

Bytes encode_operation(const Operation& op);
std::optional<Operation> decode_operation(ByteView bytes);
Bytes encode_result(const Result& r);
std::optional<Result> decode_result(ByteView bytes);

// The end key that makes a range cover exactly the keys starting with
// `prefix`: the prefix with its last byte below 0xff incremented and what
// follows dropped; empty (no end) when there is none (all 0xff, or empty).
std::string prefix_end(const std::string& prefix);

// 64-bit FNV-1a over the encoding of `op` with its request id cleared: what
// a request id is bound to. Deterministic on every platform.
uint64_t operation_fingerprint(const Operation& op);

}  // namespace pbft::kv
