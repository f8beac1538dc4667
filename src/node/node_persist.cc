// Group commit: how the node makes the core's state durable before the
// messages that promise it leave (output.h, rule 2), without an fsync per
// message.
//
//   - persist_state() marks the state dirty; write_state(), queued on the
//     event loop, writes everything that changed since the last write in
//     one atomic batch, without fsync. So the events handled in one turn
//     of the loop share a write.
//   - The sync thread fsyncs; one sync covers every write made while the
//     previous one ran, so the writes of many turns share an fsync.
//   - A message the core produced after write g was due waits in held_
//     until write g is durable, then leaves, in the order produced.
//
// A crash loses held messages together with the unsynced writes they
// depend on: to everybody else, this replica never got that far.
#include <boost/asio/post.hpp>

#include "common/client_id.h"
#include "node/node.h"

namespace pbft::node {

void Node::persist_state() {
  write_due_ = true;
  if (write_posted_) return;
  write_posted_ = true;
  boost::asio::post(io_, [this] {
    write_posted_ = false;
    if (stopped_) return;
    try {
      write_state();
    } catch (const storage::StorageError& e) {
      storage_failed(e);
    }
  });
}

// One atomic write: the state machine's changes and the protocol state that
// says how far it got.
void Node::write_state() {
  if (!write_due_) return;
  write_due_ = false;
  storage::WriteBatch batch;
  kv_->take_writes(batch);
  replica_store_->stage(replica_->durable(), batch);
  const auto started = std::chrono::steady_clock::now();
  storage_->write(batch, false);
  metrics_.storage_write_s.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  kv_->written();
  ++written_;
  if (sync_thread_) {
    sync_thread_->request(written_);
  } else {
    synced_ = written_;  // sync = off: written is as far as it goes
    release_held();
  }
}

void Node::on_synced(uint64_t generation, double seconds) {
  metrics_.storage_sync_s.observe(seconds);
  if (generation <= synced_) return;
  synced_ = generation;
  if (!stopped_) release_held();
}

void Node::deliver(core::Send s) {
  const uint64_t needs = written_ + (write_due_ ? 1 : 0);
  if (held_.empty() && needs <= synced_) send_now(std::move(s));
  else held_.push_back(Held{needs, std::move(s)});
}

void Node::deliver(core::ClientReply r) {
  const uint64_t needs = written_ + (write_due_ ? 1 : 0);
  if (held_.empty() && needs <= synced_) send_now(std::move(r));
  else held_.push_back(Held{needs, std::move(r)});
}

void Node::release_held() {
  while (!held_.empty() && held_.front().needs <= synced_) {
    Held h = std::move(held_.front());
    held_.pop_front();
    std::visit([this](auto& m) { send_now(std::move(m)); }, h.message);
  }
}

void Node::send_now(core::Send s) {
  switch (config_.misbehave) {
    case Misbehaviour::silent:
      return;
    case Misbehaviour::corrupt_signatures:
      corrupt_signatures(s.message);
      break;
    case Misbehaviour::wrong_checkpoint_digest:
      forge_checkpoint_digest(s.message, crypto_);
      break;
    case Misbehaviour::equivocate:
      if (const auto* pp = std::get_if<wire::PrePrepare>(&s.message); pp && !s.to && !pp->batch.empty()) {
        // The lower half of the peers gets the real proposal, the rest another.
        const wire::Message other = conflicting_pre_prepare(*pp, crypto_);
        uint32_t sent = 0;
        const uint32_t peers = config_.protocol.replica_count - 1;
        for (ReplicaId r = 0; r < config_.protocol.replica_count; ++r) {
          if (r == config_.self) continue;
          network_->send(r, sent++ < peers / 2 ? s.message : other);
        }
        return;
      }
      break;
    case Misbehaviour::replay:
      replay_old_message();
      break;
    case Misbehaviour::none:
    case Misbehaviour::wrong_results:
    case Misbehaviour::slow_primary:
    case Misbehaviour::flood:
    case Misbehaviour::bad_state_chunks:
      break;
  }
  if (s.to) network_->send(*s.to, s.message);
  else network_->broadcast(s.message);
  if (config_.misbehave == Misbehaviour::replay) {
    replay_log_.push_back(std::move(s));
    if (replay_log_.size() > 256) replay_log_.pop_front();
  }
}

// Misbehaviour::flood: junk prepares, in its view, for the top 8 slots of
// the window (where this replica has no prepare yet, so the peers check
// each one), to every peer.
void Node::flood_peers() {
  const Seq top = replica_->stable_seq() + config_.protocol.window_size;
  for (uint32_t i = 0; i < flood_prepares_per_tick; ++i) {
    network_->broadcast(flood_prepare(replica_->view(), top - i % 8, config_.self, flood_sent_++));
  }
}

// Misbehaviour::replay: one message from the log of what it sent, again.
void Node::replay_old_message() {
  if (replay_log_.empty()) return;
  const core::Send& old = replay_log_[ids_() % replay_log_.size()];
  if (old.to) network_->send(*old.to, old.message);
  else network_->broadcast(old.message);
}

void Node::send_now(core::ClientReply r) {
  if (config_.misbehave == Misbehaviour::silent) return;
  if (config_.misbehave == Misbehaviour::wrong_results) forge_reply(r.reply);
  std::optional<ReplicaId> owner = gateway_of(r.client);
  if (!owner) {
    // A binary-protocol client: on the connections its request came on.
    auto link = client_links_.find(r.client);
    if (link == client_links_.end() || !clients_) return;
    std::erase_if(link->second.connections, [&](auto c) { return !clients_->send(c, r.reply); });
    if (link->second.connections.empty()) client_links_.erase(link);
    return;
  }
  if (*owner == config_.self) gateway_->on_reply(config_.self, r.reply);
  else if (*owner < config_.protocol.replica_count) network_->send(*owner, r.reply);
}

// The primary closes its batches after the events already queued: every
// request that arrived in this turn of the loop goes into them.
void Node::propose_later() {
  if (propose_posted_) return;
  propose_posted_ = true;
  auto propose = [this] {
    propose_posted_ = false;
    if (stopped_) return;
    replica_->propose();
    run_output();
  };
  if (config_.misbehave == Misbehaviour::slow_primary) {
    // Each batch waits 80% of the view-change timeout: never long enough
    // for the request timers, as slow as they allow.
    const uint64_t ms = uint64_t{config_.protocol.view_change_timeout_ticks} * config_.tick_ms * 8 / 10;
    propose_timer_.expires_after(std::chrono::milliseconds(ms));
    propose_timer_.async_wait([propose](auto ec) {
      if (!ec) propose();
    });
    return;
  }
  boost::asio::post(io_, propose);
}

}  // namespace pbft::node
