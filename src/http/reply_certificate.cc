#include "http/reply_certificate.h"

namespace pbft::http {

std::string hex_encode(ByteView bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::optional<Bytes> hex_decode(const std::string& text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

nlohmann::ordered_json certificate_to_json(const ReplyCertificate& c) {
  nlohmann::ordered_json j;
  j["client"] = c.client;
  j["timestamp"] = c.timestamp;
  j["sequence"] = c.sequence;
  j["operation"] = hex_encode(c.operation);
  j["result"] = hex_encode(c.result);
  nlohmann::ordered_json replies = nlohmann::ordered_json::array();
  for (const CertifiedReply& r : c.replies)
    replies.push_back({{"replica", r.replica}, {"signature", hex_encode(r.signature)}});
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
  if (it != j.end() && it->is_string()) b = hex_decode(it->get<std::string>());
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
