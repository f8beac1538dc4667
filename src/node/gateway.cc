#include "node/gateway.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>

#include "common/assert.h"
#include "common/client_id.h"
#include "core/request_bundle.h"
#include "wire/codec.h"

namespace pbft::node {

Gateway::Gateway(boost::asio::io_context& io, GatewayOptions options, const crypto::Crypto& crypto,
                 SendRequest send)
    : io_(io), options_(options), crypto_(crypto), send_(std::move(send)) {
  for (uint32_t slot = options_.clients_max; slot > 0; --slot) free_slots_.push_back(slot - 1);
}

Gateway::~Gateway() { cancel_all(); }

// Timestamps only have to grow for each client id. Starting from the wall
// clock (in microseconds) keeps them growing across restarts of this node,
// so a request after a restart is never mistaken for an old one.
uint64_t Gateway::next_timestamp() {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  last_timestamp_ = std::max(last_timestamp_ + 1, static_cast<uint64_t>(now));
  return last_timestamp_;
}

void Gateway::submit(const kv::Operation& op, bool with_proof, Done done) {
  open(op, with_proof ? wire::Request::flag_signed_reply : 0, false, std::move(done));
}

void Gateway::submit_fast_read(const kv::Operation& op, Done done) {
  PBFT_ASSERT(op.kind == kv::OpKind::get || op.kind == kv::OpKind::range, "fast reads are gets and ranges");
  open(op, wire::Request::flag_read_only, true, std::move(done));
}

void Gateway::open(const kv::Operation& op, uint8_t flags, bool fast, Done done) {
  if (free_slots_.empty()) {
    done(GatewayBusy{});
    return;
  }
  uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  Call& call = calls_[slot];
  call.request.client = gateway_client_id(options_.self, slot);
  call.request.operation = kv::encode_operation(op);
  call.operation_digest = crypto_.digest(call.request.operation);
  const bool read = op.kind == kv::OpKind::get || op.kind == kv::OpKind::range;
  call.fast = fast;
  call.quorum = fast ? options_.fast_quorum : read ? options_.reply_quorum : options_.write_quorum;
  call.done = std::move(done);
  call.deadline = std::make_unique<boost::asio::steady_timer>(
      io_, std::chrono::milliseconds(options_.timeout_ms));
  call.serial = ++serials_;
  call.deadline->async_wait([this, slot, serial = call.serial, alive = std::weak_ptr<bool>(alive_)](auto ec) {
    // A slot is reused: the serial tells this call from a later one. A
    // wait may outlive the gateway: nothing of it is touched then.
    if (ec || !alive.lock()) return;
    auto it = calls_.find(slot);
    if (it == calls_.end() || it->second.serial != serial) return;
    finish(slot, GatewayTimeout{});
  });
  call.retry = std::make_unique<boost::asio::steady_timer>(io_);
  start(slot, call, flags);
}

void Gateway::start(uint32_t slot, Call& call, uint8_t flags) {
  call.request.timestamp = next_timestamp();
  call.request.flags = flags;
  call.votes.clear();
  call.answered.clear();
  arm_retry(slot);
  if (!call.unsigned_) to_sign_.emplace_back(slot, call.serial);
  call.unsigned_ = true;
  if (sign_posted_) return;
  sign_posted_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.lock()) sign_and_send();
  });
}

// At the end of the turn: every request started in it, signed in bundles
// of at most bundle_requests_max, then sent to every replica at once: each
// one then has the request from this replica's authenticated link and
// need not check its signature when the primary's pre-prepare brings it
// (see Replica::Source). Itself last: it may answer at once (n = 1).
void Gateway::sign_and_send() {
  sign_posted_ = false;
  std::vector<uint32_t> slots;
  for (auto [slot, serial] : to_sign_) {
    auto it = calls_.find(slot);
    if (it != calls_.end() && it->second.serial == serial && it->second.unsigned_) {
      it->second.unsigned_ = false;
      slots.push_back(slot);
    }
  }
  to_sign_.clear();
  const size_t per_bundle = std::max<uint32_t>(1, options_.bundle_requests_max);
  struct Copy {
    uint32_t slot;
    uint64_t serial;
    wire::Request request;
  };
  std::vector<Copy> copies;
  for (size_t first = 0; first < slots.size(); first += per_bundle) {
    std::vector<wire::Request*> bundle;
    for (size_t i = first; i < std::min(slots.size(), first + per_bundle); ++i)
      bundle.push_back(&calls_.at(slots[i]).request);
    core::sign_bundle(crypto_, bundle);
    ++signatures_;
    signed_requests_ += bundle.size();
    for (size_t i = first; i < first + bundle.size(); ++i)
      copies.push_back(Copy{slots[i], calls_.at(slots[i]).serial, *bundle[i - first]});
  }
  // Copies: an answer at once (n = 1) finishes its call, and what its
  // caller does then may end others (cancel_all): those are not sent.
  for (const Copy& c : copies) {
    auto it = calls_.find(c.slot);
    if (it == calls_.end() || it->second.serial != c.serial) continue;
    for (ReplicaId r = 0; r < options_.replica_count; ++r)
      if (r != options_.self) send_(r, c.request);
    send_(options_.self, c.request);
  }
}

