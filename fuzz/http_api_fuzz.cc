// The HTTP handlers as plain functions (handle_ops, then handle_api, as the
// node routes), with the real key-value state machine behind them: a
// KvStore on memory storage, executing every operation the routes build,
// in order, as the cluster would. The input is up to 8 requests in HTTP's
// text form, separated by lines "--" (see parse_request), so that later
// requests see the state (and the request ids) earlier ones left.
//
// Checks, for every request: exactly one answer; a status the API documents
// (never 500: this backend does not fail, so a 500 means a route built an
// operation the state machine cannot run, or threw); the HTTP version is
// echoed; a JSON answer parses, and an error answer is {"error": string};
// every operation a route builds survives its encoding (the state machine
// sees what the route meant).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "http/api.h"
#include "http/ops_api.h"
#include "kv/kv_store.h"
#include "kv/operation.h"
#include "storage/memory_storage.h"
#include "wire/codec.h"

using namespace pbft;
namespace bhttp = boost::beast::http;

namespace {

class StoreBackend final : public http::KvBackend, public http::OpsBackend {
 public:
  StoreBackend() = default;

  void put(std::string request_id, std::string key, std::string value, http::KvDone done) override {
    submit(kv::Operation{kv::OpKind::put, std::move(key), std::move(value), std::move(request_id)}, std::move(done));
  }
  void get(std::string request_id, std::string key, http::KvDone done) override {
    submit(kv::Operation{kv::OpKind::get, std::move(key), "", std::move(request_id)}, std::move(done));
  }
  std::optional<std::string> get_local(const std::string& key) override { return store().get(key); }
  void execute(kv::Operation op, http::OpDone done) override { order(std::move(op), std::move(done)); }
  std::string state_json() override {
    return R"({"replica_state":"Replica","view":0,"last_applied":)" + std::to_string(seq_) +
           R"(,"last_stable_checkpoint_sequence":null})";
  }

  std::string metrics_text() override { return "pbft_up 1\n"; }
  http::Readiness readiness() override { return {seq_ % 2 == 0, seq_ % 2 == 0 ? "" : "odd sequence"}; }
  std::string cluster_json() override { return R"({"self":0,"replicas":[]})"; }
  std::string slots_json() override { return R"({"slots":[]})"; }
  std::string activity_json() override { return R"({"seconds":[]})"; }

 private:
  // What the node does (Node::submit): a put answers with what it stored,
  // a get with what it read.
  void submit(kv::Operation op, http::KvDone done) {
    const kv::Operation copy = op;
    order(std::move(op), [copy, done = std::move(done)](http::OpOutcome o) {
      if (auto* error = std::get_if<http::ApiError>(&o)) return done(std::move(*error));
      const http::OpReply& reply = std::get<http::OpReply>(o);
      http::KvResult out{reply.request_id, reply.result.sequence, copy.key, std::nullopt};
      if (copy.kind == kv::OpKind::put) {
        out.value = copy.value;
        out.revision = reply.result.sequence;
      } else if (reply.result.status == kv::ResultStatus::ok) {
        out.value = reply.result.value;
        if (reply.result.form == kv::ResultForm::record) out.revision = reply.result.revision;
      }
      done(std::move(out));
    });
  }

  // Orders and executes `op` at the next sequence number, mapping results
  // to errors as Node::order does.
  void order(kv::Operation op, http::OpDone done) {
    const std::string request_id = op.request_id.empty() ? "00000000-0000-4000-8000-" + counter() : op.request_id;
    const Bytes encoded = kv::encode_operation(op);
    const std::optional<kv::Operation> decoded = kv::decode_operation(encoded);
    FUZZ_CHECK(decoded.has_value() && *decoded == op, "an operation a route builds survives its encoding");
    FUZZ_CHECK(encoded.size() <= wire::operation_bytes_max, "an operation a route builds fits a request on the wire");
    const Bytes result_bytes = store().apply(++seq_, encoded);
    storage::WriteBatch batch;
    store().take_writes(batch);
    storage_.write(batch, true);
    store().written();
    std::optional<kv::Result> r = kv::decode_result(result_bytes);
    FUZZ_CHECK(r.has_value(), "the state machine's result decodes");
    FUZZ_CHECK(kv::encode_result(*r) == result_bytes, "a result re-encodes to the same bytes");
    switch (r->status) {
      case kv::ResultStatus::conflict: return done(http::ApiError{409, "request-id reused"});
      case kv::ResultStatus::bad_operation: return done(http::ApiError{500, "bad operation"});
      case kv::ResultStatus::too_large: return done(http::ApiError{413, "too large"});
      default: break;
    }
    done(http::OpReply{request_id, std::move(*r)});
  }
  std::string counter() {
    char buf[13];
    std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(++ids_ & 0xffffffffffffull));
    return buf;
  }

