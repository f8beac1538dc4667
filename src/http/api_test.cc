#include "http/api.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace pbft::http {
namespace {

struct Call {
  std::string op;  // "put", "get", "local", "state"
  std::string request_id;
  std::string key;
  std::string value;
};

// Records every call. put/get answer at once with `next` when set, or keep
// `done` in `pending` to be answered later by the test.
class FakeBackend : public KvBackend {
 public:
  void put(std::string request_id, std::string key, std::string value, KvDone done) override {
    calls.push_back({"put", request_id, key, value});
    finish(std::move(done));
  }
  void get(std::string request_id, std::string key, KvDone done) override {
    calls.push_back({"get", request_id, key, ""});
    finish(std::move(done));
  }
  std::optional<std::string> get_local(const std::string& key) override {
    calls.push_back({"local", "", key, ""});
    auto it = store.find(key);
    if (it == store.end()) return std::nullopt;
    return it->second;
  }
  std::string state_json() override {
    calls.push_back({"state", "", "", ""});
    return R"({"view":3,"replica":1})";
  }

  void finish(KvDone done) {
    if (throw_on_call) throw std::runtime_error("backend exploded");
    if (next) {
      done(*next);
    } else {
      pending.push_back(std::move(done));
    }
  }

  std::vector<Call> calls;
  std::map<std::string, std::string> store;
  std::optional<KvOutcome> next;
  std::deque<KvDone> pending;
  bool throw_on_call = false;
};

Request make_request(bhttp::verb method, const std::string& target, const std::string& body = "",
                     unsigned version = 11) {
  Request req{method, target, version};
  req.set(bhttp::field::host, "localhost");
  if (!body.empty() || method == bhttp::verb::post) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  return req;
}

class ApiTest : public ::testing::Test {
 protected:
  // Runs handle_api and returns the answers it gave synchronously.
  std::vector<Response> run(const Request& req) {
    std::vector<Response> out;
    handle_api(req, backend, limits, [this](Response res) { answers.push_back(std::move(res)); });
    out.swap(answers);
    return out;
  }
  Response run_one(const Request& req) {
    auto out = run(req);
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return Response{};
    return out.front();
  }
  static std::string error_of(const Response& res) {
    auto j = nlohmann::json::parse(res.body());
    return j.at("error").get<std::string>();
  }
  static void expect_json_error(const Response& res, unsigned status) {
    EXPECT_EQ(res.result_int(), status);
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
    auto j = nlohmann::json::parse(res.body(), nullptr, false);
    ASSERT_TRUE(j.is_object()) << res.body();
    ASSERT_TRUE(j.contains("error")) << res.body();
    EXPECT_TRUE(j["error"].is_string());
  }

