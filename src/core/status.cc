// STATUS: each replica periodically says where it is; peers answer with
// what it lacks (the NEW-VIEW of a view it missed, a view change, a stable
// checkpoint certificate, or the messages of unfinished slots). This is
// what makes progress independent of a lossless network.
#include <algorithm>

#include "core/replica.h"

namespace pbft::core {

void Replica::send_status() {
  wire::Status st;
  st.replica = id_;
  st.view = d_.view;
  st.view_active = d_.view_active;
  st.stable_seq = d_.stable_seq;
  st.last_executed = d_.last_executed;
  st.asks_view = asking_view();
  // Slots past the last known pre-prepare are unknown: the peer reads
  // missing flags as "nothing" and resends what it has there.
  Seq last = std::min({d_.last_executed + config_.retransmit_slots_max,
                       d_.stable_seq + config_.window_size, d_.last_proposed});
  for (Seq seq = d_.last_executed + 1; seq <= last && d_.view_active; ++seq) {
    uint8_t flags = 0;
    if (auto it = d_.slots.find(seq); it != d_.slots.end()) {
      if (it->second.pre_prepare) flags |= wire::Status::has_pre_prepare;
      if (it->second.prepared) flags |= wire::Status::prepared;
      if (it->second.committed) flags |= wire::Status::committed;
    }
    st.slot_flags.push_back(flags);
  }
  broadcast(st);
}

void Replica::on_status(ReplicaId from, const wire::Status& m) {
  if (m.replica != from) {
    ++rejected_.wrong_sender;
    return;
  }
  peer_reports_[from] = PeerReport{m.view, m.view_active, m.stable_seq, m.last_executed};

  // Views: bring a replica that is behind (or still changing to our view)
  // into the view we are in, or help it complete the change we are making.
  bool peer_behind = m.view < d_.view || (m.view == d_.view && !m.view_active);
  if (peer_behind && d_.view_active && d_.new_view) send(from, *d_.new_view);
  if (peer_behind && !d_.view_active && d_.view_change) send(from, *d_.view_change);
  // A peer's ask is the one in its latest status; a peer changing views
  // asks for the view it is changing to (its VIEW-CHANGE may not have
  // come).
  View asks = m.asks_view > m.view ? m.asks_view : 0;
  if (!m.view_active) asks = std::max(asks, m.view);
  if (asks > 0) {
    peer_asks_[from] = asks;
    count_view_change_asks();
  } else {
    peer_asks_.erase(from);
  }

  // Checkpoints: a replica below our stable checkpoint gets its
  // certificate, and our votes for later ones (a lost CHECKPOINT would
  // otherwise keep the window from ever moving).
  if (m.stable_seq < d_.stable_seq && !d_.stable_cert.empty())
    send(from, wire::StableCheckpoint{d_.stable_cert});
  for (const auto& [seq, own] : d_.checkpoints) {
    if (seq > d_.stable_seq && seq > m.stable_seq)
      send(from, signed_copy(wire::Checkpoint{seq, own.digest, id_, {}}));
  }

  // Slots: resend what the peer has not got for unfinished sequence numbers.
  if (m.view != d_.view || !m.view_active || !d_.view_active) return;
  Seq first = std::max(m.last_executed, d_.stable_seq) + 1;
  Seq last = std::min(m.last_executed + config_.retransmit_slots_max,
                      d_.stable_seq + config_.window_size);
  for (Seq seq = first; seq <= last; ++seq) {
    auto it = d_.slots.find(seq);
    if (it == d_.slots.end()) continue;
    const Slot& slot = it->second;
    size_t index = seq - m.last_executed - 1;
    uint8_t flags = index < m.slot_flags.size() ? m.slot_flags[index] : 0;
    if (flags & wire::Status::committed) continue;
    if (!(flags & wire::Status::has_pre_prepare) && slot.pre_prepare) send(from, *slot.pre_prepare);
    if (!(flags & wire::Status::prepared)) {
      for (const auto& [replica, p] : slot.prepares) {
        if (replica != from) send(from, p);
      }
    }
    if (auto c = slot.commits.find(id_); c != slot.commits.end()) send(from, c->second);
  }
}

}  // namespace pbft::core
