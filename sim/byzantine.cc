#include "sim/byzantine.h"

#include <algorithm>
#include <type_traits>

#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::sim {
namespace {

constexpr size_t memory_max = 256;
constexpr size_t seen_requests_max = 64;

void flip(Digest& d, Rng& rng) {
  d.bytes[rng.below(digest_size)] ^= static_cast<uint8_t>(1 + rng.below(255));
}

}  // namespace

std::string_view mode_name(ByzMode mode) {
  switch (mode) {
    case ByzMode::silent: return "silent";
    case ByzMode::equivocate: return "equivocate";
    case ByzMode::wrong_digest: return "wrong_digest";
    case ByzMode::replay: return "replay";
    case ByzMode::forge_certificates: return "forge_certificates";
    case ByzMode::impersonate: return "impersonate";
    case ByzMode::flood_future: return "flood_future";
    case ByzMode::lie_to_clients: return "lie_to_clients";
    case ByzMode::bad_state: return "bad_state";
  }
  return "?";
}

std::string modes_name(const std::vector<ByzMode>& modes) {
  std::string s;
  for (ByzMode m : modes) s += (s.empty() ? "" : "+") + std::string(mode_name(m));
  return s;
}

Byzantine::Byzantine(std::vector<ByzMode> modes, ReplicaId self, uint32_t replica_count,
                     const crypto::Crypto& crypto, Rng rng,
                     std::shared_ptr<Equivocation> equivocation)
    : modes_(std::move(modes)),
      self_(self),
      replica_count_(replica_count),
      crypto_(crypto),
      rng_(rng),
      equivocation_(std::move(equivocation)) {
  if (!equivocation_) equivocation_ = std::make_shared<Equivocation>();
}

bool Byzantine::has(ByzMode m) const {
  return std::find(modes_.begin(), modes_.end(), m) != modes_.end();
}

template <typename M>
M Byzantine::resigned(M m) const {
  m.sig = crypto_.sign(wire::signing_bytes(m));
  return m;
}

std::vector<ReplicaId> Byzantine::destinations(const core::Send& s) const {
  if (s.to) return {*s.to};
  std::vector<ReplicaId> to;
  for (ReplicaId i = 0; i < replica_count_; ++i)
    if (i != self_) to.push_back(i);
  return to;
}

void Byzantine::pass(std::vector<Outgoing>& out, std::vector<ReplicaId> to, wire::Message m) {
  if (to.empty()) return;
  if (has(ByzMode::replay)) remember(m);
  out.push_back(Outgoing{std::move(to), self_, std::move(m)});
}

std::vector<Outgoing> Byzantine::transform(const core::Replica& r, std::vector<core::Send> sends) {
  std::vector<Outgoing> out;
  if (has(ByzMode::silent)) return out;
  for (core::Send& s : sends) {
    if (has(ByzMode::forge_certificates)) forge(r, s);
    if (has(ByzMode::wrong_digest) && rng_.chance(0.5)) corrupt_digest(s);
    if (has(ByzMode::impersonate)) impersonate(s, out);  // an extra, forged copy
    if (has(ByzMode::equivocate)) {
      equivocate(r, std::move(s), out);
      continue;
    }
    pass(out, destinations(s), std::move(s.message));
  }
  return out;
}

// ---- equivocate ----

std::vector<wire::Request> Byzantine::made_up_batch() {
  if (!seen_requests_.empty()) return {seen_requests_[rng_.below(seen_requests_.size())]};
  // Nothing seen yet: a request no client signed.
  wire::Request fake;
  fake.client = 999999;
  fake.timestamp = 1;
  fake.operation = kv::encode_operation(kv::Operation{kv::OpKind::put, "k0", "forged"});
  return {fake};
}

