#include "node/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/temp_dir.h"
#include "kv/operation.h"

namespace pbft::node {
namespace {

namespace fs = std::filesystem;

using pbft::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Replaces the first match of `pattern` in the file.
void edit(const std::string& path, const std::string& pattern, const std::string& replacement) {
  std::string text = read_text(path);
  std::string edited = std::regex_replace(text, std::regex(pattern), replacement,
                                          std::regex_constants::format_first_only);
  ASSERT_NE(text, edited) << "pattern not found: " << pattern;
  write_text(path, edited);
}

// The message of the ConfigError that `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

#define EXPECT_ERROR_STARTS(expr, prefix)                                           \
  do {                                                                              \
    std::string message_ = error_of([&] { (void)(expr); });                         \
    EXPECT_TRUE(starts_with(message_, prefix)) << "message: \"" << message_ << "\""; \
  } while (0)

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { paths_ = write_cluster_config(dir_.path().string(), 4, 21000, "127.0.0.1", 7); }
  std::string toml(int i) const { return dir_.file("replica-" + std::to_string(i) + ".toml"); }
  std::string key(int i) const { return dir_.file("replica-" + std::to_string(i) + ".key"); }

  TempDir dir_;
  std::vector<std::string> paths_;
};

TEST_F(ClusterTest, WritesEveryFileAndEachLoads) {
  ASSERT_EQ(paths_.size(), 8u);
  std::set<std::string> written(paths_.begin(), paths_.end());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(written.count(toml(i))) << toml(i);
    EXPECT_TRUE(written.count(key(i))) << key(i);
  }

  std::vector<crypto::PublicKey> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(read_key_file(key(i)).public_key);

  for (int i = 0; i < 4; ++i) {
    NodeConfig c = load_config_file(toml(i));
    EXPECT_EQ(c.cluster_id, 7u);
    EXPECT_EQ(c.self, static_cast<ReplicaId>(i));
    ASSERT_EQ(c.members.size(), 4u);
    for (int j = 0; j < 4; ++j) {
      EXPECT_EQ(c.members[j].id, static_cast<ReplicaId>(j));
      EXPECT_EQ(c.members[j].host, "127.0.0.1");
      EXPECT_EQ(c.members[j].http_port, 21000 + j);
      EXPECT_EQ(c.members[j].replica_port, 21100 + j);
      EXPECT_EQ(c.members[j].public_key, keys[j]);
    }
    // Relative paths are resolved against the config file's folder.
    EXPECT_EQ(fs::path(c.key_file), fs::absolute(key(i)).lexically_normal());
    EXPECT_EQ(fs::path(c.data_dir),
              fs::absolute(dir_.path() / "data" / ("replica-" + std::to_string(i))).lexically_normal());
    EXPECT_EQ(c.http_listen.host, "127.0.0.1");
    EXPECT_EQ(c.http_listen.port, 21000 + i);
    EXPECT_EQ(c.replica_listen.port, 21100 + i);
    EXPECT_EQ(c.protocol.replica_count, 4u);
    EXPECT_EQ(c.protocol.checkpoint_interval, 10u);
    EXPECT_EQ(c.protocol.window_size, 40u);
    EXPECT_EQ(c.protocol.view_change_timeout_ticks, 500u);
    EXPECT_EQ(c.protocol.status_interval_ticks, 10u);
    EXPECT_FALSE(c.dev_mode);
    EXPECT_FALSE(c.dev_key.has_value());
  }
}

