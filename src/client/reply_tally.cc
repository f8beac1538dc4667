#include "client/reply_tally.h"

#include <algorithm>

#include "wire/codec.h"

namespace pbft::client {

ReplyTally::ReplyTally(const wire::Request& request, bool fast, uint32_t quorum, uint32_t replica_count,
                       const crypto::Crypto& crypto)
    : client_(request.client),
      timestamp_(request.timestamp),
      operation_digest_(crypto.digest(request.operation)),
      fast_(fast),
      signed_((request.flags & wire::Request::flag_signed_reply) != 0),
      quorum_(quorum),
      replica_count_(replica_count),
      crypto_(crypto) {}

bool ReplyTally::signed_by(ReplicaId replica, const wire::Reply& reply) const {
  if (!reply.sig || replica >= replica_count_) return false;
  const Digest result = crypto_.digest(reply.result);
  const Bytes bytes = fast_ ? wire::fast_reply_signing_bytes(client_, timestamp_, reply.seq, replica,
                                                            operation_digest_, result)
                            : wire::reply_signing_bytes(client_, timestamp_, reply.seq, replica,
                                                        operation_digest_, result);
  return crypto_.verify_replica(replica, bytes, *reply.sig);
}

std::optional<TalliedAnswer> ReplyTally::add(ReplicaId from, const wire::Reply& reply, bool mac_ok) {
  if (reply.client != client_ || reply.timestamp != timestamp_) return std::nullopt;  // an older request's
  const bool authentic = signed_ ? signed_by(from, reply) : mac_ok;
  if (reply.replica != from || answered_.contains(from) || !authentic) {
    ++refused_;
    return std::nullopt;
  }
  // One answer per replica: a correct one sends the same answer whenever
  // it sends again, and a faulty one gets no more than one vote.
  answered_.insert(from);
  auto& signers = votes_[{reply.result, fast_ ? Seq{0} : reply.seq}];
  signers[from] = reply.seq;
  if (signers.size() < quorum_) return std::nullopt;
  TalliedAnswer answer{reply.result, reply.seq};
  for (const auto& [replica, seq] : signers) answer.seq = std::min(answer.seq, seq);
  return answer;
}

bool ReplyTally::hopeless() const {
  if (!fast_) return false;
  size_t best = 0;
  for (const auto& [key, signers] : votes_) best = std::max(best, signers.size());
  const size_t unanswered = replica_count_ - std::min<size_t>(replica_count_, answered_.size());
  return best + unanswered < quorum_;
}

}  // namespace pbft::client
