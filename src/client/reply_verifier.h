// Checks a reply certificate (http/reply_certificate.h) against the
// cluster's public keys, so that a client believes an answer without
// trusting the replica or gateway that passed it on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/sodium_crypto.h"
#include "http/reply_certificate.h"
#include "kv/operation.h"

namespace pbft::client {

struct VerifiedReply {
  kv::Operation operation;  // what the replicas executed
  kv::Result result;        // what they answered
};

struct VerifyOutcome {
  std::optional<VerifiedReply> verified;
  std::string error;  // why not, when !verified
  bool ok() const { return verified.has_value(); }
};

// Accepts `cert` when it holds signed replies from at least f+1 distinct
// replicas of `replicas` (f = (n-1)/3), every signature valid over
// (client, timestamp, sequence, digest of the operation, digest of the
// result), and operation and result decode. Whether the operation is the
// one the caller asked for is the caller's check (see matches_request).
VerifyOutcome verify_certificate(const http::ReplyCertificate& cert, const std::vector<crypto::PublicKey>& replicas);

// True when the certified operation is `expected`, request id included: a
// request id the caller made up fresh binds the certificate to this one
// request, so an old certificate cannot be replayed as a new answer.
bool matches_request(const VerifiedReply& verified, const kv::Operation& expected);

}  // namespace pbft::client
