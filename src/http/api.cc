#include "http/api.h"

#include "http/kv_routes.h"
#include "http/query.h"

#include <cstddef>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

namespace pbft::http {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kPathKv = "/api/v1/kv";
constexpr std::string_view kPathKvLocal = "/api/v1/kv/local";
constexpr std::string_view kPathState = "/api/v1/pbft/state";
constexpr std::string_view kPathHealth = "/api/v1/health";

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One request being routed: its version and keep-alive, echoed in every answer.
struct Reply {
  unsigned version;
  bool keep_alive;
  Respond respond;

  void error(unsigned status, const std::string& message) const {
    respond(json_error(status, message, version, keep_alive));
  }
  void json(const std::string& body) const {
    respond(json_response(body, 200, version, keep_alive));
  }
  void method_not_allowed(const char* allow) const {
    Response res = json_error(405, "method not allowed", version, keep_alive);
    res.set(bhttp::field::allow, allow);
    respond(std::move(res));
  }
};

// The `key` query parameter. Returns false (having answered) on bad input.
bool query_key(std::string_view query, const ApiLimits& limits, const Reply& reply,
               std::string& key) {
  bool found = false;
  std::string name;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string_view raw_name = part.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    if (!percent_decode(raw_name, name)) {
      reply.error(400, "malformed percent escape in query");
      return false;
    }
    if (name != "key") continue;
    if (found) {
      reply.error(400, "duplicate query parameter: key");
      return false;
    }
    found = true;
    if (!percent_decode(raw_value, key)) {
      reply.error(400, "malformed percent escape in query parameter: key");
      return false;
    }
  }
  if (!found) {
    reply.error(400, "missing query parameter: key");
    return false;
  }
  if (key.empty()) {
    reply.error(400, "query parameter key must not be empty");
    return false;
  }
  if (key.size() > limits.key_bytes_max) {
    reply.error(413, "key exceeds " + std::to_string(limits.key_bytes_max) + " bytes");
    return false;
  }
  if (!is_valid_utf8(key)) {
    reply.error(400, "query parameter key is not valid UTF-8");
    return false;
  }
  return true;
}

// The `request-id` header ("" when absent). Returns false (having answered)
// when it is invalid.
bool header_request_id(const Request& request, const Reply& reply, std::string& id) {
  const size_t count = request.count("request-id");
  if (count == 0) {
    id.clear();
    return true;
  }
  if (count > 1) {
    reply.error(400, "duplicate request-id header");
    return false;
  }
  id = std::string(request["request-id"]);
  if (!is_valid_request_id(id)) {
    reply.error(400, "invalid request-id header: expected a UUID");
    return false;
  }
  return true;
}

// The callback given to the backend: turns its outcome into the answer.
// Reads also report the key's revision; the write's answer keeps the
// seed's exact shape (its revision is its operation_sequence).
KvDone answer_outcome(Reply reply, bool with_revision = false) {
  return [reply = std::move(reply), with_revision](KvOutcome outcome) {
    if (const auto* error = std::get_if<ApiError>(&outcome)) {
      Response res = json_error(error->status, error->message, reply.version, reply.keep_alive);
      if (error->retry_after_s > 0) {
        res.set(bhttp::field::retry_after, std::to_string(error->retry_after_s));
      }
      reply.respond(std::move(res));
      return;
    }
    const auto& result = std::get<KvResult>(outcome);
    ordered_json body;
    body["request_id"] = result.request_id;
    const bool fast = result.read_path == "fast";
    body["operation_sequence"] = fast ? ordered_json(nullptr) : ordered_json(result.operation_sequence);
    body["key"] = result.key;
    body["value"] = result.value ? ordered_json(*result.value) : ordered_json(nullptr);
    if (with_revision) body["revision"] = result.revision ? ordered_json(*result.revision) : ordered_json(nullptr);
    if (result.read_path) {
      Response res = json_response(dump(body), 200, reply.version, reply.keep_alive);
      res.set("pbft-read-path", *result.read_path);
      reply.respond(std::move(res));
      return;
    }
    reply.json(dump(body));
  };
}

