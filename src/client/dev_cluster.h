// `kvctl dev-cluster`: a small supervisor that runs the dev-mode replicas
// (PBFT_DEV=<i> kv-node) on this machine, prefixes each one's output with
// its name, and stops them all on Ctrl-C.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace pbft::client {

struct DevClusterOptions {
  uint32_t replicas = 5;
  uint16_t base_port = 10000;
  std::string data_dir = "data";  // replica i keeps its data in data_dir/replica-<i>
  std::string node_path;          // empty: the kv-node next to this executable
  uint32_t stop_timeout_ms = 3000;  // SIGTERM, then SIGKILL after this long
};

// The kv-node binary in the folder of the running executable.
std::string default_node_path();

// Starts the replicas and supervises them until SIGINT, SIGTERM or SIGHUP
// (returns 0) or until every replica has exited on its own (returns 1).
// A replica that exits early is reported; the others keep running. Every
// line a replica prints goes to `out` as "replica<i> | <line>", the
// supervisor's own notes as "dev-cluster | <note>"; `err` gets the errors
// that prevent a start.
int run_dev_cluster(const DevClusterOptions& options, std::ostream& out, std::ostream& err);

}  // namespace pbft::client
