#include <pbft/client.h>

#include <nlohmann/json.hpp>

#include "client/http_client.h"
#include "client/reply_verifier.h"

namespace pbft {
namespace {

// Runs `op` through the endpoints until one gives an answer whose
// certificate proves exactly `op`; returns the certified result.
kv::Result run(const ClientOptions& options, kv::Operation op, const std::string& method, const std::string& target,
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
    if (r.status == kv::ResultStatus::conflict || r.status == kv::ResultStatus::bad_operation ||
        r.status == kv::ResultStatus::too_large)
      throw ClientError("the cluster refused the operation (status " + std::to_string(static_cast<int>(r.status)) + ")");
    return r;
  }
  throw ClientError("no endpoint gave a verified answer: " + reasons);
}

}  // namespace

VerifiedClient::VerifiedClient(ClientOptions options) : options_(std::move(options)) {
  if (options_.endpoints.empty()) throw ClientError("no endpoints");
  if (options_.replica_keys.empty()) throw ClientError("no replica public keys");
  for (const std::string& e : options_.endpoints) {
    try {
      client::parse_endpoint(e);
    } catch (const std::invalid_argument& bad) {
      throw ClientError(bad.what());
    }
  }
}

uint64_t VerifiedClient::put(const std::string& key, const std::string& value) {
  const std::string body = nlohmann::json{{"key", key}, {"value", value}}.dump();
  return run(options_, kv::Operation{kv::OpKind::put, key, value}, "POST", "/api/v1/kv?proof=1", body).sequence;
}

std::optional<std::string> VerifiedClient::get(const std::string& key) {
  kv::Result r = run(options_, kv::Operation{kv::OpKind::get, key, ""}, "GET", "/api/v1/kv?proof=1&key=" + client::url_encode(key), "");
  if (r.status != kv::ResultStatus::ok) return std::nullopt;
  return r.value;
}

bool VerifiedClient::del(const std::string& key) {
  kv::Result r =
      run(options_, kv::Operation{kv::OpKind::del, key, ""}, "DELETE", "/api/v1/kv?proof=1&key=" + client::url_encode(key), "");
  return r.status == kv::ResultStatus::ok;
}

}  // namespace pbft
