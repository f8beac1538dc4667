// What one step of the core asks its host to do, and in which order.
//
// Ordering rules (the host must follow them):
//   1. `executed` batches have already been applied to the StateMachine, in
//      sequence order; they are reported for metrics and checkers.
//   2. If `persist` is set, the replica's durable state (Replica::durable()
//      and the StateMachine) changed: make it durable BEFORE any of the
//      sends or replies below leaves the process. Everything a message
//      promises is in that state.
//   3. Then deliver `sends` and `replies`, in any order.
//   4. `fetch_state`, when set, asks the host to obtain the state at a
//      certified stable checkpoint and hand it to Replica::state_transferred.
//   5. If `resume` is set, the replica stopped executing at a checkpoint:
//      once the state is persisted (rule 2) the host calls
//      Replica::resume(), which may produce more output.
//   6. If `propose` is set (Config::defer_proposals only), the primary has
//      requests waiting for a batch: the host calls Replica::propose()
//      soon, after the events already waiting to be handled.
#pragma once

#include <optional>
#include <vector>

#include "common/types.h"
#include "wire/messages.h"

namespace pbft::core {

struct Send {
  std::optional<ReplicaId> to;  // nullopt: every other replica
  wire::Message message;
};

struct ClientReply {
  ClientId client = 0;
  wire::Reply reply;
};

struct FetchState {
  Seq seq = 0;
  Digest digest;  // certified by a stable checkpoint certificate
};

struct ExecutedRequest {
  ClientId client = 0;
  uint64_t timestamp = 0;
  Bytes result;
};

struct Executed {
  Seq seq = 0;
  View view = 0;
  Digest digest;                          // the batch digest agreed at seq
  std::vector<ExecutedRequest> requests;  // newly executed (duplicates left out)
};

struct Output {
  std::vector<Executed> executed;
  bool persist = false;
  std::vector<Send> sends;
  std::vector<ClientReply> replies;
  std::optional<FetchState> fetch_state;
  bool resume = false;
  bool propose = false;

  bool empty() const {
    return executed.empty() && !persist && sends.empty() && replies.empty() && !fetch_state &&
           !resume && !propose;
  }
};

}  // namespace pbft::core