TEST_F(ClusterTest, KeysAreDistinctAndFilesPrivate) {
  std::set<std::string> keys;
  for (int i = 0; i < 4; ++i) {
    keys.insert(public_key_hex(read_key_file(key(i)).public_key));
    struct stat st {};
    ASSERT_EQ(::stat(key(i).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key(i);
  }
  EXPECT_EQ(keys.size(), 4u);
}

TEST_F(ClusterTest, RefusesToOverwrite) {
  std::string before = read_text(key(0));
  EXPECT_ERROR_STARTS(write_cluster_config(dir_.path().string(), 4, 21000, "127.0.0.1", 7), toml(0));
  EXPECT_EQ(read_text(key(0)), before);
  // One existing file is enough; nothing else is written.
  TempDir other;
  write_text(other.file("replica-2.key"), "x");
  EXPECT_ERROR_STARTS(write_cluster_config(other.path().string(), 4, 21000, "127.0.0.1", 7),
                      other.file("replica-2.key"));
  EXPECT_FALSE(fs::exists(other.file("replica-0.toml")));
}

TEST(WriteClusterConfig, RejectsBadArguments) {
  TempDir dir;
  EXPECT_ERROR_STARTS(write_cluster_config(dir.path().string(), 0, 21000, "127.0.0.1", 1), "replicas:");
  EXPECT_ERROR_STARTS(write_cluster_config(dir.path().string(), 101, 21000, "127.0.0.1", 1), "replicas:");
  EXPECT_ERROR_STARTS(write_cluster_config(dir.path().string(), 4, 65500, "127.0.0.1", 1), "base_port:");
  EXPECT_ERROR_STARTS(write_cluster_config(dir.path().string(), 4, 0, "127.0.0.1", 1), "base_port:");
  EXPECT_ERROR_STARTS(write_cluster_config(dir.path().string(), 4, 21000, "a b", 1), "host:");
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST_F(ClusterTest, ParseErrorNamesFileAndLine) {
  std::string text = read_text(toml(1));
  write_text(toml(1), "cluster_id = 7\n[node\nid = 1\n");
  std::string message = error_of([&] { load_config_file(toml(1)); });
  EXPECT_TRUE(starts_with(message, toml(1) + ": line 2")) << message;
}

TEST_F(ClusterTest, MissingConfigFile) {
  EXPECT_ERROR_STARTS(load_config_file(dir_.file("nope.toml")), dir_.file("nope.toml") + ": cannot open");
}

TEST_F(ClusterTest, UnknownKeysAreNamed) {
  edit(toml(0), "\\[protocol\\]\n", "[protocol]\nwindow_sise = 40\n");
  std::string message = error_of([&] { load_config_file(toml(0)); });
  EXPECT_TRUE(starts_with(message, "protocol.window_sise: unknown setting")) << message;

  edit(toml(1), "public_key = ", "publik = 1\npublic_key = ");
  edit(toml(1), "cluster_id = 7\n", "cluster_id = 7\nclusterid = 8\n");
  message = error_of([&] { load_config_file(toml(1)); });
  EXPECT_TRUE(starts_with(message, "clusterid: unknown setting")) << message;
  EXPECT_NE(message.find("replicas[0].publik: unknown setting"), std::string::npos) << message;
}

TEST_F(ClusterTest, BadPublicKeyHex) {
  std::string text = read_text(toml(0));
  // The third [[replicas]] entry: replace its key with something too short.
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) pos = text.find("public_key = \"", pos + 1);
  text.replace(pos, std::string("public_key = \"").size() + 64, "public_key = \"abcd");
  write_text(toml(0), text);
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "replicas[2].public_key: expected 64 hex digits");

  edit(toml(1), "public_key = \"[0-9a-f]", "public_key = \"g");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "replicas[0].public_key: expected 64 hex digits");
}

TEST_F(ClusterTest, KeyFileMismatch) {
  fs::remove(key(0));
  fs::copy_file(key(1), key(0));
  std::string message = error_of([&] { load_config_file(toml(0)); });
  EXPECT_TRUE(starts_with(message, "node.key_file: ")) << message;
  EXPECT_NE(message.find("replicas[0].public_key"), std::string::npos) << message;
}

TEST_F(ClusterTest, MissingOrMalformedKeyFile) {
  fs::remove(key(0));
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "node.key_file: " + key(0) + ": cannot open");
  write_text(key(0), "not hex\n");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "node.key_file: " + key(0) + ": not a key file");
}

TEST_F(ClusterTest, BadWindowCheckpointCombination) {
  edit(toml(0), "window_size = 40", "window_size = 45");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)),
                      "protocol.window_size: must be a multiple of checkpoint_interval");
  edit(toml(1), "window_size = 40", "window_size = 10");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "protocol.window_size: must be at least twice");
  edit(toml(2), "checkpoint_interval = 10", "checkpoint_interval = 0");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "protocol.checkpoint_interval: must be at least 1");
}

