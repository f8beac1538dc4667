// kv-node: one pbft-kv replica.
//
//   kv-node --config replica-0.toml      a configured cluster member
//   PBFT_DEV=0 kv-node                   dev mode: built-in 5-replica cluster
//   --in-memory                          keep nothing on disk (storage.engine = memory)
//
// Dev mode: PBFT_DEV=<0..4>, PBFT_DEV_BASE_PORT (default 10000),
// PBFT_DATA_DIR (default data/replica-<i>). PBFT_LOG sets the log filter.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "node/config.h"
#include "node/logging.h"
#include "node/node.h"

namespace {

int usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: kv-node [--in-memory] --config FILE\n"
               "       PBFT_DEV=<0..4> kv-node [--in-memory]  (built-in dev cluster; keys are NOT secret)\n"
               "--in-memory: keep nothing on disk; a restarted replica starts empty\n"
               "environment: PBFT_LOG=info,core=debug  PBFT_DEV_BASE_PORT  PBFT_DATA_DIR  and the\n"
               "overrides listed in the README (PBFT_NODE_ID, PBFT_HTTP_LISTEN, ...)\n");
  return code;
}

// A whole number in [0, max], or -1.
long parse_index(const char* text, long max) {
  if (text == nullptr || *text == '\0') return -1;
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (*end != '\0' || v < 0 || v > max) return -1;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pbft;
  std::string config_path;
  bool in_memory = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return usage(0);
    if (arg == "--in-memory") {
      in_memory = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "kv-node: unknown argument '%s'\n", arg.c_str());
      return usage(2);
    }
  }

  node::NodeConfig config;
  try {
    if (const char* dev = std::getenv("PBFT_DEV"); dev != nullptr && config_path.empty()) {
      long id = parse_index(dev, node::dev_replica_count - 1);
      if (id < 0) {
        std::fprintf(stderr, "kv-node: PBFT_DEV must be a replica id from 0 to %u, got '%s'\n",
                     node::dev_replica_count - 1, dev);
        return 2;
      }
      long base = node::dev_base_port_default;
      if (const char* b = std::getenv("PBFT_DEV_BASE_PORT")) {
        base = parse_index(b, 65535 - 200);
        if (base < 1) {
          std::fprintf(stderr, "kv-node: PBFT_DEV_BASE_PORT must be a port number, got '%s'\n", b);
          return 2;
        }
      }
      std::string data_dir = "data/replica-" + std::to_string(id);
      if (const char* d = std::getenv("PBFT_DATA_DIR"); d != nullptr && *d != '\0') data_dir = d;
      config = node::dev_config(static_cast<ReplicaId>(id), static_cast<uint16_t>(base), data_dir);
    } else if (!config_path.empty()) {
      config = node::load_config_file(config_path);
    } else {
      return usage(2);
    }
    node::apply_env_overrides(config, [](const char* name) { return std::getenv(name); });
    if (in_memory) config.storage_engine = node::StorageEngine::memory;
    node::init_logging(config.log_filter);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv-node: %s\n", e.what());
    return 2;
  }

  auto log = node::logger("node");
  if (config.dev_mode) {
    log->warn("DEV MODE: replica {} runs with the built-in dev keys, which are PUBLIC and NOT "
              "SECRET. Never use dev mode for data that matters.",
              config.self);
  }
  if (config.misbehave != node::Misbehaviour::none) {
    for (int i = 0; i < 3; ++i) {
      log->critical("TEST-ONLY BYZANTINE MODE '{}': replica {} deliberately misbehaves "
                    "(testing.misbehave). Never run this outside a test.",
                    node::to_string(config.misbehave), config.self);
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    log->error("cannot create data folder {}: {}", config.data_dir, ec.message());
    return 1;
  }

  try {
    boost::asio::io_context io(1);
    node::Node node(io, config);
    node.start();
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& error, int signal) {
      if (error) return;
      log->info("{}: shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
      node.stop();
      io.stop();
    });
    io.run();
  } catch (const std::system_error& e) {
    log->error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
  log->info("stopped");
  return 0;
}
