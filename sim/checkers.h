// The simulator's invariant checkers. They see only what correct replicas
// report (Byzantine replicas are not checked) plus what clients sent and
// accepted, and run incrementally as the run goes.
//
//   agreement:  no two correct replicas execute different batches at one
//               sequence number; a request executes at the same position
//               (seq, index) with the same result everywhere; correct
//               replicas agree on the state digest of every checkpoint and
//               on their whole state when they end at the same seq.
//   validity:   every executed request was sent by its client with that
//               operation; no correct replica executes one request twice.
//   linearizability (witness): an accepted result is the result the correct
//               replicas computed; if a completed before b was invoked, a is
//               ordered before b; and every result the correct replicas
//               computed, in execution order, is what a reference model of
//               the key-value operations (kv_model.h) answers. A read
//               accepted through the read-only fast path was never
//               executed: some state of that execution order, after every
//               operation that completed before the read was invoked and
//               before every operation invoked after it completed, must
//               give the model's answer equal to the read's.
//   liveness:   once faults heal, every operation completes within a bound.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/types.h"
#include "core/output.h"
#include "sim/event_queue.h"
#include "sim/sim_client.h"
#include "wire/messages.h"

namespace pbft::sim {

struct Violation {
  std::string checker;  // agreement, validity, linearizability, liveness, invariant, ...
  std::string details;
  Time at = 0;
};

// Where a request executed: sequence number and index among the requests
// that batch newly executed.
struct Position {
  Seq seq = 0;
  size_t index = 0;
  auto operator<=>(const Position&) const = default;
};

class Checkers {
 public:
  using RequestId = std::pair<ClientId, uint64_t>;

  // A client sent (client, timestamp) with this operation.
  void client_sent(ClientId client, uint64_t timestamp, const Bytes& operation);
  // A batch seen on the wire whose requests hash to `digest` (the caller
  // computed it; the checker trusts it).
  void batch_seen(const Digest& digest, const std::vector<wire::Request>& batch);
  bool knows_batch(const Digest& digest) const { return batches_.count(digest) != 0; }
  // What a correct replica reported as executed.
  void executed(ReplicaId replica, const core::Executed& e, Time now);
  // The replica lost its disk: it may execute again what it executed before.
  void wiped(ReplicaId replica) { executed_by_.erase(replica); }
  // A correct replica announced its state digest at a checkpoint.
  void checkpoint(ReplicaId replica, Seq seq, const Digest& state_digest, Time now);
  // At the end of a run: a correct replica's whole state (reply cache and
  // application) after executing up to `last_executed`.
  void final_state(ReplicaId replica, Seq last_executed, const Bytes& state, Time now);
  // A client accepted a result.
  void accepted(const ClientOp& op);
  // End of run: the linearizability witness over every operation.
  void finish(const std::vector<ClientOp>& ops, Time now);

  const std::vector<Violation>& violations() const { return violations_; }
  bool ok() const { return violations_.empty(); }
  uint64_t executions() const { return executions_; }
  // Whether finish() could replay the whole history on the model (no gap).
  bool model_replayed() const { return model_replayed_; }

 private:
  struct Execution {
    Position position;
    Bytes result;
    ReplicaId replica = 0;
  };
  void fail(const char* checker, std::string details, Time at);
  void check_result(const ClientOp& op, Time at);
  void replay_model(Time now);
  void check_fast_reads(const std::vector<ClientOp>& ops,
                        const std::vector<std::pair<const ClientOp*, Position>>& done, Time now);

  std::map<RequestId, Bytes> sent_;
  std::map<Digest, std::vector<wire::Request>> batches_;
  std::map<Seq, std::pair<Digest, ReplicaId>> seq_digest_;
  std::map<Seq, std::pair<Digest, ReplicaId>> checkpoint_digest_;
  std::map<Seq, std::pair<Bytes, ReplicaId>> final_states_;
  std::map<RequestId, Execution> executions_at_;
  std::map<ReplicaId, std::set<RequestId>> executed_by_;
  std::vector<Violation> violations_;
  uint64_t executions_ = 0;
  bool model_replayed_ = false;
};

// Liveness: the operations still open at `deadline` (none when every
// operation completed). Used by the simulation with its own description
// of the replicas.
std::optional<Violation> check_liveness(const std::vector<ClientOp>& ops, Time heal_at,
                                        Time deadline, const std::string& replica_states);

std::string request_name(ClientId client, uint64_t timestamp);
std::string time_name(Time t);

}  // namespace pbft::sim