TEST_F(ClusterTest, BadPorts) {
  edit(toml(0), "http_port = 21001", "http_port = 70000");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "replicas[1].http_port: 70000 is not a port");
  edit(toml(1), "replica_port = 21100", "replica_port = 0");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "replicas[0].replica_port: 0 is not a port");
  edit(toml(2), "replica_port = 21103", "replica_port = 21102");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "replicas[3].replica_port: 127.0.0.1:21102 is already used");
  edit(toml(3), "# http_listen = \"0.0.0.0:21003\"", "http_listen = \"0.0.0.0:99999\"");
  EXPECT_ERROR_STARTS(load_config_file(toml(3)), "node.http_listen: port must be");
}

TEST_F(ClusterTest, TypeErrorsAndMissingSettings) {
  edit(toml(0), "tick_ms = 10", "tick_ms = \"10\"");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "protocol.tick_ms: expected an integer, got a string");
  edit(toml(1), "batch_requests_max = 256", "batch_requests_max = -1");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "protocol.batch_requests_max: must not be negative");
  edit(toml(2), "cluster_id = 7\n", "");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "cluster_id: missing");
  edit(toml(3), "key_file = [^\n]*\n", "");
  EXPECT_ERROR_STARTS(load_config_file(toml(3)), "node.key_file: missing");
}

TEST_F(ClusterTest, ReplicaIdsInOrder) {
  edit(toml(0), "id = 2\n", "id = 3\n");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "replicas[2].id: expected 2, got 3");
}

TEST_F(ClusterTest, NodeIdNotAMember) {
  edit(toml(0), "\nid = 0\n", "\nid = 7\n");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "node.id: 7 is not a member");
}

TEST_F(ClusterTest, OptionalSettingsOverrideDefaults) {
  edit(toml(0), "# http_listen = \"0.0.0.0:21000\"", "http_listen = \"[::1]:8080\"");
  edit(toml(0), "data_dir = \"data/replica-0\"", "data_dir = \"/var/lib/pbft\"");
  edit(toml(0), "tick_ms = 10", "tick_ms = 7");
  edit(toml(0), "body_bytes_max = 1048576", "body_bytes_max = 5000");
  NodeConfig c = load_config_file(toml(0));
  EXPECT_EQ(c.http_listen.host, "::1");
  EXPECT_EQ(c.http_listen.port, 8080);
  EXPECT_EQ(c.data_dir, "/var/lib/pbft");
  EXPECT_EQ(c.tick_ms, 7u);
  EXPECT_EQ(c.protocol.view_change_timeout_ticks, 715u);  // ceil(5000 / 7)
  EXPECT_EQ(c.body_bytes_max, 5000u);
}

// --- environment overrides -------------------------------------------------

Getenv env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// Found by fuzz/config_fuzz: these limits used to load, and the API then
// ordered keys and values every replica's store refuses (answered 500), or
// an operation too large for a request, which stops the replica signing it.
TEST_F(ClusterTest, LimitsBeyondWhatTheClusterCarriesAreRefused) {
  edit(toml(0), "key_bytes_max = 65536", "key_bytes_max = 65537");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "limits.key_bytes_max: 65537 is over what the key-value store takes");
  edit(toml(1), "value_bytes_max = 1048576", "value_bytes_max = 4194304");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "limits.value_bytes_max: 4194304 is over");
  edit(toml(2), "body_bytes_max = 1048576", "body_bytes_max = 8388608");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "limits.body_bytes_max: 8388608 is over");
  NodeConfig c = load_config_file(toml(3));
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_BODY_BYTES_MAX", "3000000"}})),
                      "limits.body_bytes_max: 3000000 is over");
  edit(toml(3), "body_bytes_max = 1048576", "body_bytes_max = " + std::to_string(body_bytes_limit));
  EXPECT_EQ(load_config_file(toml(3)).body_bytes_max, body_bytes_limit);
}

