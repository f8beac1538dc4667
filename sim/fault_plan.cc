#include "sim/fault_plan.h"

#include <algorithm>
#include <sstream>

#include "sim/rng.h"

namespace pbft::sim {

std::string_view control_name(Control c) {
  switch (c) {
    case Control::none: return "none";
    case Control::f1_liars: return "f1-liars";
    case Control::f1_equivocators: return "f1-equivocators";
    case Control::seed_quorum: return "seed-quorum";
  }
  return "?";
}

std::optional<Control> control_from_name(std::string_view name) {
  for (Control c : {Control::f1_liars, Control::f1_equivocators, Control::seed_quorum})
    if (control_name(c) == name) return c;
  return std::nullopt;
}

const ByzantinePlan* FaultPlan::byzantine_plan(ReplicaId r) const {
  for (const ByzantinePlan& b : byzantine)
    if (b.replica == r) return &b;
  return nullptr;
}

namespace {

core::Config random_config(Rng& rng, uint32_t n) {
  core::Config c;
  c.replica_count = n;
  static const std::vector<uint64_t> intervals = {2, 4, 5, 8};
  c.checkpoint_interval = rng.pick(intervals);
  c.window_size = c.checkpoint_interval * rng.range(2, 4);
  c.pipeline_depth_max = static_cast<uint32_t>(rng.range(1, 8));
  c.batch_requests_max = static_cast<uint32_t>(rng.range(1, 16));
  c.view_change_timeout_ticks = static_cast<uint32_t>(rng.range(30, 60));
  c.view_change_backoff_max = 4;
  c.status_interval_ticks = 10;
  c.state_fetch_retry_ticks = 30;
  return c;
}

// How many replicas are down at `t` under `crashes`.
uint32_t down_at(const std::vector<CrashPlan>& crashes, Time t) {
  uint32_t n = 0;
  for (const CrashPlan& c : crashes)
    if (c.crash_at <= t && (c.wipe || t < c.restart_at)) ++n;
  return n;
}

void random_crashes(Rng& rng, FaultPlan& p, uint32_t capacity) {
  if (capacity == 0) return;
  std::vector<ReplicaId> candidates;
  for (ReplicaId r = 0; r < p.config.replica_count; ++r)
    if (p.byzantine_plan(r) == nullptr) candidates.push_back(r);
  uint64_t attempts = rng.range(0, 4);
  for (uint64_t i = 0; i < attempts; ++i) {
    CrashPlan c;
    c.replica = rng.pick(candidates);
    c.crash_at = rng.range(0, p.heal_at - 1);
    c.restart_at = std::min(p.heal_at, c.crash_at + rng.range(200 * us_per_ms, 6 * us_per_s));
    c.wipe = rng.chance(0.2);
    // The replica is up all along, and at most `capacity` are down at once
    // (the count only changes at crash times, so checking those suffices).
    bool ok = true;
    for (const CrashPlan& o : p.crashes) {
      if (o.replica == c.replica && (o.wipe || c.wipe || (o.crash_at <= c.restart_at && c.crash_at <= o.restart_at)))
        ok = false;
    }
    std::vector<CrashPlan> all = p.crashes;
    all.push_back(c);
    for (const CrashPlan& o : all)
      if (down_at(all, o.crash_at) > capacity) ok = false;
    if (ok) p.crashes.push_back(c);
  }
  std::sort(p.crashes.begin(), p.crashes.end(),
            [](const CrashPlan& a, const CrashPlan& b) { return a.crash_at < b.crash_at; });
}

void random_faults(Rng& rng, FaultPlan& p) {
  const uint32_t n = p.config.replica_count;
  bool calm = rng.chance(0.1);
  if (!calm) {
    p.faults.drop = rng.chance(0.2) ? 0.0 : rng.uniform(0, 0.3);
    p.faults.duplicate = rng.uniform(0, 0.05);
    p.faults.delay_min = 1 * us_per_ms;
    p.faults.delay_max = rng.range(5, 50) * us_per_ms;
    p.faults.long_delay = rng.uniform(0, 0.05);
    p.faults.long_delay_max = 300 * us_per_ms;
    uint64_t partitions = n >= 2 ? rng.range(0, 3) : 0;
    for (uint64_t i = 0; i < partitions; ++i) {
      Partition part;
      part.start = rng.range(0, p.heal_at - 1);
      part.end = std::min(p.heal_at, part.start + rng.range(500 * us_per_ms, 5 * us_per_s));
      part.side = static_cast<uint32_t>(rng.range(1, (1u << n) - 2));
      p.partitions.push_back(part);
    }
  }
  const uint32_t f = core::faults_tolerated(n);
  uint32_t byz = static_cast<uint32_t>(rng.range(0, f));
  std::vector<ReplicaId> ids;
  for (ReplicaId r = 0; r < n; ++r) ids.push_back(r);
  rng.shuffle(ids);
  // Half the time the first primary is among them: a faulty primary tests
  // more than a faulty backup.
  if (rng.chance(0.5)) std::iter_swap(ids.begin(), std::find(ids.begin(), ids.end(), ReplicaId{0}));
  for (uint32_t i = 0; i < byz; ++i) {
    // Mostly one way of misbehaving; sometimes several at once (silence
    // would hide the others, so it comes alone).
    std::vector<ByzMode> modes = {all_byz_modes[rng.below(std::size(all_byz_modes))]};
    if (modes[0] != ByzMode::silent && rng.chance(0.3)) {
      uint64_t more = rng.range(1, 2);
      for (uint64_t k = 0; k < more; ++k) {
        ByzMode m = all_byz_modes[rng.below(std::size(all_byz_modes))];
        if (m != ByzMode::silent && std::find(modes.begin(), modes.end(), m) == modes.end())
          modes.push_back(m);
      }
    }
    p.byzantine.push_back(ByzantinePlan{ids[i], std::move(modes)});
  }
  if (!calm) random_crashes(rng, p, f - byz);
}

void control_plan(Rng& rng, FaultPlan& p, const PlanOptions& options) {
  const uint32_t n = p.config.replica_count;
  const uint32_t f = core::faults_tolerated(n);
  p.faults.delay_min = 1 * us_per_ms;
  p.faults.delay_max = rng.range(2, 20) * us_per_ms;
  p.heal_at = rng.range(4, 8) * us_per_s;
  switch (options.control) {
    case Control::f1_liars: {
      std::vector<ReplicaId> ids;
      for (ReplicaId r = 0; r < n; ++r) ids.push_back(r);
      rng.shuffle(ids);
      for (uint32_t i = 0; i <= f; ++i) p.byzantine.push_back({ids[i], {ByzMode::lie_to_clients}});
      break;
    }
    case Control::f1_equivocators:
      // Replicas 0..f: the primaries of the first views, and the correct
      // replicas f+1..n-1 split in two by id parity.
      for (ReplicaId r = 0; r <= f; ++r) p.byzantine.push_back({r, {ByzMode::equivocate}});
      p.colluding = true;
      break;
    case Control::seed_quorum:
      p.config.quorum_override_for_tests = (n / 3) * 2 + 1;  // the seed's formula
      p.byzantine.push_back({0, {ByzMode::equivocate}});
      p.colluding = true;
      break;
    case Control::none:
      break;
  }
}

}  // namespace

FaultPlan make_fault_plan(uint64_t seed, const PlanOptions& options) {
  Rng rng(seed);
  FaultPlan p;
  p.seed = seed;
  p.control = options.control;
  uint32_t n;
  if (options.control == Control::seed_quorum) {
    n = 5;
  } else if (options.replicas) {
    n = *options.replicas;
  } else if (options.control == Control::f1_equivocators) {
    n = rng.chance(0.5) ? 4 : 7;
  } else {
    static const std::vector<uint32_t> sizes = {4, 5, 7};
    n = rng.pick(sizes);
  }
  p.config = random_config(rng, n);
  p.cluster_id = rng.next();
  p.cluster_secret = rng.next();
  p.client_count = static_cast<uint32_t>(rng.range(3, 6));
  p.key_count = static_cast<uint32_t>(rng.range(3, 6));
  p.think_max = rng.range(0, 30) * us_per_ms;
  p.client_retry = 2 * uint64_t{p.config.view_change_timeout_ticks} * tick_us;
  p.ops_after_heal = 3;
  p.liveness_bound = 40 * us_per_s;
  p.healed.delay_min = 1 * us_per_ms;
  p.healed.delay_max = 5 * us_per_ms;
  if (options.control != Control::none) {
    control_plan(rng, p, options);
  } else if (options.no_faults) {
    p.faults = p.healed;
    p.heal_at = rng.range(3, 6) * us_per_s;
  } else {
    p.heal_at = rng.range(10, 20) * us_per_s;
    random_faults(rng, p);
  }
  std::sort(p.byzantine.begin(), p.byzantine.end(),
            [](const ByzantinePlan& a, const ByzantinePlan& b) { return a.replica < b.replica; });
  // Drawn last, so the rest of each seed's plan is what it was before.
  p.config.defer_proposals = rng.chance(0.75);
  p.fast_reads = options.control == Control::none && rng.chance(0.5);
  // A few clients only, so small minimums are what makes it matter.
  static const std::vector<uint32_t> batch_minimums = {0, 1, 2, 16};
  p.config.batch_requests_min = rng.pick(batch_minimums);
  return p;
}

std::string FaultPlan::describe() const {
  std::ostringstream s;
  const uint32_t n = config.replica_count;
  s << "seed " << seed << (control != Control::none ? " control " + std::string(control_name(control)) : "")
    << ": n=" << n << " f=" << core::faults_tolerated(n) << " q=" << config.quorum().q
    << " K=" << config.checkpoint_interval << " L=" << config.window_size
    << " pipeline=" << config.pipeline_depth_max << " batch=" << config.batch_requests_max
    << " batch_min=" << config.batch_requests_min
    << " vc_timeout=" << config.view_change_timeout_ticks << "t"
    << (config.defer_proposals ? " deferred-proposals" : "") << (fast_reads ? " fast-reads" : "") << "\n";
  s << "  clients=" << client_count << " keys=" << key_count << " think<=" << think_max / us_per_ms
    << "ms retry=" << client_retry / us_per_ms << "ms heal at " << heal_at / us_per_ms
    << "ms, liveness bound " << liveness_bound / us_per_ms << "ms after\n";
  s << "  phase 1 network: " << faults.describe() << "\n";
  for (const Partition& p : partitions) {
    s << "  partition " << p.start / us_per_ms << "-" << p.end / us_per_ms << "ms: {";
    bool first = true;
    for (ReplicaId r = 0; r < n; ++r) {
      if ((p.side >> r) & 1u) {
        s << (first ? "" : ",") << "r" << r;
        first = false;
      }
    }
    s << "} vs the rest\n";
  }
  for (const CrashPlan& c : crashes)
    s << "  crash r" << c.replica << " at " << c.crash_at / us_per_ms
      << (c.wipe ? "ms (disk wiped), restart empty at " : "ms (unpersisted changes lost), restart at ")
      << c.restart_at / us_per_ms << "ms\n";
  for (const ByzantinePlan& b : byzantine)
    s << "  byzantine r" << b.replica << " " << modes_name(b.modes) << (colluding ? " (colluding)" : "")
      << "\n";
  return s.str();
}

}  // namespace pbft::sim
