#include "http/ops_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "http/dashboard.h"

namespace pbft::http {
namespace {

class FakeOps : public OpsBackend {
 public:
  std::string metrics_text() override { return "pbft_view 4\n"; }
  Readiness readiness() override { return ready; }
  std::string cluster_json() override { return R"({"self":1})"; }
  std::string slots_json() override { return R"({"slots":[]})"; }
  std::string activity_json() override { return R"({"seconds":[]})"; }
  Readiness ready{true, ""};
};

Request make(bhttp::verb method, std::string target) {
  Request r{method, target, 11};
  r.prepare_payload();
  return r;
}

std::optional<Response> run(FakeOps& ops, const Request& r) {
  std::optional<Response> out;
  bool handled = handle_ops(r, ops, [&](Response res) { out = std::move(res); });
  EXPECT_EQ(handled, out.has_value());
  return out;
}

TEST(OpsApi, MetricsAreServedAsPrometheusText) {
  FakeOps ops;
  auto res = run(ops, make(bhttp::verb::get, "/metrics"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->body(), "pbft_view 4\n");
  EXPECT_EQ(std::string((*res)[bhttp::field::content_type]), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(OpsApi, ReadyIs200WhenReadyAnd503WithTheReasonOtherwise) {
  FakeOps ops;
  auto ok = run(ops, make(bhttp::verb::get, "/api/v1/ready"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result_int(), 200u);
  EXPECT_EQ(nlohmann::json::parse(ok->body())["ready"], true);

  ops.ready = {false, "no quorum connected: 1 of 5 replicas, need 4"};
  auto no = run(ops, make(bhttp::verb::get, "/api/v1/ready"));
  ASSERT_TRUE(no);
  EXPECT_EQ(no->result_int(), 503u);
  auto body = nlohmann::json::parse(no->body());
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["error"], "no quorum connected: 1 of 5 replicas, need 4");
  EXPECT_EQ(std::string((*no)[bhttp::field::retry_after]), "1");
}

TEST(OpsApi, JsonRoutesAnswerWithTheBackendsJson) {
  FakeOps ops;
  auto cluster = run(ops, make(bhttp::verb::get, "/api/v1/cluster"));
  auto slots = run(ops, make(bhttp::verb::get, "/api/v1/pbft/slots?x=1"));
  auto activity = run(ops, make(bhttp::verb::get, "/api/v1/pbft/activity"));
  ASSERT_TRUE(cluster && slots && activity);
  EXPECT_EQ(cluster->body(), R"({"self":1})");
  EXPECT_EQ(slots->body(), R"({"slots":[]})");
  EXPECT_EQ(activity->body(), R"({"seconds":[]})");
  EXPECT_EQ(std::string((*slots)[bhttp::field::content_type]), "application/json");
}

TEST(OpsApi, TheDashboardIsServedAtTheRoot) {
  FakeOps ops;
  auto res = run(ops, make(bhttp::verb::get, "/"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(std::string((*res)[bhttp::field::content_type]), "text/html; charset=utf-8");
  EXPECT_EQ(res->body(), dashboard_html());
  EXPECT_NE(res->body().find("<html"), std::string::npos);
  EXPECT_NE(res->body().find("/api/v1/pbft/slots"), std::string::npos);
}

TEST(OpsApi, OtherMethodsAre405WithAllow) {
  FakeOps ops;
  auto res = run(ops, make(bhttp::verb::post, "/metrics"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 405u);
  EXPECT_EQ(std::string((*res)[bhttp::field::allow]), "GET");
  EXPECT_TRUE(nlohmann::json::parse(res->body()).contains("error"));
}

TEST(OpsApi, OtherPathsAreLeftToTheKvApi) {
  FakeOps ops;
  EXPECT_FALSE(run(ops, make(bhttp::verb::get, "/api/v1/kv?key=a")));
  EXPECT_FALSE(run(ops, make(bhttp::verb::get, "/metricsx")));
  EXPECT_FALSE(run(ops, make(bhttp::verb::get, "/api/v1/pbft/state")));
}

TEST(RouteLabel, KnownPathsWithoutQueryAndOtherForTheRest) {
  EXPECT_EQ(route_label("/api/v1/kv?key=a"), "/api/v1/kv");
  EXPECT_EQ(route_label("/api/v1/pbft/state"), "/api/v1/pbft/state");
  EXPECT_EQ(route_label("/api/v1/kv/range?prefix=a"), "/api/v1/kv/range");
  EXPECT_EQ(route_label("/api/v1/kv/cas"), "/api/v1/kv/cas");
  EXPECT_EQ(route_label("/api/v1/kv/txn"), "/api/v1/kv/txn");
  EXPECT_EQ(route_label("/metrics"), "/metrics");
  EXPECT_EQ(route_label("/"), "/");
  EXPECT_EQ(route_label("/nope/12345"), "other");
  EXPECT_EQ(route_label("/api/v1/kvx"), "other");
}

TEST(CorsReadable, OnlyGetsOfProtocolStateRoutes) {
  EXPECT_TRUE(cors_readable(make(bhttp::verb::get, "/api/v1/pbft/state")));
  EXPECT_TRUE(cors_readable(make(bhttp::verb::get, "/api/v1/pbft/slots")));
  EXPECT_TRUE(cors_readable(make(bhttp::verb::get, "/metrics")));
  EXPECT_FALSE(cors_readable(make(bhttp::verb::get, "/api/v1/kv?key=a")));
  EXPECT_FALSE(cors_readable(make(bhttp::verb::get, "/api/v1/kv/local?key=a")));
  EXPECT_FALSE(cors_readable(make(bhttp::verb::post, "/api/v1/kv")));
  EXPECT_FALSE(cors_readable(make(bhttp::verb::post, "/api/v1/pbft/state")));
}

}  // namespace
}  // namespace pbft::http
