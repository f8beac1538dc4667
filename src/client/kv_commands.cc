#include "client/kv_commands.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/http_client.h"
#include "client/reply_verifier.h"
#include "http/kv_routes.h"
#include "node/config.h"

namespace pbft::client {
namespace {

using json = nlohmann::ordered_json;

// A kvctl failure: the message for stderr, exit code 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<Endpoint> endpoints_of(const KvCommands& k) {
  std::vector<Endpoint> out;
  if (!k.config.empty()) {
    if (!k.endpoints.empty()) throw Failure("give --endpoints or --config, not both");
    node::NodeConfig config;
    try {
      config = node::load_config_file(k.config);
    } catch (const std::exception& e) {
      throw Failure(std::string("cannot read --config: ") + e.what());
    }
    for (const node::Member& m : config.members) out.push_back(Endpoint{m.host, m.http_port});
    return out;
  }
  std::vector<std::string> texts = k.endpoints;
  if (texts.empty()) texts.push_back("127.0.0.1:10000");
  try {
    out = parse_endpoint_list(texts);
  } catch (const std::invalid_argument& e) {
    throw Failure(e.what());
  }
  if (out.empty()) throw Failure("no endpoints given");
  return out;
}

// The public keys --verify checks certificates against.
std::vector<crypto::PublicKey> replica_keys(const KvCommands& k) {
  std::vector<crypto::PublicKey> keys;
  if (!k.config.empty()) {
    for (const node::Member& m : node::load_config_file(k.config).members) keys.push_back(m.public_key);
  } else {
    for (ReplicaId i = 0; i < node::dev_replica_count; ++i) keys.push_back(node::dev_key_pair(i).public_key);
  }
  return keys;
}

// What the operation kvctl sends looks like once the route has built it,
// given the request id kvctl sends with it (nullopt: not compared field by
// field, only its kind and request id).
using ExpectedOp = std::function<kv::Operation(const std::string& request_id)>;

json nullable(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// The gateway's JSON must say what the certified result says.
void check_claims(const json& j, const kv::Operation& op, const kv::Result& r) {
  auto differ = [](const std::string& what) {
    throw Failure("answer refused: the gateway's " + what + " differs from the certified result");
  };
  if (j.value("operation_sequence", json()) != json(r.sequence)) differ("operation_sequence");
  const bool found = r.status == kv::ResultStatus::ok && r.value.has_value();
  switch (op.kind) {
    case kv::OpKind::get:
      if (j.value("value", json()) != (found ? json(*r.value) : json(nullptr))) differ("value");
      if (j.value("revision", json()) != (found && r.form == kv::ResultForm::record ? json(r.revision) : json(nullptr)))
        differ("revision");
      break;
    case kv::OpKind::del:
      if (j.value("deleted", json()) != json(r.status == kv::ResultStatus::ok)) differ("deleted");
      break;
    case kv::OpKind::cas:
      if (j.value("succeeded", json()) != json(r.status == kv::ResultStatus::ok)) differ("succeeded");
      if (j.value("value", json()) != nullable(r.value)) differ("value");
      if (j.value("revision", json()) != (r.value ? json(r.revision) : json(nullptr))) differ("revision");
      break;
    case kv::OpKind::range: {
      json entries = json::array();
      for (const kv::Entry& e : r.entries) entries.push_back({{"key", e.key}, {"value", e.value}, {"revision", e.revision}});
      if (j.value("entries", json()) != entries) differ("entries");
      if (j.value("more", json()) != json(r.next.has_value())) differ("more");
      if (j.value("token", json()) != (r.next ? json(http::encode_range_token(*r.next)) : json(nullptr))) differ("token");
      break;
    }
    case kv::OpKind::txn:
      if (j.value("succeeded", json()) != json(r.succeeded)) differ("succeeded");
      break;
    case kv::OpKind::put:
      break;
  }
}

// The operation the txn route builds from `body` (its JSON), as far as the
// shape allows; a shape the route refuses is answered 400 before any
// certificate matters.
kv::Operation txn_operation(const std::string& body, const std::string& request_id) {
  kv::Operation op{kv::OpKind::txn, "", "", request_id};
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return op;
  if (auto c = j.find("compare"); c != j.end() && c->is_array()) {
    for (const json& e : *c) {
      if (!e.is_object()) continue;
      kv::Compare cmp;
      cmp.key = e.value("key", "");
      if (e.contains("value") && e["value"].is_string()) {
        cmp.target = kv::CompareTarget::value;
        cmp.value = e["value"].get<std::string>();
      } else if (e.contains("revision") && e["revision"].is_number_unsigned()) {
        cmp.target = kv::CompareTarget::revision;
        cmp.revision = e["revision"].get<uint64_t>();
      } else {
        cmp.target = kv::CompareTarget::absent;
      }
      op.compares.push_back(std::move(cmp));
    }
  }
  for (const char* branch : {"success", "failure"}) {
    auto b = j.find(branch);
    if (b == j.end() || !b->is_array()) continue;
    std::vector<kv::TxnOp>& out = std::string_view(branch) == "success" ? op.success : op.failure;
    for (const json& e : *b) {
      kv::TxnOp t;
      const std::string name = e.is_object() ? e.value("op", "") : "";
      t.kind = name == "put" ? kv::OpKind::put : name == "del" ? kv::OpKind::del : kv::OpKind::get;
      t.key = e.is_object() ? e.value("key", "") : "";
      if (t.kind == kv::OpKind::put) t.value = e.value("value", "");
      out.push_back(std::move(t));
    }
  }
  return op;
}

// --verify: the answer's certificate proves `expected` (by `request_id`)
// and the result in the JSON; throws Failure otherwise.
void verify_answer(const KvCommands& k, const json& j, const std::string& request_id, const ExpectedOp& expected,
                   kv::OpKind kind) {
  auto proof = j.find("proof");
  if (proof == j.end()) throw Failure("answer refused: it carries no reply certificate (\"proof\")");
  std::string error;
  std::optional<http::ReplyCertificate> cert = http::certificate_from_json(*proof, error);
  if (!cert) throw Failure("answer refused: " + error);
  std::vector<crypto::PublicKey> keys;
  try {
    keys = replica_keys(k);
  } catch (const std::exception& e) {
    throw Failure(std::string("cannot read the replicas' public keys: ") + e.what());
  }
  VerifyOutcome v = verify_certificate(*cert, keys);
  if (!v.ok())
    throw Failure("answer refused: reply certificate does not verify: " + v.error +
                  (k.config.empty() ? " (checked against the dev cluster's keys; give --config for another cluster)" : ""));
  if (expected) {
    if (!matches_request(*v.verified, expected(request_id)))
      throw Failure("answer refused: the certificate is for another operation than the one sent");
  } else if (v.verified->operation.kind != kind || v.verified->operation.request_id != request_id) {
    throw Failure("answer refused: the certificate is for another operation than the one sent");
  }
  check_claims(j, v.verified->operation, v.verified->result);
}

// Sends the request to the endpoints in turn until one answers with
// something other than 503/504; returns the JSON of a 200 answer and
// throws Failure with the server's error otherwise. With --verify the
// answer must also carry a certificate that proves it (verify_answer).
json call(const KvCommands& k, const std::string& method, std::string target, const std::string& body,
          kv::OpKind kind = kv::OpKind::get, const ExpectedOp& expected = {}) {
  const std::vector<Endpoint> endpoints = endpoints_of(k);
  const std::string request_id = random_uuid();
  std::map<std::string, std::string> headers{{"request-id", request_id}};
  if (k.verify) {
    target += target.find('?') == std::string::npos ? "?proof=1" : "&proof=1";
    headers["pbft-proof"] = "1";
  }
  std::string last;
  for (const Endpoint& e : endpoints) {
    HttpAnswer a;
    try {
      a = http_call(e, method, target, body, headers, k.timeout_ms);
    } catch (const HttpUnreachable& u) {
      last = u.what();
      continue;
    }
    json j = json::parse(a.body, nullptr, false);
    if (a.status == 200) {
      if (j.is_discarded() || !j.is_object()) throw Failure(e.name() + " answered with something that is not JSON");
      if (k.verify) {
        try {
          verify_answer(k, j, request_id, expected, kind);
        } catch (const Failure& f) {
          throw Failure(e.name() + ": " + f.what());
        }
      }
      return j;
    }
    std::string message = j.is_object() && j.contains("error") && j["error"].is_string()
                              ? j["error"].get<std::string>()
                              : a.body.substr(0, 200);
    last = e.name() + ": " + std::to_string(a.status) + " " + message;
    if (a.status == 503 || a.status == 504) continue;  // another replica may do better
    throw Failure(last);
  }
  throw Failure("no endpoint answered (last: " + last + ")");
}

std::string text(const json& v) { return v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump(); }

// A table: a header line and rows, columns padded to their widest cell.
void table(std::ostream& out, const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      out << cells[i];
      if (i + 1 < cells.size()) out << std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
}

int run_command(KvCommands& k, std::istream& in, std::ostream& out, std::ostream& err) {
  const bool as_json = k.output == "json";
  if (k.put->parsed()) {
    json j = call(k, "POST", "/api/v1/kv", json{{"key", k.key}, {"value", k.value}}.dump(), kv::OpKind::put,
                  [&](const std::string& id) { return kv::Operation{kv::OpKind::put, k.key, k.value, id}; });
    if (as_json) out << j.dump() << "\n";
    else table(out, {"KEY", "REVISION"}, {{k.key, text(j["operation_sequence"])}});
    return 0;
  }
  if (k.get->parsed()) {
    json j = call(k, "GET", "/api/v1/kv?key=" + url_encode(k.key), "", kv::OpKind::get,
                  [&](const std::string& id) { return kv::Operation{kv::OpKind::get, k.key, "", id}; });
    if (as_json) out << j.dump() << "\n";
    if (j["value"].is_null()) {
      err << "kvctl get: " << k.key << ": not found\n";
      return 1;
    }
    if (!as_json) table(out, {"KEY", "VALUE", "REVISION"}, {{k.key, text(j["value"]), text(j["revision"])}});
    return 0;
  }
  if (k.del->parsed()) {
    json j = call(k, "DELETE", "/api/v1/kv?key=" + url_encode(k.key), "", kv::OpKind::del,
                  [&](const std::string& id) { return kv::Operation{kv::OpKind::del, k.key, "", id}; });
    if (as_json) out << j.dump() << "\n";
    else table(out, {"KEY", "DELETED"}, {{k.key, j["deleted"].get<bool>() ? "1" : "0"}});
    return 0;
  }
  if (k.scan->parsed()) {
    if (!k.prefix.empty() && (!k.start.empty() || !k.end.empty()))
      throw Failure("give --prefix or --start/--end, not both");
    std::string base = "/api/v1/kv/range?";
    if (!k.prefix.empty()) base += "prefix=" + url_encode(k.prefix);
    else base += "start=" + url_encode(k.start) + (k.end.empty() ? "" : "&end=" + url_encode(k.end));
    json entries = json::array();
    std::string token;
    for (;;) {
      const uint32_t left = k.limit == 0 ? 1000 : std::min<uint32_t>(1000, k.limit - static_cast<uint32_t>(entries.size()));
      auto expected = [&](const std::string& id) {
        kv::Operation op{kv::OpKind::range, k.prefix.empty() ? k.start : k.prefix, "", id};
        op.range_end = k.prefix.empty() ? k.end : kv::prefix_end(k.prefix);
        if (!token.empty()) op.key = http::decode_range_token(token).value_or("");
        op.limit = left;
        return op;
      };
      json page = call(k, "GET", base + "&limit=" + std::to_string(left) + (token.empty() ? "" : "&token=" + token), "",
                       kv::OpKind::range, expected);
      for (auto& e : page["entries"]) entries.push_back(e);
      if (!page["more"].get<bool>() || (k.limit != 0 && entries.size() >= k.limit)) break;
      token = page["token"].get<std::string>();
    }
    if (as_json) {
      out << json{{"entries", entries}, {"count", entries.size()}}.dump() << "\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (auto& e : entries) rows.push_back({text(e["key"]), text(e["value"]), text(e["revision"])});
      table(out, {"KEY", "VALUE", "REVISION"}, rows);
    }
    return 0;
  }
  if (k.cas->parsed()) {
    if (k.expect_absent == (k.cas->count("--expect") > 0))
      throw Failure("cas needs exactly one of --expect VALUE or --expect-absent");
    json body{{"key", k.key}, {"value", k.value}, {"expected", k.expect_absent ? json(nullptr) : json(k.expect)}};
    json j = call(k, "POST", "/api/v1/kv/cas", body.dump(), kv::OpKind::cas, [&](const std::string& id) {
      kv::Operation op{kv::OpKind::cas, k.key, k.value, id};
      if (!k.expect_absent) op.expected = k.expect;
      return op;
    });
    const bool ok = j["succeeded"].get<bool>();
    if (as_json) out << j.dump() << "\n";
    else table(out, {"KEY", "SUCCEEDED", "VALUE", "REVISION"}, {{k.key, ok ? "1" : "0", text(j["value"]), text(j["revision"])}});
    if (!ok) {
      err << "kvctl cas: " << k.key << ": compare failed (current value: "
          << (j["value"].is_null() ? std::string("absent") : "'" + text(j["value"]) + "'") << ")\n";
      return 1;
    }
    return 0;
  }
  if (k.txn->parsed()) {
    std::string body;
    if (k.txn_file.empty() || k.txn_file == "-") {
      body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      std::ifstream f(k.txn_file);
      if (!f) throw Failure("cannot read " + k.txn_file);
      body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    if (json::parse(body, nullptr, false).is_discarded()) throw Failure("the transaction is not valid JSON");
    json j = call(k, "POST", "/api/v1/kv/txn", body, kv::OpKind::txn,
                  [&](const std::string& id) { return txn_operation(body, id); });
    if (as_json) {
      out << j.dump() << "\n";
    } else {
      out << (j["succeeded"].get<bool>() ? "SUCCESS" : "FAILURE") << " at sequence " << text(j["operation_sequence"])
          << "\n";
      std::vector<std::vector<std::string>> rows;
      for (auto& r : j["results"])
        rows.push_back({text(r["op"]), text(r["key"]), r.contains("value") ? text(r["value"]) : "",
                        r.contains("deleted") ? (r["deleted"].get<bool>() ? "deleted" : "absent") : text(r["revision"])});
      table(out, {"OP", "KEY", "VALUE", "REVISION"}, rows);
    }
    return 0;
  }
  return -1;
}

}  // namespace

void KvCommands::add_to(CLI::App& app) {
  app.add_option("--endpoints", endpoints, "Replica HTTP endpoints, host:port, comma-separated (default 127.0.0.1:10000)")
      ->delimiter(',');
  app.add_option("--config", config, "A replica's TOML config: talk to every replica it lists");
  app.add_option("-o,--output", output, "Output format")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  app.add_option("--timeout-ms", timeout_ms, "Per-endpoint request timeout")->capture_default_str();
  app.add_flag("--verify", verify,
               "Accept only answers proven by f+1 signed replica replies (keys from --config, else the dev cluster's)");

  put = app.add_subcommand("put", "Set a key");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  get = app.add_subcommand("get", "Read a key through consensus (exit 1 when absent)");
  get->add_option("key", key)->required();
  del = app.add_subcommand("del", "Delete a key");
  del->add_option("key", key)->required();
  scan = app.add_subcommand("scan", "List keys in order (every page), by prefix or range");
  scan->add_option("--prefix", prefix, "Keys starting with this");
  scan->add_option("--start", start, "First key (inclusive)");
  scan->add_option("--end", end, "Last key (exclusive)");
  scan->add_option("--limit", limit, "At most this many keys (default: all)");
  cas = app.add_subcommand("cas", "Compare-and-swap: set KEY to VALUE if it holds --expect (exit 1 otherwise)");
  cas->add_option("key", key)->required();
  cas->add_option("value", value)->required();
  auto* e = cas->add_option("--expect", expect, "The value KEY must hold");
  auto* a = cas->add_flag("--expect-absent", expect_absent, "KEY must be absent");
  e->excludes(a);
  txn = app.add_subcommand("txn", "Run a transaction given as JSON (docs/API.md), from FILE or stdin");
  txn->add_option("file", txn_file, "The JSON file; - or none: stdin");
  for (CLI::App* sub : {put, get, del, scan, cas, txn}) sub->fallthrough();
}

bool KvCommands::run(std::istream& in, std::ostream& out, std::ostream& err, int& exit_code) {
  for (CLI::App* sub : {put, get, del, scan, cas, txn}) {
    if (!sub->parsed()) continue;
    try {
      exit_code = run_command(*this, in, out, err);
    } catch (const Failure& f) {
      err << "kvctl " << sub->get_name() << ": " << f.what() << "\n";
      exit_code = 1;
    }
    return true;
  }
  return false;
}

}  // namespace pbft::client
