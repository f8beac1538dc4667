// pbft-sim: runs whole PBFT clusters in one process on virtual time, one
// seed per run, with network faults, crashes and Byzantine replicas, and
// checks safety and liveness after every step.
//
//   pbft-sim --seeds N [--first-seed S0] [--jobs J] [--replicas n] [--stats] [--no-faults]
//   pbft-sim --seed S [--replicas n] [--trace] [--no-faults]
//   pbft-sim --control f1-liars|f1-equivocators|seed-quorum [--seeds N | --seed S]
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sim/simulation.h"

namespace {

using pbft::sim::Control;
using pbft::sim::RunOptions;
using pbft::sim::RunResult;

void usage() {
  std::fprintf(stderr,
               "usage: pbft-sim --seeds N [--first-seed S0] [--jobs J] [--replicas n] [--stats] [--no-faults]\n"
               "       pbft-sim --seed S [--replicas n] [--trace] [--no-faults]\n"
               "       pbft-sim --control f1-liars|f1-equivocators|seed-quorum [--seeds N | --seed S]\n");
}

struct Args {
  std::optional<uint64_t> seed;
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  unsigned jobs = 1;
  bool trace = false;
  bool stats = false;
  pbft::sim::PlanOptions plan;
};

bool parse_number(const char* s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return false;
  out = v;
  return true;
}

std::optional<Args> parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    uint64_t v = 0;
    if (arg == "--trace") {
      a.trace = true;
    } else if (arg == "--stats") {
      a.stats = true;
    } else if (arg == "--no-faults") {
      a.plan.no_faults = true;
    } else if (arg == "--seed" || arg == "--seeds" || arg == "--first-seed" || arg == "--jobs" ||
               arg == "--replicas") {
      const char* s = value();
      if (s == nullptr || !parse_number(s, v)) {
        std::fprintf(stderr, "pbft-sim: %s needs a number\n", arg.c_str());
        return std::nullopt;
      }
      if (arg == "--seed") a.seed = v;
      if (arg == "--seeds") a.seeds = v;
      if (arg == "--first-seed") a.first_seed = v;
      if (arg == "--jobs") a.jobs = static_cast<unsigned>(std::max<uint64_t>(1, v));
      if (arg == "--replicas") {
        if (v < 1 || v > 16) {
          std::fprintf(stderr, "pbft-sim: --replicas must be in 1..16\n");
          return std::nullopt;
        }
        a.plan.replicas = static_cast<uint32_t>(v);
      }
    } else if (arg == "--control") {
      const char* s = value();
      auto c = s ? pbft::sim::control_from_name(s) : std::nullopt;
      if (!c) {
        std::fprintf(stderr, "pbft-sim: unknown control '%s'\n", s ? s : "");
        return std::nullopt;
      }
      a.plan.control = *c;
    } else {
      std::fprintf(stderr, "pbft-sim: unknown argument '%s'\n", arg.c_str());
      return std::nullopt;
    }
  }
  if (a.seed.has_value() == (a.seeds > 0)) {
    std::fprintf(stderr, "pbft-sim: give either --seed S or --seeds N\n");
    return std::nullopt;
  }
  return a;
}

void print_violations(const RunResult& r) {
  for (const pbft::sim::Violation& v : r.violations) {
    std::string details = v.details;
    std::string first = details.substr(0, details.find('\n'));
    std::printf("pbft-sim: VIOLATION seed %llu [%s] at %s: %s\n  replay: %s\n",
                static_cast<unsigned long long>(r.seed), v.checker.c_str(),
                pbft::sim::time_name(v.at).c_str(), first.c_str(), r.replay.c_str());
    if (first.size() < details.size()) std::printf("%s\n", details.substr(first.size() + 1).c_str());
  }
}

