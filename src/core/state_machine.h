// The replicated application as the core sees it. It must be deterministic:
// the same operations in the same order give the same results and the same
// snapshot on every replica, whatever the machine, clock or thread.
#pragma once

#include <cstdint>

#include "common/types.h"

namespace pbft::core {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies one client operation, ordered at `seq`. Malformed operations
  // are not errors of the protocol: they produce an error result, the same
  // on every replica.
  virtual Bytes apply(Seq seq, ByteView operation) = 0;

  // The whole application state as canonical bytes (equal states give equal
  // bytes), and back. restore() must reject bytes that do not decode
  // (return false) and then leave the state unchanged.
  virtual Bytes snapshot() const = 0;
  virtual bool restore(ByteView snapshot) = 0;
};

}  // namespace pbft::core
