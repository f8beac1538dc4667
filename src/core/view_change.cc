// View changes (signed variant of Castro & Liskov): VIEW-CHANGE carries the
// stable checkpoint certificate and the prepared certificates; the new
// primary's NEW-VIEW carries q view changes and the pre-prepares they imply,
// which every backup recomputes before it accepts.
//
// A replica that suspects the primary does not leave its view at once: it
// asks for a view change in its STATUS and goes on working in the view. It
// joins when f+1 peers ask (one of them is correct), and leaves the view,
// sending its VIEW-CHANGE, when q replicas ask. A replica whose suspicion
// nobody shares (a slow moment of its own, a partition that healed) so
// stays in the view with the others instead of waiting alone, outside
// every quorum, for a view change that never comes.
#include <algorithm>
#include <functional>
#include <set>

#include "common/assert.h"
#include "core/replica.h"
#include "wire/codec.h"

namespace pbft::core {

void Replica::start_view_change(View new_view) {
  if (new_view <= d_.view) return;
  d_.view = new_view;
  d_.view_active = false;
  stop_request_timer();
  view_change_deadline_.reset();
  lonely_deadline_ = now_ + view_change_timeout();
  awaiting_proposal_.clear();
  queue_.clear();
  proposed_.clear();
  d_.view_change = make_view_change(new_view);
  persist();
  broadcast(*d_.view_change);
  std::erase_if(view_changes_, [&](const auto& e) { return e.second.new_view < new_view; });
  view_changes_[id_] = *d_.view_change;
  target_view_changes_.clear();
  for (const auto& [replica, vc] : view_changes_) {
    if (vc.new_view == new_view) target_view_changes_[replica] = vc;
  }
  on_view_change_quorum();
}

wire::ViewChange Replica::make_view_change(View new_view) {
  wire::ViewChange vc;
  vc.new_view = new_view;
  vc.stable_seq = d_.stable_seq;
  vc.checkpoint_cert = d_.stable_cert;
  for (const auto& [seq, cert] : d_.prepared_certs) {
    if (seq > d_.stable_seq) vc.prepared.push_back(cert);
  }
  vc.replica = id_;
  return signed_copy(std::move(vc));
}

bool Replica::valid_prepared_cert(const wire::PreparedCert& c, View before_view) {
  const wire::PrePrepare& pp = c.pre_prepare;
  if (pp.view >= before_view) return false;
  if (!valid_pre_prepare(pp, false) || batch_digest(pp.batch) != pp.digest) return false;
  if (c.prepares.size() + 1 < q() || c.prepares.size() > config_.replica_count) return false;
  std::set<ReplicaId> signers;
  for (const wire::Prepare& p : c.prepares) {
    if (p.view != pp.view || p.seq != pp.seq || p.digest != pp.digest) return false;
    if (p.replica >= config_.replica_count || p.replica == primary_of(pp.view)) return false;
    if (!signers.insert(p.replica).second) return false;
    if (!crypto_.verify_replica(p.replica, wire::signing_bytes(p), p.sig)) return false;
  }
  return true;
}

bool Replica::valid_view_change(const wire::ViewChange& m) {
  if (m.replica >= config_.replica_count) return false;
  if (!crypto_.verify_replica(m.replica, wire::signing_bytes(m), m.sig)) return false;
  if (m.stable_seq == 0) {
    if (!m.checkpoint_cert.empty()) return false;
  } else {
    Seq seq = 0;
    Digest digest;
    if (!valid_checkpoint_cert(m.checkpoint_cert, &seq, &digest) || seq != m.stable_seq)
      return false;
  }
  Seq previous = m.stable_seq;
  for (const wire::PreparedCert& c : m.prepared) {
    Seq seq = c.pre_prepare.seq;
    if (seq <= previous || seq > m.stable_seq + config_.window_size) return false;
    if (!valid_prepared_cert(c, m.new_view)) return false;
    previous = seq;
  }
  return true;
}

void Replica::on_view_change(const wire::ViewChange& m) {
  if (m.new_view < d_.view || (m.new_view == d_.view && d_.view_active)) return;  // stale
  auto latest = view_changes_.find(m.replica);
  bool newer = latest == view_changes_.end() || latest->second.new_view < m.new_view;
  bool for_target = !d_.view_active && m.new_view == d_.view;
  if (!newer && !(for_target && !target_view_changes_.contains(m.replica))) return;  // known
  if (!valid_view_change(m)) {
    ++rejected_.bad_certificate;
    return;
  }
  if (newer) view_changes_[m.replica] = m;
  if (for_target) target_view_changes_[m.replica] = m;
  join_higher_views();
  count_view_change_asks();
  on_view_change_quorum();
}

// f+1 replicas asking for higher views include a correct one: follow them
// to the smallest of those views, even before this replica's timer fires.
void Replica::join_higher_views() {
  std::vector<View> higher;
  for (const auto& [replica, vc] : view_changes_) {
    if (replica != id_ && vc.new_view > d_.view) higher.push_back(vc.new_view);
  }
  if (higher.size() >= quorum_.f + 1) {
    start_view_change(*std::min_element(higher.begin(), higher.end()));
  }
}

// The f+1 rule above needs f+1 peers ahead. When the view change this
// replica waits for lacks a quorum for a whole timeout, one peer changing
// to the very next view is enough to follow: that peer may have sent its
// view change for this view before a partition and moved on, and it does
// not send it again, so the replicas left behind would wait for a quorum
// that never comes (pbft-sim --seed 845: two replicas changing to view 3
// with one view change missing, the third correct replica changing to
// view 4 alone, the fourth silent). Only to the next view: a faulty peer
// asking for a far view must not drag a correct replica there
// (pbft-sim --seed 123). Moving to a later view is always safe.
void Replica::join_lonely_view_change() {
  lonely_deadline_ = now_ + view_change_timeout();
  for (const auto& [replica, vc] : view_changes_) {
    if (replica != id_ && vc.new_view == d_.view + 1) {
      start_view_change(d_.view + 1);
      return;
    }
  }
}

bool Replica::ask_view_change(View target) {
  if (!d_.view_active || target <= d_.view || d_.asked_view >= target) return false;
  d_.asked_view = target;
  persist();
  send_status();
  count_view_change_asks();
  return true;
}

// A peer asks for a view when its STATUS says so or when it sent a
// VIEW-CHANGE for that view.
void Replica::count_view_change_asks() {
  if (!d_.view_active) return;
  std::vector<View> asks;
  for (ReplicaId r = 0; r < config_.replica_count; ++r) {
    if (r == id_) continue;
    View asked = 0;
    if (auto it = peer_asks_.find(r); it != peer_asks_.end()) asked = it->second;
    if (auto it = view_changes_.find(r); it != view_changes_.end()) asked = std::max(asked, it->second.new_view);
    if (asked > d_.view) asks.push_back(asked);
  }
  if (asks.size() >= quorum_.f + 1 && asking_view() == 0) {
    ask_view_change(*std::min_element(asks.begin(), asks.end()));
    return;  // counted again there, with this replica's own ask
  }
  if (asking_view() != 0) asks.push_back(asking_view());
  if (asks.size() < q()) return;
  // q replicas ask for at least the q-th highest view asked for.
  std::sort(asks.begin(), asks.end(), std::greater<>());
  start_view_change(asks[q() - 1]);
}

void Replica::on_view_change_quorum() {
  if (d_.view_active) return;
  if (target_view_changes_.size() < q()) return;
  // q replicas moved to this view: wait for its primary, but not forever.
  if (!view_change_deadline_) view_change_deadline_ = now_ + view_change_timeout();
  if (primary_of(d_.view) == id_) send_new_view();
}

Replica::NewViewPlan Replica::plan_new_view(View view, const std::vector<wire::ViewChange>& vcs) {
  NewViewPlan plan;
  for (const wire::ViewChange& vc : vcs) {
    if (vc.stable_seq > plan.min_s) {
      plan.min_s = vc.stable_seq;
      plan.checkpoint_cert = vc.checkpoint_cert;
    }
  }
  // For each seq above min_s, the prepared certificate of the highest view.
  std::map<Seq, const wire::PrePrepare*> chosen;
  for (const wire::ViewChange& vc : vcs) {
    for (const wire::PreparedCert& c : vc.prepared) {
      const wire::PrePrepare& pp = c.pre_prepare;
      if (pp.seq <= plan.min_s) continue;
      auto [it, inserted] = chosen.emplace(pp.seq, &pp);
      if (!inserted && pp.view > it->second->view) it->second = &pp;
    }
  }
  Seq max_s = chosen.empty() ? plan.min_s : chosen.rbegin()->first;
  for (Seq seq = plan.min_s + 1; seq <= max_s; ++seq) {
    wire::PrePrepare pp;
    pp.view = view;
    pp.seq = seq;
    if (auto it = chosen.find(seq); it != chosen.end()) {
      pp.digest = it->second->digest;
      pp.batch = it->second->batch;
    } else {
      pp.digest = batch_digest({});  // a null request fills the gap
    }
    plan.pre_prepares.push_back(std::move(pp));
  }
  return plan;
}

void Replica::send_new_view() {
  wire::NewView nv;
  nv.view = d_.view;
  for (const auto& [replica, vc] : target_view_changes_) {
    if (nv.view_changes.size() < q()) nv.view_changes.push_back(vc);
  }
  PBFT_ASSERT(nv.view_changes.size() == q(), "a NEW-VIEW needs a quorum of view changes");
  NewViewPlan plan = plan_new_view(nv.view, nv.view_changes);
  for (wire::PrePrepare& pp : plan.pre_prepares) {
    pp = signed_copy(std::move(pp));
    wire::PrePrepare header = pp;
    header.batch.clear();
    nv.pre_prepares.push_back(std::move(header));
  }
  nv.replica = id_;
  nv = signed_copy(std::move(nv));
  broadcast(nv);
  enter_view(nv, plan);
}

void Replica::on_new_view(const wire::NewView& m) {
  if (m.view < d_.view || (m.view == d_.view && d_.view_active)) return;  // stale
  if (m.replica != primary_of(m.view) ||
      !crypto_.verify_replica(m.replica, wire::signing_bytes(m), m.sig)) {
    ++rejected_.bad_signature;
    return;
  }
  // From here on the new primary signed it: if it is wrong, the primary is
  // faulty and must be replaced.
  bool ok = m.view_changes.size() >= q() && m.view_changes.size() <= config_.replica_count;
  std::set<ReplicaId> senders;
  for (const wire::ViewChange& vc : m.view_changes) {
    if (!ok) break;
    ok = vc.new_view == m.view && senders.insert(vc.replica).second && valid_view_change(vc);
  }
  NewViewPlan plan;
  if (ok) {
    plan = plan_new_view(m.view, m.view_changes);
    ok = plan.pre_prepares.size() == m.pre_prepares.size();
    for (size_t i = 0; ok && i < plan.pre_prepares.size(); ++i) {
      const wire::PrePrepare& got = m.pre_prepares[i];
      wire::PrePrepare& want = plan.pre_prepares[i];
      ok = got.view == want.view && got.seq == want.seq && got.digest == want.digest &&
           got.batch.empty() && valid_pre_prepare(got, false);
      want.sig = got.sig;
    }
  }
  if (!ok) {
    ++rejected_.bad_certificate;
    // The primary of the view this replica is changing to is faulty. One
    // for a later view changes nothing: a faulty replica must not move
    // correct ones out of a view that works.
    if (m.view == d_.view) start_view_change(m.view + 1);
    return;
  }
  enter_view(m, plan);
}

void Replica::enter_view(const wire::NewView& m, const NewViewPlan& plan) {
  // The checkpoint the new view starts from may be ahead of this replica.
  if (plan.min_s > d_.stable_seq) {
    adopt_certificate(plan.min_s, plan.checkpoint_cert[0].state_digest, plan.checkpoint_cert);
  }
  d_.view = m.view;
  d_.view_active = true;
  d_.new_view = m;
  d_.slots.clear();
  queue_.clear();
  proposed_.clear();
  awaiting_proposal_.clear();
  view_change_deadline_.reset();
  std::erase_if(view_changes_, [&](const auto& e) { return e.second.new_view <= m.view; });
  target_view_changes_.clear();
  Seq max_s = plan.min_s;
  for (const wire::PrePrepare& pp : plan.pre_prepares) {
    max_s = std::max(max_s, pp.seq);
    for (const wire::Request& r : pp.batch) proposed_.insert({r.client, r.timestamp});
  }
  d_.last_proposed = std::max(max_s, d_.stable_seq);
  persist();
  for (const wire::PrePrepare& pp : plan.pre_prepares) {
    if (!in_window(pp.seq)) continue;
    accept_pre_prepare(pp);
  }
  // Requests that waited through the view change go to the new primary.
  if (is_primary()) {
    for (const auto& [client, r] : pending_) queue_.emplace_back(client, r.timestamp);
    propose_batches();
  } else {
    for (const auto& [client, r] : pending_) send(primary_of(d_.view), r);
  }
  restart_request_timer();
  count_view_change_asks();  // asks for a later view that came meanwhile
}

}  // namespace pbft::core
