// pbft-native-load: closed-loop load through the client library's binary
// protocol (include/pbft/client.h with a ClientIdentity) against the dev
// cluster: N clients, each its own dev client id (1..N) and thread, each
// with one request in flight, every answer verified (f+1 matching replies,
// each MACed for this client or, with --signed-replies, signed; all n for a
// fast read). The counterpart of pbft-loadgen, which
// goes through the HTTP gateways; the JSON it prints has the same fields.
#include <pbft/client.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "bench/loadgen/histogram.h"
#include "bench/loadgen/load_report.h"
#include "node/config.h"

namespace pbft::bench {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

struct Options {
  uint32_t base_port = node::dev_base_port_default;
  uint32_t clients = 16;
  double duration_s = 10;
  double warmup_s = 2;
  uint32_t key_size = 16;
  uint32_t value_size = 100;
  uint64_t keys = 10000;
  double read_ratio = 0;
  bool fast = false;
  bool signed_replies = false;
  uint32_t timeout_ms = 10000;
  std::string json_path;
  std::string label;
};

struct Tally {
  Histogram all, reads, writes;
  uint64_t ok_reads = 0, ok_writes = 0, errors = 0, fast_answers = 0;
  std::string first_error;
};


void client_loop(const Options& o, uint32_t index, Clock::time_point measure_from, Clock::time_point end, Tally& t) {
  ClientOptions c;
  for (ReplicaId i = 0; i < node::dev_replica_count; ++i) {
    c.replica_keys.push_back(node::dev_key_pair(i).public_key);
    c.endpoints.push_back("127.0.0.1:" + std::to_string(o.base_port + 200 + i));
  }
  const crypto::KeyPair key = node::dev_client_key_pair(index + 1);
  ClientIdentity id;
  id.id = index + 1;
  std::copy_n(key.secret_key.begin(), id.seed.size(), id.seed.begin());
  c.identity = id;
  c.timeout_ms = o.timeout_ms;
  c.signed_replies = o.signed_replies;
  VerifiedClient client(std::move(c));
  std::mt19937_64 rng(1000003 * (index + 1));
  std::uniform_real_distribution<double> coin(0, 1);
  const std::string value(o.value_size, 'v');
  while (Clock::now() < end) {
    const bool read = coin(rng) < o.read_ratio;
    const std::string k = key_name(rng() % o.keys, o.key_size);
    const auto sent = Clock::now();
    try {
      bool fast = false;
      if (read && o.fast) client.get_fast(k, &fast);
      else if (read) client.get_entry(k);
      else client.put(k, value);
      const auto done = Clock::now();
      if (done < measure_from || done > end) continue;
      const auto ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(done - sent).count());
      t.all.record(ns);
      (read ? t.reads : t.writes).record(ns);
      ++(read ? t.ok_reads : t.ok_writes);
      t.fast_answers += fast ? 1 : 0;
    } catch (const std::exception& e) {
      if (Clock::now() >= measure_from) ++t.errors;
      if (t.first_error.empty()) t.first_error = e.what();
    }
  }
}

int run(int argc, char** argv) {
  CLI::App app{"pbft-native-load: closed-loop load through the client library's binary protocol (dev cluster)"};
  Options o;
  std::string read_path = "ordered";
  app.add_option("--base-port", o.base_port, "The dev cluster's base port (client ports base+200+i)")->capture_default_str();
  app.add_option("--clients,-c", o.clients, "Concurrent clients (dev client ids 1..N), one request in flight each")
      ->check(CLI::Range(1u, node::dev_client_count))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "Measured seconds (after the warm-up)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "Seconds of load before measuring")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--key-size", o.key_size, "Bytes per key")->check(CLI::Range(2u, 65536u))->capture_default_str();
  app.add_option("--value-size", o.value_size, "Bytes per value written")->check(CLI::Range(0u, 1u << 20))->capture_default_str();
  app.add_option("--keys", o.keys, "Key space")->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))->capture_default_str();
  app.add_option("--read-ratio", o.read_ratio, "Share of requests that are reads (0..1)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--read-path", read_path, "ordered or fast (the read-only fast path, ordered on fallback)")
      ->check(CLI::IsMember({"ordered", "fast"}))
      ->capture_default_str();
  app.add_flag("--signed-replies", o.signed_replies,
               "Count only replies each replica signed (instead of MACed for this client)");
  app.add_option("--label", o.label, "A name copied into the JSON output");
  app.add_option("--json", o.json_path, "Write the JSON result to this file instead of stdout");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.fast = read_path == "fast";
  if (1 + std::to_string(o.keys - 1).size() > o.key_size) {
    std::cerr << "pbft-native-load: --key-size " << o.key_size << " is too small for " << o.keys << " keys\n";
    return 2;
  }
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::vector<Tally> tallies(o.clients);
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < o.clients; ++i)
    threads.emplace_back([&, i] { client_loop(o, i, measure_from, end, tallies[i]); });
  for (auto& t : threads) t.join();
  Tally all;
  for (const Tally& t : tallies) {
    all.all.add(t.all);
    all.reads.add(t.reads);
    all.writes.add(t.writes);
    all.ok_reads += t.ok_reads;
    all.ok_writes += t.ok_writes;
    all.errors += t.errors;
    all.fast_answers += t.fast_answers;
    if (all.first_error.empty()) all.first_error = t.first_error;
  }
  const uint64_t ok = all.ok_reads + all.ok_writes;
  json out = {{"label", o.label},
              {"mode", "native"},
              {"connections", o.clients},
              {"duration_s", o.duration_s},
              {"warmup_s", o.warmup_s},
              {"key_size", o.key_size},
              {"value_size", o.value_size},
              {"keys", o.keys},
              {"read_ratio", o.read_ratio},
              {"read_path", read_path},
              {"signed_replies", o.signed_replies},
              {"ops", ok},
              {"ops_per_s", static_cast<double>(ok) / o.duration_s},
              {"reads", all.ok_reads},
              {"writes", all.ok_writes},
              {"fast_answers", all.fast_answers},
              {"errors", all.errors},
              {"first_error", all.first_error},
              {"latency", latency_json(all.all)},
              {"read_latency", latency_json(all.reads)},
              {"write_latency", latency_json(all.writes)}};
  const std::string text = out.dump(2) + "\n";
  if (o.json_path.empty()) {
    std::cout << text;
  } else {
    std::ofstream(o.json_path) << text;
  }
  if (ok == 0) {
    std::cerr << "pbft-native-load: no request succeeded (first error: " << all.first_error << ")\n";
    return 4;
  }
  return 0;
}

}  // namespace
}  // namespace pbft::bench

int main(int argc, char** argv) { return pbft::bench::run(argc, argv); }