const Equivocation::Alternative& Byzantine::alternative_for(const core::Replica& r,
                                                            const wire::PrePrepare& pp) {
  auto key = std::make_pair(pp.view, pp.seq);
  auto it = equivocation_->alternatives.find(key);
  if (it != equivocation_->alternatives.end() && it->second.original == pp.digest) return it->second;

  wire::PrePrepare alt = pp;
  std::vector<wire::Request>& b = alt.batch;
  // Colluders want both halves to accept their proposal, so they only make
  // valid alternatives; a lone equivocator also tries invalid ones.
  uint64_t choice = rng_.below(equivocation_->valid_only ? 3 : 4);
  if (choice == 2) {
    std::vector<wire::Request> extra;
    for (const wire::Request& seen : seen_requests_) {
      bool clash = std::any_of(b.begin(), b.end(),
                               [&](const wire::Request& x) { return x.client == seen.client; });
      if (!clash) extra.push_back(seen);
    }
    if (extra.empty()) {
      choice = 0;
    } else {
      b.push_back(rng_.pick(extra));
    }
  }
  if (choice == 0) {
    if (!b.empty()) b.pop_back(); else b = made_up_batch();
  } else if (choice == 1) {
    if (!b.empty()) b.clear(); else b = made_up_batch();
  } else if (choice == 3) {
    if (b.empty()) b = made_up_batch();
    b.front().operation.push_back('!');  // no longer what the client signed
  }
  alt.digest = r.batch_digest(alt.batch);
  if (alt.digest == pp.digest) {  // e.g. the made-up batch was the original
    b.push_back(made_up_batch().front());
    b.back().operation.push_back('!');
    alt.digest = r.batch_digest(alt.batch);
  }
  alt = resigned(std::move(alt));
  auto& entry = equivocation_->alternatives[key];
  entry = Equivocation::Alternative{pp.digest, std::move(alt)};
  return entry;
}

void Byzantine::equivocate(const core::Replica& r, core::Send s, std::vector<Outgoing>& out) {
  std::vector<ReplicaId> alt_to, orig_to;
  for (ReplicaId d : destinations(s))
    (Equivocation::gets_alternative(d) ? alt_to : orig_to).push_back(d);

  if (auto* pp = std::get_if<wire::PrePrepare>(&s.message);
      pp != nullptr && r.primary_of(pp->view) == self_) {
    const Equivocation::Alternative& a = alternative_for(r, *pp);
    ++tampered_;
    pass(out, alt_to, a.alternative);
    pass(out, orig_to, std::move(s.message));
    return;
  }
  if (auto* p = std::get_if<wire::Prepare>(&s.message)) {
    auto it = equivocation_->alternatives.find({p->view, p->seq});
    if (it != equivocation_->alternatives.end()) {
      wire::Prepare a = *p, o = *p;
      a.digest = it->second.alternative.digest;
      o.digest = it->second.original;
      ++tampered_;
      pass(out, alt_to, resigned(a));
      pass(out, orig_to, resigned(o));
      return;
    }
  }
  if (auto* c = std::get_if<wire::Commit>(&s.message)) {
    auto it = equivocation_->alternatives.find({c->view, c->seq});
    if (it != equivocation_->alternatives.end()) {
      wire::Commit a = *c, o = *c;
      a.digest = it->second.alternative.digest;
      o.digest = it->second.original;
      ++tampered_;
      pass(out, alt_to, a);
      pass(out, orig_to, o);
      return;
    }
  }
  pass(out, destinations(s), std::move(s.message));
}

// ---- wrong_digest ----

void Byzantine::corrupt_digest(core::Send& s) {
  if (auto* p = std::get_if<wire::Prepare>(&s.message)) {
    flip(p->digest, rng_);
    *p = resigned(*p);
  } else if (auto* c = std::get_if<wire::Commit>(&s.message)) {
    flip(c->digest, rng_);
  } else if (auto* k = std::get_if<wire::Checkpoint>(&s.message)) {
    flip(k->state_digest, rng_);
    *k = resigned(*k);
  } else {
    return;
  }
  ++tampered_;
}

// ---- forge_certificates ----

