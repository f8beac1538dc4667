#include "kv/map_store.h"

#include "common/byte_io.h"
#include "kv/operation.h"

namespace pbft::kv {

Bytes MapStore::apply(Seq seq, ByteView operation) {
  std::optional<Operation> op = decode_operation(operation);
  if (!op) return encode_result({ResultStatus::bad_operation, std::nullopt, seq});
  switch (op->kind) {
    case OpKind::get: {
      auto it = data_.find(op->key);
      if (it == data_.end()) return encode_result({ResultStatus::not_found, std::nullopt, seq});
      return encode_result({ResultStatus::ok, it->second, seq});
    }
    case OpKind::put:
      data_.insert_or_assign(op->key, op->value);
      return encode_result({ResultStatus::ok, std::nullopt, seq});
    case OpKind::del:
      return encode_result({data_.erase(op->key) > 0 ? ResultStatus::ok : ResultStatus::not_found,
                            std::nullopt, seq});
    case OpKind::range:
    case OpKind::cas:
    case OpKind::txn:
      break;  // not needed by the core's tests; KvStore has them
  }
  return encode_result({ResultStatus::bad_operation, std::nullopt, seq});
}

std::optional<Bytes> MapStore::read_only(ByteView operation) const {
  std::optional<Operation> op = decode_operation(operation);
  if (!op || op->kind != OpKind::get) return std::nullopt;
  auto it = data_.find(op->key);
  if (it == data_.end()) return encode_result({ResultStatus::not_found, std::nullopt, 0});
  return encode_result({ResultStatus::ok, it->second, 0});
}

// u64 count, then length-prefixed keys and values in key order.
Bytes MapStore::checkpoint(Seq) {
  Bytes out;
  byte_io::put_u64(out, data_.size());
  for (const auto& [k, v] : data_) {
    byte_io::put_string(out, k);
    byte_io::put_string(out, v);
  }
  return out;
}

bool MapStore::restore(Seq, ByteView manifest) {
  byte_io::Reader in(manifest);
  auto count = in.u64();
  if (!count || *count > in.remaining() / 8) return false;
  std::map<std::string, std::string> data;
  for (uint64_t i = 0; i < *count; ++i) {
    auto key = in.string(key_bytes_max);
    auto value = in.string(value_bytes_max);
    if (!key || !value) return false;
    data.insert_or_assign(std::move(*key), std::move(*value));
  }
  if (!in.at_end()) return false;
  data_ = std::move(data);
  return true;
}

std::optional<std::string> MapStore::get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

}  // namespace pbft::kv
