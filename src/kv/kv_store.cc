#include "kv/kv_store.h"

#include <string_view>
#include <utility>

#include "common/byte_io.h"

namespace pbft::kv {
namespace {

// Snapshot: this tag (raw bytes, no length); u64 entry count, then each
// entry in increasing key order as a u32-length-prefixed key and a
// u32-length-prefixed value; then the idempotency table: u64 entry count,
// then each entry in increasing request-id order as a u32-length-prefixed
// request id, u64 sequence, u64 operation fingerprint and u32-length-prefixed
// encoded result. All integers little-endian.
constexpr std::string_view snapshot_tag = "pbft-kv/snapshot/v2";

// The longest encoded result: status, sequence, length-prefixed value.
constexpr size_t result_bytes_max = 1 + 8 + 4 + value_bytes_max;

ByteView tag_bytes() {
  return ByteView(reinterpret_cast<const uint8_t*>(snapshot_tag.data()), snapshot_tag.size());
}

}  // namespace

Bytes KvStore::apply(Seq seq, ByteView operation) {
  const std::optional<Operation> op = decode_operation(operation);
  // Malformed operations are answered but not remembered: they carry no
  // trustworthy request id.
  if (!op) return encode_result({ResultStatus::bad_operation, std::nullopt, seq});
  if (op->request_id.empty()) return execute(seq, *op);

  const uint64_t fingerprint = operation_fingerprint(*op);
  if (auto it = requests_.find(op->request_id); it != requests_.end()) {
    // A retry: the first answer, not a second execution.
    if (it->second.fingerprint == fingerprint) return it->second.result;
    return encode_result({ResultStatus::conflict, std::nullopt, seq});
  }
  Bytes result = execute(seq, *op);
  remember(op->request_id, Remembered{seq, fingerprint, result});
  return result;
}

Bytes KvStore::execute(Seq seq, const Operation& op) {
  switch (op.kind) {
    case OpKind::get: {
      auto it = data_.find(op.key);
      if (it == data_.end()) return encode_result({ResultStatus::not_found, std::nullopt, seq});
      return encode_result({ResultStatus::ok, it->second, seq});
    }
    case OpKind::put:
      data_.insert_or_assign(op.key, op.value);
      return encode_result({ResultStatus::ok, std::nullopt, seq});
    case OpKind::del:
      return encode_result(
          {data_.erase(op.key) > 0 ? ResultStatus::ok : ResultStatus::not_found, std::nullopt, seq});
  }
  // decode_operation() admits no other kind.
  PBFT_ASSERT(false, "unreachable operation kind");
  return {};
}

void KvStore::remember(const std::string& request_id, Remembered entry) {
  if (entries_max_ == 0) return;
  while (requests_.size() >= entries_max_) {
    auto oldest = eviction_order_.begin();
    PBFT_ASSERT(oldest != eviction_order_.end(), "eviction order tracks the table");
    requests_.erase(oldest->second);
    eviction_order_.erase(oldest);
  }
  eviction_order_.emplace(entry.seq, request_id);
  requests_.emplace(request_id, std::move(entry));
  PBFT_ASSERT(eviction_order_.size() == requests_.size(), "eviction order tracks the table");
}

Bytes KvStore::snapshot() const {
  size_t total = snapshot_tag.size() + 8 + 8;
  for (const auto& [k, v] : data_) total += 8 + k.size() + v.size();
  for (const auto& [id, e] : requests_) total += 4 + id.size() + 8 + 8 + 4 + e.result.size();
  Bytes out(snapshot_tag.begin(), snapshot_tag.end());
  out.reserve(total);
  byte_io::put_u64(out, data_.size());
  for (const auto& [k, v] : data_) {
    byte_io::put_string(out, k);
    byte_io::put_string(out, v);
  }
  byte_io::put_u64(out, requests_.size());
  for (const auto& [id, e] : requests_) {
    byte_io::put_string(out, id);
    byte_io::put_u64(out, e.seq);
    byte_io::put_u64(out, e.fingerprint);
    byte_io::put_bytes(out, e.result);
  }
  return out;
}

bool KvStore::restore(ByteView snapshot) {
  byte_io::Reader in(snapshot);
  if (!in.expect(tag_bytes())) return false;

  auto count = in.u64();
  if (!count) return false;
  // Every entry takes at least 8 bytes: reject absurd counts up front.
  if (*count > in.remaining() / 8) return false;
  std::map<std::string, std::string> data;
  for (uint64_t i = 0; i < *count; ++i) {
    auto key = in.string(key_bytes_max);
    if (!key) return false;
    auto value = in.string(value_bytes_max);
    if (!value) return false;
    if (!data.empty() && !(data.rbegin()->first < *key)) return false;
    data.emplace_hint(data.end(), std::move(*key), std::move(*value));
  }

  auto id_count = in.u64();
  if (!id_count) return false;
  if (*id_count > entries_max_) return false;
  // Every entry takes at least 4 + 8 + 8 + 4 bytes.
  if (*id_count > in.remaining() / 24) return false;
  std::map<std::string, Remembered> requests;
  std::set<std::pair<Seq, std::string>> eviction_order;
  for (uint64_t i = 0; i < *id_count; ++i) {
    auto id = in.string(request_id_bytes_max);
    if (!id || id->empty()) return false;
    if (!requests.empty() && !(requests.rbegin()->first < *id)) return false;
    auto seq = in.u64();
    if (!seq) return false;
    auto fingerprint = in.u64();
    if (!fingerprint) return false;
    auto result = in.bytes(result_bytes_max);
    if (!result) return false;
    // Only what apply() remembers: a well-formed result of an execution at
    // the entry's own sequence (never bad_operation or conflict).
    auto decoded = decode_result(*result);
    if (!decoded || decoded->sequence != *seq) return false;
    if (decoded->status == ResultStatus::bad_operation || decoded->status == ResultStatus::conflict)
      return false;
    eviction_order.emplace(*seq, *id);
    requests.emplace_hint(requests.end(), std::move(*id),
                          Remembered{*seq, *fingerprint, std::move(*result)});
  }
  if (!in.at_end()) return false;

  data_ = std::move(data);
  requests_ = std::move(requests);
  eviction_order_ = std::move(eviction_order);
  return true;
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pbft::kv
