// The deterministic key-value state machine: an ordered map from key to
// value. Operations arrive encoded (see operation.h).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/state_machine.h"

namespace pbft::kv {

class KvStore final : public core::StateMachine {
 public:
  KvStore() = default;

  Bytes apply(Seq seq, ByteView operation) override;
  Bytes snapshot() const override;
  bool restore(ByteView snapshot) override;

  std::optional<std::string> get(const std::string& key) const;
  size_t size() const { return data_.size(); }

 private:
  std::map<std::string, std::string> data_;
};

}  // namespace pbft::kv