void Byzantine::forge(const core::Replica& r, core::Send& s) {
  const uint32_t q = r.config().quorum().q;
  if (auto* vc = std::get_if<wire::ViewChange>(&s.message)) {
    if (!rng_.chance(0.7)) return;
    uint64_t choice = rng_.below(4);
    if ((choice == 1 || choice == 2) && vc->prepared.empty()) choice = 0;
    if (choice == 0) {
      // A prepared certificate for a made-up batch, with prepares that
      // claim other replicas but are signed by this one.
      Seq seq = vc->stable_seq + 1 + rng_.below(r.config().window_size);
      View pv = vc->new_view == 0 ? 0 : rng_.below(vc->new_view);
      wire::PrePrepare pp{pv, seq, {}, rng_.chance(0.5) ? made_up_batch() : std::vector<wire::Request>{}, {}};
      pp.digest = r.batch_digest(pp.batch);
      pp = resigned(std::move(pp));
      wire::PreparedCert cert{pp, {}};
      for (ReplicaId id = 0; id < replica_count_ && cert.prepares.size() + 1 < q; ++id) {
        if (id == r.primary_of(pv)) continue;
        cert.prepares.push_back(resigned(wire::Prepare{pv, seq, pp.digest, id, {}}));
      }
      std::erase_if(vc->prepared, [&](const wire::PreparedCert& c) { return c.pre_prepare.seq == seq; });
      auto pos = std::find_if(vc->prepared.begin(), vc->prepared.end(),
                              [&](const wire::PreparedCert& c) { return c.pre_prepare.seq > seq; });
      vc->prepared.insert(pos, std::move(cert));
    } else if (choice == 1) {
      wire::PreparedCert& c = vc->prepared[rng_.below(vc->prepared.size())];
      c.prepares.resize(c.prepares.size() / 2);
    } else if (choice == 2) {
      wire::PreparedCert& c = vc->prepared[rng_.below(vc->prepared.size())];
      flip(c.pre_prepare.digest, rng_);
      for (wire::Prepare& p : c.prepares) p.digest = c.pre_prepare.digest;
    } else {
      // A stable checkpoint further on, "certified" by signatures it made.
      Seq seq = vc->stable_seq + r.config().checkpoint_interval;
      Digest d = r.durable().stable_digest;
      flip(d, rng_);
      vc->stable_seq = seq;
      vc->checkpoint_cert.clear();
      for (ReplicaId id = 0; id < replica_count_ && vc->checkpoint_cert.size() < q; ++id)
        vc->checkpoint_cert.push_back(resigned(wire::Checkpoint{seq, d, id, {}}));
      std::erase_if(vc->prepared, [&](const wire::PreparedCert& c) { return c.pre_prepare.seq <= seq; });
    }
    *vc = resigned(*vc);
    ++tampered_;
  } else if (auto* nv = std::get_if<wire::NewView>(&s.message)) {
    if (!rng_.chance(0.7)) return;
    uint64_t choice = rng_.below(3);
    if (choice == 1 && nv->pre_prepares.empty()) choice = 0;
    if (choice == 0 && !nv->view_changes.empty()) {
      nv->view_changes.erase(nv->view_changes.begin() +
                             static_cast<std::ptrdiff_t>(rng_.below(nv->view_changes.size())));
    } else if (choice == 1) {
      wire::PrePrepare& pp = nv->pre_prepares[rng_.below(nv->pre_prepares.size())];
      flip(pp.digest, rng_);
      pp = resigned(pp);  // validly signed by the primary, but not what the view changes imply
    } else if (!nv->view_changes.empty()) {
      nv->view_changes.push_back(nv->view_changes[rng_.below(nv->view_changes.size())]);
    }
    *nv = resigned(*nv);
    ++tampered_;
  }
}

// ---- impersonate ----

void Byzantine::impersonate(core::Send s, std::vector<Outgoing>& out) {
  if (replica_count_ < 2 || !rng_.chance(0.3)) return;
  ReplicaId other = static_cast<ReplicaId>(rng_.below(replica_count_ - 1));
  if (other >= self_) ++other;
  std::vector<ReplicaId> to = destinations(s);
  bool changed = false;
  if (rng_.chance(0.5)) {
    // The signed (or MAC'd) field names another replica; signed by this one.
    changed = std::visit(
        [&](auto& m) -> bool {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, wire::Prepare> || std::is_same_v<T, wire::Checkpoint> ||
                        std::is_same_v<T, wire::ViewChange> || std::is_same_v<T, wire::NewView>) {
            m.replica = other;
            m = resigned(m);
            return true;
          } else if constexpr (std::is_same_v<T, wire::Commit> || std::is_same_v<T, wire::Status>) {
            m.replica = other;
            return true;
          } else {
            return false;
          }
        },
        s.message);
  }
  ++tampered_;
  if (changed) {
    out.push_back(Outgoing{std::move(to), self_, std::move(s.message)});
    return;
  }
  // The envelope claims another sender; the MAC is this replica's, so the
  // receiver's check must fail.
  std::erase(to, other);
  if (!to.empty()) out.push_back(Outgoing{std::move(to), other, std::move(s.message)});
}

// ---- replay and flood_future ----

