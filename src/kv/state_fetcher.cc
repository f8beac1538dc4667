#include "kv/state_fetcher.h"

#include <algorithm>

#include "core/client_table.h"

namespace pbft::kv {

StateFetcher::StateFetcher(KvStore& kv, const crypto::Crypto& crypto, FetchOptions options)
    : kv_(kv), crypto_(crypto), options_(options) {
  options_.in_flight = std::max<uint32_t>(options_.in_flight, 1);
  options_.chunk_bytes = std::max<uint32_t>(options_.chunk_bytes, 1);
  next_peer_ = options_.self + 1;  // peers start asking different replicas
}

void StateFetcher::start(Seq seq, const Digest& digest) {
  if (phase_ != Phase::idle && seq <= seq_) return;
  phase_ = Phase::snapshot;
  seq_ = seq;
  digest_ = digest;
  snapshot_.clear();
  snapshot_asking_ = Asking{};
  ranges_.clear();
  requests_.clear();  // questions about an older target
  caught_.clear();
  progress_ = Progress{seq, 0, 0, 0, 0, 0};
  send_requests();
}

// A peer that sent a part failing verification is faulty (the link is
// authenticated, and a correct peer's part matches the certified digest):
// it is asked again only when nobody else is left.
std::optional<ReplicaId> StateFetcher::pick_peer(std::optional<ReplicaId> avoid) {
  std::optional<ReplicaId> fallback, last_resort;
  for (uint32_t i = 0; i < options_.replica_count; ++i) {
    const ReplicaId p = next_peer_++ % options_.replica_count;
    if (p == options_.self) continue;
    if (caught_.contains(p)) {
      last_resort = p;
      continue;
    }
    if (avoid && p == *avoid) {
      fallback = p;  // the only other replica, perhaps
      continue;
    }
    return p;
  }
  return fallback ? fallback : last_resort;
}

std::optional<ReplicaId> StateFetcher::choose(Asking& a) {
  if (a.asked || now_ < a.not_before) return std::nullopt;
  if (!a.peer) a.peer = pick_peer(a.avoid);
  if (a.peer) a.asked = Asked{*a.peer, now_};
  return a.peer;
}

void StateFetcher::failed(Asking& a, ReplicaId peer) {
  a.asked.reset();
  a.peer.reset();
  a.avoid = peer;
  const uint32_t peers = options_.replica_count > 1 ? options_.replica_count - 1 : 1;
  if (++a.failures % peers == 0) a.not_before = now_ + options_.timeout_ticks;
}

void StateFetcher::send_requests() {
  if (phase_ == Phase::snapshot) {
    if (std::optional<ReplicaId> peer = choose(snapshot_asking_))
      requests_.emplace_back(*peer, wire::StateRequest{seq_, options_.self, wire::StatePart::manifest, 0, 0, {},
                                                       options_.chunk_bytes});
    return;
  }
  if (phase_ != Phase::chunks) return;
  uint32_t outstanding = 0;
  for (const Range& r : ranges_) outstanding += r.asking.asked ? 1 : 0;
  for (Range& r : ranges_) {
    if (outstanding >= options_.in_flight) break;
    if (r.position.done) continue;
    std::optional<ReplicaId> peer = choose(r.asking);
    if (!peer) continue;
    ++outstanding;
    requests_.emplace_back(*peer, wire::StateRequest{seq_, options_.self, wire::StatePart::chunk, r.position.bucket,
                                                     r.end, r.position.after, options_.chunk_bytes});
  }
}

// Consecutive differing buckets make one range, cut at range_buckets_max.
void StateFetcher::plan_ranges(const std::vector<uint32_t>& buckets) {
  ranges_.clear();
  for (uint32_t b : buckets) {
    if (!ranges_.empty() && ranges_.back().end == b &&
        b - ranges_.back().position.bucket < range_buckets_max) {
      ranges_.back().end = b + 1;
      continue;
    }
    Range r;
    r.position.bucket = b;
    r.end = b + 1;
    ranges_.push_back(std::move(r));
  }
}

void StateFetcher::on_reply(ReplicaId from, const wire::StateReply& reply) {
  if (reply.replica != from || reply.seq != seq_) return;
  if (reply.part == wire::StatePart::manifest) {
    const std::optional<Asked>& asked = snapshot_asking_.asked;
    if (phase_ != Phase::snapshot || !asked || asked->peer != from) return;
    snapshot_asking_.asked.reset();
    on_snapshot(from, reply);
  } else {
    if (phase_ != Phase::chunks) return;
    auto it = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) {
      return r.asking.asked && r.asking.asked->peer == from && r.position.bucket == reply.bucket &&
             r.position.after == reply.after;
    });
    if (it == ranges_.end()) return;  // late, duplicate or never asked
    it->asking.asked.reset();
    on_chunk(*it, from, reply);
    finish_if_complete();
  }
  send_requests();
}