void print_stats(const RunResult& r) {
  const auto& s = r.stats;
  std::printf(
      "seed %llu: n=%u ops %llu/%llu, executions %llu, events %llu, messages %llu, mac-fail %llu, "
      "fast reads %llu (fallbacks %llu), views<=%llu, state transfers %llu, tampered %llu, end %s, hash %016llx\n",
      static_cast<unsigned long long>(r.seed), s.replicas,
      static_cast<unsigned long long>(s.ops_completed), static_cast<unsigned long long>(s.ops_invoked),
      static_cast<unsigned long long>(s.executions), static_cast<unsigned long long>(s.events),
      static_cast<unsigned long long>(s.messages), static_cast<unsigned long long>(s.mac_failures),
      static_cast<unsigned long long>(s.fast_reads), static_cast<unsigned long long>(s.fast_fallbacks),
      static_cast<unsigned long long>(s.max_view), static_cast<unsigned long long>(s.state_transfers),
      static_cast<unsigned long long>(s.byzantine_tampered), pbft::sim::time_name(s.end_time).c_str(),
      static_cast<unsigned long long>(r.trace_hash));
  const auto& x = s.rejected;
  std::printf(
      "  rejected by correct replicas: signature %llu, sender %llu, view %llu, window %llu, "
      "malformed %llu, conflicting %llu, certificate %llu, state %llu\n",
      static_cast<unsigned long long>(x.bad_signature), static_cast<unsigned long long>(x.wrong_sender),
      static_cast<unsigned long long>(x.wrong_view), static_cast<unsigned long long>(x.out_of_window),
      static_cast<unsigned long long>(x.malformed), static_cast<unsigned long long>(x.conflicting),
      static_cast<unsigned long long>(x.bad_certificate), static_cast<unsigned long long>(x.bad_state));
}

int run_one(const Args& a) {
  RunOptions o;
  o.seed = *a.seed;
  o.plan = a.plan;
  o.trace = a.trace ? &std::cout : nullptr;
  RunResult r = pbft::sim::run_simulation(o);
  std::cout.flush();
  if (!a.trace) std::printf("%s", r.plan.c_str());
  print_stats(r);
  print_violations(r);
  if (a.plan.control != Control::none) {
    bool found = false;
    for (const auto& v : r.violations) found |= pbft::sim::is_safety_violation(v);
    std::printf("pbft-sim control %s: %s\n", std::string(control_name(a.plan.control)).c_str(),
                found ? "found a safety violation (expected)" : "found no safety violation");
    return found ? 0 : 1;
  }
  return r.violations.empty() ? 0 : 1;
}

int run_many(const Args& a) {
  std::vector<RunResult> results(a.seeds);
  std::vector<double> millis(a.seeds);
  std::atomic<uint64_t> next{0};
  auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    while (true) {
      uint64_t i = next.fetch_add(1);
      if (i >= a.seeds) return;
      RunOptions o;
      o.seed = a.first_seed + i;
      o.plan = a.plan;
      auto t0 = std::chrono::steady_clock::now();
      results[i] = pbft::sim::run_simulation(o);
      millis[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < a.jobs; ++j) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  double sum_ms = 0;
  uint64_t violations = 0, failing_seeds = 0, safety_seeds = 0, ops = 0, replayed = 0;
  std::map<std::string, uint64_t> by_checker;
  for (uint64_t i = 0; i < a.seeds; ++i) {
    const RunResult& r = results[i];
    sum_ms += millis[i];
    ops += r.stats.ops_completed;
    if (r.stats.model_replayed) ++replayed;
    if (a.stats) print_stats(r);
    bool safety = false;
    for (const auto& v : r.violations) {
      ++by_checker[v.checker];
      safety |= pbft::sim::is_safety_violation(v);
    }
    violations += r.violations.size();
    failing_seeds += r.violations.empty() ? 0 : 1;
    safety_seeds += safety ? 1 : 0;
    if (a.plan.control == Control::none) print_violations(r);
  }
  std::string checkers;
  for (const auto& [name, count] : by_checker)
    checkers += (checkers.empty() ? "" : ", ") + name + " " + std::to_string(count);

  if (a.plan.control != Control::none) {
    std::printf("pbft-sim control %s: %llu of %llu seeds found a safety violation%s%s%s, %.1f s\n",
                std::string(control_name(a.plan.control)).c_str(),
                static_cast<unsigned long long>(safety_seeds), static_cast<unsigned long long>(a.seeds),
                checkers.empty() ? "" : " (", checkers.c_str(), checkers.empty() ? "" : ")", total_s);
    return safety_seeds > 0 ? 0 : 1;
  }
  std::printf("pbft-sim: %llu seeds, %llu violations, %.1f s (mean %.0f ms/seed, %llu operations, "
              "%llu seeds replayed on the model)%s%s%s\n",
              static_cast<unsigned long long>(a.seeds), static_cast<unsigned long long>(violations),
              total_s, sum_ms / static_cast<double>(a.seeds), static_cast<unsigned long long>(ops),
              static_cast<unsigned long long>(replayed),
              checkers.empty() ? "" : " [", checkers.c_str(), checkers.empty() ? "" : "]");
  return failing_seeds == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Args> a = parse(argc, argv);
  if (!a) {
    usage();
    return 2;
  }
  return a->seed ? run_one(*a) : run_many(*a);
}