void Byzantine::remember(const wire::Message& m) {
  memory_.push_back(m);
  if (memory_.size() > memory_max) memory_.pop_front();
}

void Byzantine::on_received(const wire::Message& m) {
  if (has(ByzMode::replay)) remember(m);
  if (const auto* pp = std::get_if<wire::PrePrepare>(&m)) {
    for (const wire::Request& r : pp->batch) on_request(r);
  } else if (const auto* req = std::get_if<wire::Request>(&m)) {
    on_request(*req);
  }
}

void Byzantine::on_request(const wire::Request& r) {
  seen_requests_.push_back(r);
  if (seen_requests_.size() > seen_requests_max) seen_requests_.pop_front();
}

std::vector<Outgoing> Byzantine::on_tick(const core::Replica& r) {
  std::vector<Outgoing> out;
  if (has(ByzMode::replay) && !memory_.empty() && rng_.chance(0.2)) {
    uint64_t k = 1 + rng_.below(3);
    for (uint64_t i = 0; i < k; ++i) {
      ReplicaId to = static_cast<ReplicaId>(rng_.below(replica_count_ - 1));
      if (to >= self_) ++to;
      out.push_back(Outgoing{{to}, self_, memory_[rng_.below(memory_.size())]});
    }
  }
  if (has(ByzMode::forge_certificates) && rng_.chance(0.05)) {
    // A stable checkpoint "certified" by signatures this replica made for
    // the others: a correct replica must neither adopt it nor fetch it.
    const core::Config& c = r.config();
    Seq seq = r.stable_seq() + c.checkpoint_interval * rng_.range(1, 3);
    Digest d = r.durable().stable_digest;
    flip(d, rng_);
    wire::StableCheckpoint sc;
    for (ReplicaId id = 0; id < replica_count_ && sc.certificate.size() < c.quorum().q; ++id)
      sc.certificate.push_back(resigned(wire::Checkpoint{seq, d, id, {}}));
    out.push_back(Outgoing{destinations(core::Send{std::nullopt, wire::Status{}}), self_, std::move(sc)});
    ++tampered_;
  }
  if (has(ByzMode::flood_future)) {
    ++future_;
    View v = r.view() + 1000 + future_;
    std::vector<ReplicaId> all = destinations(core::Send{std::nullopt, wire::Status{}});
    wire::ViewChange vc{v, r.stable_seq(), r.durable().stable_cert, {}, self_, {}};
    out.push_back(Outgoing{all, self_, resigned(std::move(vc))});
    wire::PrePrepare pp{v, r.last_executed() + 1, r.batch_digest({}), {}, {}};
    out.push_back(Outgoing{std::move(all), self_, resigned(std::move(pp))});
  }
  return out;
}

// ---- clients and state transfer ----

void Byzantine::transform_replies(std::vector<core::ClientReply>& replies) const {
  if (has(ByzMode::silent)) {
    replies.clear();
  } else if (has(ByzMode::lie_to_clients)) {
    // The same lie from every liar, so that f+1 of them agree.
    for (core::ClientReply& r : replies) {
      r.reply.result = kv::encode_result(
          kv::Result{kv::ResultStatus::ok, "lie-" + std::to_string(r.reply.client) + "-" +
                                               std::to_string(r.reply.timestamp)});
    }
  }
}

bool Byzantine::transform_state_reply(const core::Replica& r, wire::StateReply& reply) {
  if (has(ByzMode::silent)) return false;
  if (!has(ByzMode::bad_state) || !reply.available) return true;
  ++tampered_;
  Bytes& b = reply.payload;
  uint64_t choice = rng_.below(4);
  if (choice == 3 && reply.part == wire::StatePart::manifest) {
    // Another checkpoint's genuine snapshot: well-formed, signed by nobody.
    for (const auto& [other_seq, other] : r.durable().checkpoints) {
      if (other_seq != reply.seq && other.snapshot != b) {
        b = other.snapshot;
        return true;
      }
    }
  }
  if (choice == 2) {
    reply.available = false;  // claims not to have it
    b.clear();
  } else if (choice == 1 && b.size() > 1) {
    b.resize(b.size() / 2);
  } else if (!b.empty()) {
    b[rng_.below(b.size())] ^= static_cast<uint8_t>(1 + rng_.below(255));
  } else {
    b.push_back(0x5a);
  }
  return true;
}

}  // namespace pbft::sim
