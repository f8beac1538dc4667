// The cluster table of `kvctl status` and `kvctl watch-cluster`: one row
// per replica from its /api/v1/pbft/state and /api/v1/ready, or
// "unreachable" with the reason.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/http_client.h"

namespace pbft::client {

struct ReplicaStatus {
  Endpoint endpoint;
  bool reachable = false;
  std::string error;  // why unreachable, or what was wrong with its answer
  std::optional<uint64_t> id;
  std::string role;  // primary | backup | view-change
  uint64_t view = 0;
  uint64_t last_executed = 0;
  std::optional<uint64_t> stable_checkpoint;
  uint64_t connected_peers = 0;
  bool ready = false;
  std::string not_ready_reason;
};

// From the bodies of the two answers (pure, for tests). A state body that
// is not the expected JSON leaves the replica reachable with `error` set.
ReplicaStatus status_from_answers(const Endpoint& endpoint, const std::string& state_body,
                                  unsigned ready_status, const std::string& ready_body);

// Asks one replica (each request bounded by timeout_ms).
ReplicaStatus fetch_status(const Endpoint& endpoint, uint32_t timeout_ms);

// An aligned text table with a header line, then one summary line.
std::string format_status_table(const std::vector<ReplicaStatus>& rows);
nlohmann::ordered_json status_json(const std::vector<ReplicaStatus>& rows);

}  // namespace pbft::client