TEST_F(ClusterTest, EnvOverrides) {
  NodeConfig c = load_config_file(toml(0));
  apply_env_overrides(c, env_of({{"PBFT_CLUSTER_ID", "99"},
                                 {"PBFT_DATA_DIR", "/tmp/elsewhere"},
                                 {"PBFT_HTTP_LISTEN", "0.0.0.0:8000"},
                                 {"PBFT_REPLICA_LISTEN", "[::]:8100"},
                                 {"PBFT_CHECKPOINT_INTERVAL", "20"},
                                 {"PBFT_WINDOW_SIZE", "60"},
                                 {"PBFT_VIEW_CHANGE_TIMEOUT_MS", "1001"},
                                 {"PBFT_BATCH_REQUESTS_MAX", "12"},
                                 {"PBFT_BATCH_REQUESTS_MIN", "3"},
                                 {"PBFT_TICK_MS", "5"},
                                 {"PBFT_BODY_BYTES_MAX", "4096"},
                                 {"PBFT_REQUEST_TIMEOUT_MS", "2500"},
                                 {"PBFT_REQUEST_BUNDLE_MAX", "4"},
                                 {"PBFT_LOG", "debug"}}));
  EXPECT_EQ(c.cluster_id, 99u);
  EXPECT_EQ(c.data_dir, "/tmp/elsewhere");
  EXPECT_EQ(c.http_listen.host, "0.0.0.0");
  EXPECT_EQ(c.http_listen.port, 8000);
  EXPECT_EQ(c.replica_listen.host, "::");
  EXPECT_EQ(c.replica_listen.port, 8100);
  EXPECT_EQ(c.protocol.checkpoint_interval, 20u);
  EXPECT_EQ(c.protocol.window_size, 60u);
  EXPECT_EQ(c.view_change_timeout_ms, 1001u);
  EXPECT_EQ(c.protocol.view_change_timeout_ticks, 201u);  // re-derived: ceil(1001 / 5)
  EXPECT_EQ(c.protocol.state_fetch_retry_ticks, 201u);
  EXPECT_EQ(c.protocol.status_interval_ticks, 20u);
  EXPECT_EQ(c.protocol.batch_requests_max, 12u);
  EXPECT_EQ(c.protocol.batch_requests_min, 3u);
  EXPECT_EQ(c.tick_ms, 5u);
  EXPECT_EQ(c.body_bytes_max, 4096u);
  EXPECT_EQ(c.request_timeout_ms, 2500u);
  EXPECT_EQ(c.request_bundle_max, 4u);
  EXPECT_EQ(c.log_filter, "debug");
}

TEST_F(ClusterTest, RequestBundleMaxMustFitABundlePath) {
  EXPECT_EQ(load_config_file(toml(0)).request_bundle_max, 32u);
  edit(toml(0), "request_bundle_max = 32", "request_bundle_max = 0");
  EXPECT_ERROR_STARTS(load_config_file(toml(0)), "limits.request_bundle_max: 0 is not 1..65536");
  edit(toml(1), "request_bundle_max = 32", "request_bundle_max = 65537");
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "limits.request_bundle_max: 65537 is not 1..65536");
  edit(toml(2), "request_bundle_max = 32", "request_bundle_max = 1");
  EXPECT_EQ(load_config_file(toml(2)).request_bundle_max, 1u);
}

TEST_F(ClusterTest, EnvNodeIdAndKeyFile) {
  NodeConfig c = load_config_file(toml(0));
  apply_env_overrides(c, env_of({{"PBFT_NODE_ID", "2"}, {"PBFT_KEY_FILE", key(2)}}));
  EXPECT_EQ(c.self, 2u);
  EXPECT_EQ(c.key_file, key(2));
  EXPECT_EQ(c.http_listen.port, 21002);  // defaults follow the member
  EXPECT_EQ(c.replica_listen.port, 21102);

  // Another id without its key is caught.
  NodeConfig d = load_config_file(toml(0));
  EXPECT_ERROR_STARTS(apply_env_overrides(d, env_of({{"PBFT_NODE_ID", "1"}})), "node.key_file: ");
  NodeConfig e = load_config_file(toml(0));
  EXPECT_ERROR_STARTS(apply_env_overrides(e, env_of({{"PBFT_NODE_ID", "9"}})), "node.id: 9 is not a member");
}

