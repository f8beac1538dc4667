#include "kv/kv_store.h"

#include <string_view>
#include <utility>

#include "kv/byte_io.h"
#include "kv/operation.h"

namespace pbft::kv {
namespace {

// Snapshot: this tag (raw bytes, no length), u64 entry count, then each
// entry in increasing key order as a u32-length-prefixed key and a
// u32-length-prefixed value. All integers little-endian.
constexpr std::string_view snapshot_tag = "pbft-kv/snapshot/v1";

ByteView tag_bytes() {
  return ByteView(reinterpret_cast<const uint8_t*>(snapshot_tag.data()), snapshot_tag.size());
}

}  // namespace

Bytes KvStore::apply(Seq /*seq*/, ByteView operation) {
  const std::optional<Operation> op = decode_operation(operation);
  if (!op) return encode_result({ResultStatus::bad_operation, std::nullopt});
  switch (op->kind) {
    case OpKind::get: {
      auto it = data_.find(op->key);
      if (it == data_.end()) return encode_result({ResultStatus::not_found, std::nullopt});
      return encode_result({ResultStatus::ok, it->second});
    }
    case OpKind::put:
      data_.insert_or_assign(op->key, op->value);
      return encode_result({ResultStatus::ok, std::nullopt});
    case OpKind::del:
      return encode_result(
          {data_.erase(op->key) > 0 ? ResultStatus::ok : ResultStatus::not_found, std::nullopt});
  }
  // decode_operation() admits no other kind.
  PBFT_ASSERT(false, "unreachable operation kind");
  return {};
}

Bytes KvStore::snapshot() const {
  size_t total = snapshot_tag.size() + 8;
  for (const auto& [k, v] : data_) total += 8 + k.size() + v.size();
  Bytes out(snapshot_tag.begin(), snapshot_tag.end());
  out.reserve(total);
  detail::put_u64(out, data_.size());
  for (const auto& [k, v] : data_) {
    detail::put_string(out, k);
    detail::put_string(out, v);
  }
  return out;
}

bool KvStore::restore(ByteView snapshot) {
  detail::Reader in(snapshot);
  if (!in.expect(tag_bytes())) return false;
  auto count = in.u64();
  if (!count) return false;
  // Every entry takes at least 8 bytes: reject absurd counts up front.
  if (*count > in.remaining() / 8) return false;
  std::map<std::string, std::string> restored;
  for (uint64_t i = 0; i < *count; ++i) {
    auto key = in.string(key_bytes_max);
    if (!key) return false;
    auto value = in.string(value_bytes_max);
    if (!value) return false;
    if (!restored.empty() && !(restored.rbegin()->first < *key)) return false;
    restored.emplace_hint(restored.end(), std::move(*key), std::move(*value));
  }
  if (!in.at_end()) return false;
  data_ = std::move(restored);
  return true;
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pbft::kv
