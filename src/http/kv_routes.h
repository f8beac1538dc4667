// The key-value routes beyond the seed's set and get (docs/API.md):
//
//   DELETE /api/v1/kv?key=K                          -> 200 {"request_id", "operation_sequence", "key", "deleted"}
//   GET    /api/v1/kv/range?prefix=P | start=A&end=B  [&limit=N][&token=T]
//                                                    -> 200 {"request_id", "operation_sequence", "entries":
//                                                            [{"key", "value", "revision"}], "more", "token"}
//   POST   /api/v1/kv/cas  {"key", "value", "expected": V | null}
//                                                    -> 200 {"request_id", "operation_sequence", "key",
//                                                            "succeeded", "value", "revision"}
//   POST   /api/v1/kv/txn  {"compare": [...], "success": [...], "failure": [...]}
//                                                    -> 200 {"request_id", "operation_sequence", "succeeded",
//                                                            "results": [...]}
//
// All go through consensus; the `request-id` header makes each idempotent.
// Errors follow the seed routes: 400 malformed input, 413 over a limit,
// 405 wrong method, 409 request-id reused for another operation.
#pragma once

#include <string_view>

#include "http/api.h"

namespace pbft::http {

inline constexpr uint32_t range_limit_default = 100;

// Answers `request` when `path` is one of the routes above (including the
// DELETE on /api/v1/kv, see handle_delete) and returns true; false otherwise.
bool route_kv_ops(const Request& request, std::string_view path, std::string_view query, KvBackend& backend,
                  const ApiLimits& limits, const Respond& respond);
void handle_delete(const Request& request, std::string_view query, KvBackend& backend, const ApiLimits& limits,
                   const Respond& respond);

// The continuation token of a range page: the key the next page starts
// at, hex-encoded. Decoding fails (nullopt) on anything else.
std::string encode_range_token(const std::string& next_key);
std::optional<std::string> decode_range_token(std::string_view token);

}  // namespace pbft::http