TEST_F(ClusterTest, EnvBadValues) {
  NodeConfig c = load_config_file(toml(0));
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_WINDOW_SIZE", "12x"}})), "PBFT_WINDOW_SIZE: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_TICK_MS", "-1"}})), "PBFT_TICK_MS: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_TICK_MS", " 1"}})), "PBFT_TICK_MS: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_TICK_MS", "4294967296"}})),
                      "PBFT_TICK_MS: 4294967296 is too large");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_TICK_MS", "0"}})), "protocol.tick_ms: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_HTTP_LISTEN", "localhost"}})), "PBFT_HTTP_LISTEN: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_HTTP_LISTEN", "localhost:80x"}})),
                      "PBFT_HTTP_LISTEN: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_REPLICA_LISTEN", ":10100"}})),
                      "PBFT_REPLICA_LISTEN: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_REPLICA_LISTEN", "::1:10100"}})),
                      "PBFT_REPLICA_LISTEN: ");
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_WINDOW_SIZE", "45"}})), "protocol.window_size: ");
}

TEST_F(ClusterTest, EnvUnsetOrEmptyChangesNothing) {
  NodeConfig c = load_config_file(toml(3));
  apply_env_overrides(c, env_of({{"PBFT_WINDOW_SIZE", ""}}));
  EXPECT_EQ(c.protocol.window_size, 40u);
  EXPECT_EQ(c.log_filter, "info");
}

// --- key files ---------------------------------------------------------------

