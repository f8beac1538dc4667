// The replicated state as records: byte-string keys and values, one record
// per user key and one per remembered request id. The record is the unit
// that is hashed into a bucket's digest and shipped in state transfer.
//
//   data record     key 'k' + user key     value: format byte; format 1: u64 LE
//                                                 revision (the sequence of the key's
//                                                 last change), then the user value;
//                                                 format 0 (written before revisions):
//                                                 the user value, revision 0
//   request record  key 'r' + request id   value: u64 seq, u64 fingerprint (both
//                                                 little-endian), the encoded result
//
// New writes use format 1; format 0 records stay valid and keep hashing to
// what they did.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "kv/operation.h"

namespace pbft::kv {

inline constexpr char data_record_tag = 'k';
inline constexpr char request_record_tag = 'r';
inline constexpr uint8_t data_format_plain = 0;
inline constexpr uint8_t data_format_revision = 1;

inline constexpr size_t record_key_bytes_max = 1 + key_bytes_max;
inline constexpr size_t record_value_bytes_max =
    (1 + 8 + value_bytes_max > 16 + result_bytes_max) ? 1 + 8 + value_bytes_max : 16 + result_bytes_max;

std::string data_record_key(std::string_view user_key);
std::string request_record_key(std::string_view request_id);

// Format 0 (no revision); what records written before revisions hold.
std::string encode_data_value(std::string_view value);
// Format 1: the value and its revision.
std::string encode_data_value(std::string_view value, uint64_t revision);
// The user value; nullopt for an unknown format or an over-long value.
std::optional<std::string> decode_data_value(std::string_view record_value);

struct DataValue {
  std::string value;
  uint64_t revision = 0;  // 0 for a format 0 record
};
std::optional<DataValue> decode_data_record(std::string_view record_value);

// What the idempotency table remembers of one request id.
struct RequestEntry {
  Seq seq = 0;
  uint64_t fingerprint = 0;
  Bytes result;  // the encoded first answer
  bool operator==(const RequestEntry&) const = default;
};

std::string encode_request_entry(const RequestEntry& entry);
// Only what apply() remembers: a well-formed result of an execution at the
// entry's own sequence (never bad_operation or conflict).
std::optional<RequestEntry> decode_request_entry(std::string_view record_value);

// A record that apply() could have written: a known tag, bounded key, and a
// value that decodes. State transfer admits nothing else.
bool valid_record(std::string_view key, std::string_view value);

}  // namespace pbft::kv
