#include "http/kv_routes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pbft::http {
namespace {

using json = nlohmann::json;

const std::string kUuid = "123e4567-e89b-12d3-a456-426614174000";

// Records the operations it is asked to run and answers with `next`.
class OpBackend : public KvBackend {
 public:
  void put(std::string, std::string, std::string, KvDone) override { FAIL() << "not a put route"; }
  void get(std::string, std::string, KvDone) override { FAIL() << "not a get route"; }
  std::optional<std::string> get_local(const std::string&) override { return std::nullopt; }
  std::string state_json() override { return "{}"; }
  void execute(kv::Operation op, OpDone done) override {
    ops.push_back(op);
    done(next ? *next : OpOutcome{OpReply{op.request_id.empty() ? "generated" : op.request_id, result}});
  }
  void execute_with_proof(kv::Operation op, OpDone done) override {
    proofs_asked.push_back(op);
    ReplyCertificate cert{1, 2, 3, kv::encode_operation(op), kv::encode_result(result), {{0, {}}, {2, {}}}};
    done(OpOutcome{OpReply{op.request_id.empty() ? "generated" : op.request_id, result, cert}});
  }
  std::vector<kv::Operation> ops;
  std::vector<kv::Operation> proofs_asked;
  kv::Result result;
  std::optional<OpOutcome> next;
};

class KvRoutesTest : public ::testing::Test {
 protected:
  Response call(bhttp::verb method, const std::string& target, const std::string& body = "",
                const std::string& request_id = "") {
    Request req{method, target, 11};
    req.set(bhttp::field::host, "localhost");
    if (!request_id.empty()) req.set("request-id", request_id);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    std::vector<Response> out;
    handle_api(req, backend, limits, [&](Response r) { out.push_back(std::move(r)); });
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? Response{} : out.front();
  }
  json body(const Response& r) { return json::parse(r.body()); }
  void expect_error(const Response& r, unsigned status, const std::string& contains = "") {
    EXPECT_EQ(r.result_int(), status) << r.body();
    auto j = json::parse(r.body(), nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body();
    if (!contains.empty()) {
      EXPECT_NE(j["error"].get<std::string>().find(contains), std::string::npos) << r.body();
    }
  }

  OpBackend backend;
  ApiLimits limits;
};

TEST_F(KvRoutesTest, DeleteOrdersADelAndSaysWhetherTheKeyWasThere) {
  backend.result = kv::Result{kv::ResultStatus::ok, std::nullopt, 12};
  Response r = call(bhttp::verb::delete_, "/api/v1/kv?key=a%20b", "", kUuid);
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), R"({"request_id":")" + kUuid + R"(","operation_sequence":12,"key":"a b","deleted":true})");
  ASSERT_EQ(backend.ops.size(), 1u);
  EXPECT_EQ(backend.ops[0], (kv::Operation{kv::OpKind::del, "a b", "", kUuid}));
  backend.result.status = kv::ResultStatus::not_found;
  EXPECT_EQ(body(call(bhttp::verb::delete_, "/api/v1/kv?key=x"))["deleted"], false);
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv"), 400, "missing query parameter: key");
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key="), 400, "must not be empty");
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=%zz"), 400);
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=a&key=b"), 400, "duplicate");
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=" + std::string(limits.key_bytes_max + 1, 'k')), 413);
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=k", "", "not-a-uuid"), 400, "request-id");
  EXPECT_EQ(backend.ops.size(), 2u);
}