  FakeBackend backend;
  ApiLimits limits;
  std::vector<Response> answers;
};

const std::string kUuid = "123e4567-e89b-12d3-a456-426614174000";

TEST(RequestId, ValidAndInvalid) {
  EXPECT_TRUE(is_valid_request_id("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(is_valid_request_id("123E4567-E89B-12D3-A456-42661417400F"));
  EXPECT_TRUE(is_valid_request_id("00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(is_valid_request_id("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(is_valid_request_id("123e4567-e89b-12d3-a456-4266141740000"));
  EXPECT_FALSE(is_valid_request_id("123e4567-e89b-12d3-a456_426614174000"));
  EXPECT_FALSE(is_valid_request_id("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(is_valid_request_id("{23e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(is_valid_request_id("123e4567-e89b-12d3-a4560426614174000"));
}

// ---- POST /api/v1/kv ----

TEST_F(ApiTest, PutSuccessExactJson) {
  backend.next = KvResult{kUuid, 7, "k", "v", 7};  // the revision is not part of a write's answer
  auto req = make_request(bhttp::verb::post, "/api/v1/kv", R"({"key":"k","value":"v"})");
  req.set("request-id", kUuid);
  auto res = run_one(req);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            R"({"request_id":"123e4567-e89b-12d3-a456-426614174000","operation_sequence":7,)"
            R"("key":"k","value":"v"})");
  EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
  ASSERT_EQ(backend.calls.size(), 1u);
  EXPECT_EQ(backend.calls[0].op, "put");
  EXPECT_EQ(backend.calls[0].request_id, kUuid);
  EXPECT_EQ(backend.calls[0].key, "k");
  EXPECT_EQ(backend.calls[0].value, "v");
}

TEST_F(ApiTest, PutWithoutRequestIdPassesEmptyAndAllowsExtraFields) {
  backend.next = KvResult{"generated", 1, "a b", ""};
  auto res = run_one(make_request(bhttp::verb::post, "/api/v1/kv?ignored=1",
                                  R"({"key":"a b","value":"","extra":[1,2],"n":null})"));
  EXPECT_EQ(res.result_int(), 200u);
  ASSERT_EQ(backend.calls.size(), 1u);
  EXPECT_EQ(backend.calls[0].request_id, "");
  EXPECT_EQ(backend.calls[0].key, "a b");
  EXPECT_EQ(backend.calls[0].value, "");
  EXPECT_EQ(res.body(),
            R"({"request_id":"generated","operation_sequence":1,"key":"a b","value":""})");
}

TEST_F(ApiTest, PutAnsweredLater) {
  auto res = run(make_request(bhttp::verb::post, "/api/v1/kv", R"({"key":"k","value":"v"})"));
  EXPECT_TRUE(res.empty());
  ASSERT_EQ(backend.pending.size(), 1u);
  backend.pending.front()(KvResult{kUuid, 42, "k", std::nullopt});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].result_int(), 200u);
  EXPECT_EQ(answers[0].body(),
            R"({"request_id":"123e4567-e89b-12d3-a456-426614174000","operation_sequence":42,)"
            R"("key":"k","value":null})");
  // A second call of done is ignored.
  backend.pending.front()(KvResult{kUuid, 43, "k", "x"});
  EXPECT_EQ(answers.size(), 1u);
}

struct BadPut {
  std::string body;
  unsigned status;
  std::string error_contains;
};

TEST_F(ApiTest, PutBadBodiesAreRejectedWithoutCallingBackend) {
  limits.key_bytes_max = 8;
  limits.value_bytes_max = 16;
  const std::vector<BadPut> cases = {
      {"", 400, "malformed JSON"},
      {"{", 400, "malformed JSON"},
      {"not json", 400, "malformed JSON"},
      {R"({"key":"k","value":"v"} trailing)", 400, "malformed JSON"},
      {R"(["key","value"])", 400, "object"},
      {R"("just a string")", 400, "object"},
      {"null", 400, "object"},
      {R"({"value":"v"})", 400, "key"},
      {R"({"key":"k"})", 400, "value"},
      {R"({"key":1,"value":"v"})", 400, "key"},
      {R"({"key":null,"value":"v"})", 400, "key"},
      {R"({"key":["k"],"value":"v"})", 400, "key"},
      {R"({"key":"k","value":5})", 400, "value"},
      {R"({"key":"k","value":{"a":1}})", 400, "value"},
      {R"({"key":"k","value":true})", 400, "value"},
      {R"({"key":"","value":"v"})", 400, "key"},
      {R"({"key":"123456789","value":"v"})", 413, "key"},
      {R"({"key":"k","value":"12345678901234567"})", 413, "value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto res = run_one(make_request(bhttp::verb::post, "/api/v1/kv", c.body));
    expect_json_error(res, c.status);
    EXPECT_NE(error_of(res).find(c.error_contains), std::string::npos) << error_of(res);
  }
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(ApiTest, PutAtExactLimitsIsAccepted) {
  limits.key_bytes_max = 8;
  limits.value_bytes_max = 16;
  backend.next = KvResult{kUuid, 1, "12345678", "1234567890123456"};
  auto res = run_one(make_request(bhttp::verb::post, "/api/v1/kv",
                                  R"({"key":"12345678","value":"1234567890123456"})"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(backend.calls.size(), 1u);
}

TEST_F(ApiTest, InvalidRequestIdIsRejected) {
  for (const char* id : {"", "abc", "123e4567-e89b-12d3-a456-42661417400z",
                               "123e4567e89b12d3a456426614174000"}) {
    SCOPED_TRACE(id);
    auto put = make_request(bhttp::verb::post, "/api/v1/kv", R"({"key":"k","value":"v"})");
    put.set("request-id", id);
    auto res = run_one(put);
    expect_json_error(res, 400);
    EXPECT_NE(error_of(res).find("request-id"), std::string::npos);

    auto get = make_request(bhttp::verb::get, "/api/v1/kv?key=k");
    get.set("Request-ID", id);
    expect_json_error(run_one(get), 400);
  }
  auto twice = make_request(bhttp::verb::get, "/api/v1/kv?key=k");
  twice.insert("request-id", kUuid);
  twice.insert("request-id", kUuid);
  expect_json_error(run_one(twice), 400);
  EXPECT_TRUE(backend.calls.empty());
}

// ---- GET /api/v1/kv ----

TEST_F(ApiTest, GetSuccessExactJson) {
  backend.next = KvResult{kUuid, 9, "k", std::nullopt};
  auto req = make_request(bhttp::verb::get, "/api/v1/kv?key=k");
  req.set("request-id", kUuid);
  auto res = run_one(req);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(),
            R"({"request_id":"123e4567-e89b-12d3-a456-426614174000","operation_sequence":9,)"
            R"("key":"k","value":null,"revision":null})");
  ASSERT_EQ(backend.calls.size(), 1u);
  EXPECT_EQ(backend.calls[0].op, "get");
  EXPECT_EQ(backend.calls[0].request_id, kUuid);
  EXPECT_EQ(backend.calls[0].key, "k");
}

TEST_F(ApiTest, GetKeyIsPercentDecoded) {
  backend.next = KvResult{kUuid, 1, "x", "y"};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/v1/kv?key=a%20b", "a b"},
      {"/api/v1/kv?key=a+b", "a+b"},  // '+' is not a space
      {"/api/v1/kv?key=%2Fpath%2f%3D%26", "/path/=&"},
      {"/api/v1/kv?key=%C3%A9t%C3%A9", "\xC3\xA9t\xC3\xA9"},
      {"/api/v1/kv?other=1&key=k2&x", "k2"},
      {"/api/v1/kv?%6Bey=named", "named"},  // the name is decoded too
      {"/api/v1/kv?key=a=b", "a=b"},
      {"/api/v1/kv?&&key=z&", "z"},
  };
  for (const auto& [target, key] : cases) {
    SCOPED_TRACE(target);
    backend.calls.clear();
    auto res = run_one(make_request(bhttp::verb::get, target));
    EXPECT_EQ(res.result_int(), 200u);
    ASSERT_EQ(backend.calls.size(), 1u);
    EXPECT_EQ(backend.calls[0].key, key);
  }
}

TEST_F(ApiTest, GetBadKeysAreRejectedWithoutCallingBackend) {
  limits.key_bytes_max = 4;
  const std::vector<std::tuple<std::string, unsigned, std::string>> cases = {
      {"/api/v1/kv", 400, "missing query parameter: key"},
      {"/api/v1/kv?", 400, "missing query parameter: key"},
      {"/api/v1/kv?keys=a", 400, "missing query parameter: key"},
      {"/api/v1/kv?key", 400, "key"},
      {"/api/v1/kv?key=", 400, "key"},
      {"/api/v1/kv?key=%", 400, "percent"},
      {"/api/v1/kv?key=%4", 400, "percent"},
      {"/api/v1/kv?key=%zz", 400, "percent"},
      {"/api/v1/kv?key=a%2", 400, "percent"},
      {"/api/v1/kv?key=%%41", 400, "percent"},
      {"/api/v1/kv?ke%y=a", 400, "percent"},
      {"/api/v1/kv?key=a&key=b", 400, "duplicate"},
      {"/api/v1/kv?key=%FF", 400, "UTF-8"},
      {"/api/v1/kv?key=abcde", 413, "key"},
      {"/api/v1/kv?key=%41%42%43%44%45", 413, "key"},
  };
  for (const auto& [target, status, contains] : cases) {
    SCOPED_TRACE(target);
    auto res = run_one(make_request(bhttp::verb::get, target));
    expect_json_error(res, status);
    EXPECT_NE(error_of(res).find(contains), std::string::npos) << error_of(res);
  }
  // The decoded length counts: four decoded bytes fit.
  backend.next = KvResult{kUuid, 1, "ABCD", std::nullopt};
  EXPECT_TRUE(backend.calls.empty());
  EXPECT_EQ(run_one(make_request(bhttp::verb::get, "/api/v1/kv?key=%41%42%43%44")).result_int(),
            200u);
  ASSERT_EQ(backend.calls.size(), 1u);
  EXPECT_EQ(backend.calls[0].key, "ABCD");
}

TEST_F(ApiTest, MissingKeyMessageIsExact) {
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/kv/local"));
  expect_json_error(res, 400);
  EXPECT_EQ(res.body(), R"({"error":"missing query parameter: key"})");
}

// ---- Backend errors ----

TEST_F(ApiTest, ApiErrorWithRetryAfter) {
  backend.next = ApiError{503, "no quorum reachable", 2};
  auto res = run_one(make_request(bhttp::verb::post, "/api/v1/kv", R"({"key":"k","value":"v"})"));
  expect_json_error(res, 503);
  EXPECT_EQ(res.body(), R"({"error":"no quorum reachable"})");
  EXPECT_EQ(res[bhttp::field::retry_after], "2");
}

TEST_F(ApiTest, ApiErrorWithoutRetryAfter) {
  backend.next = ApiError{504, "not committed in time", 0};
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/kv?key=k"));
  expect_json_error(res, 504);
  EXPECT_EQ(res.body(), R"({"error":"not committed in time"})");
  EXPECT_EQ(res.count(bhttp::field::retry_after), 0u);
}

TEST_F(ApiTest, BackendThrowingGives500Once) {
  backend.throw_on_call = true;
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/kv?key=k"));
  expect_json_error(res, 500);
}

// ---- Local get, state, health ----

TEST_F(ApiTest, LocalGet) {
  backend.store["k 1"] = "v1";
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/kv/local?key=k%201"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res.body(), R"({"key":"k 1","value":"v1"})");

  res = run_one(make_request(bhttp::verb::get, "/api/v1/kv/local?key=absent"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), R"({"key":"absent","value":null})");
  ASSERT_EQ(backend.calls.size(), 2u);
  EXPECT_EQ(backend.calls[0].op, "local");
  EXPECT_EQ(backend.calls[0].key, "k 1");
}

TEST_F(ApiTest, LocalGetBadKey) {
  limits.key_bytes_max = 2;
  expect_json_error(run_one(make_request(bhttp::verb::get, "/api/v1/kv/local?key=")), 400);
  expect_json_error(run_one(make_request(bhttp::verb::get, "/api/v1/kv/local?key=%g0")), 400);
  expect_json_error(run_one(make_request(bhttp::verb::get, "/api/v1/kv/local?key=abc")), 413);
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(ApiTest, State) {
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/pbft/state?verbose=1"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res.body(), R"({"view":3,"replica":1})");
}

TEST_F(ApiTest, Health) {
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/health"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "Ok");
  EXPECT_EQ(res[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(res[bhttp::field::content_length], "2");
  EXPECT_TRUE(backend.calls.empty());
}

// ---- Routing ----

TEST_F(ApiTest, UnknownPathsAre404) {
  for (const char* target :
       {"/", "/api", "/api/v1", "/api/v1/kv/", "/api/v1/health/", "/api/v1/kv/local/",
        "/api/v1/pbft/state/", "/API/v1/health", "/api/v2/kv", "//api/v1/health",
        "/api/v1/kv/other", "http://localhost/api/v1/health", "*"}) {
    SCOPED_TRACE(target);
    auto res = run_one(make_request(bhttp::verb::get, target));
    expect_json_error(res, 404);
  }
  expect_json_error(run_one(make_request(bhttp::verb::post, "/api/v1/kv/", R"({})")), 404);
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(ApiTest, WrongMethodsAre405WithAllow) {
  const std::vector<std::tuple<bhttp::verb, std::string, std::string>> cases = {
      {bhttp::verb::put, "/api/v1/kv", "GET, POST, DELETE"},
      {bhttp::verb::patch, "/api/v1/kv?key=k", "GET, POST, DELETE"},
      {bhttp::verb::head, "/api/v1/kv", "GET, POST, DELETE"},
      {bhttp::verb::post, "/api/v1/kv/range?prefix=a", "GET"},
      {bhttp::verb::get, "/api/v1/kv/cas", "POST"},
      {bhttp::verb::put, "/api/v1/kv/txn", "POST"},
      {bhttp::verb::post, "/api/v1/kv/local?key=k", "GET"},
      {bhttp::verb::post, "/api/v1/pbft/state", "GET"},
      {bhttp::verb::delete_, "/api/v1/health", "GET"},
      {bhttp::verb::put, "/api/v1/health", "GET"},
  };
  for (const auto& [method, target, allow] : cases) {
    SCOPED_TRACE(target);
    auto res = run_one(make_request(method, target, R"({"key":"k","value":"v"})"));
    expect_json_error(res, 405);
    EXPECT_EQ(res[bhttp::field::allow], allow);
  }
  EXPECT_TRUE(backend.calls.empty());
}

TEST_F(ApiTest, EchoesVersionAndKeepAlive) {
  // HTTP/1.0 without keep-alive.
  auto res = run_one(make_request(bhttp::verb::get, "/api/v1/health", "", 10));
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());

  // HTTP/1.1 with Connection: close.
  auto req = make_request(bhttp::verb::get, "/nope");
  req.keep_alive(false);
  res = run_one(req);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_FALSE(res.keep_alive());

  // HTTP/1.1 default keep-alive, also on answers given later.
  auto res2 = run(make_request(bhttp::verb::get, "/api/v1/kv?key=k"));
  EXPECT_TRUE(res2.empty());
  backend.pending.front()(ApiError{503, "busy", 1});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].version(), 11u);
  EXPECT_TRUE(answers[0].keep_alive());
  answers.clear();

  // HTTP/1.0 asking for keep-alive.
  auto req10 = make_request(bhttp::verb::get, "/api/v1/health", "", 10);
  req10.keep_alive(true);
  res = run_one(req10);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_TRUE(res.keep_alive());
}

TEST(JsonHelpers, ErrorAndResponse) {
  auto err = json_error(404, "not \"found\"", 10, false);
  EXPECT_EQ(err.result_int(), 404u);
  EXPECT_EQ(err.version(), 10u);
  EXPECT_FALSE(err.keep_alive());
  EXPECT_EQ(err.body(), R"({"error":"not \"found\""})");
  EXPECT_EQ(err[bhttp::field::content_type], "application/json");
  EXPECT_EQ(err[bhttp::field::content_length], std::to_string(err.body().size()));

  auto ok = json_response(R"({"a":1})");
  EXPECT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(ok.version(), 11u);
  EXPECT_TRUE(ok.keep_alive());
  EXPECT_EQ(ok[bhttp::field::content_length], "7");

  // Bytes that are not UTF-8 do not throw.
  auto weird = json_error(400, "bad \xFF byte");
  EXPECT_EQ(weird.result_int(), 400u);
}

}  // namespace
}  // namespace pbft::http
