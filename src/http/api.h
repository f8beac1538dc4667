// The HTTP/JSON API of pbft-kv (the seed project's contract):
//
//   POST /api/v1/kv          {"key": K, "value": V}  -> 200 KvResult
//   GET  /api/v1/kv?key=K                            -> 200 KvResult ("value": null when absent)
//   GET  /api/v1/kv/local?key=K                      -> 200 {"key": K, "value": V|null}
//   GET  /api/v1/pbft/state                          -> 200 the replica's state (backend.state())
//   GET  /api/v1/health                              -> 200 Ok
//
// More routes (DELETE /api/v1/kv, /api/v1/kv/range, /api/v1/kv/cas,
// /api/v1/kv/txn) are in kv_routes.h; docs/API.md describes them all.
//
// KvResult is {"request_id", "operation_sequence", "key", "value"}; a read
// adds "revision" (the sequence of the key's last change, null when
// absent). The
// optional `request-id` header (a UUID) makes a write or ordered read
// idempotent: a retry with the same id gets the first answer. Without it
// the backend makes up a fresh id.
//
// Errors are {"error": "..."} with: 400 malformed JSON, missing or mistyped
// fields, an invalid request-id, a missing or empty key; 413 key or value
// over its limit; 404 unknown path; 405 known path, wrong method (with an
// Allow header); and whatever status the backend reports (503 with
// Retry-After when no quorum is reachable, 504 when not committed in time).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "http/server.h"
#include "http/reply_certificate.h"
#include "kv/operation.h"

namespace pbft::http {

struct KvResult {
  std::string request_id;
  uint64_t operation_sequence = 0;
  std::string key;
  std::optional<std::string> value;
  std::optional<uint64_t> revision;  // reads: sent as "revision" (null when absent)
  // Reads: "ordered" or "fast" (header pbft-read-path). A fast answer has
  // no operation_sequence (sent as null).
  std::optional<std::string> read_path;
};

struct ApiError {
  unsigned status = 500;
  std::string message;
  uint32_t retry_after_s = 0;  // sent as Retry-After when non-zero
};

using KvOutcome = std::variant<KvResult, ApiError>;
using KvDone = std::function<void(KvOutcome)>;

// The answer to any operation: the request id the client sent (or the
// backend made up) and the cluster's result.
struct OpReply {
  std::string request_id;
  kv::Result result;
  std::optional<ReplyCertificate> proof;  // when asked for (execute_with_proof)
  bool fast = false;                      // answered by the read-only fast path
};
using OpOutcome = std::variant<OpReply, ApiError>;
using OpDone = std::function<void(OpOutcome)>;

// What the API needs from the node. Calls come from the io thread; `done`
// must be called exactly once, on the io thread.
class KvBackend {
 public:
  virtual ~KvBackend() = default;
  // request_id is empty when the client sent none.
  virtual void put(std::string request_id, std::string key, std::string value, KvDone done) = 0;
  virtual void get(std::string request_id, std::string key, KvDone done) = 0;
  virtual std::optional<std::string> get_local(const std::string& key) = 0;
  // A read through the read-only fast path (2f+1 matching answers from the
  // replicas' current state), ordered when that fails.
  virtual void get_fast(std::string key, KvDone done) {
    (void)key;
    done(ApiError{501, "fast reads are not supported by this backend"});
  }
  // Any operation, ordered through consensus (op.request_id: the client's,
  // empty when it sent none). Only conflict, bad_operation and too_large
  // results come back as errors; compare_failed is an answer.
  virtual void execute(kv::Operation op, OpDone done) {
    (void)op;
    done(ApiError{501, "not supported by this backend"});
  }
  // As execute, with the answer's reply certificate (OpReply::proof): f+1
  // replies signed by distinct replicas.
  virtual void execute_with_proof(kv::Operation op, OpDone done) {
    (void)op;
    done(ApiError{501, "reply certificates are not supported by this backend"});
  }
  // The JSON object for /api/v1/pbft/state, serialized.
  virtual std::string state_json() = 0;
};

struct ApiLimits {
  uint64_t key_bytes_max = 64u << 10;
  uint64_t value_bytes_max = 1u << 20;
};

// Whether the request asks for a reply certificate: query parameter
// `proof` (1/true or 0/false) or header `pbft-proof` (the same values).
// nullopt, with `error` set, on any other value.
std::optional<bool> wants_proof(const Request& request, std::string_view query, std::string& error);

// True for a canonical textual UUID (8-4-4-4-12 hex digits, any case).
bool is_valid_request_id(const std::string& id);

// Routes one request. A plain function: everything it needs comes in.
void handle_api(const Request& request, KvBackend& backend, const ApiLimits& limits,
                Respond respond);

}  // namespace pbft::http
