// A key-value state machine held in a std::map whose checkpoint manifest is
// the whole state. For tests of the protocol core, where state size does not
// matter and state transfer is a matter of handing over the manifest: the
// replicated store is KvStore. No request-id idempotency; get, put and del
// only (other operations answer bad_operation).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/state_machine.h"

namespace pbft::kv {

class MapStore final : public core::StateMachine {
 public:
  Bytes apply(Seq seq, ByteView operation) override;
  // Gets only (sequence number 0 in the answer).
  std::optional<Bytes> read_only(ByteView operation) const override;
  Bytes checkpoint(Seq seq) override;
  bool restore(Seq seq, ByteView manifest) override;
  void discard_checkpoints_below(Seq) override {}

  std::optional<std::string> get(const std::string& key) const;

 private:
  std::map<std::string, std::string> data_;
};

}  // namespace pbft::kv
