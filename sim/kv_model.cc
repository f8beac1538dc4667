#include "sim/kv_model.h"

#include <optional>

namespace pbft::sim {

using kv::OpKind;
using kv::Result;
using kv::ResultForm;
using kv::ResultStatus;

std::optional<Bytes> KvModel::apply(Seq seq, ByteView operation) {
  std::optional<kv::Operation> op = kv::decode_operation(operation);
  if (!op) return kv::encode_result(Result{ResultStatus::bad_operation, std::nullopt, seq});
  if (!op->request_id.empty()) return std::nullopt;
  auto record = [&](ResultStatus status, const std::map<std::string, Value>& data, const std::string& key) {
    Result r{status, std::nullopt, seq, ResultForm::record};
    if (auto it = data.find(key); it != data.end()) {
      r.value = it->second.value;
      r.revision = it->second.revision;
    }
    return r;
  };
  Result r;
  switch (op->kind) {
    case OpKind::get:
      r = record(data_.contains(op->key) ? ResultStatus::ok : ResultStatus::not_found, data_, op->key);
      break;
    case OpKind::put:
      data_[op->key] = Value{op->value, seq};
      r = Result{ResultStatus::ok, std::nullopt, seq};
      break;
    case OpKind::del:
      r = Result{data_.erase(op->key) > 0 ? ResultStatus::ok : ResultStatus::not_found, std::nullopt, seq};
      break;
    case OpKind::range: {
      r = Result{ResultStatus::ok, std::nullopt, seq, ResultForm::range};
      size_t bytes = 0;
      for (auto it = data_.lower_bound(op->key); it != data_.end(); ++it) {
        if (!op->range_end.empty() && it->first >= op->range_end) break;
        const size_t size = 4 + it->first.size() + 4 + it->second.value.size() + 8;
        if (r.entries.size() == op->limit || (!r.entries.empty() && bytes + size > kv::range_page_bytes_max)) {
          r.next = it->first;
          break;
        }
        bytes += size;
        r.entries.push_back(kv::Entry{it->first, it->second.value, it->second.revision});
      }
      break;
    }
    case OpKind::cas: {
      auto it = data_.find(op->key);
      bool matches = op->expected ? it != data_.end() && it->second.value == *op->expected : it == data_.end();
      if (matches) {
        data_[op->key] = Value{op->value, seq};
        r = record(ResultStatus::ok, data_, op->key);
      } else {
        r = record(ResultStatus::compare_failed, data_, op->key);
      }
      break;
    }
    case OpKind::txn: {
      bool succeeded = true;
      for (const kv::Compare& c : op->compares) {
        auto it = data_.find(c.key);
        bool holds = c.target == kv::CompareTarget::value      ? it != data_.end() && it->second.value == c.value
                     : c.target == kv::CompareTarget::absent   ? it == data_.end()
                                                               : (it == data_.end() ? 0 : it->second.revision) == c.revision;
        succeeded = succeeded && holds;
      }
      std::map<std::string, Value> after = data_;
      r = Result{ResultStatus::ok, std::nullopt, seq, ResultForm::txn};
      r.succeeded = succeeded;
      for (const kv::TxnOp& t : succeeded ? op->success : op->failure) {
        if (t.kind == OpKind::get) {
          r.responses.push_back(record(after.contains(t.key) ? ResultStatus::ok : ResultStatus::not_found, after, t.key));
        } else if (t.kind == OpKind::put) {
          after[t.key] = Value{t.value, seq};
          r.responses.push_back(Result{ResultStatus::ok, std::nullopt, seq});
        } else {
          r.responses.push_back(
              Result{after.erase(t.key) > 0 ? ResultStatus::ok : ResultStatus::not_found, std::nullopt, seq});
        }
      }
      // The simulated workload stays far below the result bound.
      data_ = std::move(after);
      break;
    }
  }
  return kv::encode_result(r);
}

}  // namespace pbft::sim
