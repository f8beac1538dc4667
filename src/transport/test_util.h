// Helpers shared by the transport tests: deterministic replica keys, raw
// records, sample messages and an io_context loop with a deadline.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "crypto/sodium_crypto.h"
#include "transport/stream_format.h"
#include "wire/codec.h"

namespace pbft::transport::testing {

inline crypto::KeyPair replica_key(ReplicaId r) {
  std::array<uint8_t, crypto::seed_size> seed{};
  seed[0] = 0x7e;
  seed[1] = static_cast<uint8_t>(r);
  return crypto::key_pair_from_seed(seed);
}

inline std::unique_ptr<crypto::SodiumCrypto> replica_crypto(ReplicaId self, uint32_t n) {
  crypto::Keyring k;
  k.self = replica_key(self);
  k.self_is_replica = true;
  k.self_id = self;
  for (ReplicaId r = 0; r < n; ++r) k.replicas.push_back(replica_key(r).public_key);
  return std::make_unique<crypto::SodiumCrypto>(std::move(k));
}

// sender id | frame | MAC, as `sender` would put it on the stream to `to`,
// with the MAC made by `mac_by` (normally the sender's own crypto).
inline Bytes wire_record(ReplicaId sender, ReplicaId to, const Bytes& frame,
                         const crypto::Crypto& mac_by) {
  Bytes out = make_record(sender, frame);
  const Mac mac = mac_by.mac(to, out);
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

inline Digest digest_of(uint64_t v) {
  Digest d;
  for (size_t i = 0; i < 8; ++i) d.bytes[i] = static_cast<uint8_t>(v >> (8 * i));
  return d;
}

// A message of a type that depends on i, its content tagged with (tag, i).
inline wire::Message sample_message(uint64_t tag, uint64_t i) {
  switch (i % 5) {
    case 0:
      return wire::Commit{tag, i, digest_of(tag * 1000 + i), static_cast<ReplicaId>(tag)};
    case 1: {
      wire::Prepare p{tag, i, digest_of(i), static_cast<ReplicaId>(tag), {}};
      p.sig[0] = static_cast<uint8_t>(i);
      return p;
    }
    case 2: {
      wire::Request r;
      r.client = tag;
      r.timestamp = i;
      r.operation = Bytes(i % 300, static_cast<uint8_t>(i));
      return r;
    }
    case 3: {
      wire::Status s;
      s.replica = static_cast<ReplicaId>(tag);
      s.view = i;
      s.last_executed = i * 2;
      s.slot_flags = {1, 2, 4, static_cast<uint8_t>(i)};
      return s;
    }
    default:
      return wire::Checkpoint{i, digest_of(tag + i), static_cast<ReplicaId>(tag), {}};
  }
}

// A request whose operation is `size` bytes of a pattern.
inline wire::Message large_request(uint64_t tag, size_t size) {
  wire::Request r;
  r.client = tag;
  r.timestamp = 424242;
  r.operation.resize(size);
  for (size_t i = 0; i < size; ++i) r.operation[i] = static_cast<uint8_t>(i * 31 + tag);
  return r;
}

// Runs the io_context until done() holds or the timeout passes.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs the io_context for a while, whatever happens.
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
}

}  // namespace pbft::transport::testing
