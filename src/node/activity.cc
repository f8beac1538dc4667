#include "node/activity.h"

#include <algorithm>
#include <utility>

namespace pbft::node {

ActivityLog::Second& ActivityLog::at(int64_t unix_ms) {
  const int64_t s = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  // A clock that steps back counts in the newest second rather than
  // reordering the history.
  if (!seconds_.empty() && seconds_.back().unix_s >= s) return seconds_.back();
  seconds_.push_back(Second{s});
  while (!seconds_.empty() && seconds_.front().unix_s <= s - static_cast<int64_t>(seconds_max)) {
    seconds_.pop_front();
  }
  return seconds_.back();
}

void ActivityLog::executed(int64_t unix_ms, uint64_t requests) {
  at(unix_ms).executed_requests += requests;
}

void ActivityLog::committed(int64_t unix_ms, double latency_s) {
  Second& s = at(unix_ms);
  ++s.commits;
  s.latency_sum_s += latency_s;
  s.latency_max_s = std::max(s.latency_max_s, latency_s);
}

void EventLog::add(Event event) {
  events_.push_back(std::move(event));
  while (events_.size() > events_max) events_.pop_front();
}

}  // namespace pbft::node