// The fast path could not answer: the same read, ordered, as a new request
// (a new timestamp, so that no late fast answer counts for it).
void Gateway::fall_back(uint32_t slot) {
  Call& call = calls_.at(slot);
  call.fast = false;
  call.quorum = options_.reply_quorum;
  ++fast_fallbacks_;
  start(slot, call, 0);
}

void Gateway::arm_retry(uint32_t slot) {
  Call& call = calls_.at(slot);
  call.retry->expires_after(std::chrono::milliseconds(call.fast ? options_.fast_fallback_ms : options_.retry_ms));
  call.retry->async_wait([this, slot, ts = call.request.timestamp, alive = std::weak_ptr<bool>(alive_)](auto ec) {
    if (ec || !alive.lock()) return;  // perhaps with the gateway gone
    auto it = calls_.find(slot);
    if (it == calls_.end() || it->second.request.timestamp != ts) return;
    if (it->second.fast) {
      fall_back(slot);
      return;
    }
    wire::Request request = it->second.request;
    arm_retry(slot);
    if (it->second.unsigned_) return;  // not sent yet: sign_and_send does
    for (ReplicaId r = 0; r < options_.replica_count; ++r) send_(r, request);
  });
}

void Gateway::on_reply(ReplicaId from, const wire::Reply& reply) {
  if (reply.replica != from || from >= options_.replica_count) return;
  auto gateway = gateway_of(reply.client);
  if (!gateway || *gateway != options_.self) return;
  uint32_t slot = static_cast<uint32_t>(reply.client & 0xffffffffu);
  auto it = calls_.find(slot);
  if (it == calls_.end() || it->second.request.timestamp != reply.timestamp) return;
  Call& call = it->second;
  const bool with_proof = (call.request.flags & wire::Request::flag_signed_reply) != 0;
  if (with_proof) {
    // Only a reply whose signature checks counts: a certificate with a bad
    // signature in it would not verify.
    if (!reply.sig || !crypto_.verify_replica(from,
                                              wire::reply_signing_bytes(reply.client, reply.timestamp,
                                                                        reply.seq, from, call.operation_digest,
                                                                        crypto_.digest(reply.result)),
                                              *reply.sig))
      return;
  }
  if (call.fast) {
    if (!call.answered.insert(from).second) return;  // one answer per replica
    auto& voters = call.votes[{reply.result, 0}];
    voters[from] = Signature{};
    if (voters.size() < call.quorum) {
      // Fall back at once when no result can reach the quorum any more.
      size_t best = 0;
      for (const auto& [result, v] : call.votes) best = std::max(best, v.size());
      if (best + (options_.replica_count - call.answered.size()) < call.quorum) fall_back(slot);
      return;
    }
  } else {
    auto& voters = call.votes[{reply.result, reply.seq}];
    voters[from] = reply.sig.value_or(Signature{});
    if (voters.size() < call.quorum) return;
  }
  const auto& voters = call.votes[{reply.result, call.fast ? 0 : reply.seq}];
  GatewayAnswer answer;
  answer.fast = call.fast;
  std::optional<kv::Result> result = kv::decode_result(reply.result);
  answer.result = result ? *result : kv::Result{kv::ResultStatus::bad_operation};
  if (with_proof) {
    http::ReplyCertificate cert;
    cert.client = reply.client;
    cert.timestamp = reply.timestamp;
    cert.sequence = reply.seq;
    cert.operation = call.request.operation;
    cert.result = reply.result;
    for (const auto& [replica, sig] : voters) cert.replies.push_back({replica, sig});
    answer.proof = std::move(cert);
  }
  finish(slot, std::move(answer));
}

void Gateway::finish(uint32_t slot, GatewayOutcome outcome) {
  auto it = calls_.find(slot);
  if (it == calls_.end()) return;
  Done done = std::move(it->second.done);
  calls_.erase(it);  // cancels the timers
  free_slots_.push_back(slot);
  done(std::move(outcome));
}

void Gateway::cancel_all() {
  while (!calls_.empty()) finish(calls_.begin()->first, GatewayTimeout{});
}

}  // namespace pbft::node
