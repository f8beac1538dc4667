// A priority queue of events ordered by (virtual time, insertion order), so
// that events at the same instant run in the order they were scheduled and a
// run never depends on how the heap breaks ties.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace pbft::sim {

// Virtual time in microseconds since the start of a run.
using Time = uint64_t;
inline constexpr Time us_per_ms = 1000;
inline constexpr Time us_per_s = 1000 * us_per_ms;

template <typename Payload>
class EventQueue {
 public:
  void push(Time at, Payload payload) {
    heap_.push_back(Entry{at, counter_++, std::move(payload)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  Time next_time() const { return heap_.front().at; }

  // Removes and returns the earliest event.
  std::pair<Time, Payload> pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Entry e = std::move(heap_.back());
    heap_.pop_back();
    return {e.at, std::move(e.payload)};
  }

 private:
  struct Entry {
    Time at;
    uint64_t counter;
    Payload payload;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      if (a.at != b.at) return a.at > b.at;
      return a.counter > b.counter;
    }
  };
  std::vector<Entry> heap_;
  uint64_t counter_ = 0;
};

}  // namespace pbft::sim
