#include "http/kv_routes.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "http/query.h"

namespace pbft::http {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kPathRange = "/api/v1/kv/range";
constexpr std::string_view kPathCas = "/api/v1/kv/cas";
constexpr std::string_view kPathTxn = "/api/v1/kv/txn";

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// One request being answered.
struct Answer {
  unsigned version;
  bool keep_alive;
  Respond respond;
  bool proof = false;  // answer with the reply certificate

  void error(unsigned status, const std::string& message) const {
    respond(json_error(status, message, version, keep_alive));
  }
  void json_body(const ordered_json& body) const { respond(json_response(dump(body), 200, version, keep_alive)); }
  void method_not_allowed(const char* allow) const {
    Response res = json_error(405, "method not allowed", version, keep_alive);
    res.set(bhttp::field::allow, allow);
    respond(std::move(res));
  }
};

// A user key: a string, non-empty, within the limit, valid UTF-8 (true), or
// an answered error (false).
bool check_key(const std::string& key, const std::string& what, const ApiLimits& limits, const Answer& a,
               bool may_be_empty = false) {
  if (key.empty() && !may_be_empty) {
    a.error(400, what + " must not be empty");
    return false;
  }
  if (key.size() > limits.key_bytes_max) {
    a.error(413, what + " exceeds " + std::to_string(limits.key_bytes_max) + " bytes");
    return false;
  }
  if (!is_valid_utf8(key)) {
    a.error(400, what + " is not valid UTF-8");
    return false;
  }
  return true;
}

bool check_value(const std::string& value, const std::string& what, const ApiLimits& limits, const Answer& a) {
  if (value.size() > limits.value_bytes_max) {
    a.error(413, what + " exceeds " + std::to_string(limits.value_bytes_max) + " bytes");
    return false;
  }
  return true;
}

bool request_id_header(const Request& request, const Answer& a, std::string& id) {
  const size_t count = request.count("request-id");
  id.clear();
  if (count == 0) return true;
  if (count > 1) {
    a.error(400, "duplicate request-id header");
    return false;
  }
  id = std::string(request["request-id"]);
  if (!is_valid_request_id(id)) {
    a.error(400, "invalid request-id header: expected a UUID");
    return false;
  }
  return true;
}

// The body as a JSON object, or an answered error.
std::optional<json> json_object(const Request& request, const Answer& a) {
  json body = json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    a.error(400, "malformed JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    a.error(400, "request body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// A string field of `obj`, or an answered error.
const std::string* string_field(const json& obj, const std::string& name, const std::string& where, const Answer& a) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    a.error(400, "missing field: " + where + name);
    return nullptr;
  }
  if (!it->is_string()) {
    a.error(400, "field " + where + name + " must be a string");
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

ordered_json nullable(const std::optional<std::string>& v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
ordered_json revision_of(const kv::Result& r) { return r.value ? ordered_json(r.revision) : ordered_json(nullptr); }

// Runs `op` and, on success, answers with what `render` makes of the result.
void run(KvBackend& backend, kv::Operation op, const Answer& a,
         std::function<ordered_json(const OpReply&)> render) {
  auto on_done = [a, render = std::move(render)](OpOutcome outcome) {
    if (const auto* error = std::get_if<ApiError>(&outcome)) {
      Response res = json_error(error->status, error->message, a.version, a.keep_alive);
      if (error->retry_after_s > 0) res.set(bhttp::field::retry_after, std::to_string(error->retry_after_s));
      a.respond(std::move(res));
      return;
    }
    const OpReply& reply = std::get<OpReply>(outcome);
    ordered_json body = render(reply);
    if (reply.proof) body["proof"] = certificate_to_json(*reply.proof);
    a.json_body(body);
  };
  if (a.proof) backend.execute_with_proof(std::move(op), std::move(on_done));
  else backend.execute(std::move(op), std::move(on_done));
}

ordered_json head(const OpReply& r) {
  ordered_json body;
  body["request_id"] = r.request_id;
  body["operation_sequence"] = r.result.sequence;
  return body;
}

void handle_range(const Request& request, std::string_view raw_query, KvBackend& backend, const ApiLimits& limits,
                  const Answer& a) {
  const Query q = parse_query(raw_query);
  if (!q.error.empty()) return a.error(400, q.error);
  kv::Operation op{kv::OpKind::range, "", ""};
  const std::string* prefix = q.find("prefix");
  const std::string* start = q.find("start");
  const std::string* end = q.find("end");
  if (prefix && (start || end)) return a.error(400, "give either prefix or start/end, not both");
  if (prefix) {
    if (!check_key(*prefix, "query parameter prefix", limits, a, true)) return;
    op.key = *prefix;
    op.range_end = kv::prefix_end(*prefix);
  } else {
    if (start && !check_key(*start, "query parameter start", limits, a, true)) return;
    if (end && !check_key(*end, "query parameter end", limits, a, true)) return;
    if (start) op.key = *start;
    if (end) op.range_end = *end;
  }
  op.limit = range_limit_default;
  if (const std::string* limit = q.find("limit")) {
    uint64_t n = 0;
    bool digits = !limit->empty() && limit->size() <= 9;
    for (char c : *limit) {
      if (c < '0' || c > '9') digits = false;
      else n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits || n == 0 || n > kv::range_limit_max)
      return a.error(400, "query parameter limit must be an integer from 1 to " + std::to_string(kv::range_limit_max));
    op.limit = static_cast<uint32_t>(n);
  }
  if (const std::string* token = q.find("token")) {
    std::optional<std::string> next = decode_range_token(*token);
    if (!next || next->size() > limits.key_bytes_max) return a.error(400, "invalid query parameter token");
    // A token past the range's start continues it; one before it is not from this range.
    if (*next < op.key || (!op.range_end.empty() && *next >= op.range_end))
      return a.error(400, "query parameter token does not belong to this range");
    op.key = std::move(*next);
  }
  if (!request_id_header(request, a, op.request_id)) return;
  run(backend, std::move(op), a, [](const OpReply& r) {
    ordered_json body = head(r);
    ordered_json entries = ordered_json::array();
    for (const kv::Entry& e : r.result.entries)
      entries.push_back({{"key", e.key}, {"value", e.value}, {"revision", e.revision}});
    body["entries"] = std::move(entries);
    body["more"] = r.result.next.has_value();
    body["token"] = r.result.next ? ordered_json(encode_range_token(*r.result.next)) : ordered_json(nullptr);
    return body;
  });
}

void handle_cas(const Request& request, KvBackend& backend, const ApiLimits& limits, const Answer& a) {
  std::optional<json> body = json_object(request, a);
  if (!body) return;
  const std::string* key = string_field(*body, "key", "", a);
  if (!key || !check_key(*key, "field key", limits, a)) return;
  const std::string* value = string_field(*body, "value", "", a);
  if (!value || !check_value(*value, "value", limits, a)) return;
  auto expected = body->find("expected");
  if (expected == body->end())
    return a.error(400, "missing field: expected (the current value required, or null for absence)");
  if (!expected->is_string() && !expected->is_null()) return a.error(400, "field expected must be a string or null");
  kv::Operation op{kv::OpKind::cas, *key, *value};
  if (expected->is_string()) {
    op.expected = expected->get<std::string>();
    if (!check_value(*op.expected, "expected", limits, a)) return;
  }
  if (!request_id_header(request, a, op.request_id)) return;
  run(backend, std::move(op), a, [key = *key](const OpReply& r) {
    ordered_json out = head(r);
    out["key"] = key;
    out["succeeded"] = r.result.status == kv::ResultStatus::ok;
    out["value"] = nullable(r.result.value);
    out["revision"] = revision_of(r.result);
    return out;
  });
}

// One compare or op of a transaction body; false having answered an error.
bool parse_compare(const json& c, size_t i, const ApiLimits& limits, const Answer& a, kv::Compare& out) {
  const std::string where = "compare[" + std::to_string(i) + "].";
  if (!c.is_object()) {
    a.error(400, "compare[" + std::to_string(i) + "] must be an object");
    return false;
  }
  const std::string* key = string_field(c, "key", where, a);
  if (!key || !check_key(*key, "field " + where + "key", limits, a)) return false;
  out.key = *key;
  const int given = static_cast<int>(c.contains("value")) + static_cast<int>(c.contains("absent")) +
                    static_cast<int>(c.contains("revision"));
  if (given != 1) {
    a.error(400, where + " needs exactly one of value, absent, revision");
    return false;
  }
  if (c.contains("value")) {
    const std::string* value = string_field(c, "value", where, a);
    if (!value || !check_value(*value, where + "value", limits, a)) return false;
    out.target = kv::CompareTarget::value;
    out.value = *value;
  } else if (c.contains("absent")) {
    if (!c["absent"].is_boolean() || !c["absent"].get<bool>()) {
      a.error(400, "field " + where + "absent must be true");
      return false;
    }
    out.target = kv::CompareTarget::absent;
  } else {
    if (!c["revision"].is_number_unsigned()) {
      a.error(400, "field " + where + "revision must be a non-negative integer");
      return false;
    }
    out.target = kv::CompareTarget::revision;
    out.revision = c["revision"].get<uint64_t>();
  }
  return true;
}

bool parse_ops(const json& body, const char* branch, const ApiLimits& limits, const Answer& a,
               std::vector<kv::TxnOp>& out) {
  auto it = body.find(branch);
  if (it == body.end()) return true;
  if (!it->is_array()) {
    a.error(400, std::string("field ") + branch + " must be an array");
    return false;
  }
  if (it->size() > kv::txn_ops_max) {
    a.error(413, std::string(branch) + " holds more than " + std::to_string(kv::txn_ops_max) + " operations");
    return false;
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& o = (*it)[i];
    const std::string where = std::string(branch) + "[" + std::to_string(i) + "].";
    if (!o.is_object()) {
      a.error(400, std::string(branch) + "[" + std::to_string(i) + "] must be an object");
      return false;
    }
    const std::string* name = string_field(o, "op", where, a);
    if (!name) return false;
    kv::TxnOp t;
    if (*name == "get") t.kind = kv::OpKind::get;
    else if (*name == "put") t.kind = kv::OpKind::put;
    else if (*name == "del") t.kind = kv::OpKind::del;
    else {
      a.error(400, "field " + where + "op must be get, put or del");
      return false;
    }
    const std::string* key = string_field(o, "key", where, a);
    if (!key || !check_key(*key, "field " + where + "key", limits, a)) return false;
    t.key = *key;
    if (t.kind == kv::OpKind::put) {
      const std::string* value = string_field(o, "value", where, a);
      if (!value || !check_value(*value, where + "value", limits, a)) return false;
      t.value = *value;
    }
    out.push_back(std::move(t));
  }
  return true;
}

void handle_txn(const Request& request, KvBackend& backend, const ApiLimits& limits, const Answer& a) {
  std::optional<json> body = json_object(request, a);
  if (!body) return;
  kv::Operation op{kv::OpKind::txn, "", ""};
  if (auto it = body->find("compare"); it != body->end()) {
    if (!it->is_array()) return a.error(400, "field compare must be an array");
    if (it->size() > kv::txn_compares_max)
      return a.error(413, "compare holds more than " + std::to_string(kv::txn_compares_max) + " entries");
    for (size_t i = 0; i < it->size(); ++i) {
      kv::Compare c;
      if (!parse_compare((*it)[i], i, limits, a, c)) return;
      op.compares.push_back(std::move(c));
    }
  }
  if (!parse_ops(*body, "success", limits, a, op.success) || !parse_ops(*body, "failure", limits, a, op.failure))
    return;
  if (!request_id_header(request, a, op.request_id)) return;
  run(backend, op, a, [op](const OpReply& r) {
    ordered_json out = head(r);
    out["succeeded"] = r.result.succeeded;
    const std::vector<kv::TxnOp>& ops = r.result.succeeded ? op.success : op.failure;
    ordered_json results = ordered_json::array();
    for (size_t i = 0; i < ops.size() && i < r.result.responses.size(); ++i) {
      const kv::Result& sub = r.result.responses[i];
      ordered_json e;
      e["key"] = ops[i].key;
      switch (ops[i].kind) {
        case kv::OpKind::get:
          e["op"] = "get";
          e["value"] = nullable(sub.value);
          e["revision"] = revision_of(sub);
          break;
        case kv::OpKind::put:
          e["op"] = "put";
          e["revision"] = sub.sequence;
          break;
        default:
          e["op"] = "del";
          e["deleted"] = sub.status == kv::ResultStatus::ok;
          break;
      }
      results.push_back(std::move(e));
    }
    out["results"] = std::move(results);
    return out;
  });
}

}  // namespace

void handle_delete(const Request& request, std::string_view raw_query, KvBackend& backend, const ApiLimits& limits,
                   const Respond& respond) {
  Answer a{request.version(), request.keep_alive(), respond};
  const Query q = parse_query(raw_query);
  if (!q.error.empty()) return a.error(400, q.error);
  std::string proof_error;
  const std::optional<bool> proof = wants_proof(request, raw_query, proof_error);
  if (!proof) return a.error(400, proof_error);
  a.proof = *proof;
  const std::string* key = q.find("key");
  if (!key) return a.error(400, "missing query parameter: key");
  if (!check_key(*key, "query parameter key", limits, a)) return;
  kv::Operation op{kv::OpKind::del, *key, ""};
  if (!request_id_header(request, a, op.request_id)) return;
  run(backend, std::move(op), a, [key = *key](const OpReply& r) {
    ordered_json out = head(r);
    out["key"] = key;
    out["deleted"] = r.result.status == kv::ResultStatus::ok;
    return out;
  });
}

bool route_kv_ops(const Request& request, std::string_view path, std::string_view query, KvBackend& backend,
                  const ApiLimits& limits, const Respond& respond) {
  if (path != kPathRange && path != kPathCas && path != kPathTxn) return false;
  Answer a{request.version(), request.keep_alive(), respond};
  std::string proof_error;
  const std::optional<bool> proof = wants_proof(request, query, proof_error);
  if (!proof) {
    a.error(400, proof_error);
    return true;
  }
  a.proof = *proof;
  const bhttp::verb method = request.method();
  if (path == kPathRange) {
    if (method != bhttp::verb::get) a.method_not_allowed("GET");
    else handle_range(request, query, backend, limits, a);
    return true;
  }
  if (path == kPathCas || path == kPathTxn) {
    if (method != bhttp::verb::post) a.method_not_allowed("POST");
    else if (path == kPathCas) handle_cas(request, backend, limits, a);
    else handle_txn(request, backend, limits, a);
    return true;
  }
  return false;
}

std::string encode_range_token(const std::string& next_key) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * next_key.size());
  for (char c : next_key) {
    out.push_back(digits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(digits[static_cast<uint8_t>(c) & 0xf]);
  }
  return out;
}

std::optional<std::string> decode_range_token(std::string_view token) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (token.empty() || token.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < token.size(); i += 2) {
    const int hi = nibble(token[i]), lo = nibble(token[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace pbft::http