TEST(KeyFile, RoundTripWithMode0600) {
  TempDir dir;
  crypto::KeyPair key = crypto::generate_key_pair();
  std::string path = dir.file("k.key");
  ::umask(022);
  write_key_file(path, key);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = read_text(path);
  EXPECT_EQ(text.size(), 65u);
  EXPECT_EQ(text.back(), '\n');
  crypto::KeyPair back = read_key_file(path);
  EXPECT_EQ(back.public_key, key.public_key);
  EXPECT_EQ(back.secret_key, key.secret_key);

  // An existing, looser file is tightened when overwritten.
  std::string loose = dir.file("loose.key");
  write_text(loose, "old");
  ::chmod(loose.c_str(), 0644);
  write_key_file(loose, key);
  ASSERT_EQ(::stat(loose.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // No trailing newline, upper case: still a key.
  std::string upper = text.substr(0, 64);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  write_text(path, upper);
  EXPECT_EQ(read_key_file(path).public_key, key.public_key);
}

TEST(KeyFile, RejectsMalformed) {
  TempDir dir;
  std::string path = dir.file("k.key");
  EXPECT_ERROR_STARTS(read_key_file(path), path + ": cannot open");
  for (std::string bad : {std::string(""), std::string(63, 'a') + "\n", std::string(65, 'a'),
                          std::string(64, 'a') + "\n\n", std::string(64, 'z') + "\n", std::string(128, 'a')}) {
    write_text(path, bad);
    EXPECT_ERROR_STARTS(read_key_file(path), path + ": not a key file");
  }
  EXPECT_ERROR_STARTS(write_key_file(dir.file("missing/k.key"), crypto::generate_key_pair()),
                      dir.file("missing/k.key") + ": cannot create");
}

TEST(PublicKeyHex, ParsesStrictly) {
  crypto::PublicKey key = crypto::generate_key_pair().public_key;
  std::string hex = public_key_hex(key);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(parse_public_key_hex(hex), key);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(parse_public_key_hex(upper), key);
  EXPECT_FALSE(parse_public_key_hex(hex.substr(1)));
  EXPECT_FALSE(parse_public_key_hex(hex + "0"));
  EXPECT_FALSE(parse_public_key_hex(" " + hex.substr(1)));
}

// --- dev mode ------------------------------------------------------------------

TEST(DevConfig, FiveReplicasWithDistinctFixedKeys) {
  std::set<std::string> keys;
  for (ReplicaId i = 0; i < dev_replica_count; ++i) {
    NodeConfig c = dev_config(i, dev_base_port_default, "/tmp/dev-data");
    EXPECT_EQ(c.self, i);
    EXPECT_TRUE(c.dev_mode);
    ASSERT_TRUE(c.dev_key.has_value());
    EXPECT_EQ(c.dev_key->public_key, c.members[i].public_key);
    EXPECT_EQ(c.dev_key->public_key, dev_key_pair(i).public_key);
    keys.insert(public_key_hex(c.dev_key->public_key));
    ASSERT_EQ(c.members.size(), 5u);
    for (ReplicaId j = 0; j < 5; ++j) {
      EXPECT_EQ(c.members[j].host, "127.0.0.1");
      EXPECT_EQ(c.members[j].http_port, 10000 + j);
      EXPECT_EQ(c.members[j].replica_port, 10100 + j);
    }
    EXPECT_EQ(c.http_listen.host, "127.0.0.1");
    EXPECT_EQ(c.http_listen.port, 10000 + i);
    EXPECT_EQ(c.replica_listen.port, 10100 + i);
    EXPECT_EQ(c.data_dir, "/tmp/dev-data");
    EXPECT_EQ(c.view_change_timeout_ms, 5000u);
    EXPECT_EQ(c.protocol.view_change_timeout_ticks, 500u);
    EXPECT_EQ(c.protocol.checkpoint_interval, 10u);
    EXPECT_EQ(c.protocol.window_size, 40u);
    EXPECT_EQ(c.protocol.replica_count, 5u);
    EXPECT_EQ(c.tick_ms, 10u);
  }
  EXPECT_EQ(keys.size(), 5u);
}

TEST(DevConfig, KeysComeFromThePublishedSeed) {
  std::array<uint8_t, crypto::seed_size> seed{};
  std::string text = "pbft-kv dev key, NOT SECRET #3";
  std::copy(text.begin(), text.end(), seed.begin());
  EXPECT_EQ(dev_key_pair(3).public_key, crypto::key_pair_from_seed(seed).public_key);
  // Stable across builds: the keys are part of the dev-mode contract.
  EXPECT_EQ(dev_key_pair(0).public_key, dev_key_pair(0).public_key);
}

TEST(DevConfig, BasePortMoves) {
  NodeConfig c = dev_config(4, 20000, "d");
  EXPECT_EQ(c.http_listen.port, 20004);
  EXPECT_EQ(c.replica_listen.port, 20104);
  EXPECT_EQ(c.members[0].http_port, 20000);
  EXPECT_EQ(c.members[0].replica_port, 20100);
}

TEST(DevConfig, RejectsBadIdsAndPorts) {
  EXPECT_ERROR_STARTS(dev_config(5, 10000, "d"), "PBFT_DEV: 5 is not a dev replica id");
  EXPECT_ERROR_STARTS(dev_key_pair(9), "PBFT_DEV: ");
  EXPECT_ERROR_STARTS(dev_config(0, 65500, "d"), "PBFT_DEV_BASE_PORT: ");
  EXPECT_ERROR_STARTS(dev_config(0, 0, "d"), "PBFT_DEV_BASE_PORT: ");
  EXPECT_ERROR_STARTS(dev_config(0, 10000, ""), "node.data_dir: ");
}

TEST(DevConfig, EnvOverridesApply) {
  NodeConfig c = dev_config(1, 10000, "data/replica-1");
  apply_env_overrides(c, env_of({{"PBFT_DATA_DIR", "/tmp/x"}, {"PBFT_LOG", "debug"}}));
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.log_filter, "debug");
  EXPECT_TRUE(c.dev_mode);
  // The dev key belongs to replica 1; claiming another id is caught.
  EXPECT_ERROR_STARTS(apply_env_overrides(c, env_of({{"PBFT_NODE_ID", "2"}})), "node.key_file: ");
}

// --- derived ticks ---------------------------------------------------------------

TEST(DeriveTicks, RoundsUpAndAtLeastOne) {
  NodeConfig c = dev_config(0, 10000, "d");
  struct Case {
    uint32_t tick_ms, view_change_ms, status_ms, view_change_ticks, status_ticks;
  };
  for (Case k : {Case{10, 5000, 100, 500, 10}, Case{10, 5001, 101, 501, 11}, Case{10, 5009, 99, 501, 10},
                 Case{3, 10, 1, 4, 1}, Case{1000, 1, 1, 1, 1}, Case{7, 4294967295u, 4294967295u, 613566757, 613566757},
                 Case{1, 4294967295u, 1, 4294967295u, 1}}) {
    c.tick_ms = k.tick_ms;
    c.view_change_timeout_ms = k.view_change_ms;
    c.status_interval_ms = k.status_ms;
    derive_ticks(c);
    EXPECT_EQ(c.protocol.view_change_timeout_ticks, k.view_change_ticks) << k.tick_ms << " " << k.view_change_ms;
    EXPECT_EQ(c.protocol.state_fetch_retry_ticks, k.view_change_ticks);
    EXPECT_EQ(c.protocol.status_interval_ticks, k.status_ticks) << k.tick_ms << " " << k.status_ms;
  }
  c.members.pop_back();
  derive_ticks(c);
  EXPECT_EQ(c.protocol.replica_count, 4u);
  c.tick_ms = 0;
  EXPECT_ERROR_STARTS(derive_ticks(c), "protocol.tick_ms: ");
}

TEST(Validate, ReportsCoreProblemsUnderProtocol) {
  NodeConfig c = dev_config(0, 10000, "d");
  c.protocol.pipeline_depth_max = 0;
  EXPECT_ERROR_STARTS(validate(c), "protocol.pipeline_depth_max: must be at least 1");
  c = dev_config(0, 10000, "d");
  c.protocol.replica_count = 4;
  EXPECT_ERROR_STARTS(validate(c), "protocol.replica_count: ");
  c = dev_config(0, 10000, "d");
  c.members[3].public_key = c.members[1].public_key;
  EXPECT_ERROR_STARTS(validate(c), "replicas[3].public_key: same key as replicas[1]");
}


TEST_F(ClusterTest, MisbehaviourIsRefusedUnlessAllowed) {
  EXPECT_EQ(load_config_file(toml(2)).misbehave, Misbehaviour::none);
  write_text(toml(2), read_text(toml(2)) + "\n[testing]\nmisbehave = \"wrong-results\"\n");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "testing.misbehave: wrong-results makes this replica lie");
  write_text(toml(2), read_text(toml(2)) + "allow_misbehaviour = true\n");
  NodeConfig c = load_config_file(toml(2));
  EXPECT_EQ(c.misbehave, Misbehaviour::wrong_results);
  EXPECT_TRUE(c.allow_misbehaviour);
  // Allowing is not enough on its own, and "false" is no permission.
  edit(toml(2), "allow_misbehaviour = true", "allow_misbehaviour = false");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "testing.misbehave:");
  edit(toml(2), "allow_misbehaviour = false", "allow_misbehaviour = \"yes\"");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "testing.allow_misbehaviour");
  edit(toml(2), "wrong-results", "lie-a-bit");
  EXPECT_ERROR_STARTS(load_config_file(toml(2)), "testing.misbehave");
}

