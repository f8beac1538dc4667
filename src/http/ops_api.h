// The operator routes of a kv-node, beside the seed's KV API (api.h):
//
//   GET /                      -> 200 the dashboard (one HTML page built into the binary)
//   GET /metrics               -> 200 Prometheus text format 0.0.4
//   GET /api/v1/ready          -> 200 {"ready": true} when this replica is caught up and sees
//                                 a quorum; 503 {"ready": false, "error": reason} otherwise
//   GET /api/v1/cluster        -> 200 this replica's id and every member's HTTP address
//   GET /api/v1/pbft/slots     -> 200 the recent sequence numbers' phases and vote counts,
//                                 checkpoint votes, the view change under way, recent events
//   GET /api/v1/pbft/activity  -> 200 per-second throughput and commit latency, last minutes
//
// These and the seed's read-only routes (/api/v1/pbft/state, /api/v1/health)
// answer GET with `Access-Control-Allow-Origin: *`, so a dashboard loaded
// from one replica can poll every other replica directly. Writes and
// ordered reads get no CORS header: a page from another origin cannot
// issue them.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace pbft::http {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not, when not ready
};

class OpsBackend {
 public:
  virtual ~OpsBackend() = default;
  virtual std::string metrics_text() = 0;
  virtual Readiness readiness() = 0;
  virtual std::string cluster_json() = 0;
  virtual std::string slots_json() = 0;
  virtual std::string activity_json() = 0;
};

// Answers the request when its path is one of the routes above and returns
// true; returns false (not answering) for any other path.
bool handle_ops(const Request& request, OpsBackend& backend, const Respond& respond);

// The route label for request metrics: the path when it is a known route,
// "other" for anything else (so unknown paths cannot grow the label set).
std::string route_label(std::string_view target);

// True for GET routes whose answers may be read by pages of any origin.
bool cors_readable(const Request& request);

}  // namespace pbft::http
