// kvctl status / kvctl watch-cluster: the cluster table in the terminal.
//
//   kvctl status [--endpoints H:P,...] [--config FILE] [--base-port P] [--replicas N]
//                [--timeout-ms T] [-o table|json]
//   kvctl watch-cluster [same] [--interval-ms I] [--count N]
//
// Which replicas: --endpoints, else every member of --config (a replica's
// TOML), else the dev cluster (127.0.0.1:base-port+i, i < replicas).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace pbft::client {

struct StatusOptions {
  std::vector<std::string> endpoints;
  std::string config;
  uint32_t base_port = 10000;
  uint32_t replicas = 5;
  uint32_t timeout_ms = 1000;
  std::string output = "table";
  uint32_t interval_ms = 1000;
  uint32_t count = 0;  // watch-cluster: refreshes before exiting (0: until interrupted)
};

struct StatusCommands {
  CLI::App* status = nullptr;
  CLI::App* watch = nullptr;
};

StatusCommands add_status_commands(CLI::App& app, StatusOptions& options);
// Exit code: 0 when every replica answered, 3 when some did not, 1 when the
// endpoints cannot be worked out.
int run_status(const StatusOptions& options, std::ostream& out, std::ostream& err);
int run_watch_cluster(const StatusOptions& options, std::ostream& out, std::ostream& err);

}  // namespace pbft::client
