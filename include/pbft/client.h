// pbft-kv's verifying client library: answers are believed only when f+1
// replicas signed them, never on the word of the replica that passes them on.
//
// What it does: talks to the replicas' HTTP API (docs/API.md) with
// `proof=1` and its own fresh request id per call; checks every reply
// certificate itself against the replicas' public keys (f+1 distinct
// replicas, valid Ed25519 signatures, the certified operation is exactly
// the one it sent, request id included) and returns the certified result,
// not the gateway's JSON. An endpoint that cannot be reached, answers
// 503/504 or gives an answer whose certificate does not verify is skipped
// and the same request (same request id, so it runs at most once) goes to
// the next; when none gives a verified answer the call throws ClientError
// with every endpoint's reason.
//
// What it does not do yet: speak the replicas' binary protocol (requests
// are signed by the gateway of the replica it talks to, with that replica's
// key, not with a key of the client's own); the read-only fast path (2f+1
// matching replies without ordering); range, cas and transactions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pbft {

struct ClientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ClientOptions {
  std::vector<std::string> endpoints;               // "host:port" of replicas' HTTP API, tried in order
  std::vector<std::array<uint8_t, 32>> replica_keys;  // Ed25519 public keys, index = replica id
  uint32_t timeout_ms = 15000;                      // per endpoint and attempt
};

class VerifiedClient {
 public:
  // Throws ClientError on an empty endpoint list or key list, or a bad endpoint.
  explicit VerifiedClient(ClientOptions options);

  // Sets key to value; returns the sequence number where it took effect.
  uint64_t put(const std::string& key, const std::string& value);
  // The key's value (nullopt when absent), read through consensus.
  std::optional<std::string> get(const std::string& key);
  // Deletes key; true when it was there.
  bool del(const std::string& key);

 private:
  ClientOptions options_;
};

}  // namespace pbft