TEST_F(KvRoutesTest, RangeByPrefixOrBoundsWithLimitAndToken) {
  backend.result = kv::Result{kv::ResultStatus::ok, std::nullopt, 30, kv::ResultForm::range};
  backend.result.entries = {{"app/a", "1", 3}, {"app/b", "", 7}};
  backend.result.next = "app/c";
  Response r = call(bhttp::verb::get, "/api/v1/kv/range?prefix=app%2F&limit=2");
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), R"({"request_id":"generated","operation_sequence":30,"entries":[)"
                      R"({"key":"app/a","value":"1","revision":3},{"key":"app/b","value":"","revision":7}],)"
                      R"("more":true,"token":"6170702f63"})");
  ASSERT_EQ(backend.ops.size(), 1u);
  EXPECT_EQ(backend.ops[0].kind, kv::OpKind::range);
  EXPECT_EQ(backend.ops[0].key, "app/");
  EXPECT_EQ(backend.ops[0].range_end, "app0");
  EXPECT_EQ(backend.ops[0].limit, 2u);
  // The token continues the same prefix.
  call(bhttp::verb::get, "/api/v1/kv/range?prefix=app%2F&limit=2&token=6170702f63");
  EXPECT_EQ(backend.ops[1].key, "app/c");
  EXPECT_EQ(backend.ops[1].range_end, "app0");
  // Bounds, the default limit, the last page.
  backend.result.next.reset();
  r = call(bhttp::verb::get, "/api/v1/kv/range?start=a&end=m");
  EXPECT_EQ(body(r)["more"], false);
  EXPECT_TRUE(body(r)["token"].is_null());
  EXPECT_EQ(backend.ops[2].key, "a");
  EXPECT_EQ(backend.ops[2].range_end, "m");
  EXPECT_EQ(backend.ops[2].limit, range_limit_default);
  // Everything.
  call(bhttp::verb::get, "/api/v1/kv/range");
  EXPECT_EQ(backend.ops[3].key, "");
  EXPECT_EQ(backend.ops[3].range_end, "");
  EXPECT_EQ(backend.ops.size(), 4u);
}

TEST_F(KvRoutesTest, RangeRejectsBadInput) {
  for (const char* q : {"limit=0", "limit=1001", "limit=-1", "limit=ten", "limit=", "limit=99999999999"})
    expect_error(call(bhttp::verb::get, std::string("/api/v1/kv/range?") + q), 400, "limit");
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?prefix=a&start=b"), 400, "either prefix");
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?token=zz"), 400, "token");
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?token=abc"), 400, "token");
  // A token outside the range it is given with.
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?prefix=b&token=61"), 400, "does not belong");
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?prefix=" + std::string(limits.key_bytes_max + 1, 'p')),
               413);
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?start=%ff"), 400, "UTF-8");
  EXPECT_TRUE(backend.ops.empty());
}

TEST_F(KvRoutesTest, TokensRoundTrip) {
  for (const std::string& k : std::vector<std::string>{"a", "app/c", std::string("\0\xff", 2)})
    EXPECT_EQ(decode_range_token(encode_range_token(k)), k);
  EXPECT_FALSE(decode_range_token("").has_value());
  EXPECT_FALSE(decode_range_token("6").has_value());
  EXPECT_FALSE(decode_range_token("6G").has_value());
  EXPECT_FALSE(decode_range_token("6A").has_value());  // lower case only: one spelling per key
}

TEST_F(KvRoutesTest, CompareAndSwap) {
  backend.result = kv::Result{kv::ResultStatus::ok, "new", 40, kv::ResultForm::record};
  backend.result.revision = 40;
  Response r = call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"k","value":"new","expected":"old"})", kUuid);
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), R"({"request_id":")" + kUuid +
                          R"(","operation_sequence":40,"key":"k","succeeded":true,"value":"new","revision":40})");
  EXPECT_EQ(backend.ops[0].expected, "old");
  EXPECT_EQ(backend.ops[0].value, "new");
  EXPECT_EQ(backend.ops[0].request_id, kUuid);
  // Absence expected; refused, with what is there.
  backend.result = kv::Result{kv::ResultStatus::compare_failed, "cur", 41, kv::ResultForm::record};
  backend.result.revision = 9;
  json j = body(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"k","value":"v","expected":null})"));
  EXPECT_FALSE(backend.ops[1].expected.has_value());
  EXPECT_EQ(j["succeeded"], false);
  EXPECT_EQ(j["value"], "cur");
  EXPECT_EQ(j["revision"], 9);
  // Refused on an absent key: value and revision null.
  backend.result = kv::Result{kv::ResultStatus::compare_failed, std::nullopt, 42, kv::ResultForm::record};
  j = body(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"k","value":"v","expected":"x"})"));
  EXPECT_TRUE(j["value"].is_null());
  EXPECT_TRUE(j["revision"].is_null());

  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"k","value":"v"})"), 400, "expected");
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"k","value":"v","expected":1})"), 400);
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"key":"","value":"v","expected":null})"), 400);
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", R"({"value":"v","expected":null})"), 400, "key");
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", "{not json"), 400, "malformed JSON");
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas", "[]"), 400);
  expect_error(call(bhttp::verb::post, "/api/v1/kv/cas",
                    R"({"key":"k","value":")" + std::string(limits.value_bytes_max + 1, 'v') + R"(","expected":null})"),
               413);
  EXPECT_EQ(backend.ops.size(), 3u);
}

