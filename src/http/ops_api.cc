#include "http/ops_api.h"

#include <array>
#include <nlohmann/json.hpp>

#include "http/dashboard.h"

namespace pbft::http {

namespace {

constexpr std::string_view kPathDashboard = "/";
constexpr std::string_view kPathIndex = "/index.html";
constexpr std::string_view kPathMetrics = "/metrics";
constexpr std::string_view kPathReady = "/api/v1/ready";
constexpr std::string_view kPathCluster = "/api/v1/cluster";
constexpr std::string_view kPathSlots = "/api/v1/pbft/slots";
constexpr std::string_view kPathActivity = "/api/v1/pbft/activity";

constexpr std::array<std::string_view, 17> kKnownRoutes = {
    "/",                "/metrics",           "/api/v1/ready",         "/api/v1/cluster",
    "/api/v1/kv",       "/api/v1/kv/local",   "/api/v1/kv/range",      "/api/v1/kv/cas",
    "/api/v1/kv/txn",   "/api/v1/pbft/state", "/api/v1/pbft/slots",    "/api/v1/pbft/activity",
    "/api/v1/health",   "/index.html",        "/api/v1/snapshot",      "/api/v1/snapshot/state",
    "/api/v1/snapshot/chunk"};

// Protocol state only, never keys or values.
constexpr std::array<std::string_view, 7> kCorsRoutes = {
    "/metrics",           "/api/v1/ready",         "/api/v1/cluster",   "/api/v1/pbft/slots",
    "/api/v1/pbft/activity", "/api/v1/pbft/state", "/api/v1/health"};

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

Response body_response(const Request& request, unsigned status, std::string content_type,
                       std::string body) {
  Response res;
  res.result(status);
  res.version(request.version());
  res.keep_alive(request.keep_alive());
  res.set(bhttp::field::content_type, content_type);
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

std::string route_label(std::string_view target) {
  const std::string_view path = path_of(target);
  for (std::string_view r : kKnownRoutes) {
    if (path == r) return std::string(r);
  }
  return "other";
}

bool cors_readable(const Request& request) {
  if (request.method() != bhttp::verb::get) return false;
  const std::string_view path = path_of({request.target().data(), request.target().size()});
  for (std::string_view r : kCorsRoutes) {
    if (path == r) return true;
  }
  return false;
}

bool handle_ops(const Request& request, OpsBackend& backend, const Respond& respond) {
  const std::string_view path = path_of({request.target().data(), request.target().size()});
  const bool known = path == kPathDashboard || path == kPathIndex || path == kPathMetrics ||
                     path == kPathReady || path == kPathCluster || path == kPathSlots ||
                     path == kPathActivity;
  if (!known) return false;
  if (request.method() != bhttp::verb::get) {
    Response res = json_error(405, "method not allowed", request.version(), request.keep_alive());
    res.set(bhttp::field::allow, "GET");
    respond(std::move(res));
    return true;
  }
  if (path == kPathDashboard || path == kPathIndex) {
    respond(body_response(request, 200, "text/html; charset=utf-8", std::string(dashboard_html())));
  } else if (path == kPathMetrics) {
    respond(body_response(request, 200, "text/plain; version=0.0.4; charset=utf-8",
                          backend.metrics_text()));
  } else if (path == kPathReady) {
    const Readiness r = backend.readiness();
    nlohmann::json body;
    body["ready"] = r.ready;
    if (!r.ready) body["error"] = r.reason;
    Response res = body_response(request, r.ready ? 200 : 503, "application/json", body.dump());
    if (!r.ready) res.set(bhttp::field::retry_after, "1");
    respond(std::move(res));
  } else if (path == kPathCluster) {
    respond(body_response(request, 200, "application/json", backend.cluster_json()));
  } else if (path == kPathSlots) {
    respond(body_response(request, 200, "application/json", backend.slots_json()));
  } else {
    respond(body_response(request, 200, "application/json", backend.activity_json()));
  }
  return true;
}

}  // namespace pbft::http