TEST(Misbehaviour, EnvironmentNeedsPermissionToo) {
  NodeConfig c = dev_config(1, 10000, "data");
  std::map<std::string, std::string> env{{"PBFT_MISBEHAVE", "wrong-results"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_ERROR_STARTS(apply_env_overrides(c, getenv), "testing.misbehave");
  EXPECT_EQ(c.misbehave, Misbehaviour::none);
  env["PBFT_ALLOW_MISBEHAVIOUR"] = "1";
  apply_env_overrides(c, getenv);
  EXPECT_EQ(c.misbehave, Misbehaviour::wrong_results);
}

TEST(Misbehaviour, NamesRoundTripAndForgedResultsDiffer) {
  for (const auto& [mode, name] : misbehaviour_names) {
    EXPECT_EQ(parse_misbehaviour(name), mode);
    EXPECT_EQ(to_string(mode), name);
  }
  EXPECT_FALSE(parse_misbehaviour("Wrong-Results").has_value());
  kv::Result found{kv::ResultStatus::ok, "v", 5, kv::ResultForm::record, 4};
  kv::Result absent{kv::ResultStatus::not_found, std::nullopt, 6, kv::ResultForm::record, 0};
  kv::Result range{kv::ResultStatus::ok, std::nullopt, 7, kv::ResultForm::range};
  kv::Result put{kv::ResultStatus::ok, std::nullopt, 8, kv::ResultForm::plain};
  for (const kv::Result& r : {found, absent, range, put}) {
    Bytes honest = kv::encode_result(r);
    Bytes forged = forge_result(honest);
    EXPECT_NE(forged, honest);
    EXPECT_TRUE(kv::decode_result(forged).has_value());
  }
  EXPECT_EQ(kv::decode_result(forge_result(kv::encode_result(found)))->value, "forged:v");
  EXPECT_NE(forge_result(Bytes{1, 2}), (Bytes{1, 2}));
}
}  // namespace
}  // namespace pbft::node