// The seed routes with a proof asked for: the same answer, through
// execute_with_proof, with its certificate in "proof".
void run_with_proof(KvBackend& backend, kv::Operation op, const Reply& reply) {
  const kv::OpKind kind = op.kind;
  const std::string key = op.key, value = op.value;
  backend.execute_with_proof(std::move(op), [reply, kind, key, value](OpOutcome outcome) {
    if (const auto* error = std::get_if<ApiError>(&outcome)) {
      Response res = json_error(error->status, error->message, reply.version, reply.keep_alive);
      if (error->retry_after_s > 0) res.set(bhttp::field::retry_after, std::to_string(error->retry_after_s));
      reply.respond(std::move(res));
      return;
    }
    const OpReply& r = std::get<OpReply>(outcome);
    ordered_json body;
    body["request_id"] = r.request_id;
    body["operation_sequence"] = r.result.sequence;
    body["key"] = key;
    if (kind == kv::OpKind::put) {
      body["value"] = value;
    } else {
      const bool found = r.result.status == kv::ResultStatus::ok && r.result.value;
      body["value"] = found ? ordered_json(*r.result.value) : ordered_json(nullptr);
      body["revision"] = found && r.result.form == kv::ResultForm::record ? ordered_json(r.result.revision)
                                                                         : ordered_json(nullptr);
    }
    if (r.proof) body["proof"] = certificate_to_json(*r.proof);
    reply.json(dump(body));
  });
}

void handle_put(const Request& request, std::string_view query, KvBackend& backend, const ApiLimits& limits,
                const Reply& reply) {
  const auto body = nlohmann::json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    reply.error(400, "malformed JSON");
    return;
  }
  if (!body.is_object()) {
    reply.error(400, "request body must be a JSON object");
    return;
  }
  const auto key_it = body.find("key");
  if (key_it == body.end()) {
    reply.error(400, "missing field: key");
    return;
  }
  if (!key_it->is_string()) {
    reply.error(400, "field key must be a string");
    return;
  }
  const auto value_it = body.find("value");
  if (value_it == body.end()) {
    reply.error(400, "missing field: value");
    return;
  }
  if (!value_it->is_string()) {
    reply.error(400, "field value must be a string");
    return;
  }
  const auto& key = key_it->get_ref<const std::string&>();
  const auto& value = value_it->get_ref<const std::string&>();
  if (key.empty()) {
    reply.error(400, "field key must not be empty");
    return;
  }
  if (key.size() > limits.key_bytes_max) {
    reply.error(413, "key exceeds " + std::to_string(limits.key_bytes_max) + " bytes");
    return;
  }
  if (value.size() > limits.value_bytes_max) {
    reply.error(413, "value exceeds " + std::to_string(limits.value_bytes_max) + " bytes");
    return;
  }
  std::string request_id;
  if (!header_request_id(request, reply, request_id)) return;
  std::string proof_error;
  const std::optional<bool> proof = wants_proof(request, query, proof_error);
  if (!proof) return reply.error(400, proof_error);
  if (*proof) return run_with_proof(backend, kv::Operation{kv::OpKind::put, key, value, request_id}, reply);
  backend.put(std::move(request_id), key, value, answer_outcome(reply));
}

void handle_get(const Request& request, std::string_view query, KvBackend& backend,
                const ApiLimits& limits, const Reply& reply) {
  std::string key;
  if (!query_key(query, limits, reply, key)) return;
  std::string request_id;
  if (!header_request_id(request, reply, request_id)) return;
  std::string proof_error;
  const std::optional<bool> proof = wants_proof(request, query, proof_error);
  if (!proof) return reply.error(400, proof_error);
  std::string consistency = "ordered";
  const Query q = parse_query(query);
  if (const std::string* c = q.find("consistency")) consistency = *c;
  if (consistency != "ordered" && consistency != "fast")
    return reply.error(400, "query parameter consistency must be ordered or fast");
  if (consistency == "fast") {
    if (*proof)
      return reply.error(400, "a reply certificate needs an ordered read: consistency=fast gives none");
    if (!request_id.empty())
      return reply.error(400, "a fast read records nothing, so it takes no request-id header");
    return backend.get_fast(std::move(key), answer_outcome(reply, true));
  }
  if (*proof) return run_with_proof(backend, kv::Operation{kv::OpKind::get, key, "", request_id}, reply);
  backend.get(std::move(request_id), std::move(key), answer_outcome(reply, true));
}