  // Opened on first use: a fresh store costs tens of milliseconds under
  // ASan (thousands of buckets), and many inputs never reach one.
  kv::KvStore& store() {
    if (!store_) store_ = std::make_unique<kv::KvStore>(storage_);
    return *store_;
  }

  storage::MemoryStorage storage_;
  std::unique_ptr<kv::KvStore> store_;
  Seq seq_ = 0;
  uint64_t ids_ = 0;
};

const std::set<unsigned> documented = {200, 400, 404, 405, 409, 413, 503};

// What Beast's parser lets through in a request target or header value.
std::string sanitized(std::string s, bool header) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (header ? (u == '\r' || u == '\n' || u == 0 || u == 0x7f) : (u <= 0x20 || u == 0x7f)) continue;
    out.push_back(c);
  }
  return out;
}

void check_answer(const http::Request& req, const std::vector<http::Response>& answers) {
  FUZZ_CHECK(answers.size() == 1, "exactly one answer per request");
  const http::Response& res = answers.front();
  const unsigned status = res.result_int();
  if (!documented.contains(status)) {
    std::fprintf(stderr, "%s %s -> %u %s\n", std::string(req.method_string()).c_str(),
                 std::string(req.target()).c_str(), status, res.body().c_str());
    FUZZ_CHECK(false, "a documented status");
  }
  FUZZ_CHECK(res.version() == req.version(), "the HTTP version is echoed");
  const std::string type(res[bhttp::field::content_type]);
  if (type.find("application/json") != std::string::npos) {
    const nlohmann::json j = nlohmann::json::parse(res.body(), nullptr, false);
    FUZZ_CHECK(!j.is_discarded(), "a JSON answer parses");
    if (status >= 400) FUZZ_CHECK(j.is_object() && j.contains("error") && j["error"].is_string(),
                                  "an error answer is {\"error\": string}");
    else FUZZ_CHECK(j.is_object(), "a JSON answer is an object");
  } else {
    FUZZ_CHECK(status < 400, "errors are JSON");
  }
  if (status == 405) FUZZ_CHECK(!res[bhttp::field::allow].empty(), "a 405 says which methods are allowed");
}

// One request in the text form of HTTP/1.1: "METHOD TARGET HTTP/1.x", header
// lines "Name: value", an empty line, the body. Content-Length is set from
// the body, as the server's parser would have read it.
std::optional<http::Request> parse_request(std::string_view text) {
  auto line = [&]() {
    const size_t end = text.find('\n');
    std::string_view l = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  };
  const std::string_view request_line = line();
  const size_t sp1 = request_line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  const std::string_view method = request_line.substr(0, sp1);
  std::string_view rest = request_line.substr(sp1 + 1);
  const size_t sp2 = rest.find(' ');
  const std::string target = sanitized(std::string(rest.substr(0, sp2)), false);
  if (target.empty()) return std::nullopt;
  const unsigned version = sp2 != std::string_view::npos && rest.substr(sp2 + 1) == "HTTP/1.0" ? 10 : 11;
  http::Request req{bhttp::string_to_verb(method), target, version};
  if (req.method() == bhttp::verb::unknown) {
    const std::string name = sanitized(std::string(method), false);
    if (name.empty()) return std::nullopt;
    req.method_string(name);
  }
  while (!text.empty()) {
    const std::string_view h = line();
    if (h.empty()) break;
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string name = sanitized(std::string(h.substr(0, colon)), false);
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name.empty()) continue;
    req.insert(name, sanitized(std::string(value), true));
  }
  req.body() = std::string(text);
  req.prepare_payload();
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  StoreBackend backend;
  http::ApiLimits limits;
  limits.key_bytes_max = 64;  // small limits, so that the fuzzer reaches them
  limits.value_bytes_max = 256;
  for (int n = 0; n < 8 && !input.empty(); ++n) {
    const size_t sep = input.find("\n--\n");
    const std::string_view one = input.substr(0, sep);
    input = sep == std::string_view::npos ? std::string_view{} : input.substr(sep + 4);
    std::optional<http::Request> req = parse_request(one);
    if (!req) continue;
    std::vector<http::Response> answers;
    const http::Respond respond = [&](http::Response r) { answers.push_back(std::move(r)); };
    if (!http::handle_ops(*req, backend, respond)) http::handle_api(*req, backend, limits, respond);
    check_answer(*req, answers);
  }
  return 0;
}