namespace pbft::node {
namespace {

// --- binary-protocol clients ----------------------------------------------------

TEST_F(ClusterTest, ClientPortsAndTheClientListAreRead) {
  NodeConfig c = load_config_file(toml(2));
  EXPECT_EQ(c.members[0].client_port, 21200);
  EXPECT_EQ(c.members[3].client_port, 21203);
  EXPECT_EQ(c.client_listen.port, 21202) << "defaults to this member's client port";
  EXPECT_TRUE(c.clients.empty());
  const crypto::KeyPair k = crypto::generate_key_pair();
  std::ofstream(toml(2), std::ios::app) << "\n[[clients]]\nid = 42\npublic_key = \"" << public_key_hex(k.public_key)
                                        << "\"\n";
  c = load_config_file(toml(2));
  ASSERT_EQ(c.clients.size(), 1u);
  EXPECT_EQ(c.clients[0].id, 42u);
  EXPECT_EQ(c.clients[0].public_key, k.public_key);
}

TEST_F(ClusterTest, BadClientEntriesAreRefusedByName) {
  const std::string hex = public_key_hex(crypto::generate_key_pair().public_key);
  const std::string base = read_text(toml(1));
  auto with = [&](const std::string& extra) {
    write_text(toml(1), base + "\n" + extra);
    return error_of([&] { load_config_file(toml(1)); });
  };
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 0\npublic_key = \"" + hex + "\"\n"), "clients[0].id: 0 is not a client id"));
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 4294967296\npublic_key = \"" + hex + "\"\n"), "clients[0].id: "));
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 3\npublic_key = \"" + hex + "\"\n[[clients]]\nid = 3\npublic_key = \"" +
                               hex + "\"\n"),
                          "clients[1].id: same id as clients[0]"));
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 3\npublic_key = \"zz\"\n"), "clients[0].public_key: "));
  const std::string replica_key = public_key_hex(load_config_file(toml(0)).members[2].public_key);
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 3\npublic_key = \"" + replica_key + "\"\n"),
                          "clients[0].public_key: same key as replicas[2]"));
  EXPECT_TRUE(starts_with(with("[[clients]]\nid = 3\nkey = \"" + hex + "\"\n"), "clients[0].key: unknown setting"));
  write_text(toml(1), base);
  edit(toml(1), "client_port = 21203", "client_port = 21003");  // replica 3's HTTP port
  EXPECT_ERROR_STARTS(load_config_file(toml(1)), "replicas[3].client_port: 127.0.0.1:21003 is already used");
}

TEST_F(ClusterTest, WithoutAClientPortThereIsNoClientListener) {
  edit(toml(0), "client_port = 21200\n", "");
  NodeConfig c = load_config_file(toml(0));
  EXPECT_EQ(c.members[0].client_port, 0);
  EXPECT_EQ(c.client_listen.port, 0);
}

TEST(DevConfig, ServesDevClientsOnBasePlus200) {
  NodeConfig c = dev_config(3, 20000, "d");
  EXPECT_EQ(c.client_listen.port, 20203);
  EXPECT_EQ(c.members[1].client_port, 20201);
  ASSERT_EQ(c.clients.size(), dev_client_count);
  std::set<crypto::PublicKey> keys;
  for (const ClientMember& m : c.clients) {
    EXPECT_EQ(m.public_key, dev_client_key_pair(m.id).public_key);
    keys.insert(m.public_key);
  }
  EXPECT_EQ(keys.size(), dev_client_count);
  EXPECT_NE(dev_client_key_pair(1).public_key, dev_key_pair(1).public_key);
  EXPECT_ERROR_STARTS(dev_client_key_pair(0), "0 is not a dev client id");
  EXPECT_ERROR_STARTS(dev_client_key_pair(dev_client_count + 1), "65 is not a dev client id");
  EXPECT_ERROR_STARTS(dev_config(0, 65535 - 203, "d"), "PBFT_DEV_BASE_PORT: ");
}

}  // namespace
}  // namespace pbft::node
