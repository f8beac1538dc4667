// Whether a replica is ready to serve: a pure function of what the node
// knows, so every reason can be tested without a cluster.
//
// Ready when a quorum is connected (itself included), no state transfer or
// view change is under way, and it is neither in an older view nor more
// than `slack` sequence numbers behind what f+1 peers (so at least one
// correct one) last reported about themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/types.h"
#include "http/ops_api.h"

namespace pbft::node {

struct ReadinessInputs {
  uint32_t replica_count = 0;
  uint32_t f = 0;
  uint32_t quorum = 0;
  uint32_t connected_peers = 0;
  bool fetching = false;
  Seq fetch_seq = 0;
  uint32_t fetch_buckets_done = 0, fetch_buckets_total = 0;
  bool view_active = true;
  View view = 0;
  Seq last_executed = 0;
  Seq slack = 0;
  struct Peer {
    View view = 0;
    bool view_active = true;
    Seq last_executed = 0;
  };
  std::vector<Peer> peers;  // last STATUS of each peer that sent one
};

http::Readiness assess_readiness(const ReadinessInputs& in);

}  // namespace pbft::node
