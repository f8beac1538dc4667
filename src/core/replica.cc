// Construction, event dispatch, timers and output of the replica. The
// protocol steps live in requests.cc, normal_case.cc, checkpoints.cc,
// view_change.cc and status.cc.
#include "core/replica.h"

#include <sstream>
#include <string>
#include <type_traits>

#include "common/assert.h"
#include "common/client_id.h"
#include "wire/codec.h"

namespace pbft::core {

Replica::Replica(const Config& config, ReplicaId id, const crypto::Crypto& crypto,
                 StateMachine& state_machine, DurableState durable)
    : config_(config),
      quorum_(config.quorum()),
      id_(id),
      crypto_(crypto),
      sm_(state_machine),
      d_(std::move(durable)) {
  PBFT_ASSERT(std::string(config_.validate()).empty(), config_.validate());
  PBFT_ASSERT(id_ < config_.replica_count, "replica id out of range");
  if (d_.stable_seq == 0 && d_.last_executed == 0 && d_.checkpoints.empty()) {
    // The genesis checkpoint: the empty state everybody starts from.
    Bytes snapshot = make_snapshot(0);
    awaiting_persist_ = true;
    d_.stable_digest = crypto_.digest(snapshot);
    d_.checkpoints[0] = OwnCheckpoint{d_.stable_digest, std::move(snapshot)};
  } else if (auto it = d_.checkpoints.find(d_.last_executed); it != d_.checkpoints.end()) {
    // Restarted exactly at one of its checkpoints: take it again, so that
    // the host has a read view of it to serve peers (read views do not
    // survive a restart), and check the state is the one checkpointed.
    const Bytes snapshot = make_snapshot(d_.last_executed);
    PBFT_ASSERT(snapshot == it->second.snapshot, "a restarted replica's state is the one it checkpointed");
    awaiting_persist_ = true;
  }
  if (!d_.view_active && d_.view_change) {
    // Restarted in the middle of a view change: say so again.
    view_changes_[id_] = *d_.view_change;
    target_view_changes_[id_] = *d_.view_change;
    broadcast(*d_.view_change);
    lonely_deadline_ = view_change_timeout();
  }
  next_status_ = config_.status_interval_ticks;
}

template <typename M>
M Replica::signed_copy(M m) const {
  m.sig = crypto_.sign(wire::signing_bytes(m));
  return m;
}
template wire::PrePrepare Replica::signed_copy(wire::PrePrepare) const;
template wire::Prepare Replica::signed_copy(wire::Prepare) const;
template wire::Checkpoint Replica::signed_copy(wire::Checkpoint) const;
template wire::ViewChange Replica::signed_copy(wire::ViewChange) const;
template wire::NewView Replica::signed_copy(wire::NewView) const;

void Replica::receive_request(const wire::Request& request) { handle_request(request, Source::client); }

void Replica::receive_checked_request(const wire::Request& request) {
  handle_request(request, Source::checked_client);
}

void Replica::receive_own_request(const wire::Request& request) {
  PBFT_ASSERT(gateway_of(request.client) == id_, "only this replica's gateway clients are its own");
  handle_request(request, Source::own_gateway);
}

void Replica::receive(ReplicaId from, const wire::Message& message) {
  if (from >= config_.replica_count || from == id_) {
    ++rejected_.wrong_sender;
    return;
  }
  if (muted(from)) {
    ++rejected_.muted;
    return;
  }
  const uint64_t bad_signatures_before = rejected_.bad_signature;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Request>) {
          handle_request(m, gateway_of(m.client) == from ? Source::gateway_link : Source::relayed);
        } else if constexpr (std::is_same_v<T, wire::PrePrepare>) {
          on_pre_prepare(m);
        } else if constexpr (std::is_same_v<T, wire::Prepare>) {
          on_prepare(m);
        } else if constexpr (std::is_same_v<T, wire::Commit>) {
          on_commit(from, m);
        } else if constexpr (std::is_same_v<T, wire::Checkpoint>) {
          on_checkpoint(m);
        } else if constexpr (std::is_same_v<T, wire::ViewChange>) {
          on_view_change(m);
        } else if constexpr (std::is_same_v<T, wire::NewView>) {
          on_new_view(m);
        } else if constexpr (std::is_same_v<T, wire::Status>) {
          on_status(from, m);
        } else if constexpr (std::is_same_v<T, wire::StableCheckpoint>) {
          on_stable_certificate(m.certificate);
        } else {
          ++rejected_.malformed;  // replies are for clients
        }
      },
      message);
  mute_if_caught(from, message, bad_signatures_before);
}

bool Replica::muted(ReplicaId peer) const {
  auto it = muted_until_.find(peer);
  return it != muted_until_.end() && now_ < it->second;
}

