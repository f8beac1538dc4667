#include "http/reply_certificate.h"

namespace pbft::http {

nlohmann::ordered_json certificate_to_json(const ReplyCertificate& c) {
  nlohmann::ordered_json j;
  j["client"] = c.client;
  j["timestamp"] = c.timestamp;
  j["sequence"] = c.sequence;
  j["operation"] = to_hex(c.operation);
  j["result"] = to_hex(c.result);
  nlohmann::ordered_json replies = nlohmann::ordered_json::array();
  for (const CertifiedReply& r : c.replies)
    replies.push_back({{"replica", r.replica}, {"signature", to_hex(r.signature)}});
  j["replies"] = std::move(replies);
  return j;
}

namespace {

bool unsigned_field(const nlohmann::json& j, const char* name, uint64_t& out, std::string& error) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    error = std::string("proof field ") + name + " must be a non-negative integer";
    return false;
  }
  out = it->get<uint64_t>();
  return true;
}

bool hex_field(const nlohmann::json& j, const char* name, Bytes& out, std::string& error) {
  auto it = j.find(name);
  std::optional<Bytes> b;
  if (it != j.end() && it->is_string()) b = from_hex(it->get<std::string>());
  if (!b) {
    error = std::string("proof field ") + name + " must be a hex string";
    return false;
  }
  out = std::move(*b);
  return true;
}

}  // namespace

std::optional<ReplyCertificate> certificate_from_json(const nlohmann::json& j, std::string& error) {
  if (!j.is_object()) {
    error = "proof must be a JSON object";
    return std::nullopt;
  }
  ReplyCertificate c;
  if (!unsigned_field(j, "client", c.client, error) || !unsigned_field(j, "timestamp", c.timestamp, error) ||
      !unsigned_field(j, "sequence", c.sequence, error) || !hex_field(j, "operation", c.operation, error) ||
      !hex_field(j, "result", c.result, error))
    return std::nullopt;
  auto replies = j.find("replies");
  if (replies == j.end() || !replies->is_array() || replies->size() > certificate_replies_max) {
    error = "proof field replies must be an array of at most " + std::to_string(certificate_replies_max);
    return std::nullopt;
  }
  for (const nlohmann::json& r : *replies) {
    uint64_t replica = 0;
    Bytes sig;
    if (!r.is_object() || !unsigned_field(r, "replica", replica, error) ||
        !hex_field(r, "signature", sig, error))
      return std::nullopt;
    if (replica > 0xffffffffu || sig.size() != signature_size) {
      error = "proof reply has a bad replica id or signature length";
      return std::nullopt;
    }
    CertifiedReply out{static_cast<ReplicaId>(replica), {}};
    std::copy(sig.begin(), sig.end(), out.signature.begin());
    c.replies.push_back(out);
  }
  return c;
}

}  // namespace pbft::http
