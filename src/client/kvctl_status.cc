#include "client/kvctl_status.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "client/cluster_status.h"
#include "node/config.h"

namespace pbft::client {

namespace {

void add_common(CLI::App* cmd, StatusOptions& o) {
  cmd->add_option("--endpoints", o.endpoints, "Replicas' HTTP addresses, host:port (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--config", o.config, "A replica's config file: ask every member it lists");
  cmd->add_option("--base-port", o.base_port, "Dev cluster: HTTP port of replica 0")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65535u));
  cmd->add_option("--replicas", o.replicas, "Dev cluster: number of replicas")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100u));
  cmd->add_option("--timeout-ms", o.timeout_ms, "Per-request timeout")
      ->capture_default_str()
      ->check(CLI::Range(1u, 600000u));
  cmd->add_option("-o,--output", o.output, "table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
}

std::vector<Endpoint> endpoints_of(const StatusOptions& o) {
  std::vector<Endpoint> out;
  if (!o.endpoints.empty()) {
    for (const std::string& e : o.endpoints) out.push_back(parse_endpoint(e));
    return out;
  }
  if (!o.config.empty()) {
    node::NodeConfig c = node::load_config_file(o.config);
    for (const node::Member& m : c.members) out.push_back(Endpoint{m.host, m.http_port});
    return out;
  }
  if (o.base_port + o.replicas - 1 > 65535) throw std::invalid_argument("--base-port + --replicas exceeds 65535");
  for (uint32_t i = 0; i < o.replicas; ++i) {
    out.push_back(Endpoint{"127.0.0.1", static_cast<uint16_t>(o.base_port + i)});
  }
  return out;
}

// One round: asks every replica, prints the table or JSON. Returns the exit code.
int print_once(const std::vector<Endpoint>& endpoints, const StatusOptions& o, std::ostream& out) {
  std::vector<ReplicaStatus> rows;
  for (const Endpoint& e : endpoints) rows.push_back(fetch_status(e, o.timeout_ms));
  if (o.output == "json") out << status_json(rows).dump() << "\n";
  else out << format_status_table(rows);
  out.flush();
  bool all = std::all_of(rows.begin(), rows.end(), [](const ReplicaStatus& r) { return r.reachable; });
  return all ? 0 : 3;
}

}  // namespace

StatusCommands add_status_commands(CLI::App& app, StatusOptions& options) {
  StatusCommands c;
  c.status = app.add_subcommand("status", "Print every replica's role, view, progress, reachability");
  add_common(c.status, options);
  c.watch = app.add_subcommand("watch-cluster", "Print the status table again every interval");
  add_common(c.watch, options);
  c.watch->add_option("--interval-ms", options.interval_ms, "Time between refreshes")
      ->capture_default_str()
      ->check(CLI::Range(10u, 3600000u));
  c.watch->add_option("--count", options.count, "Refreshes before exiting (0: until interrupted)")
      ->capture_default_str();
  return c;
}

int run_status(const StatusOptions& options, std::ostream& out, std::ostream& err) {
  std::vector<Endpoint> endpoints;
  try {
    endpoints = endpoints_of(options);
  } catch (const std::exception& e) {
    err << "kvctl status: " << e.what() << "\n";
    return 1;
  }
  return print_once(endpoints, options, out);
}

int run_watch_cluster(const StatusOptions& options, std::ostream& out, std::ostream& err) {
  std::vector<Endpoint> endpoints;
  try {
    endpoints = endpoints_of(options);
  } catch (const std::exception& e) {
    err << "kvctl watch-cluster: " << e.what() << "\n";
    return 1;
  }
  // Redraw in place on a terminal; append rounds otherwise (logs, tests).
  const bool tty = &out == &std::cout && ::isatty(STDOUT_FILENO);
  int code = 0;
  for (uint32_t round = 0; options.count == 0 || round < options.count; ++round) {
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
    if (tty) out << "\x1b[H\x1b[2J";
    if (options.output == "table") {
      std::time_t now = std::time(nullptr);
      char stamp[32];
      std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
      out << stamp << "  (every " << options.interval_ms << " ms)\n";
    }
    code = print_once(endpoints, options, out);
  }
  return code;
}

}  // namespace pbft::client
