#include "sim/sim_client.h"

#include <algorithm>

#include "core/request_bundle.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::sim {

SimClient::SimClient(ClientId id, uint64_t cluster_secret, uint32_t replica_count,
                     uint32_t reply_quorum, uint32_t write_quorum, uint32_t fast_quorum, bool library_mode,
                     bool bundling)
    : id_(id),
      crypto_(cluster_secret, crypto::Principal::client(id)),
      replica_count_(replica_count),
      reply_quorum_(reply_quorum),
      write_quorum_(write_quorum),
      fast_quorum_(fast_quorum),
      library_mode_(library_mode),
      bundling_(bundling) {}

void SimClient::sign(wire::Request& r) const {
  if (!bundling_) {
    r.sig = crypto_.sign(wire::signing_bytes(r));
    return;
  }
  // The sibling: a copy of the request itself (so the bundle signs
  // nothing the client did not mean to send); its side of the tree
  // alternates with its timestamp.
  wire::Request sibling = r;
  std::vector<wire::Request*> bundle{&r, &sibling};
  if (r.timestamp % 2 == 0) std::swap(bundle[0], bundle[1]);
  core::sign_bundle(crypto_, bundle);
}

uint8_t SimClient::flags(bool fast) const {
  uint8_t f = fast ? wire::Request::flag_read_only : 0;
  if (library_mode_) f |= wire::Request::flag_signed_reply | (fast ? 0 : wire::Request::flag_sent_to_all);
  return f;
}

bool SimClient::reply_signed(ReplicaId from, const wire::Reply& reply) const {
  if (!reply.sig) return false;
  const Digest op = crypto_.digest(request_.operation), result = crypto_.digest(reply.result);
  const Bytes bytes = fast_ ? wire::fast_reply_signing_bytes(id_, reply.timestamp, reply.seq, from, op, result)
                            : wire::reply_signing_bytes(id_, reply.timestamp, reply.seq, from, op, result);
  return crypto_.verify_replica(from, bytes, *reply.sig);
}

bool SimClient::is_read(const Bytes& operation) {
  std::optional<kv::Operation> op = kv::decode_operation(ByteView(operation));
  return op && (op->kind == kv::OpKind::get || op->kind == kv::OpKind::range);
}

Bytes SimClient::random_operation(Rng& rng, uint32_t key_count) const {
  kv::Operation op;
  auto key = [&] { return "k" + std::to_string(rng.below(key_count)); };
  const std::string value = "c" + std::to_string(id_) + "-t" + std::to_string(next_timestamp_);
  op.key = key();
  uint64_t roll = rng.below(100);
  if (roll < 35) {
    op.kind = kv::OpKind::put;
    op.value = value;
  } else if (roll < 65) {
    op.kind = kv::OpKind::get;
  } else if (roll < 75) {
    op.kind = kv::OpKind::del;
  } else if (roll < 83) {
    // A range from this key, or a prefix read ("k1": k1, k10, k11, ...).
    op.kind = kv::OpKind::range;
    op.limit = static_cast<uint32_t>(1 + rng.below(4));
    if (rng.below(2) == 0) op.range_end = kv::prefix_end(op.key);
  } else if (roll < 92) {
    op.kind = kv::OpKind::cas;
    op.value = value;
    // Expect absence, or a value some client may have written.
    if (rng.below(3) != 0) op.expected = "c" + std::to_string(rng.below(4)) + "-t" + std::to_string(1 + rng.below(next_timestamp_));
  } else {
    op.kind = kv::OpKind::txn;
    op.key.clear();
    kv::Compare c;
    c.key = key();
    c.target = static_cast<kv::CompareTarget>(1 + rng.below(3));
    if (c.target == kv::CompareTarget::revision) c.revision = rng.below(2) == 0 ? 0 : rng.below(40);
    if (c.target == kv::CompareTarget::value) c.value = "c" + std::to_string(rng.below(4)) + "-t" + std::to_string(1 + rng.below(next_timestamp_));
    op.compares.push_back(c);
    op.success = {{kv::OpKind::put, key(), value}, {kv::OpKind::get, c.key, ""}};
    op.failure = {{kv::OpKind::del, key(), ""}, {kv::OpKind::get, c.key, ""}};
  }
  return kv::encode_operation(op);
}

wire::Request SimClient::begin(Bytes operation, Time now, bool fast) {
  PBFT_ASSERT(!busy_, "a simulated client runs one operation at a time");
  const bool read = is_read(operation);
  PBFT_ASSERT(!fast || read, "only reads take the fast path");
  request_ = wire::Request{};
  request_.client = id_;
  request_.timestamp = next_timestamp_++;
  request_.operation = operation;
  request_.flags = flags(fast);
  sign(request_);
  fast_ = fast;
  needs_fall_back_ = false;
  quorum_ = fast ? fast_quorum_ : read ? reply_quorum_ : write_quorum_;
  op_ = ClientOp{};
  op_.client = id_;
  op_.timestamp = request_.timestamp;
  op_.operation = std::move(operation);
  op_.invoked = now;
  replies_.clear();
  busy_ = true;
  return request_;
}

wire::Request SimClient::fall_back() {
  PBFT_ASSERT(busy_ && fast_, "only a fast read falls back");
  request_.timestamp = next_timestamp_++;
  request_.flags = flags(false);
  sign(request_);
  op_.timestamp = request_.timestamp;
  fast_ = false;
  needs_fall_back_ = false;
  quorum_ = reply_quorum_;
  replies_.clear();
  return request_;
}

bool SimClient::on_reply(ReplicaId from, const wire::Reply& reply, Time now) {
  if (!busy_ || reply.client != id_ || reply.timestamp != request_.timestamp ||
      reply.replica != from || from >= replica_count_ || (library_mode_ && !reply_signed(from, reply))) {
    ++ignored_replies_;
    return false;
  }
  if (fast_ && replies_.contains(from)) return false;  // one answer per replica
  replies_[from] = reply;
  uint32_t matching = 0;
  View view = 0;
  std::map<Bytes, uint32_t> tally;
  for (const auto& [replica, r] : replies_) {
    ++tally[r.result];
    // A signed ordered reply binds its sequence number too: library mode matches on it.
    const bool same_seq = !library_mode_ || fast_ || r.seq == reply.seq;
    if (r.result == reply.result && same_seq) {
      ++matching;
      view = std::max(view, r.view);
    }
  }
  if (matching < quorum_) {
    if (fast_) {
      uint32_t best = 0;
      for (const auto& [result, count] : tally) best = std::max(best, count);
      if (best + (replica_count_ - static_cast<uint32_t>(replies_.size())) < quorum_) needs_fall_back_ = true;
    }
    return false;
  }
  op_.fast = fast_;
  // A fast answer comes from replicas in several views; it says nothing
  // about the primary.
  if (fast_) view = view_;
  view_ = view;
  busy_ = false;
  op_.completed = true;
  op_.completed_at = now;
  op_.result = reply.result;
  replies_.clear();
  return true;
}

}  // namespace pbft::sim
