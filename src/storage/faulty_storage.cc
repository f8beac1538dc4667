#include "storage/faulty_storage.h"

#include <map>

namespace pbft::storage {

void FaultyStorage::write(const WriteBatch& batch, bool sync) {
  if (fail_writes_) throw StorageError("storage write failed: injected write fault");
  if (sync && fail_syncs_) throw StorageError("storage write failed: injected sync fault");
  if (sync) {
    inner_.write(batch, true);
    forget_unsynced();  // a synced batch makes every earlier one durable too
    ++syncs_;
  } else {
    WriteBatch undo = undo_for(batch);
    inner_.write(batch, false);
    undo_.push_back(std::move(undo));
  }
  ++writes_;
  bytes_written_ += batch.bytes();
}

void FaultyStorage::sync() {
  if (fail_syncs_) throw StorageError("storage sync failed: injected sync fault");
  inner_.sync();
  forget_unsynced();
  ++syncs_;
}

void FaultyStorage::crash(size_t keep) {
  while (undo_.size() > keep) {
    inner_.write(undo_.back(), false);
    undo_.pop_back();
  }
  inner_.sync();
  forget_unsynced();
}

WriteBatch FaultyStorage::undo_for(const WriteBatch& batch) const {
  // The value before the batch of every key it may change (nullopt: absent),
  // taken at its first mention: later ops of the same batch see the batch's
  // own writes, not the state to return to.
  std::map<std::string, std::optional<std::string>, std::less<>> before;
  for (const WriteOp& op : batch.ops()) {
    if (op.kind == WriteOp::Kind::del_range) {
      if (op.key >= op.value) continue;
      inner_.scan(op.key, op.value, [&](std::string_view key, std::string_view value) {
        before.try_emplace(std::string(key), std::string(value));
        return true;
      });
    } else if (!before.contains(op.key)) {
      before.emplace(op.key, inner_.get(op.key));
    }
  }
  WriteBatch undo;
  for (auto& [key, value] : before) {
    if (value) {
      undo.put(key, std::move(*value));
    } else {
      undo.del(key);
    }
  }
  return undo;
}

}  // namespace pbft::storage
