#include "client/reply_verifier.h"

#include <set>

#include "wire/codec.h"

namespace pbft::client {

VerifyOutcome verify_certificate(const http::ReplyCertificate& cert, const std::vector<crypto::PublicKey>& replicas) {
  VerifyOutcome out;
  if (replicas.empty()) {
    out.error = "no replica public keys to check the certificate against";
    return out;
  }
  const size_t f = (replicas.size() - 1) / 3;
  crypto::Keyring keyring;
  keyring.self_is_replica = false;
  keyring.replicas = replicas;
  const crypto::SodiumCrypto crypto(std::move(keyring));
  const Digest operation_digest = crypto.digest(cert.operation);
  const Digest result_digest = crypto.digest(cert.result);
  std::set<ReplicaId> signers;
  for (const http::CertifiedReply& r : cert.replies) {
    if (r.replica >= replicas.size()) {
      out.error = "certificate names replica " + std::to_string(r.replica) + ", outside a cluster of " +
                  std::to_string(replicas.size());
      return out;
    }
    if (!signers.insert(r.replica).second) {
      out.error = "certificate holds replica " + std::to_string(r.replica) + " twice";
      return out;
    }
    const Bytes signed_bytes = wire::reply_signing_bytes(cert.client, cert.timestamp, cert.sequence, r.replica,
                                                         operation_digest, result_digest);
    if (!crypto.verify_replica(r.replica, signed_bytes, r.signature)) {
      out.error = "replica " + std::to_string(r.replica) +
                  "'s signature does not match the certified operation and result";
      return out;
    }
  }
  if (signers.size() < f + 1) {
    out.error = "certificate holds " + std::to_string(signers.size()) + " signed replies, need f+1 = " +
                std::to_string(f + 1);
    return out;
  }
  std::optional<kv::Operation> op = kv::decode_operation(cert.operation);
  std::optional<kv::Result> result = kv::decode_result(cert.result);
  if (!op || !result) {
    out.error = "certified operation or result does not decode";
    return out;
  }
  out.verified = VerifiedReply{std::move(*op), std::move(*result)};
  return out;
}

bool matches_request(const VerifiedReply& verified, const kv::Operation& expected) {
  return verified.operation == expected;
}

}  // namespace pbft::client
