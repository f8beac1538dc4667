// What the dashboard plots and lists: per-second activity of this replica
// over the last minutes (requests executed, requests committed through this
// replica's gateway and their latency) and the latest protocol events
// (view changes, views started, stable checkpoints, state transfers).
// Time comes in from the caller (Unix milliseconds), so both are plain data.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

namespace pbft::node {

class ActivityLog {
 public:
  struct Second {
    int64_t unix_s = 0;
    uint64_t executed_requests = 0;  // executed by this replica
    uint64_t commits = 0;            // answered through this replica's gateway
    double latency_sum_s = 0;
    double latency_max_s = 0;
  };
  static constexpr size_t seconds_max = 300;

  void executed(int64_t unix_ms, uint64_t requests);
  void committed(int64_t unix_ms, double latency_s);
  // Oldest first; seconds without activity are absent. Only the last
  // seconds_max seconds before the newest entry are kept.
  const std::deque<Second>& seconds() const { return seconds_; }

 private:
  Second& at(int64_t unix_ms);
  std::deque<Second> seconds_;
};

class EventLog {
 public:
  struct Event {
    int64_t unix_ms = 0;
    std::string kind;  // view_change | view_started | checkpoint | state_transfer
    uint64_t view = 0;
    uint64_t seq = 0;
    std::string text;
  };
  static constexpr size_t events_max = 64;

  void add(Event event);
  // Oldest first, at most events_max.
  const std::deque<Event>& events() const { return events_; }

 private:
  std::deque<Event> events_;
};

}  // namespace pbft::node
