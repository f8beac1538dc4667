#include "kv/records.h"

#include <utility>

namespace pbft::kv {
namespace {

uint64_t load_u64(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[at + static_cast<size_t>(i)]);
  return v;
}

void store_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

std::string data_record_key(std::string_view user_key) {
  std::string k;
  k.reserve(1 + user_key.size());
  k.push_back(data_record_tag);
  k.append(user_key);
  return k;
}

std::string request_record_key(std::string_view request_id) {
  std::string k;
  k.reserve(1 + request_id.size());
  k.push_back(request_record_tag);
  k.append(request_id);
  return k;
}

std::string encode_data_value(std::string_view value) {
  std::string v;
  v.reserve(1 + value.size());
  v.push_back(static_cast<char>(data_format_plain));
  v.append(value);
  return v;
}

std::string encode_data_value(std::string_view value, uint64_t revision) {
  std::string v;
  v.reserve(1 + 8 + value.size());
  v.push_back(static_cast<char>(data_format_revision));
  store_u64(v, revision);
  v.append(value);
  return v;
}

std::optional<DataValue> decode_data_record(std::string_view record_value) {
  if (record_value.empty()) return std::nullopt;
  switch (static_cast<uint8_t>(record_value[0])) {
    case data_format_plain:
      if (record_value.size() - 1 > value_bytes_max) return std::nullopt;
      return DataValue{std::string(record_value.substr(1)), 0};
    case data_format_revision:
      if (record_value.size() < 9 || record_value.size() - 9 > value_bytes_max) return std::nullopt;
      return DataValue{std::string(record_value.substr(9)), load_u64(record_value, 1)};
    default:
      return std::nullopt;
  }
}

std::optional<std::string> decode_data_value(std::string_view record_value) {
  std::optional<DataValue> d = decode_data_record(record_value);
  if (!d) return std::nullopt;
  return std::move(d->value);
}

std::string encode_request_entry(const RequestEntry& entry) {
  std::string v;
  v.reserve(16 + entry.result.size());
  store_u64(v, entry.seq);
  store_u64(v, entry.fingerprint);
  v.append(entry.result.begin(), entry.result.end());
  return v;
}

std::optional<RequestEntry> decode_request_entry(std::string_view record_value) {
  if (record_value.size() < 16 || record_value.size() - 16 > result_bytes_max) return std::nullopt;
  RequestEntry e;
  e.seq = load_u64(record_value, 0);
  e.fingerprint = load_u64(record_value, 8);
  e.result.assign(record_value.begin() + 16, record_value.end());
  std::optional<Result> r = decode_result(e.result);
  if (!r || r->sequence != e.seq) return std::nullopt;
  if (r->status == ResultStatus::bad_operation || r->status == ResultStatus::conflict) return std::nullopt;
  for (const Result& sub : r->responses)
    if (sub.sequence != e.seq) return std::nullopt;
  return e;
}

bool valid_record(std::string_view key, std::string_view value) {
  if (key.empty()) return false;
  switch (key[0]) {
    case data_record_tag:
      return key.size() <= record_key_bytes_max && decode_data_value(value).has_value();
    case request_record_tag:
      return key.size() >= 2 && key.size() <= 1 + request_id_bytes_max &&
             decode_request_entry(value).has_value();
    default:
      return false;
  }
}

}  // namespace pbft::kv
