#include "node/readiness.h"

#include <algorithm>
#include <functional>

namespace pbft::node {

http::Readiness assess_readiness(const ReadinessInputs& in) {
  const uint32_t reachable = in.connected_peers + 1;
  if (reachable < in.quorum) {
    return {false, "no quorum connected: " + std::to_string(reachable) + " of " +
                       std::to_string(in.replica_count) + " replicas reachable, need " +
                       std::to_string(in.quorum)};
  }
  if (in.fetching) {
    return {false, "state transfer in progress at seq " + std::to_string(in.fetch_seq) + " (buckets " +
                       std::to_string(in.fetch_buckets_done) + "/" + std::to_string(in.fetch_buckets_total) +
                       ")"};
  }
  if (!in.view_active) return {false, "view change in progress to view " + std::to_string(in.view)};
  const size_t k = size_t{in.f} + 1;
  std::vector<View> views;
  std::vector<Seq> executed;
  for (const ReadinessInputs::Peer& p : in.peers) {
    executed.push_back(p.last_executed);
    if (p.view_active) views.push_back(p.view);
  }
  if (views.size() >= k) {
    std::nth_element(views.begin(), views.begin() + static_cast<long>(k - 1), views.end(), std::greater<>());
    if (views[k - 1] > in.view) {
      return {false, "behind: in view " + std::to_string(in.view) + ", " + std::to_string(k) +
                         " peers are in view " + std::to_string(views[k - 1]) + " or later"};
    }
  }
  if (executed.size() >= k) {
    std::nth_element(executed.begin(), executed.begin() + static_cast<long>(k - 1), executed.end(),
                     std::greater<>());
    const Seq peers = executed[k - 1];
    if (in.last_executed + in.slack < peers) {
      return {false, "behind: executed " + std::to_string(in.last_executed) + ", " + std::to_string(k) +
                         " peers have executed " + std::to_string(peers) + " or more"};
    }
  }
  return {true, ""};
}

}  // namespace pbft::node
