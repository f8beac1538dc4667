// KvStore: what each operation does. Every answer depends only on the
// state and the operation (and the sequence it executes at), so correct
// replicas give identical answers.
#include <map>
#include <utility>

#include "common/assert.h"
#include "kv/kv_store.h"

namespace pbft::kv {
namespace {

Result record_result(ResultStatus status, Seq seq, const std::optional<DataValue>& entry) {
  Result r{status, std::nullopt, seq, ResultForm::record};
  if (entry) {
    r.value = entry->value;
    r.revision = entry->revision;
  }
  return r;
}

Result plain_result(ResultStatus status, Seq seq) { return Result{status, std::nullopt, seq}; }

bool holds(const Compare& c, const std::optional<DataValue>& current) {
  switch (c.target) {
    case CompareTarget::value:
      return current && current->value == c.value;
    case CompareTarget::absent:
      return !current;
    case CompareTarget::revision:
      return current ? current->revision == c.revision : c.revision == 0;
  }
  return false;
}

}  // namespace

std::optional<Bytes> KvStore::read_only(ByteView operation) const {
  const std::optional<Operation> op = decode_operation(operation);
  if (!op) return std::nullopt;
  if (op->kind == OpKind::get) {
    std::optional<DataValue> entry = get_entry(op->key);
    return encode_result(record_result(entry ? ResultStatus::ok : ResultStatus::not_found, 0, entry));
  }
  if (op->kind == OpKind::range) return encode_result(execute_range(0, *op));
  return std::nullopt;
}

Bytes KvStore::execute(Seq seq, const Operation& op) {
  switch (op.kind) {
    case OpKind::get: {
      std::optional<DataValue> entry = get_entry(op.key);
      return encode_result(record_result(entry ? ResultStatus::ok : ResultStatus::not_found, seq, entry));
    }
    case OpKind::put:
      put_entry(op.key, op.value, seq);
      return encode_result(plain_result(ResultStatus::ok, seq));
    case OpKind::del:
      if (!get_entry(op.key)) return encode_result(plain_result(ResultStatus::not_found, seq));
      put_entry(op.key, std::nullopt, seq);
      return encode_result(plain_result(ResultStatus::ok, seq));
    case OpKind::range:
      return encode_result(execute_range(seq, op));
    case OpKind::cas:
      return encode_result(execute_cas(seq, op));
    case OpKind::txn:
      return encode_result(execute_txn(seq, op));
  }
  // decode_operation() admits no other kind.
  PBFT_ASSERT(false, "unreachable operation kind");
  return {};
}

// Writes (or with nullopt deletes) a key's data record at revision `seq`.
void KvStore::put_entry(const std::string& key, const std::optional<std::string>& value, Seq seq) {
  const std::string record_key = data_record_key(key);
  const uint32_t bucket = bucket_of(record_key);
  std::optional<std::string> old = read_record(bucket, record_key);
  write_record(bucket, record_key, old, value ? std::optional(encode_data_value(*value, seq)) : std::nullopt);
}

Result KvStore::execute_range(Seq seq, const Operation& op) const {
  Result r{ResultStatus::ok, std::nullopt, seq, ResultForm::range};
  size_t bytes = 0;
  scan_keys(op.key, op.range_end, [&](const std::string& key) {
    if (r.entries.size() == op.limit) {
      r.next = key;
      return false;
    }
    std::optional<DataValue> entry = get_entry(key);
    PBFT_ASSERT(entry.has_value(), "the key index lists only keys present");
    const size_t size = 4 + key.size() + 4 + entry->value.size() + 8;
    if (!r.entries.empty() && bytes + size > range_page_bytes_max) {
      r.next = key;
      return false;
    }
    bytes += size;
    r.entries.push_back(Entry{key, std::move(entry->value), entry->revision});
    return true;
  });
  return r;
}

Result KvStore::execute_cas(Seq seq, const Operation& op) {
  std::optional<DataValue> current = get_entry(op.key);
  const bool matches = op.expected ? current && current->value == *op.expected : !current;
  if (!matches) return record_result(ResultStatus::compare_failed, seq, current);
  put_entry(op.key, op.value, seq);
  return record_result(ResultStatus::ok, seq, DataValue{op.value, seq});
}

// All compares are read first, then the chosen branch runs against a
// private view of its own writes; nothing is written unless the whole
// answer fits a result, so the transaction takes effect entirely or not
// at all.
Result KvStore::execute_txn(Seq seq, const Operation& op) {
  bool succeeded = true;
  for (const Compare& c : op.compares) {
    if (!holds(c, get_entry(c.key))) {
      succeeded = false;
      break;
    }
  }
  Result r{ResultStatus::ok, std::nullopt, seq, ResultForm::txn};
  r.succeeded = succeeded;
  std::map<std::string, std::optional<DataValue>> writes;  // key -> what it becomes
  auto current = [&](const std::string& key) {
    auto it = writes.find(key);
    return it != writes.end() ? it->second : get_entry(key);
  };
  size_t bytes = 1 + 8 + 1 + 4;
  for (const TxnOp& t : succeeded ? op.success : op.failure) {
    Result sub;
    switch (t.kind) {
      case OpKind::get: {
        std::optional<DataValue> entry = current(t.key);
        sub = record_result(entry ? ResultStatus::ok : ResultStatus::not_found, seq, entry);
        break;
      }
      case OpKind::put:
        writes[t.key] = DataValue{t.value, seq};
        sub = plain_result(ResultStatus::ok, seq);
        break;
      case OpKind::del:
        if (current(t.key)) {
          writes[t.key] = std::nullopt;
          sub = plain_result(ResultStatus::ok, seq);
        } else {
          sub = plain_result(ResultStatus::not_found, seq);
        }
        break;
      default:
        PBFT_ASSERT(false, "decode_operation() admits get, put and del in a transaction");
    }
    bytes += 4 + 1 + 8 + 1 + (sub.value ? 4 + sub.value->size() : 0) + 8;
    r.responses.push_back(std::move(sub));
  }
  if (bytes > result_bytes_max) {
    Result too_large{ResultStatus::too_large, std::nullopt, seq, ResultForm::txn};
    too_large.succeeded = succeeded;
    return too_large;
  }
  for (const auto& [key, entry] : writes)
    put_entry(key, entry ? std::optional(entry->value) : std::nullopt, seq);
  return r;
}

}  // namespace pbft::kv