void handle_local(std::string_view query, KvBackend& backend, const ApiLimits& limits,
                  const Reply& reply) {
  std::string key;
  if (!query_key(query, limits, reply, key)) return;
  const std::optional<std::string> value = backend.get_local(key);
  ordered_json body;
  body["key"] = key;
  body["value"] = value ? ordered_json(*value) : ordered_json(nullptr);
  reply.json(dump(body));
}

void route(const Request& request, KvBackend& backend, const ApiLimits& limits,
           const Reply& reply) {
  const std::string_view target(request.target().data(), request.target().size());
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  const bhttp::verb method = request.method();

  if (path == kPathKv) {
    if (method == bhttp::verb::post) {
      handle_put(request, query, backend, limits, reply);
    } else if (method == bhttp::verb::get) {
      handle_get(request, query, backend, limits, reply);
    } else if (method == bhttp::verb::delete_) {
      handle_delete(request, query, backend, limits, reply.respond);
    } else {
      reply.method_not_allowed("GET, POST, DELETE");
    }
  } else if (route_kv_ops(request, path, query, backend, limits, reply.respond)) {
    // answered there
  } else if (path == kPathKvLocal) {
    if (method != bhttp::verb::get) return reply.method_not_allowed("GET");
    handle_local(query, backend, limits, reply);
  } else if (path == kPathState) {
    if (method != bhttp::verb::get) return reply.method_not_allowed("GET");
    reply.json(backend.state_json());
  } else if (path == kPathHealth) {
    if (method != bhttp::verb::get) return reply.method_not_allowed("GET");
    Response res;
    res.result(bhttp::status::ok);
    res.version(reply.version);
    res.keep_alive(reply.keep_alive);
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = "Ok";
    res.prepare_payload();
    reply.respond(std::move(res));
  } else {
    reply.error(404, "not found");
  }
}

}  // namespace

std::optional<bool> wants_proof(const Request& request, std::string_view query, std::string& error) {
  auto parse = [&](const std::string& v, const char* where) -> std::optional<bool> {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    error = std::string(where) + " must be 1, true, 0 or false";
    return std::nullopt;
  };
  bool proof = false;
  const Query q = parse_query(query);
  if (!q.error.empty()) {
    error = q.error;
    return std::nullopt;
  }
  if (const std::string* v = q.find("proof")) {
    std::optional<bool> p = parse(*v, "query parameter proof");
    if (!p) return std::nullopt;
    proof = *p;
  }
  if (request.count("pbft-proof") > 1) {
    error = "duplicate pbft-proof header";
    return std::nullopt;
  }
  if (request.count("pbft-proof") == 1) {
    std::optional<bool> p = parse(std::string(request["pbft-proof"]), "header pbft-proof");
    if (!p) return std::nullopt;
    proof = proof || *p;
  }
  return proof;
}

bool is_valid_request_id(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
    } else if (hex_value(id[i]) < 0) {
      return false;
    }
  }
  return true;
}

void handle_api(const Request& request, KvBackend& backend, const ApiLimits& limits,
                Respond respond) {
  // Every answer, direct or through the backend's done, goes through `once`:
  // exactly one leaves here, even when the backend throws after calling
  // done, or calls it twice.
  auto answered = std::make_shared<bool>(false);
  Respond once = [answered, respond = std::move(respond)](Response res) {
    if (*answered) return;
    *answered = true;
    respond(std::move(res));
  };
  const Reply reply{request.version(), request.keep_alive(), once};
  try {
    route(request, backend, limits, reply);
  } catch (const std::exception&) {
    once(json_error(500, "internal error", request.version(), request.keep_alive()));
  }
}

}  // namespace pbft::http
