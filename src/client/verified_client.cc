#include <pbft/client.h>

#include <nlohmann/json.hpp>

#include "client/http_client.h"
#include "client/native_runner.h"
#include "client/reply_verifier.h"
#include "kv/operation.h"

namespace pbft {
namespace {

// The cluster refused the operation: no answer to give.
void check_refusal(const kv::Result& r) {
  if (r.status == kv::ResultStatus::conflict || r.status == kv::ResultStatus::bad_operation ||
      r.status == kv::ResultStatus::too_large)
    throw ClientError("the cluster refused the operation (status " + std::to_string(static_cast<int>(r.status)) + ")");
}

// Runs `op` through the endpoints until one gives an answer whose
// certificate proves exactly `op`; returns the certified result.
kv::Result run_http(const ClientOptions& options, kv::Operation op, const std::string& method, const std::string& target,
                    const std::string& body) {
  op.request_id = client::random_uuid();
  const std::map<std::string, std::string> headers{{"request-id", op.request_id}, {"pbft-proof", "1"}};
  std::string reasons;
  auto note = [&](const std::string& endpoint, const std::string& why) {
    reasons += (reasons.empty() ? "" : "; ") + endpoint + ": " + why;
  };
  std::vector<crypto::PublicKey> keys(options.replica_keys.begin(), options.replica_keys.end());
  for (const std::string& text : options.endpoints) {
    const client::Endpoint e = client::parse_endpoint(text);
    client::HttpAnswer a;
    try {
      a = client::http_call(e, method, target, body, headers, options.timeout_ms);
    } catch (const client::HttpUnreachable& u) {
      note(e.name(), u.what());
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
    if (a.status != 200) {
      const std::string error = j.is_object() && j.contains("error") && j["error"].is_string()
                                    ? j["error"].get<std::string>()
                                    : a.body.substr(0, 200);
      if (a.status == 503 || a.status == 504) {
        note(e.name(), std::to_string(a.status) + " " + error);
        continue;
      }
      throw ClientError(e.name() + ": " + std::to_string(a.status) + " " + error);
    }
    if (!j.is_object() || !j.contains("proof")) {
      note(e.name(), "answer refused: no reply certificate");
      continue;
    }
    std::string error;
    std::optional<http::ReplyCertificate> cert = http::certificate_from_json(j["proof"], error);
    if (!cert) {
      note(e.name(), "answer refused: " + error);
      continue;
    }
    client::VerifyOutcome v = client::verify_certificate(*cert, keys);
    if (!v.ok()) {
      note(e.name(), "answer refused: " + v.error);
      continue;
    }
    if (!client::matches_request(*v.verified, op)) {
      note(e.name(), "answer refused: the certificate is for another operation");
      continue;
    }
    const kv::Result& r = v.verified->result;
    check_refusal(r);
    return r;
  }
  throw ClientError("no endpoint gave a verified answer: " + reasons);
}

std::string query_param(const char* name, const std::string& value) {
  return std::string("&") + name + "=" + client::url_encode(value);
}

kv::TxnOp to_kv(const TxnStep& step) {
  switch (step.kind) {
    case TxnStep::Kind::get: return {kv::OpKind::get, step.key, ""};
    case TxnStep::Kind::put: return {kv::OpKind::put, step.key, step.value};
    case TxnStep::Kind::del: return {kv::OpKind::del, step.key, ""};
  }
  throw ClientError("unknown transaction step");
}

nlohmann::json to_json(const TxnStep& step) {
  static constexpr const char* names[] = {"get", "put", "del"};
  nlohmann::json j{{"op", names[static_cast<int>(step.kind)]}, {"key", step.key}};
  if (step.kind == TxnStep::Kind::put) j["value"] = step.value;
  return j;
}

}  // namespace

VerifiedClient::VerifiedClient(ClientOptions options) : options_(std::move(options)) {
  if (options_.endpoints.empty()) throw ClientError("no endpoints");
  if (options_.replica_keys.empty()) throw ClientError("no replica public keys");
  std::vector<client::Endpoint> endpoints;
  for (const std::string& e : options_.endpoints) {
    try {
      endpoints.push_back(client::parse_endpoint(e));
    } catch (const std::invalid_argument& bad) {
      throw ClientError(bad.what());
    }
  }
  if (!options_.identity) return;
  client::NativeOptions n;
  n.cluster_id = options_.cluster_id;
  n.client_id = options_.identity->id;
  n.key = crypto::key_pair_from_seed(options_.identity->seed);
  n.replicas = std::move(endpoints);
  n.replica_keys.assign(options_.replica_keys.begin(), options_.replica_keys.end());
  n.timeout_ms = options_.timeout_ms;
  n.retry_ms = options_.retry_ms;
  n.fast_fallback_ms = options_.fast_fallback_ms;
  n.signed_replies = options_.signed_replies;
  try {
    native_ = std::make_unique<client::NativeRunner>(std::move(n));
  } catch (const std::invalid_argument& bad) {
    throw ClientError(bad.what());
  }
}

VerifiedClient::~VerifiedClient() = default;
VerifiedClient::VerifiedClient(VerifiedClient&&) noexcept = default;
VerifiedClient& VerifiedClient::operator=(VerifiedClient&&) noexcept = default;

kv::Result VerifiedClient::run(kv::Operation op, const HttpForm& http, bool fast, bool* was_fast) {
  if (was_fast != nullptr) *was_fast = false;
  if (!native_) {
    if (fast) throw ClientError("fast reads need the binary protocol (ClientOptions::identity)");
    return run_http(options_, std::move(op), http.method, http.target, http.body);
  }
  try {
    client::NativeRunner::Answer a = native_->run(op, fast);
    check_refusal(a.result);
    if (was_fast != nullptr) *was_fast = a.fast;
    return std::move(a.result);
  } catch (const client::NativeTimeout& t) {
    throw ClientError(t.what());
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const ClientError*>(&e) != nullptr) throw;
    throw ClientError(e.what());
  }
}

uint64_t VerifiedClient::put(const std::string& key, const std::string& value) {
  const std::string body = nlohmann::json{{"key", key}, {"value", value}}.dump();
  return run(kv::Operation{kv::OpKind::put, key, value}, {"POST", "/api/v1/kv?proof=1", body}).sequence;
}

std::optional<std::string> VerifiedClient::get(const std::string& key) {
  std::optional<KeyValue> e = get_entry(key);
  if (!e) return std::nullopt;
  return std::move(e->value);
}

bool VerifiedClient::del(const std::string& key) {
  kv::Result r =
      run(kv::Operation{kv::OpKind::del, key, ""}, {"DELETE", "/api/v1/kv?proof=1&key=" + client::url_encode(key), ""});
  return r.status == kv::ResultStatus::ok;
}

std::optional<KeyValue> VerifiedClient::get_entry(const std::string& key) {
  kv::Result r = run(kv::Operation{kv::OpKind::get, key, ""}, {"GET", "/api/v1/kv?proof=1&key=" + client::url_encode(key), ""});
  if (r.status != kv::ResultStatus::ok || !r.value) return std::nullopt;
  return KeyValue{key, *r.value, r.revision};
}

std::optional<KeyValue> VerifiedClient::get_fast(const std::string& key, bool* fast) {
  kv::Result r = run(kv::Operation{kv::OpKind::get, key, ""}, {}, true, fast);
  if (r.status != kv::ResultStatus::ok || !r.value) return std::nullopt;
  return KeyValue{key, *r.value, r.revision};
}

RangePage VerifiedClient::range(const std::string& start, const std::string& end, uint32_t limit) {
  if (limit == 0 || limit > kv::range_limit_max)
    throw ClientError("range limit must be from 1 to " + std::to_string(kv::range_limit_max));
  kv::Operation op{kv::OpKind::range, start, ""};
  op.range_end = end;
  op.limit = limit;
  std::string target = "/api/v1/kv/range?proof=1&limit=" + std::to_string(limit);
  if (!start.empty()) target += query_param("start", start);
  if (!end.empty()) target += query_param("end", end);
  kv::Result r = run(std::move(op), {"GET", target, ""});
  RangePage page;
  page.sequence = r.sequence;
  page.next = r.next;
  for (kv::Entry& e : r.entries) page.entries.push_back({std::move(e.key), std::move(e.value), e.revision});
  return page;
}

RangePage VerifiedClient::scan_prefix(const std::string& prefix, uint32_t limit, const std::optional<std::string>& after) {
  return range(after ? *after : prefix, kv::prefix_end(prefix), limit);
}

CasOutcome VerifiedClient::cas(const std::string& key, const std::optional<std::string>& expected,
                               const std::string& value) {
  kv::Operation op{kv::OpKind::cas, key, value};
  op.expected = expected;
  nlohmann::json body{{"key", key}, {"value", value}, {"expected", nullptr}};
  if (expected) body["expected"] = *expected;
  kv::Result r = run(std::move(op), {"POST", "/api/v1/kv/cas?proof=1", body.dump()});
  return CasOutcome{r.status == kv::ResultStatus::ok, r.value, r.revision, r.sequence};
}

TxnOutcome VerifiedClient::txn(const Txn& txn) {
  kv::Operation op{kv::OpKind::txn, "", ""};
  nlohmann::json body{{"compare", nlohmann::json::array()}, {"success", nlohmann::json::array()},
                      {"failure", nlohmann::json::array()}};
  for (const TxnCompare& c : txn.compares) {
    kv::Compare k;
    k.key = c.key;
    nlohmann::json j{{"key", c.key}};
    switch (c.kind) {
      case TxnCompare::Kind::value_equals:
        k.target = kv::CompareTarget::value;
        k.value = c.value;
        j["value"] = c.value;
        break;
      case TxnCompare::Kind::absent:
        k.target = kv::CompareTarget::absent;
        j["absent"] = true;
        break;
      case TxnCompare::Kind::revision_equals:
        k.target = kv::CompareTarget::revision;
        k.revision = c.revision;
        j["revision"] = c.revision;
        break;
    }
    op.compares.push_back(std::move(k));
    body["compare"].push_back(std::move(j));
  }
  for (const TxnStep& s : txn.success) {
    op.success.push_back(to_kv(s));
    body["success"].push_back(to_json(s));
  }
  for (const TxnStep& s : txn.failure) {
    op.failure.push_back(to_kv(s));
    body["failure"].push_back(to_json(s));
  }
  kv::Result r = run(std::move(op), {"POST", "/api/v1/kv/txn?proof=1", body.dump()});
  TxnOutcome out{r.succeeded, {}, r.sequence};
  const std::vector<TxnStep>& ran = r.succeeded ? txn.success : txn.failure;
  if (r.responses.size() != ran.size()) throw ClientError("the certified transaction answer has the wrong number of results");
  for (size_t i = 0; i < ran.size(); ++i) {
    const kv::Result& sub = r.responses[i];
    TxnStepResult step;
    step.found = sub.status == kv::ResultStatus::ok && (ran[i].kind != TxnStep::Kind::get || sub.value.has_value());
    if (ran[i].kind == TxnStep::Kind::get) {
      step.value = sub.value;
      step.revision = sub.revision;
    }
    out.results.push_back(std::move(step));
  }
  return out;
}

}  // namespace pbft
