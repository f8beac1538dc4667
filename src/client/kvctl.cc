#include "client/kvctl.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "client/dev_cluster.h"
#include "client/kvctl_status.h"
#include "client/kv_commands.h"
#include "client/snapshot_commands.h"
#include "common/types.h"
#include "crypto/sodium_crypto.h"
#include "node/config.h"

namespace pbft::client {

namespace {

namespace fs = std::filesystem;

int keygen(const std::string& out_path, std::ostream& out, std::ostream& err) {
  crypto::KeyPair key = crypto::generate_key_pair();
  const std::string public_hex = node::public_key_hex(key.public_key);
  if (out_path.empty()) {
    std::string seed_hex = to_hex(ByteView(key.secret_key.data(), crypto::seed_size));
    out << "seed: " << seed_hex << "\n"
        << "public_key: " << public_hex << "\n";
    sodium_memzero(seed_hex.data(), seed_hex.size());
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    return 0;
  }
  // Claim the name exclusively, so an existing key is never overwritten.
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    if (e == EEXIST) {
      err << "kvctl keygen: " << out_path << " already exists; refusing to overwrite it\n";
    } else {
      err << "kvctl keygen: cannot create " << out_path << ": " << std::strerror(e) << "\n";
    }
    return 1;
  }
  ::close(fd);
  try {
    node::write_key_file(out_path, key);
  } catch (const node::ConfigError& e) {
    ::unlink(out_path.c_str());
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    err << "kvctl keygen: " << e.what() << "\n";
    return 1;
  }
  sodium_memzero(key.secret_key.data(), key.secret_key.size());
  out << public_hex << "\n";
  err << "kvctl keygen: wrote the secret key to " << out_path << " (mode 0600); its public key is above\n";
  return 0;
}

struct InitOptions {
  uint32_t replicas = 0;
  uint32_t base_port = 0;
  std::string dir;
  std::string host = "127.0.0.1";
  uint64_t cluster_id = 1;
};

int config_init(const InitOptions& o, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  try {
    paths = node::write_cluster_config(o.dir, o.replicas, static_cast<uint16_t>(o.base_port), o.host,
                                       o.cluster_id);
  } catch (const node::ConfigError& e) {
    err << "kvctl config init: " << e.what() << "\n";
    return 1;
  }
  const uint32_t f = (o.replicas - 1) / 3;
  out << "wrote a " << o.replicas << "-replica cluster (cluster_id " << o.cluster_id << ", tolerates f = " << f
      << " faulty replica" << (f == 1 ? "" : "s") << "):\n";
  for (const std::string& p : paths)
    out << "  " << p << (p.ends_with(".key") ? "   (secret key, mode 0600)" : "") << "\n";
  if (o.replicas != 3 * f + 1) {
    out << "note: " << o.replicas << " replicas tolerate no more faults than " << 3 * f + 1
        << "; n = 3f + 1 (4, 7, 10, ...) uses every replica\n";
  }
  out << "copy replica-<i>.toml and replica-<i>.key to replica i's host (keep the .key files secret), then\n"
      << "start each replica:\n";
  for (uint32_t i = 0; i < o.replicas; ++i)
    out << "  kv-node --config " << (fs::path(o.dir) / ("replica-" + std::to_string(i) + ".toml")).string()
        << "\n";
  return 0;
}

}  // namespace

int kvctl_main(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"kvctl: tools for pbft-kv, the Byzantine-fault-tolerant key-value store"};
  app.name("kvctl");
  app.require_subcommand(1);

  std::string keygen_out;
  CLI::App* keygen_cmd =
      app.add_subcommand("keygen", "Generate an Ed25519 key pair for a replica");
  keygen_cmd->add_option("--out", keygen_out,
                         "Write the secret key to this file (mode 0600; never overwritten) and print the "
                         "public key. Without it, print both.");

  InitOptions init;
  CLI::App* config_cmd = app.add_subcommand("config", "Cluster configuration");
  config_cmd->require_subcommand(1);
  CLI::App* init_cmd = config_cmd->add_subcommand(
      "init", "Write replica-<i>.toml and replica-<i>.key for a new cluster (files are never overwritten)");
  init_cmd->add_option("--replicas", init.replicas, "Number of replicas, n = 3f + 1 tolerates f faults")
      ->required()
      ->check(CLI::Range(1u, 100u));
  init_cmd->add_option("--base-port", init.base_port,
                       "HTTP port of replica 0; replica i uses base+i for HTTP and base+100+i between replicas")
      ->required()
      ->check(CLI::Range(1u, 65535u));
  init_cmd->add_option("--out", init.dir, "Folder to write the files to (created if missing)")->required();
  init_cmd->add_option("--host", init.host, "Host name or address of every replica")->capture_default_str();
  init_cmd->add_option("--cluster-id", init.cluster_id, "Cluster id; the same in every replica's config")
      ->capture_default_str();

  DevClusterOptions dev;
  uint32_t dev_base_port = dev.base_port;
  CLI::App* dev_cmd = app.add_subcommand(
      "dev-cluster", "Run the 5 dev-mode replicas (PBFT_DEV=<i> kv-node) here; Ctrl-C stops them all");
  dev_cmd->add_option("--replicas", dev.replicas, "Number of replicas (dev mode has exactly 5)")
      ->capture_default_str();
  dev_cmd->add_option("--base-port", dev_base_port, "HTTP port of replica 0 (PBFT_DEV_BASE_PORT)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65535u));
  dev_cmd->add_option("--data-dir", dev.data_dir, "Replica i keeps its data in DIR/replica-<i>")
      ->capture_default_str();
  dev_cmd->add_option("--node", dev.node_path, "The kv-node binary (default: the one next to kvctl)");
  dev_cmd->add_option("--stop-timeout-ms", dev.stop_timeout_ms,
                      "After Ctrl-C, how long replicas get to exit before SIGKILL")
      ->capture_default_str();

  StatusOptions status;
  StatusCommands status_cmds = add_status_commands(app, status);

  KvCommands kv;
  kv.add_to(app);
  SnapshotCommands snapshot;
  snapshot.add_to(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err);
  }

  try {
    if (keygen_cmd->parsed()) return keygen(keygen_out, out, err);
    if (init_cmd->parsed()) return config_init(init, out, err);
    if (status_cmds.status->parsed()) return run_status(status, out, err);
    if (status_cmds.watch->parsed()) return run_watch_cluster(status, out, err);
    int code = 0;
    if (kv.run(std::cin, out, err, code)) return code;
    if (snapshot.run(kv.endpoints, kv.config, out, err, code)) return code;
    if (dev_cmd->parsed()) {
      dev.base_port = static_cast<uint16_t>(dev_base_port);
      return run_dev_cluster(dev, out, err);
    }
  } catch (const std::exception& e) {
    err << "kvctl: " << e.what() << "\n";
    return 1;
  }
  err << app.help();
  return 2;
}

int kvctl_main(int argc, char** argv) { return kvctl_main(argc, argv, std::cout, std::cerr); }

}  // namespace pbft::client
