#include "sim/sim_client.h"

#include <algorithm>

#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::sim {

SimClient::SimClient(ClientId id, uint64_t cluster_secret, uint32_t replica_count,
                     uint32_t reply_quorum)
    : id_(id),
      crypto_(cluster_secret, crypto::Principal::client(id)),
      replica_count_(replica_count),
      reply_quorum_(reply_quorum) {}

Bytes SimClient::random_operation(Rng& rng, uint32_t key_count) const {
  kv::Operation op;
  op.key = "k" + std::to_string(rng.below(key_count));
  uint64_t roll = rng.below(100);
  if (roll < 45) {
    op.kind = kv::OpKind::put;
    op.value = "c" + std::to_string(id_) + "-t" + std::to_string(next_timestamp_);
  } else if (roll < 85) {
    op.kind = kv::OpKind::get;
  } else {
    op.kind = kv::OpKind::del;
  }
  return kv::encode_operation(op);
}

wire::Request SimClient::begin(Bytes operation, Time now) {
  PBFT_ASSERT(!busy_, "a simulated client runs one operation at a time");
  request_ = wire::Request{};
  request_.client = id_;
  request_.timestamp = next_timestamp_++;
  request_.operation = operation;
  request_.sig = crypto_.sign(wire::signing_bytes(request_));
  op_ = ClientOp{};
  op_.client = id_;
  op_.timestamp = request_.timestamp;
  op_.operation = std::move(operation);
  op_.invoked = now;
  replies_.clear();
  busy_ = true;
  return request_;
}

bool SimClient::on_reply(ReplicaId from, const wire::Reply& reply, Time now) {
  if (!busy_ || reply.client != id_ || reply.timestamp != request_.timestamp ||
      reply.replica != from || from >= replica_count_) {
    ++ignored_replies_;
    return false;
  }
  replies_[from] = reply;
  uint32_t matching = 0;
  View view = 0;
  for (const auto& [replica, r] : replies_) {
    if (r.result == reply.result) {
      ++matching;
      view = std::max(view, r.view);
    }
  }
  if (matching < reply_quorum_) return false;
  view_ = view;
  busy_ = false;
  op_.completed = true;
  op_.completed_at = now;
  op_.result = reply.result;
  replies_.clear();
  return true;
}

}  // namespace pbft::sim
