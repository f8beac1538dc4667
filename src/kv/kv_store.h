// The deterministic key-value state machine: an ordered map from key to
// value, plus a bounded idempotency table of request ids. Operations arrive
// encoded (see operation.h).
//
// Idempotency: an operation with a non-empty request id that was seen
// before is not executed again. If it is the same operation (same
// fingerprint, see operation_fingerprint()), apply() returns the stored
// result bytes of its first execution, unchanged (same sequence, same
// value); otherwise it returns `conflict` at the current sequence. Either
// way neither the data nor the table changes. The table keeps at most
// `entries_max` request ids; when full, the entry with the smallest
// (sequence, request id) is evicted. Every replica must use the same bound,
// since the table is part of the state (and of its snapshot).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/state_machine.h"
#include "kv/operation.h"

namespace pbft::kv {

inline constexpr size_t idempotency_entries_max = 100000;

class KvStore final : public core::StateMachine {
 public:
  explicit KvStore(size_t entries_max = idempotency_entries_max) : entries_max_(entries_max) {}

  Bytes apply(Seq seq, ByteView operation) override;
  Bytes snapshot() const override;
  // Also rejects a snapshot whose idempotency table exceeds this store's bound.
  bool restore(ByteView snapshot) override;

  std::optional<std::string> get(const std::string& key) const;
  size_t size() const { return data_.size(); }
  // How many request ids the idempotency table holds, and whether it holds `id`.
  size_t idempotency_size() const { return requests_.size(); }
  bool remembers(const std::string& request_id) const { return requests_.contains(request_id); }

 private:
  struct Remembered {
    Seq seq = 0;
    uint64_t fingerprint = 0;
    Bytes result;  // the encoded first answer
  };

  Bytes execute(Seq seq, const Operation& op);
  void remember(const std::string& request_id, Remembered entry);

  size_t entries_max_;
  std::map<std::string, std::string> data_;
  std::map<std::string, Remembered> requests_;           // by request id
  std::set<std::pair<Seq, std::string>> eviction_order_;  // smallest goes first
};

}  // namespace pbft::kv
