#include "sim/checkers.h"

#include "sim/kv_model.h"

#include <algorithm>
#include <cstdio>

#include "kv/operation.h"

namespace pbft::sim {

std::string request_name(ClientId client, uint64_t timestamp) {
  return "c" + std::to_string(client) + "/t" + std::to_string(timestamp);
}

std::string time_name(Time t) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%llu.%03llus", static_cast<unsigned long long>(t / us_per_s),
                static_cast<unsigned long long>((t % us_per_s) / us_per_ms));
  return buf;
}

namespace {

std::string position_name(const Position& p) {
  return "seq " + std::to_string(p.seq) + " #" + std::to_string(p.index);
}

// A result, readable when it decodes as a KV result.
std::string result_name(const Bytes& result) {
  auto r = kv::decode_result(ByteView(result));
  if (!r) return "<" + std::to_string(result.size()) + " undecodable bytes>";
  std::string name = "?";
  switch (r->status) {
    case kv::ResultStatus::ok: name = r->value ? "ok '" + *r->value + "'" : "ok"; break;
    case kv::ResultStatus::not_found: name = "not-found"; break;
    case kv::ResultStatus::bad_operation: name = "bad-operation"; break;
    case kv::ResultStatus::conflict: name = "conflict"; break;
    case kv::ResultStatus::compare_failed: name = r->value ? "compare-failed '" + *r->value + "'" : "compare-failed"; break;
    case kv::ResultStatus::too_large: name = "too-large"; break;
  }
  switch (r->form) {
    case kv::ResultForm::plain: break;
    case kv::ResultForm::record: name += " rev " + std::to_string(r->revision); break;
    case kv::ResultForm::range:
      name += " [";
      for (const kv::Entry& e : r->entries) name += e.key + "=" + e.value + "@" + std::to_string(e.revision) + " ";
      name += r->next ? "next " + *r->next + "]" : "]";
      break;
    case kv::ResultForm::txn:
      name += r->succeeded ? " then(" : " else(";
      name += std::to_string(r->responses.size()) + " ops)";
      break;
  }
  return name;
}

}  // namespace

void Checkers::fail(const char* checker, std::string details, Time at) {
  violations_.push_back(Violation{checker, std::move(details), at});
}

void Checkers::client_sent(ClientId client, uint64_t timestamp, const Bytes& operation) {
  sent_[{client, timestamp}] = operation;
}

void Checkers::batch_seen(const Digest& digest, const std::vector<wire::Request>& batch) {
  batches_.emplace(digest, batch);
}

void Checkers::executed(ReplicaId replica, const core::Executed& e, Time now) {
  auto [it, fresh] = seq_digest_.emplace(e.seq, std::make_pair(e.digest, replica));
  if (!fresh && it->second.first != e.digest) {
    fail("agreement",
         "replicas r" + std::to_string(it->second.second) + " and r" + std::to_string(replica) +
             " executed different batches at seq " + std::to_string(e.seq) + ": " +
             short_hex(it->second.first) + " vs " + short_hex(e.digest) + " (view " +
             std::to_string(e.view) + ")",
         now);
  }

  const std::vector<wire::Request>* batch = nullptr;
  if (!e.requests.empty()) {
    auto b = batches_.find(e.digest);
    if (b == batches_.end()) {
      fail("validity",
           "r" + std::to_string(replica) + " executed batch " + short_hex(e.digest) + " at seq " +
               std::to_string(e.seq) + " that no replica ever sent",
           now);
    } else {
      batch = &b->second;
    }
  }

  std::set<RequestId>& mine = executed_by_[replica];
  for (size_t i = 0; i < e.requests.size(); ++i) {
    const core::ExecutedRequest& x = e.requests[i];
    RequestId id{x.client, x.timestamp};
    std::string name = request_name(x.client, x.timestamp);
    ++executions_;

    // validity: sent by its client, with this operation, executed once here.
    auto sent = sent_.find(id);
    if (sent == sent_.end()) {
      fail("validity",
           "r" + std::to_string(replica) + " executed " + name + " at seq " +
               std::to_string(e.seq) + " but that client never sent it",
           now);
    } else if (batch != nullptr) {
      auto in_batch = std::find_if(batch->begin(), batch->end(), [&](const wire::Request& r) {
        return r.client == x.client && r.timestamp == x.timestamp;
      });
      if (in_batch == batch->end()) {
        fail("validity",
             "r" + std::to_string(replica) + " reported " + name + " executed at seq " +
                 std::to_string(e.seq) + " but batch " + short_hex(e.digest) + " does not hold it",
             now);
      } else if (in_batch->operation != sent->second) {
        fail("validity",
             "r" + std::to_string(replica) + " executed " + name + " at seq " +
                 std::to_string(e.seq) + " with an operation the client did not send",
             now);
      }
    }
    if (!mine.insert(id).second) {
      fail("validity",
           "r" + std::to_string(replica) + " executed " + name + " twice (again at seq " +
               std::to_string(e.seq) + ")",
           now);
    }

    // agreement: the same position and result on every correct replica.
    Position pos{e.seq, i};
    auto [at, first] = executions_at_.emplace(id, Execution{pos, x.result, replica});
    if (!first) {
      const Execution& prev = at->second;
      if (prev.position != pos) {
        fail("agreement",
             name + " executed at " + position_name(prev.position) + " on r" +
                 std::to_string(prev.replica) + " but at " + position_name(pos) + " on r" +
                 std::to_string(replica),
             now);
      } else if (prev.result != x.result) {
        fail("agreement",
             name + " at " + position_name(pos) + " gave " + result_name(prev.result) + " on r" +
                 std::to_string(prev.replica) + " but " + result_name(x.result) + " on r" +
                 std::to_string(replica),
             now);
      }
    }
  }
}

