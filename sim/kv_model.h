// A reference model of the key-value operations (operation.h): a plain
// std::map, written apart from KvStore, that the linearizability checker
// replays the executed history against. If KvStore and the model disagree
// on any answer, the history the clients saw is not that of the sequential
// specification.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/types.h"
#include "kv/operation.h"

namespace pbft::sim {

class KvModel {
 public:
  // The encoded result of `operation` (encoded) executed at `seq`.
  // Operations with a request id are not modelled (the simulated clients
  // send none): nullopt.
  std::optional<Bytes> apply(Seq seq, ByteView operation);

 private:
  struct Value {
    std::string value;
    uint64_t revision = 0;
  };
  std::map<std::string, Value> data_;
};

}  // namespace pbft::sim
