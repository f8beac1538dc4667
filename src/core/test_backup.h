// For unit tests of single rules: replica 1 (a backup in view 0) of a
// cluster of Config::replica_count with fake crypto under `secret`, its
// start-up output taken. Tests play the peers by hand.
#pragma once

#include <cstdint>

#include "core/replica.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"

namespace pbft::core::testing {

struct TestBackup {
  explicit TestBackup(uint64_t secret, Config c = {})
      : config(c), crypto(secret, crypto::Principal::replica(1)), replica(c, 1, crypto, kv) {
    (void)replica.take_output();
  }
  // n ticks; their output is dropped.
  void ticks(uint32_t n) { (void)ticks_collecting(n); }
  // n ticks; what they sent is kept.
  Output ticks_collecting(uint32_t n) {
    Output all;
    for (uint32_t t = 0; t < n; ++t) {
      replica.tick();
      for (Send& s : replica.take_output().sends) all.sends.push_back(std::move(s));
    }
    return all;
  }
  Config config;
  crypto::FakeCrypto crypto;
  kv::MapStore kv;
  Replica replica;
};

}  // namespace pbft::core::testing