void Checkers::checkpoint(ReplicaId replica, Seq seq, const Digest& state_digest, Time now) {
  auto [it, fresh] = checkpoint_digest_.emplace(seq, std::make_pair(state_digest, replica));
  if (!fresh && it->second.first != state_digest) {
    fail("agreement",
         "replicas r" + std::to_string(it->second.second) + " and r" + std::to_string(replica) +
             " have different states at checkpoint " + std::to_string(seq) + ": " +
             short_hex(it->second.first) + " vs " + short_hex(state_digest),
         now);
  }
}

void Checkers::final_state(ReplicaId replica, Seq last_executed, const Bytes& state, Time now) {
  auto [it, fresh] = final_states_.emplace(last_executed, std::make_pair(state, replica));
  if (!fresh && it->second.first != state) {
    fail("agreement",
         "replicas r" + std::to_string(it->second.second) + " and r" + std::to_string(replica) +
             " both executed up to seq " + std::to_string(last_executed) +
             " but their states differ",
         now);
  }
}

void Checkers::check_result(const ClientOp& op, Time at) {
  auto it = executions_at_.find({op.client, op.timestamp});
  if (it == executions_at_.end()) {
    fail("linearizability",
         "client accepted " + result_name(op.result) + " for " +
             request_name(op.client, op.timestamp) + " but no correct replica executed it",
         at);
  } else if (it->second.result != op.result) {
    fail("linearizability",
         "client accepted " + result_name(op.result) + " for " +
             request_name(op.client, op.timestamp) + " but correct replicas computed " +
             result_name(it->second.result) + " at " + position_name(it->second.position),
         at);
  }
}

void Checkers::accepted(const ClientOp& op) {
  // The execution normally precedes the acceptance; when it has not been
  // seen yet (a correct replica may be the last to report), finish() checks.
  auto it = executions_at_.find({op.client, op.timestamp});
  if (it != executions_at_.end()) check_result(op, op.completed_at);
}

void Checkers::finish(const std::vector<ClientOp>& ops, Time now) {
  std::vector<std::pair<const ClientOp*, Position>> done;
  for (const ClientOp& op : ops) {
    if (!op.completed || op.fast) continue;
    size_t before = violations_.size();
    check_result(op, now);
    if (violations_.size() != before) continue;
    done.emplace_back(&op, executions_at_.at({op.client, op.timestamp}).position);
  }
  // Real-time order: for b, every a completed before b was invoked must be
  // ordered before b. Sweep by completion time, keeping the highest position.
  std::vector<size_t> by_completion(done.size()), by_invocation(done.size());
  for (size_t i = 0; i < done.size(); ++i) by_completion[i] = by_invocation[i] = i;
  std::sort(by_completion.begin(), by_completion.end(), [&](size_t a, size_t b) {
    return done[a].first->completed_at < done[b].first->completed_at;
  });
  std::sort(by_invocation.begin(), by_invocation.end(), [&](size_t a, size_t b) {
    return done[a].first->invoked < done[b].first->invoked;
  });
  replay_model(now);
  if (model_replayed_) check_fast_reads(ops, done, now);
  size_t next = 0;
  std::optional<size_t> highest;  // index into done of the highest position so far
  for (size_t b : by_invocation) {
    const ClientOp& op_b = *done[b].first;
    while (next < by_completion.size() &&
           done[by_completion[next]].first->completed_at < op_b.invoked) {
      size_t a = by_completion[next++];
      if (!highest || done[a].second > done[*highest].second) highest = a;
    }
    if (highest && !(done[*highest].second < done[b].second)) {
      const ClientOp& op_a = *done[*highest].first;
      fail("linearizability",
           request_name(op_a.client, op_a.timestamp) + " completed at " +
               time_name(op_a.completed_at) + " before " +
               request_name(op_b.client, op_b.timestamp) + " was invoked at " +
               time_name(op_b.invoked) + ", but is ordered after it (" +
               position_name(done[*highest].second) + " vs " + position_name(done[b].second) +
               ")",
           now);
      return;
    }
  }
}

