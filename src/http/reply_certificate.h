// A reply certificate: f+1 replies from distinct replicas, each signed over
// the same (client, timestamp, sequence, operation digest, result digest)
// (wire::reply_signing_bytes). With the replicas' public keys anyone can
// check it (client/reply_verifier.h) and so believe the result without
// trusting the gateway that passed it on.
//
// JSON shape (docs/API.md), the "proof" field of an answer:
//   {"client": 4294967296, "timestamp": 1733150000000000, "sequence": 12,
//    "operation": "<hex of the encoded kv operation>",
//    "result": "<hex of the encoded kv result>",
//    "replies": [{"replica": 0, "signature": "<hex, 64 bytes>"}, ...]}
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"

namespace pbft::http {

struct CertifiedReply {
  ReplicaId replica = 0;
  Signature signature{};
  bool operator==(const CertifiedReply&) const = default;
};

struct ReplyCertificate {
  ClientId client = 0;
  uint64_t timestamp = 0;
  Seq sequence = 0;
  Bytes operation;  // kv::encode_operation
  Bytes result;     // kv::encode_result
  std::vector<CertifiedReply> replies;
  bool operator==(const ReplyCertificate&) const = default;
};

// At most this many replies are accepted in a certificate (any cluster we
// run is far smaller).
inline constexpr size_t certificate_replies_max = 1024;

nlohmann::ordered_json certificate_to_json(const ReplyCertificate& c);
// The certificate in `j`, or nullopt with `error` set when the shape is
// wrong (missing or mistyped field, bad hex, wrong signature length).
std::optional<ReplyCertificate> certificate_from_json(const nlohmann::json& j, std::string& error);

}  // namespace pbft::http
