// The counters and histograms a kv-node keeps on its own code paths (the
// protocol core's counters and gauges are read from the core when /metrics
// is asked for). Plain data, owned by the Node, touched on its io thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "node/activity.h"
#include "node/metrics.h"

namespace pbft::node {

// Wall-clock time in Unix milliseconds (for the dashboard's time axis).
int64_t unix_ms();

// One sequence number as the dashboard shows it.
struct SlotSnapshot {
  uint64_t seq = 0;
  bool pre_prepare = false;
  uint64_t requests = 0;
  std::string digest;  // short hex
  uint64_t prepares = 0, commits = 0;
  bool prepared = false, committed = false, executed = false;
};

struct NodeMetrics {
  // (route, status) -> answers sent.
  std::map<std::pair<std::string, unsigned>, uint64_t> http_requests;
  // Submit to f+1 matching replies, for requests through this replica's gateway.
  Histogram commit_latency_s{latency_buckets_s()};
  // Requests per executed batch (null requests count as 0).
  Histogram batch_size{size_buckets()};
  uint64_t executed_batches = 0;
  uint64_t executed_requests = 0;
  // One atomic write of the state machine's and the protocol's state.
  Histogram storage_write_s{latency_buckets_s()};
  // The time spent making writes durable: the synced write (sync = always)
  // or the group fsync (sync = batch).
  Histogram storage_sync_s{latency_buckets_s()};
  uint64_t view_changes = 0;  // view changes this replica started or joined
  uint64_t state_transfers_completed = 0;
  uint64_t fast_reads = 0;  // reads answered by the read-only fast path
  uint64_t snapshot_export_bytes = 0;  // state and chunks served to snapshot clients
  // The latest executed slots as they were when executed, so the dashboard
  // still shows them after the checkpoint that discards them from the log.
  std::map<uint64_t, SlotSnapshot> recent_slots;
  static constexpr size_t recent_slots_max = 32;
  ActivityLog activity;
  EventLog events;
};

}  // namespace pbft::node