TEST_F(KvRoutesTest, TransactionParsesAndAnswersPerOp) {
  backend.result = kv::Result{kv::ResultStatus::ok, std::nullopt, 50, kv::ResultForm::txn};
  backend.result.succeeded = true;
  kv::Result got{kv::ResultStatus::ok, "1", 50, kv::ResultForm::record};
  got.revision = 4;
  backend.result.responses = {kv::Result{kv::ResultStatus::ok, std::nullopt, 50}, got,
                              kv::Result{kv::ResultStatus::not_found, std::nullopt, 50}};
  const std::string txn = R"({"compare":[{"key":"a","value":"1"},{"key":"b","absent":true},{"key":"c","revision":4}],
      "success":[{"op":"put","key":"x","value":"y"},{"op":"get","key":"a"},{"op":"del","key":"gone"}],
      "failure":[{"op":"get","key":"b"}]})";
  Response r = call(bhttp::verb::post, "/api/v1/kv/txn", txn);
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), R"({"request_id":"generated","operation_sequence":50,"succeeded":true,"results":[)"
                      R"({"key":"x","op":"put","revision":50},{"key":"a","op":"get","value":"1","revision":4},)"
                      R"({"key":"gone","op":"del","deleted":false}]})");
  ASSERT_EQ(backend.ops.size(), 1u);
  const kv::Operation& op = backend.ops[0];
  ASSERT_EQ(op.compares.size(), 3u);
  EXPECT_EQ(op.compares[0], (kv::Compare{kv::CompareTarget::value, "a", "1", 0}));
  EXPECT_EQ(op.compares[1], (kv::Compare{kv::CompareTarget::absent, "b", "", 0}));
  EXPECT_EQ(op.compares[2], (kv::Compare{kv::CompareTarget::revision, "c", "", 4}));
  EXPECT_EQ(op.success.size(), 3u);
  EXPECT_EQ(op.failure, (std::vector<kv::TxnOp>{{kv::OpKind::get, "b", ""}}));
  // An empty transaction is fine.
  EXPECT_EQ(call(bhttp::verb::post, "/api/v1/kv/txn", "{}").result_int(), 200u);
}

TEST_F(KvRoutesTest, TransactionRejectsBadInput) {
  const std::vector<std::pair<std::string, unsigned>> cases = {
      {R"({"compare":{}})", 400},
      {R"({"compare":[{"key":"a"}]})", 400},
      {R"({"compare":[{"key":"a","value":"1","absent":true}]})", 400},
      {R"({"compare":[{"key":"a","absent":false}]})", 400},
      {R"({"compare":[{"key":"a","revision":-1}]})", 400},
      {R"({"compare":[{"key":"","absent":true}]})", 400},
      {R"({"success":[{"op":"range","key":"a"}]})", 400},
      {R"({"success":[{"op":"put","key":"a"}]})", 400},
      {R"({"success":[{"key":"a"}]})", 400},
      {R"({"success":[1]})", 400},
      {R"({"failure":"del"})", 400},
      {"nope", 400},
  };
  for (const auto& [text, status] : cases) {
    SCOPED_TRACE(text);
    expect_error(call(bhttp::verb::post, "/api/v1/kv/txn", text), status);
  }
  std::string many = R"({"success":[)";
  for (uint32_t i = 0; i <= kv::txn_ops_max; ++i) many += std::string(i ? "," : "") + R"({"op":"get","key":"k"})";
  expect_error(call(bhttp::verb::post, "/api/v1/kv/txn", many + "]}"), 413);
  EXPECT_TRUE(backend.ops.empty());
}