void StateFetcher::on_snapshot(ReplicaId from, const wire::StateReply& reply) {
  if (!reply.available) {
    failed(snapshot_asking_, from);
    return;
  }
  // The certified digest decides; then nothing here can be malformed
  // unless a quorum signed garbage, but nothing is taken for granted.
  size_t consumed = 0;
  std::optional<std::vector<uint32_t>> differing;
  if (crypto_.digest(reply.payload) == digest_ && core::ClientTable::decode(reply.payload, consumed))
    differing = kv_.begin_transfer(seq_, ByteView(reply.payload).subspan(consumed));
  if (!differing) {
    ++progress_.bad_replies;
    caught_.insert(from);
    failed(snapshot_asking_, from);
    return;
  }
  snapshot_ = reply.payload;
  progress_.bytes += reply.payload.size();
  progress_.buckets_total = static_cast<uint32_t>(differing->size());
  plan_ranges(*differing);
  phase_ = Phase::chunks;
  finish_if_complete();
}

void StateFetcher::on_chunk(Range& range, ReplicaId from, const wire::StateReply& reply) {
  if (!reply.available) {
    failed(range.asking, from);
    return;
  }
  StageResult staged = kv_.stage_chunk(seq_, range.position.bucket, range.position.after, range.end, reply.payload);
  progress_.buckets_done += staged.buckets_verified;
  range.position = std::move(staged.next);
  if (staged.ok) {
    progress_.bytes += reply.payload.size();
    ++progress_.chunks;
    range.asking.failures = 0;
    return;
  }
  ++progress_.bad_replies;
  caught_.insert(from);
  failed(range.asking, from);
}

void StateFetcher::finish_if_complete() {
  if (phase_ != Phase::chunks) return;
  for (const Range& r : ranges_)
    if (!r.position.done) return;
  phase_ = Phase::ready;
  ranges_.clear();
}

void StateFetcher::tick() {
  ++now_;
  auto late = [&](const Asking& a) { return a.asked && now_ - a.asked->at >= options_.timeout_ticks; };
  if (late(snapshot_asking_)) failed(snapshot_asking_, snapshot_asking_.asked->peer);
  for (Range& r : ranges_)
    if (late(r.asking)) failed(r.asking, r.asking.asked->peer);
  send_requests();
}

std::vector<std::pair<ReplicaId, wire::StateRequest>> StateFetcher::take_requests() {
  return std::exchange(requests_, {});
}

std::optional<std::pair<Seq, Bytes>> StateFetcher::take_ready() {
  if (phase_ != Phase::ready) return std::nullopt;
  phase_ = Phase::idle;
  return std::make_pair(seq_, std::exchange(snapshot_, {}));
}

wire::StateReply StateFetcher::serve(const wire::StateRequest& request, ReplicaId self,
                                     const core::OwnCheckpoint* checkpoint, const KvStore& kv) {
  wire::StateReply reply{request.seq, self, request.part, request.bucket, request.after, false, {}};
  if (request.part == wire::StatePart::manifest) {
    if (checkpoint != nullptr) {
      reply.available = true;
      reply.payload = checkpoint->snapshot;
    }
    return reply;
  }
  std::optional<Bytes> chunk = kv.read_chunk(request.seq, request.bucket, request.after, request.bucket_end,
                                             request.max_bytes);
  if (chunk) {
    reply.available = true;
    reply.payload = std::move(*chunk);
  }
  return reply;
}

}  // namespace pbft::kv