void Checkers::check_fast_reads(const std::vector<ClientOp>& ops,
                                const std::vector<std::pair<const ClientOp*, Position>>& done, Time now) {
  std::vector<std::pair<Position, RequestId>> order;
  for (const auto& [id, x] : executions_at_) order.emplace_back(x.position, id);
  std::sort(order.begin(), order.end());
  // states[k]: the model after the first k executions (the key space is
  // small in the simulator, so copies are cheap).
  std::vector<KvModel> states(1);
  for (const auto& [pos, id] : order) {
    auto sent = sent_.find(id);
    if (sent == sent_.end()) return;  // validity reported it
    states.push_back(states.back());
    states.back().apply(pos.seq, sent->second);
  }
  auto index_of = [&](const Position& p) {
    return static_cast<size_t>(std::lower_bound(order.begin(), order.end(), std::make_pair(p, RequestId{})) -
                               order.begin());
  };
  // Each fast read saw the state after k executions, k in [first, last]:
  // after everything that completed before it began, before everything
  // that began after it ended. Fast reads among themselves: in invocation
  // order, each takes the earliest state that gives its answer and is not
  // before the state of any fast read that completed before it began.
  std::vector<const ClientOp*> fast;
  for (const ClientOp& op : ops)
    if (op.completed && op.fast) fast.push_back(&op);
  std::sort(fast.begin(), fast.end(), [](const ClientOp* a, const ClientOp* b) { return a->invoked < b->invoked; });
  std::vector<std::pair<Time, size_t>> placed;  // (completed_at, k) of fast reads placed so far
  for (const ClientOp* op : fast) {
    size_t first = 0, last = order.size();
    for (const auto& [other, pos] : done) {
      if (other->completed_at < op->invoked) first = std::max(first, index_of(pos) + 1);
      if (other->invoked > op->completed_at) last = std::min(last, index_of(pos));
    }
    for (const auto& [completed_at, k] : placed)
      if (completed_at < op->invoked) first = std::max(first, k);
    std::optional<size_t> at;
    for (size_t k = first; k <= last && !at; ++k) {
      std::optional<Bytes> answer = states[k].apply(0, op->operation);
      if (answer && *answer == op->result) at = k;
    }
    if (!at) {
      fail("linearizability",
           "fast read " + request_name(op->client, op->timestamp) + " (invoked " + time_name(op->invoked) +
               ", completed " + time_name(op->completed_at) + ") gave " + result_name(op->result) +
               ", which no state between executions " + std::to_string(first) + " and " + std::to_string(last) +
               " gives",
           now);
      return;
    }
    placed.emplace_back(op->completed_at, *at);
  }
}

// The sequential specification: every execution a correct replica
// reported, in execution order, replayed on the reference model; each
// answer must be the model's. Only when the reported sequence numbers have
// no gap (otherwise the model would miss writes).
void Checkers::replay_model(Time now) {
  Seq expected = 1;
  for (const auto& [seq, digest] : seq_digest_) {
    if (seq != expected) return;
    ++expected;
  }
  std::vector<std::pair<Position, RequestId>> order;
  for (const auto& [id, x] : executions_at_) order.emplace_back(x.position, id);
  std::sort(order.begin(), order.end());
  KvModel model;
  for (const auto& [pos, id] : order) {
    auto sent = sent_.find(id);
    if (sent == sent_.end()) return;  // validity reported it
    std::optional<Bytes> expected_result = model.apply(pos.seq, sent->second);
    if (!expected_result) return;
    const Bytes& got = executions_at_.at(id).result;
    if (got != *expected_result) {
      fail("linearizability",
           request_name(id.first, id.second) + " at " + position_name(pos) + " gave " + result_name(got) +
               " but the sequential specification gives " + result_name(*expected_result),
           now);
      return;
    }
  }
  model_replayed_ = true;
}

std::optional<Violation> check_liveness(const std::vector<ClientOp>& ops, Time heal_at,
                                        Time deadline, const std::string& replica_states) {
  std::string stuck;
  size_t count = 0;
  for (const ClientOp& op : ops) {
    if (op.completed) continue;
    if (++count <= 6) {
      stuck += (stuck.empty() ? "" : ", ") + request_name(op.client, op.timestamp) +
               " (invoked " + time_name(op.invoked) + ")";
    }
  }
  if (count == 0) return std::nullopt;
  std::string details = std::to_string(count) + " operation(s) still open " +
                        time_name(deadline - heal_at) + " after the heal at " + time_name(heal_at) +
                        ": " + stuck + (count > 6 ? ", ..." : "");
  if (!replica_states.empty()) details += "\n" + replica_states;
  return Violation{"liveness", details, deadline};
}

}  // namespace pbft::sim
