// What the client library believes of the replies to one request over the
// binary protocol. Pure: no I/O, no clock.
//
// A reply counts only when it is for this request (client id, timestamp),
// comes from the replica on whose connection it arrived, and is
// authenticated by that replica: when the request asked for signed replies,
// by its valid signature over what it answers (ordered replies over
// reply_signing_bytes, fast-path answers over fast_reply_signing_bytes,
// codec.h); otherwise by the MAC the connection carries under the key only
// that replica and this client share (the caller checked it). The answer
// is accepted once `quorum` distinct replicas gave the same result
// (ordered: at the same sequence number too). Nothing else is believed,
// whatever the replica that answers first says.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/types.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::client {

struct TalliedAnswer {
  Bytes result;
  // Ordered: where it executed (signed by f+1). Fast: the lowest last
  // executed among the answering replicas (what each claims, unchecked).
  Seq seq = 0;
};

class ReplyTally {
 public:
  // fast: the request took the read-only fast path. `crypto` checks the
  // replicas' signatures and must outlive the tally.
  ReplyTally(const wire::Request& request, bool fast, uint32_t quorum, uint32_t replica_count,
             const crypto::Crypto& crypto);

  // A reply that arrived on replica `from`'s connection (mac_ok: with a
  // valid MAC from that replica); the answer once it has a quorum.
  std::optional<TalliedAnswer> add(ReplicaId from, const wire::Reply& reply, bool mac_ok = false);

  // Fast path: no result can reach the quorum any more (answers differ).
  bool hopeless() const;
  // Replies refused (wrong request, wrong replica, bad or missing
  // signature, a second answer from the same replica).
  uint64_t refused() const { return refused_; }

 private:
  bool signed_by(ReplicaId replica, const wire::Reply& reply) const;

  ClientId client_;
  uint64_t timestamp_;
  Digest operation_digest_;
  bool fast_;
  bool signed_;  // the request asked for signed replies
  uint32_t quorum_;
  uint32_t replica_count_;
  const crypto::Crypto& crypto_;
  // By (result, seq; seq 0 for the fast path): who signed it, at which seq.
  std::map<std::pair<Bytes, Seq>, std::map<ReplicaId, Seq>> votes_;
  std::set<ReplicaId> answered_;  // one counted answer per replica
  uint64_t refused_ = 0;
};

}  // namespace pbft::client
