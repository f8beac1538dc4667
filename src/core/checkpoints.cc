// Checkpoints, stable checkpoint certificates, garbage collection of the
// log, and state transfer for a replica that fell behind.
#include <map>
#include <set>

#include "common/assert.h"
#include "core/replica.h"
#include "wire/codec.h"

namespace pbft::core {

// A replica's state at a checkpoint: the reply cache, then the
// application's manifest (which identifies the application state without
// holding it). Its digest is what CHECKPOINT messages certify.
Bytes Replica::make_snapshot(Seq seq) {
  Bytes out = d_.clients.encode();
  Bytes app = sm_.checkpoint(seq);
  out.insert(out.end(), app.begin(), app.end());
  return out;
}

void Replica::take_checkpoint() {
  Seq seq = d_.last_executed;
  Bytes snapshot = make_snapshot(seq);
  // Nothing more executes until the host has persisted this state, so it
  // can keep a read view of exactly the checkpoint for serving peers.
  awaiting_persist_ = true;
  Digest digest = crypto_.digest(snapshot);
  d_.checkpoints[seq] = OwnCheckpoint{digest, std::move(snapshot)};
  wire::Checkpoint cp = signed_copy(wire::Checkpoint{seq, digest, id_, {}});
  persist();
  broadcast(cp);
  on_checkpoint(cp);
}

void Replica::on_checkpoint(const wire::Checkpoint& m) {
  if (m.seq <= d_.stable_seq) return;  // old news
  if (m.replica >= config_.replica_count || m.seq % config_.checkpoint_interval != 0) {
    ++rejected_.malformed;
    return;
  }
  if (m.seq > d_.stable_seq + 2 * config_.window_size) {
    ++rejected_.out_of_window;  // far ahead: STATUS brings a certificate instead
    return;
  }
  auto& votes = checkpoint_votes_[m.seq];
  if (votes.contains(m.replica)) return;
  if (!crypto_.verify_replica(m.replica, wire::signing_bytes(m), m.sig)) {
    ++rejected_.bad_signature;
    if (votes.empty()) checkpoint_votes_.erase(m.seq);
    return;
  }
  votes[m.replica] = m;
  std::vector<wire::Checkpoint> cert;
  for (const auto& [replica, vote] : votes) {
    if (vote.state_digest == m.state_digest) cert.push_back(vote);
  }
  if (cert.size() < q()) return;
  cert.resize(q());
  adopt_certificate(m.seq, m.state_digest, cert);
}

bool Replica::valid_checkpoint_cert(const std::vector<wire::Checkpoint>& cert, Seq* seq,
                                    Digest* digest) {
  if (cert.size() < q() || cert.size() > config_.replica_count) return false;
  std::set<ReplicaId> signers;
  for (const wire::Checkpoint& c : cert) {
    if (c.seq != cert[0].seq || c.state_digest != cert[0].state_digest) return false;
    if (c.replica >= config_.replica_count || !signers.insert(c.replica).second) return false;
    if (c.seq == 0 || c.seq % config_.checkpoint_interval != 0) return false;
    if (!crypto_.verify_replica(c.replica, wire::signing_bytes(c), c.sig)) return false;
  }
  *seq = cert[0].seq;
  *digest = cert[0].state_digest;
  return true;
}

void Replica::on_stable_certificate(const std::vector<wire::Checkpoint>& cert) {
  if (cert.empty() || cert[0].seq <= d_.stable_seq) return;
  Seq seq = 0;
  Digest digest;
  if (!valid_checkpoint_cert(cert, &seq, &digest)) {
    ++rejected_.bad_certificate;
    return;
  }
  adopt_certificate(seq, digest, cert);
}

// q replicas vouch for the state at `seq`. Either this replica has the same
// state and the checkpoint becomes stable, or it lacks that state (behind,
// or diverged) and fetches it.
void Replica::adopt_certificate(Seq seq, const Digest& digest,
                                const std::vector<wire::Checkpoint>& cert) {
  if (seq <= d_.stable_seq) return;
  if (seq <= d_.last_executed) {
    const OwnCheckpoint* own = checkpoint_at(seq);
    if (own != nullptr && own->digest == digest) {
      advance_stable(seq, digest, cert);
      return;
    }
    // This replica's state at seq differs from what a quorum certifies.
    ++rejected_.bad_state;
  }
  start_fetch(seq, digest, cert);
}

void Replica::advance_stable(Seq seq, const Digest& digest, std::vector<wire::Checkpoint> cert) {
  PBFT_ASSERT(seq <= d_.last_executed, "a stable checkpoint is one this replica has reached");
  if (seq <= d_.stable_seq) return;
  d_.stable_seq = seq;
  d_.stable_digest = digest;
  d_.stable_cert = std::move(cert);
  garbage_collect();
  persist();
  propose_batches();
}

void Replica::garbage_collect() {
  Seq h = d_.stable_seq;
  std::erase_if(d_.slots, [h](const auto& e) { return e.first <= h; });
  std::erase_if(d_.prepared_certs, [h](const auto& e) { return e.first <= h; });
  std::erase_if(d_.executed_digests, [h](const auto& e) { return e.first <= h; });
  std::erase_if(d_.checkpoints, [h](const auto& e) { return e.first < h; });
  std::erase_if(checkpoint_votes_, [h](const auto& e) { return e.first <= h; });
  sm_.discard_checkpoints_below(h);
}

void Replica::start_fetch(Seq seq, const Digest& digest, const std::vector<wire::Checkpoint>& cert) {
  if (fetching_ && fetching_->seq >= seq) return;
  fetching_ = FetchState{seq, digest};
  fetch_cert_ = cert;
  out_.fetch_state = *fetching_;
  fetch_deadline_ = now_ + config_.state_fetch_retry_ticks;
}

void Replica::state_transferred(Seq seq, ByteView snapshot) {
  if (!fetching_ || seq != fetching_->seq) return;  // an answer to an older question
  if (crypto_.digest(snapshot) != fetching_->digest) {
    ++rejected_.bad_state;
    out_.fetch_state = *fetching_;  // ask again; the host picks another peer
    return;
  }
  size_t consumed = 0;
  std::optional<ClientTable> clients = ClientTable::decode(snapshot, consumed);
  PBFT_ASSERT(clients.has_value(), "a certified snapshot has a readable reply cache");
  ByteView manifest = snapshot.subspan(consumed);
  if (!sm_.restore(seq, manifest)) {
    // The host has not fetched all of that state yet: ask again.
    out_.fetch_state = *fetching_;
    return;
  }
  // The installed state must be the certified one; the checkpoint also lets
  // the host keep a read view of it for serving peers.
  const Bytes installed = sm_.checkpoint(seq);
  PBFT_ASSERT(installed == Bytes(manifest.begin(), manifest.end()),
              "a restored state has the certified manifest");
  awaiting_persist_ = true;
  Digest digest = fetching_->digest;
  std::vector<wire::Checkpoint> cert = std::move(fetch_cert_);
  fetching_.reset();
  fetch_cert_.clear();

  d_.clients = std::move(*clients);
  d_.last_executed = seq;
  d_.last_proposed = std::max(d_.last_proposed, seq);
  d_.executed_digests.clear();
  d_.checkpoints[seq] = OwnCheckpoint{digest, Bytes(snapshot.begin(), snapshot.end())};
  // advance_stable drops the log up to seq; slots above it that committed
  // while this replica was fetching execute once the host has persisted
  // (resume()).
  advance_stable(seq, digest, std::move(cert));
  persist();
  forget_executed_pending();
  execute_committed();
  restart_request_timer();
}

}  // namespace pbft::core