// Only top-level signatures of the sender's own messages count: a request
// carries its client's signature, which a correct backup may pass on
// unchecked (it trusts its gateways' links).
void Replica::mute_if_caught(ReplicaId from, const wire::Message& message, uint64_t bad_signatures_before) {
  if (config_.mute_faulty_peer_ticks == 0 || rejected_.bad_signature == bad_signatures_before) return;
  const bool own = std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Prepare> || std::is_same_v<T, wire::Checkpoint> ||
                      std::is_same_v<T, wire::ViewChange> || std::is_same_v<T, wire::NewView>) {
          return m.replica == from;
        } else if constexpr (std::is_same_v<T, wire::PrePrepare>) {
          return primary_of(m.view) == from;
        } else {
          return false;
        }
      },
      message);
  if (!own) return;
  muted_until_[from] = now_ + config_.mute_faulty_peer_ticks;
  ++mutes_;
}

void Replica::tick() {
  ++now_;
  if (request_deadline_ && now_ >= *request_deadline_) {
    request_deadline_.reset();
    ask_view_change(d_.view + 1);
  }
  check_primary_speed();
  if (!d_.view_active && !view_change_deadline_ && lonely_deadline_ && now_ >= *lonely_deadline_) {
    join_lonely_view_change();
  }
  if (view_change_deadline_ && now_ >= *view_change_deadline_) {
    view_change_deadline_.reset();
    if (!d_.view_active) {
      ++backoff_;  // the new primary did not deliver: try the next, waiting longer
      start_view_change(d_.view + 1);
    }
  }
  if (fetching_ && now_ >= fetch_deadline_) {
    out_.fetch_state = *fetching_;
    fetch_deadline_ = now_ + config_.state_fetch_retry_ticks;
  }
  if (now_ >= next_status_) {
    send_status();
    next_status_ = now_ + config_.status_interval_ticks;
  }
}

Output Replica::take_output() {
  Output out = std::move(out_);
  out_ = Output{};
  out.resume = awaiting_persist_;
  return out;
}

void Replica::resume() {
  if (!awaiting_persist_) return;
  awaiting_persist_ = false;
  execute_committed();
}

uint64_t Replica::view_change_timeout() const {
  uint32_t shift = std::min(backoff_, config_.view_change_backoff_max);
  return uint64_t{config_.view_change_timeout_ticks} << shift;
}

void Replica::restart_request_timer() {
  if (d_.view_active && !pending_.empty()) {
    request_deadline_ = now_ + view_change_timeout();
  } else {
    request_deadline_.reset();
  }
}

void Replica::stop_request_timer() { request_deadline_.reset(); }

void Replica::check_primary_speed() {
  if (config_.proposal_timeout_ticks == 0 || awaiting_proposal_.empty() || !d_.view_active || is_primary())
    return;
  const Seq in_flight = d_.last_proposed > d_.last_executed ? d_.last_proposed - d_.last_executed : 0;
  // Only the hard limits excuse it. Config::batch_requests_min lets a
  // correct primary hold a request only until the batches in flight
  // execute, well within the timeout; excusing it for that would let a
  // faulty primary that keeps one small batch in flight leave one client
  // out for ever.
  const bool room = in_flight < config_.pipeline_depth_max && d_.last_proposed < d_.stable_seq + config_.window_size;
  if (!room) {
    // A full pipeline excuses the primary: the wait starts again when it
    // has room.
    for (auto& [client, a] : awaiting_proposal_) a.since = std::max(a.since, now_);
    return;
  }
  // A request overdue the first time may never have reached the primary
  // (a faulty gateway can send it to this backup alone): pass it on and
  // wait again. Overdue after that, the primary had it.
  bool overdue_again = false;
  for (auto& [client, a] : awaiting_proposal_) {
    if (now_ < a.since + config_.proposal_timeout_ticks) continue;
    if (a.passed_on) {
      overdue_again = true;
      continue;
    }
    if (auto it = pending_.find(client); it != pending_.end()) send(primary_of(d_.view), it->second);
    a = Awaiting{now_, true};
  }
  if (overdue_again && ask_view_change(d_.view + 1)) ++slow_primary_view_changes_;
}

void Replica::send(ReplicaId to, wire::Message m) {
  PBFT_ASSERT(to != id_, "a replica does not send to itself");
  out_.sends.push_back(Send{to, std::move(m)});
}

void Replica::broadcast(wire::Message m) {
  if (config_.replica_count > 1) out_.sends.push_back(Send{std::nullopt, std::move(m)});
}

const OwnCheckpoint* Replica::checkpoint_at(Seq seq) const {
  auto it = d_.checkpoints.find(seq);
  return it == d_.checkpoints.end() ? nullptr : &it->second;
}

Digest Replica::batch_digest(const std::vector<wire::Request>& batch) const {
  return crypto_.digest(wire::batch_bytes(batch));
}

std::string Replica::describe() const {
  std::ostringstream s;
  s << "r" << id_ << " v" << d_.view << (d_.view_active ? "" : "(changing)")
    << (is_primary() ? " primary" : "") << " h=" << d_.stable_seq << " exec=" << d_.last_executed
    << " proposed=" << d_.last_proposed << " slots=" << d_.slots.size()
    << " pending=" << pending_.size();
  if (asking_view() != 0) s << " asks=v" << asking_view();
  if (fetching_) s << " fetching=" << fetching_->seq;
  return s.str();
}

}  // namespace pbft::core
