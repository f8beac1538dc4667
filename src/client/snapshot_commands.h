// kvctl snapshot: backups of a cluster's state at a stable checkpoint
// (file format: kv/snapshot_file.h; operations: docs/OPERATIONS.md).
//
//   kvctl snapshot save FILE [--endpoints H:P,...] [--config FILE] [--progress] [--timeout-ms N]
//       fetches the latest stable checkpoint from the replicas, checks its
//       certificate against the cluster's public keys (from --config, else
//       the dev cluster's), every chunk and the whole state against its
//       digest, and writes FILE atomically. A replica whose answer does not
//       verify is skipped and the part asked of another.
//   kvctl snapshot inspect FILE [--config FILE] [-o table|json]
//       prints the header and verifies the file offline (the certificate
//       too when --config gives the keys).
//   kvctl snapshot restore FILE [--data-dir DIR] [--config FILE] [--force]
//       makes DIR (default: the config's node.data_dir) a replica data
//       folder holding the snapshot's state as its stable checkpoint.
//
// Exit codes: 0 done, 1 failed (a message on stderr says why), 2 bad usage.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace pbft::client {

struct SnapshotCommands {
  std::string file;
  std::vector<std::string> endpoints;
  std::string config;
  std::string data_dir;
  std::string output = "table";
  bool force = false;
  bool progress = false;
  uint32_t timeout_ms = 15000;
  uint32_t chunk_bytes = 1u << 20;

  CLI::App* save = nullptr;
  CLI::App* inspect = nullptr;
  CLI::App* restore = nullptr;

  void add_to(CLI::App& app);
  // Runs the parsed command; false when none of these was given.
  // `global_endpoints` / `global_config`: kvctl's top-level options, used
  // when the command's own are not given.
  bool run(const std::vector<std::string>& global_endpoints, const std::string& global_config, std::ostream& out,
           std::ostream& err, int& exit_code);
};

}  // namespace pbft::client
