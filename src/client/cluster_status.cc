#include "client/cluster_status.h"

#include <algorithm>
#include <sstream>

namespace pbft::client {

ReplicaStatus status_from_answers(const Endpoint& endpoint, const std::string& state_body,
                                  unsigned ready_status, const std::string& ready_body) {
  ReplicaStatus s;
  s.endpoint = endpoint;
  s.reachable = true;
  const auto state = nlohmann::json::parse(state_body, nullptr, false);
  try {
    if (!state.is_object()) throw std::runtime_error("not a JSON object");
    const auto& rs = state.at("replica_state");
    if (rs.is_object() && rs.contains("Leader")) s.role = "primary";
    else if (rs == "ViewChange") s.role = "view-change";
    else s.role = "backup";
    s.view = state.at("view").get<uint64_t>();
    s.last_executed = state.at("last_applied").get<uint64_t>();
    const auto& stable = state.at("last_stable_checkpoint_sequence");
    if (!stable.is_null()) s.stable_checkpoint = stable.get<uint64_t>();
    if (state.contains("replica_id")) s.id = state["replica_id"].get<uint64_t>();
    if (state.contains("connected_peers")) s.connected_peers = state["connected_peers"].get<uint64_t>();
  } catch (const std::exception& e) {
    s.error = std::string("unexpected /api/v1/pbft/state answer: ") + e.what();
    return s;
  }
  s.ready = ready_status == 200;
  if (!s.ready) {
    const auto ready = nlohmann::json::parse(ready_body, nullptr, false);
    if (ready.is_object() && ready.contains("error") && ready["error"].is_string()) {
      s.not_ready_reason = ready["error"].get<std::string>();
    } else {
      s.not_ready_reason = "HTTP " + std::to_string(ready_status);
    }
  }
  return s;
}

ReplicaStatus fetch_status(const Endpoint& endpoint, uint32_t timeout_ms) {
  HttpAnswer state;
  try {
    state = http_call(endpoint, "GET", "/api/v1/pbft/state", "", {}, timeout_ms);
  } catch (const HttpUnreachable& e) {
    ReplicaStatus s;
    s.endpoint = endpoint;
    s.error = e.what();
    return s;
  }
  if (state.status != 200) {
    ReplicaStatus s;
    s.endpoint = endpoint;
    s.error = "HTTP " + std::to_string(state.status);
    return s;
  }
  try {
    HttpAnswer ready = http_call(endpoint, "GET", "/api/v1/ready", "", {}, timeout_ms);
    return status_from_answers(endpoint, state.body, ready.status, ready.body);
  } catch (const HttpUnreachable& e) {
    ReplicaStatus s = status_from_answers(endpoint, state.body, 0, "");
    s.not_ready_reason = std::string("/api/v1/ready: ") + e.what();
    return s;
  }
}

std::string format_status_table(const std::vector<ReplicaStatus>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"REPLICA", "ENDPOINT", "ROLE", "VIEW", "EXECUTED", "CHECKPOINT", "PEERS", "REACHABLE",
                   "READY"});
  size_t reachable = 0, ready = 0;
  for (const ReplicaStatus& r : rows) {
    if (!r.reachable) {
      cells.push_back({"?", r.endpoint.name(), "-", "-", "-", "-", "-", "no (" + r.error + ")", "-"});
      continue;
    }
    ++reachable;
    if (r.ready) ++ready;
    cells.push_back({r.id ? std::to_string(*r.id) : "?", r.endpoint.name(), r.error.empty() ? r.role : "?",
                     std::to_string(r.view), std::to_string(r.last_executed),
                     r.stable_checkpoint ? std::to_string(*r.stable_checkpoint) : "-",
                     std::to_string(r.connected_peers), r.error.empty() ? "yes" : "yes (" + r.error + ")",
                     r.ready ? "yes" : "no (" + r.not_ready_reason + ")"});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
  out << reachable << " of " << rows.size() << " replicas reachable, " << ready << " ready\n";
  return out.str();
}

nlohmann::ordered_json status_json(const std::vector<ReplicaStatus>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ReplicaStatus& r : rows) {
    nlohmann::ordered_json j;
    j["endpoint"] = r.endpoint.name();
    j["reachable"] = r.reachable;
    j["error"] = r.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.error);
    if (r.reachable) {
      j["replica_id"] = r.id ? nlohmann::ordered_json(*r.id) : nlohmann::ordered_json(nullptr);
      j["role"] = r.role;
      j["view"] = r.view;
      j["last_executed"] = r.last_executed;
      j["stable_checkpoint"] =
          r.stable_checkpoint ? nlohmann::ordered_json(*r.stable_checkpoint) : nlohmann::ordered_json(nullptr);
      j["connected_peers"] = r.connected_peers;
      j["ready"] = r.ready;
      j["not_ready_reason"] =
          r.ready ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.not_ready_reason);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace pbft::client
