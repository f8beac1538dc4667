// pbft-kv's verifying client library: answers are believed only when f+1
// replicas signed them, never on the word of the replica that passes them on.
//
// Two ways to reach the cluster, both verified:
//
// The binary protocol (ClientOptions::identity set): the client talks to
// every replica's client port itself, signs its requests with its own key
// (listed in the replicas' [[clients]]), sends each request to every
// replica (the backups watch the primary for it, and replace a primary
// that leaves it waiting), again on retry, and believes an answer only on
// f+1 matching replies each authenticated by its replica (all n for a fast
// read): by a MAC under a key only that replica and this client derive
// from their key pairs, or with signed_replies, by its signature.
// Exactly once through (client id, timestamp). See docs/API.md, "Binary
// protocol".
//
// The HTTP API (no identity): talks to the replicas' HTTP API (docs/API.md) with
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
// Every operation of the HTTP API is here: put, get, del, range and prefix
// scans with continuation, compare-and-swap and transactions; each returns
// what the certificate proves, revisions and sequence numbers included.
//
// Over HTTP, requests are signed by the gateway of the replica it talks
// to, with that replica's key: a faulty gateway can leave a request
// unsent, never forge its answer.
//
// Not thread-safe: one call at a time per VerifiedClient.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pbft {

namespace client {
class NativeRunner;
}
namespace kv {
struct Operation;
struct Result;
}  // namespace kv

struct ClientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Who the client is on the binary protocol.
struct ClientIdentity {
  uint64_t id = 0;                         // 1..2^32-1, listed in every replica's [[clients]]
  std::array<uint8_t, 32> seed{};          // its Ed25519 key (the key file's 32-byte seed)
};

struct ClientOptions {
  // Without identity: "host:port" of replicas' HTTP API, tried in order.
  // With identity: "host:port" of every replica's client port, index =
  // replica id.
  std::vector<std::string> endpoints;
  std::vector<std::array<uint8_t, 32>> replica_keys;  // Ed25519 public keys, index = replica id
  uint32_t timeout_ms = 15000;                      // HTTP: per endpoint and attempt; binary: per call
  std::optional<ClientIdentity> identity;           // set: the binary protocol
  uint64_t cluster_id = 1;                          // binary protocol: the cluster's id
  uint32_t retry_ms = 1000;                         // binary protocol: resend to every replica after
  uint32_t fast_fallback_ms = 200;                  // binary protocol: a fast read is ordered after
  // Binary protocol: count only replies each replica signed (transferable
  // proof, but a signature per reply at each replica and a check per reply
  // here). By default a reply counts on its MAC under a key only that
  // replica and this client share: as sure for this client, far cheaper.
  bool signed_replies = false;
};

// A key with its value and revision (the sequence number of its last change).
struct KeyValue {
  std::string key;
  std::string value;
  uint64_t revision = 0;
  bool operator==(const KeyValue&) const = default;
};

// One page of a range, in key order. `next` is where the following page
// starts (pass it as `start` with the same end), nullopt on the last page.
struct RangePage {
  std::vector<KeyValue> entries;
  std::optional<std::string> next;
  uint64_t sequence = 0;  // where the read was ordered
};

struct CasOutcome {
  bool succeeded = false;
  std::optional<std::string> value;  // the new value on success, the current one (nullopt: absent) otherwise
  uint64_t revision = 0;             // of that value (0: absent)
  uint64_t sequence = 0;
};

// A transaction in etcd's shape: if every compare holds, run `success`,
// otherwise `failure`; all in one step of the replicated log.
struct TxnCompare {
  enum class Kind { value_equals, absent, revision_equals } kind = Kind::absent;
  std::string key;
  std::string value;      // value_equals
  uint64_t revision = 0;  // revision_equals
};
struct TxnStep {
  enum class Kind { get, put, del } kind = Kind::get;
  std::string key;
  std::string value;  // put
};
struct Txn {
  std::vector<TxnCompare> compares;
  std::vector<TxnStep> success;
  std::vector<TxnStep> failure;
};
struct TxnStepResult {
  bool found = false;                // get: the key exists; del: it existed; put: true
  std::optional<std::string> value;  // get only
  uint64_t revision = 0;             // get only
};
struct TxnOutcome {
  bool succeeded = false;              // whether the compares held
  std::vector<TxnStepResult> results;  // one per step of the branch that ran
  uint64_t sequence = 0;
};

class VerifiedClient {
 public:
  // Throws ClientError on an empty endpoint list or key list, or a bad
  // endpoint (binary protocol: one per replica key, and a client id).
  explicit VerifiedClient(ClientOptions options);
  ~VerifiedClient();
  VerifiedClient(VerifiedClient&&) noexcept;
  VerifiedClient& operator=(VerifiedClient&&) noexcept;

  // Sets key to value; returns the sequence number where it took effect.
  uint64_t put(const std::string& key, const std::string& value);
  // The key's value (nullopt when absent), read through consensus.
  std::optional<std::string> get(const std::string& key);
  // Deletes key; true when it was there.
  bool del(const std::string& key);
  // The key with its revision (nullopt when absent), read through consensus.
  std::optional<KeyValue> get_entry(const std::string& key);
  // The same through the read-only fast path when every replica signs the
  // same answer, ordered otherwise; `fast` (when given) says which it was.
  // Binary protocol only (throws ClientError over HTTP).
  std::optional<KeyValue> get_fast(const std::string& key, bool* fast = nullptr);

  // Keys k with start <= k < end (empty end: no end), at most `limit` (1..1000).
  RangePage range(const std::string& start, const std::string& end, uint32_t limit = 100);
  // Keys starting with prefix; continue with `after` = the previous page's next.
  RangePage scan_prefix(const std::string& prefix, uint32_t limit = 100,
                        const std::optional<std::string>& after = std::nullopt);
  // Sets key to value if its current value is `expected` (nullopt: if absent).
  CasOutcome cas(const std::string& key, const std::optional<std::string>& expected, const std::string& value);
  // Throws ClientError when the cluster refuses it (too many steps, answer too large).
  TxnOutcome txn(const Txn& txn);

 private:
  struct HttpForm {
    std::string method, target, body;
  };
  // Runs `op` through the binary protocol or the HTTP API; the certified
  // result. fast: the fast path first (binary protocol); was_fast: whether
  // it answered.
  kv::Result run(kv::Operation op, const HttpForm& http, bool fast = false, bool* was_fast = nullptr);

  ClientOptions options_;
  std::unique_ptr<client::NativeRunner> native_;  // binary protocol
};

}  // namespace pbft
