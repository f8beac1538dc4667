// The TOML config parser and the PBFT_* environment overrides. The input is
// a config file's text, optionally followed by a line "#--env--" and
// NAME=VALUE lines that play the environment. Every problem must come out
// as a ConfigError (no other exception, no crash); a config that loads is
// consistent.
//
// The key file is the one thing read from disk: whatever path the input
// names, the harness points node.key_file at a key file of its own (replica
// 0's dev key), so that the fuzzer cannot make the parser open arbitrary
// files (a FIFO would hang it) and validation still runs to the end.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "fuzz_check.h"
#include "kv/operation.h"
#include "node/config.h"

using namespace pbft;

namespace {

const std::string& key_path() {
  static const std::string path = [] {
    char dir[] = "/tmp/pbft-config-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != nullptr, "a temporary folder");
    const std::string p = std::string(dir) + "/replica-0.key";
    node::write_key_file(p, node::dev_key_pair(0));
    return p;
  }();
  return path;
}

void check_consistent(const node::NodeConfig& c) {
  FUZZ_CHECK(std::string(c.protocol.validate()).empty(), "a loaded config has valid protocol settings");
  FUZZ_CHECK(c.protocol.replica_count == c.members.size(), "replica_count matches the members");
  FUZZ_CHECK(c.self < c.members.size(), "this replica is a member");
  FUZZ_CHECK(c.protocol.view_change_timeout_ticks >= 1 && c.protocol.status_interval_ticks >= 1,
             "tick counts are at least 1");
  FUZZ_CHECK(c.tick_ms >= 1 && !c.data_dir.empty(), "tick and data folder set");
  // The HTTP API takes keys and values up to these limits and orders them:
  // the state machine (and the wire) must be able to carry and run them.
  FUZZ_CHECK(c.key_bytes_max <= kv::key_bytes_max && c.value_bytes_max <= kv::value_bytes_max,
             "the API's limits are within what the state machine executes");
  FUZZ_CHECK(c.body_bytes_max + 4096 <= wire::operation_bytes_max,
             "what a body becomes fits a request on the wire");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> env;
  if (size_t marker = text.find("#--env--\n"); marker != std::string::npos) {
    std::string rest = text.substr(marker + 9);
    text.resize(marker);
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t end = rest.find('\n', pos);
      if (end == std::string::npos) end = rest.size();
      const std::string line = rest.substr(pos, end - pos);
      pos = end + 1;
      const size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      // PBFT_KEY_FILE would name a file to open: see the comment at the top.
      if (line.compare(0, eq, "PBFT_KEY_FILE") == 0) continue;
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }

  node::NodeConfig config;
  try {
    config = node::parse_config_text(text, "/fuzz/replica-0.toml");
  } catch (const node::ConfigError& e) {
    FUZZ_CHECK(*e.what() != '\0', "a config error says what is wrong");
    return 0;
  } catch (...) {
    FUZZ_CHECK(false, "the parser throws nothing but ConfigError");
  }
  config.key_file = key_path();
  try {
    node::validate(config);
    check_consistent(config);
  } catch (const node::ConfigError& e) {
    FUZZ_CHECK(*e.what() != '\0', "a config error says what is wrong");
    if (env.empty()) return 0;
  } catch (...) {
    FUZZ_CHECK(false, "validation throws nothing but ConfigError");
  }
  if (env.empty()) return 0;

  const node::NodeConfig before = config;
  try {
    node::apply_env_overrides(config, [&](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
    check_consistent(config);
  } catch (const node::ConfigError& e) {
    FUZZ_CHECK(*e.what() != '\0', "a config error says what is wrong");
    FUZZ_CHECK(config.cluster_id == before.cluster_id && config.self == before.self &&
                   config.data_dir == before.data_dir && config.protocol.window_size == before.protocol.window_size,
               "a failed override leaves the config as it was");
  } catch (...) {
    FUZZ_CHECK(false, "the overrides throw nothing but ConfigError");
  }
  return 0;
}
