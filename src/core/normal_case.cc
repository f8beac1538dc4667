// The normal case: pre-prepare, prepare, commit, and execution in sequence
// order.
#include <set>

#include "common/assert.h"
#include "core/replica.h"
#include "wire/codec.h"

namespace pbft::core {

// Normal-case messages count only in the current view, once it is active,
// and inside the watermark window.
bool Replica::admits(View view, Seq seq) {
  if (view != d_.view || !d_.view_active) {
    ++rejected_.wrong_view;
    return false;
  }
  if (!in_window(seq)) {
    ++rejected_.out_of_window;
    return false;
  }
  return true;
}

bool Replica::valid_pre_prepare(const wire::PrePrepare& m, bool check_batch) {
  if (!crypto_.verify_replica(primary_of(m.view), wire::signing_bytes(m), m.sig)) {
    ++rejected_.bad_signature;
    return false;
  }
  if (!check_batch) return true;
  if (m.batch.size() > config_.batch_requests_max || batch_digest(m.batch) != m.digest) {
    ++rejected_.malformed;
    return false;
  }
  std::set<ClientId> clients;
  for (const wire::Request& r : m.batch) {
    // A request this replica already holds, signature and all, was
    // authenticated when it came (every entry of pending_ was, by its
    // signature or its gateway's link): once is enough.
    auto known = pending_.find(r.client);
    const bool checked = known != pending_.end() && known->second == r;
    if (!clients.insert(r.client).second ||
        (!checked && !client_signed(r))) {
      ++rejected_.malformed;
      return false;
    }
  }
  return true;
}

void Replica::on_pre_prepare(const wire::PrePrepare& m) {
  if (!admits(m.view, m.seq)) return;
  if (primary_of(m.view) == id_) return;  // this replica proposes; copies add nothing
  Slot& slot = d_.slots[m.seq];
  if (slot.pre_prepare) {
    if (slot.pre_prepare->digest == m.digest) return;
    // Two signed proposals for one (view, seq): the primary equivocated.
    if (valid_pre_prepare(m, false)) {
      ++rejected_.conflicting;
      ask_view_change(d_.view + 1);
    }
    return;
  }
  if (!valid_pre_prepare(m, true)) {
    if (!slot.pre_prepare && slot.prepares.empty() && slot.commits.empty()) d_.slots.erase(m.seq);
    return;
  }
  if (auto done = d_.executed_digests.find(m.seq);
      done != d_.executed_digests.end() && done->second != m.digest) {
    // A signed proposal that contradicts what a quorum committed: only a
    // faulty primary sends that.
    ++rejected_.conflicting;
    ask_view_change(d_.view + 1);
    return;
  }
  accept_pre_prepare(m);
}

void Replica::accept_pre_prepare(const wire::PrePrepare& m) {
  Slot& slot = d_.slots[m.seq];
  if (auto done = d_.executed_digests.find(m.seq); done != d_.executed_digests.end()) {
    PBFT_ASSERT(done->second == m.digest,
                "seq " + std::to_string(m.seq) + " executed with another batch");
  }
  slot.pre_prepare = m;
  d_.last_proposed = std::max(d_.last_proposed, m.seq);
  for (const wire::Request& r : m.batch) {
    if (d_.clients.is_new(r.client, r.timestamp)) {
      auto it = pending_.find(r.client);
      // The watch is for the request waiting here: a proposal of an older
      // one of the same client does not end it (a client that sends one
      // request to the primary and a newer one to the backups only must not
      // leave the newer one unwatched, and then time the view out).
      if (it == pending_.end() || it->second.timestamp <= r.timestamp) awaiting_proposal_.erase(r.client);
      if (it == pending_.end() || it->second.timestamp < r.timestamp) {
        add_pending(r);
        // From a batch whose requests this replica may not have checked
        // (a NEW-VIEW's, or one it held): checked again before proposing.
        if (pending_.contains(r.client)) unchecked_.insert(r.client);
      }
    }
  }
  if (primary_of(d_.view) != id_) {
    wire::Prepare p = signed_copy(wire::Prepare{d_.view, m.seq, m.digest, id_, {}});
    slot.prepares[id_] = p;
    broadcast(p);
  }
  persist();
  if (!request_deadline_) restart_request_timer();
  check_prepared(m.seq);
}

void Replica::on_prepare(const wire::Prepare& m) {
  if (!admits(m.view, m.seq)) return;
  if (m.replica >= config_.replica_count || m.replica == primary_of(m.view)) {
    ++rejected_.wrong_sender;
    return;
  }
  auto slot_it = d_.slots.find(m.seq);
  if (slot_it != d_.slots.end()) {
    if (auto it = slot_it->second.prepares.find(m.replica); it != slot_it->second.prepares.end()) {
      if (it->second.digest != m.digest) ++rejected_.conflicting;
      return;
    }
  }
  if (!crypto_.verify_replica(m.replica, wire::signing_bytes(m), m.sig)) {
    ++rejected_.bad_signature;
    return;
  }
  d_.slots[m.seq].prepares[m.replica] = m;
  check_prepared(m.seq);
}

void Replica::on_commit(ReplicaId from, const wire::Commit& m) {
  if (m.replica != from) {
    ++rejected_.wrong_sender;
    return;
  }
  if (!admits(m.view, m.seq)) return;
  Slot& slot = d_.slots[m.seq];
  if (auto it = slot.commits.find(from); it != slot.commits.end()) {
    if (it->second.digest != m.digest) ++rejected_.conflicting;
    return;
  }
  slot.commits[from] = m;
  check_committed(m.seq);
}

void Replica::check_prepared(Seq seq) {
  auto it = d_.slots.find(seq);
  if (it == d_.slots.end()) return;
  Slot& slot = it->second;
  if (slot.prepared || !slot.pre_prepare) return;
  const Digest& digest = slot.pre_prepare->digest;
  wire::PreparedCert cert{*slot.pre_prepare, {}};
  for (const auto& [replica, p] : slot.prepares) {
    if (p.digest == digest && cert.prepares.size() + 1 < q()) cert.prepares.push_back(p);
  }
  if (cert.prepares.size() + 1 < q()) return;

  slot.prepared = true;
  d_.prepared_certs[seq] = std::move(cert);
  wire::Commit c{d_.view, seq, digest, id_};
  slot.commits[id_] = c;
  persist();
  broadcast(c);
  check_committed(seq);
}

void Replica::check_committed(Seq seq) {
  auto it = d_.slots.find(seq);
  if (it == d_.slots.end()) return;
  Slot& slot = it->second;
  if (slot.committed || !slot.prepared) return;
  uint32_t matching = 0;
  for (const auto& [replica, c] : slot.commits) {
    if (c.digest == slot.pre_prepare->digest) ++matching;
  }
  if (matching < q()) return;
  slot.committed = true;
  persist();
  execute_committed();
}

void Replica::execute_committed() {
  if (fetching_) return;  // the state is about to be replaced
  bool progressed = false;
  while (!awaiting_persist_) {
    auto it = d_.slots.find(d_.last_executed + 1);
    if (it == d_.slots.end() || !it->second.committed) break;
    execute_batch(it->first, it->second);
    progressed = true;
  }
  if (!progressed) return;
  backoff_ = 0;
  forget_executed_pending();
  restart_request_timer();
  propose_batches();
}

void Replica::execute_batch(Seq seq, const Slot& slot) {
  PBFT_ASSERT(seq == d_.last_executed + 1, "batches execute in sequence order");
  PBFT_ASSERT(slot.committed && slot.pre_prepare, "only committed batches execute");
  const wire::PrePrepare& pp = *slot.pre_prepare;
  Executed executed{seq, pp.view, pp.digest, {}};
  for (const wire::Request& r : pp.batch) {
    if (!d_.clients.is_new(r.client, r.timestamp)) continue;  // ran before: exactly once
    Bytes result = sm_.apply(seq, r.operation);
    const Digest operation = crypto_.digest(r.operation);
    d_.clients.record(r.client, r.timestamp, result, seq, operation);
    out_.replies.push_back(ClientReply{
        r.client, make_reply(r.client, r.timestamp, seq, operation, result,
                             (r.flags & wire::Request::flag_signed_reply) != 0)});
    executed.requests.push_back(ExecutedRequest{r.client, r.timestamp, std::move(result)});
  }
  d_.last_executed = seq;
  d_.executed_digests[seq] = pp.digest;
  out_.executed.push_back(std::move(executed));
  persist();
  if (seq % config_.checkpoint_interval == 0) take_checkpoint();
}

}  // namespace pbft::core
