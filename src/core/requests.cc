// Client requests: checking them, answering retransmissions from the reply
// cache, forwarding to the primary, and the primary's adaptive batching.
#include <algorithm>

#include "common/assert.h"
#include "core/replica.h"
#include "wire/codec.h"

namespace pbft::core {

void Replica::handle_request(const wire::Request& request, Source source) {
  const bool from_client = source != Source::relayed;
  const bool vouched = source == Source::own_gateway || source == Source::gateway_link;
  const bool checked = source == Source::checked_client;
  if ((request.flags & wire::Request::flag_read_only) != 0) {
    // Not ordered, so no batch to keep clean: the link's word is enough.
    if (!from_client) return;  // answered to the client only
    if (!vouched && !checked && !client_signed(request)) {
      ++rejected_.bad_signature;
      return;
    }
    answer_read_only(request);
    return;
  }
  // The primary checks the signature even of a request its gateway's link
  // vouches for: the backups that get the request only inside the
  // pre-prepare check it there, and a faulty gateway replica that sent a
  // bad signature must not split them (a stalled slot, then a view change).
  // A backup that trusts it marks it unchecked, so that it is checked if
  // this replica becomes primary (propose_from_queue).
  const bool trusted = vouched && (source == Source::own_gateway || !is_primary());
  const bool direct = source == Source::client || source == Source::checked_client;
  auto waiting = pending_.find(request.client);
  // The very request already waiting (signature included) was checked
  // when it came, or is marked to be checked when proposed: a copy passed
  // on by a backup costs no second check.
  const bool known = waiting != pending_.end() && waiting->second == request;
  if (!trusted && !checked && !known && !client_signed(request)) {
    ++rejected_.bad_signature;
    return;
  }
  if (const ClientTable::Entry* done = d_.clients.find(request.client);
      done != nullptr && request.timestamp <= done->timestamp) {
    // Already executed: a retransmission gets the cached reply; older
    // requests are answered by nothing (the client has moved on).
    // A retransmission must be the request that ran: the same timestamp
    // with another operation gets nothing (a signed reply binds the
    // operation to the result).
    if (request.timestamp == done->timestamp && from_client &&
        crypto_.digest(request.operation) == done->operation) {
      out_.replies.push_back(ClientReply{
          request.client,
          make_reply(request.client, done->timestamp, done->seq, done->operation, done->result,
                     (request.flags & wire::Request::flag_signed_reply) != 0)});
    }
    return;
  }
  if (waiting != pending_.end() && waiting->second.timestamp >= request.timestamp) {
    // Known and waiting. A client that asks again may not have reached the
    // primary: pass it on once more.
    if (direct && d_.view_active && !is_primary() && known) {
      auto last = passed_on_at_.find(request.client);
      if (last == passed_on_at_.end() || now_ >= last->second + std::max<uint64_t>(1, config_.proposal_timeout_ticks)) {
        passed_on_at_.insert_or_assign(request.client, now_);
        send(primary_of(d_.view), request);
      }
    }
    return;
  }
  add_pending(request);
  if (!pending_.contains(request.client)) return;  // over the limit
  if (trusted && source == Source::gateway_link) unchecked_.insert(request.client);
  if (!d_.view_active) return;  // passed on when the next view starts
  // The gateways send their requests to the primary themselves, and so
  // does a client that says it sent to every replica: a backup that has
  // one knows the primary has it too (and passes it on when the primary
  // leaves it waiting).
  const bool primary_has_it = vouched || (direct && (request.flags & wire::Request::flag_sent_to_all) != 0);
  // A newer request replaces the watch of the one it replaces.
  if (primary_has_it && !is_primary()) awaiting_proposal_.insert_or_assign(request.client, Awaiting{now_, false});
  else awaiting_proposal_.erase(request.client);
  if (is_primary()) {
    queue_.emplace_back(request.client, request.timestamp);
    propose_batches();
  } else if (direct && !primary_has_it) {
    passed_on_at_.insert_or_assign(request.client, now_);
    send(primary_of(d_.view), request);
  }
  if (!request_deadline_) restart_request_timer();
}

bool Replica::client_signed(const wire::Request& request) const {
  return check_client_signature(crypto_, request, verified_bundles_);
}

void Replica::answer_read_only(const wire::Request& request) {
  // A state being replaced by a fetched one, or one that stopped at a
  // checkpoint not yet persisted, is not answered from.
  if (fetching_ || awaiting_persist_) return;
  std::optional<Bytes> result = sm_.read_only(request.operation);
  if (!result) return;  // not a read: the client falls back to ordering it
  wire::Reply reply = make_reply(request.client, request.timestamp, d_.last_executed, {}, std::move(*result), false);
  if ((request.flags & wire::Request::flag_signed_reply) != 0) {
    // Under its own domain: a reply certificate is for ordered answers.
    reply.sig = crypto_.sign(wire::fast_reply_signing_bytes(request.client, request.timestamp, reply.seq, id_,
                                                            crypto_.digest(request.operation),
                                                            crypto_.digest(reply.result)));
  }
  out_.replies.push_back(ClientReply{request.client, std::move(reply)});
}

wire::Reply Replica::make_reply(ClientId client, uint64_t timestamp, Seq seq, const Digest& operation,
                                Bytes result, bool sign) const {
  wire::Reply reply{d_.view, timestamp, client, id_, std::move(result), seq, std::nullopt};
  if (sign) {
    reply.sig = crypto_.sign(
        wire::reply_signing_bytes(client, timestamp, seq, id_, operation, crypto_.digest(reply.result)));
  }
  return reply;
}

void Replica::add_pending(const wire::Request& request) {
  if (!pending_.contains(request.client) && pending_.size() >= config_.pending_clients_max) {
    ++rejected_.out_of_window;
    return;
  }
  pending_[request.client] = request;
  unchecked_.erase(request.client);  // callers that did not check say so after
}

void Replica::forget_executed_pending() {
  std::erase_if(pending_, [&](const auto& entry) {
    return !d_.clients.is_new(entry.first, entry.second.timestamp);
  });
  std::erase_if(unchecked_, [&](ClientId c) { return !pending_.contains(c); });
  std::erase_if(awaiting_proposal_, [&](const auto& e) { return !pending_.contains(e.first); });
  std::erase_if(passed_on_at_, [&](const auto& e) { return !pending_.contains(e.first); });
  std::erase_if(proposed_, [&](const auto& p) { return !d_.clients.is_new(p.first, p.second); });
}

// Adaptive batching: a batch closes as soon as the pipeline has room
// (Config::pipeline_has_room), so a lightly loaded primary sends each
// request at once and a busy one packs what arrived while earlier batches
// were in flight.
void Replica::propose_batches() {
  // Proposing can commit and execute at once (n = 1), which proposes again:
  // let the outer loop carry on instead of recursing.
  if (!is_primary() || proposing_) return;
  if (config_.defer_proposals) {
    if (!queue_.empty() && !propose_asked_) {
      propose_asked_ = true;
      out_.propose = true;
    }
    return;
  }
  propose_now();
}

void Replica::propose() {
  propose_asked_ = false;
  // What is left waits for room in the pipeline: execution asks again.
  if (is_primary() && !proposing_) propose_now();
}

void Replica::propose_now() {
  proposing_ = true;
  propose_from_queue();
  proposing_ = false;
}

void Replica::propose_from_queue() {
  while (!queue_.empty()) {
    Seq next = std::max(d_.last_proposed, d_.stable_seq) + 1;
    if (next > d_.stable_seq + config_.window_size) return;
    Seq in_flight = next - 1 > d_.last_executed ? next - 1 - d_.last_executed : 0;
    if (!config_.pipeline_has_room(in_flight, queue_.size())) return;

    std::vector<wire::Request> batch;
    uint64_t bytes = 0;
    while (!queue_.empty() && batch.size() < config_.batch_requests_max) {
      auto [client, timestamp] = queue_.front();
      auto it = pending_.find(client);
      bool fresh = it != pending_.end() && it->second.timestamp == timestamp &&
                   !proposed_.contains({client, timestamp}) && d_.clients.is_new(client, timestamp);
      if (!fresh) {
        queue_.pop_front();
        continue;
      }
      if (unchecked_.contains(client)) {
        // Every request in a correct primary's batch has a good signature:
        // backups that check it and backups that trust their link then
        // decide alike.
        unchecked_.erase(client);
        if (!client_signed(it->second)) {
          ++rejected_.bad_signature;
          pending_.erase(it);
          queue_.pop_front();
          continue;
        }
      }
      if (!batch.empty() && bytes + it->second.operation.size() > config_.batch_bytes_max) break;
      bytes += it->second.operation.size();
      batch.push_back(it->second);
      proposed_.insert({client, timestamp});
      queue_.pop_front();
    }
    if (batch.empty()) return;

    wire::PrePrepare pp;
    pp.view = d_.view;
    pp.seq = next;
    pp.digest = batch_digest(batch);
    pp.batch = std::move(batch);
    pp = signed_copy(std::move(pp));
    d_.last_proposed = next;
    d_.slots[next].pre_prepare = pp;
    persist();
    broadcast(pp);
    check_prepared(next);
  }
}

}  // namespace pbft::core