TEST_F(KvRoutesTest, BackendErrorsPassThrough) {
  backend.next = OpOutcome{ApiError{409, "request-id reused", 0}};
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=k", "", kUuid), 409, "reused");
  backend.next = OpOutcome{ApiError{503, "no quorum", 2}};
  Response r = call(bhttp::verb::get, "/api/v1/kv/range?prefix=a");
  expect_error(r, 503);
  EXPECT_EQ(r[bhttp::field::retry_after], "2");
  backend.next = OpOutcome{ApiError{413, "too large", 0}};
  expect_error(call(bhttp::verb::post, "/api/v1/kv/txn", "{}"), 413);
}


TEST_F(KvRoutesTest, ProofAskedForByQueryOrHeaderOnEveryOrderedRoute) {
  backend.result = kv::Result{kv::ResultStatus::ok, "v", 7, kv::ResultForm::record, 5};
  Response r = call(bhttp::verb::get, "/api/v1/kv?key=k&proof=1");
  ASSERT_EQ(r.result_int(), 200u) << r.body();
  json j = body(r);
  EXPECT_EQ(j["value"], "v");
  EXPECT_EQ(j["revision"], 5);
  EXPECT_EQ(j["proof"]["sequence"], 3);
  EXPECT_EQ(j["proof"]["replies"].size(), 2u);
  EXPECT_EQ(j["proof"]["result"], to_hex(kv::encode_result(backend.result)));
  ASSERT_EQ(backend.proofs_asked.size(), 1u);
  EXPECT_EQ(backend.proofs_asked[0], (kv::Operation{kv::OpKind::get, "k", ""}));

  EXPECT_TRUE(body(call(bhttp::verb::post, "/api/v1/kv?proof=true", R"({"key":"k","value":"v"})")).contains("proof"));
  EXPECT_TRUE(body(call(bhttp::verb::delete_, "/api/v1/kv?key=k&proof=1")).contains("proof"));
  EXPECT_TRUE(body(call(bhttp::verb::get, "/api/v1/kv/range?prefix=a&proof=1")).contains("proof"));
  EXPECT_TRUE(body(call(bhttp::verb::post, "/api/v1/kv/cas?proof=1", R"({"key":"k","value":"v","expected":null})"))
                  .contains("proof"));
  EXPECT_TRUE(body(call(bhttp::verb::post, "/api/v1/kv/txn?proof=1", "{}")).contains("proof"));
  EXPECT_EQ(backend.proofs_asked.size(), 6u);
  EXPECT_EQ(backend.proofs_asked[1].kind, kv::OpKind::put);

  // The header switch, and no proof unless asked (or when turned off).
  Request req{bhttp::verb::get, "/api/v1/kv/range?prefix=a", 11};
  req.set("pbft-proof", "1");
  std::vector<Response> out;
  handle_api(req, backend, limits, [&](Response res) { out.push_back(std::move(res)); });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(body(out[0]).contains("proof"));
  EXPECT_FALSE(body(call(bhttp::verb::get, "/api/v1/kv/range?prefix=a&proof=0")).contains("proof"));
  EXPECT_EQ(backend.proofs_asked.size(), 7u);
}

TEST_F(KvRoutesTest, BadProofValuesAre400) {
  expect_error(call(bhttp::verb::get, "/api/v1/kv?key=k&proof=yes"), 400, "proof");
  expect_error(call(bhttp::verb::get, "/api/v1/kv/range?prefix=a&proof=2"), 400, "proof");
  expect_error(call(bhttp::verb::delete_, "/api/v1/kv?key=k&proof="), 400, "proof");
  expect_error(call(bhttp::verb::post, "/api/v1/kv?proof=x", R"({"key":"k","value":"v"})"), 400, "proof");
  EXPECT_TRUE(backend.proofs_asked.empty());
  EXPECT_TRUE(backend.ops.empty());
}
}  // namespace
}  // namespace pbft::http
