// The configuration of one kv-node: the cluster, this node, the protocol
// settings and the limits. Loaded from TOML (toml++), overridden by
// environment variables, or built in for dev mode (PBFT_DEV=<i>).
//
// TOML layout (every setting but the cluster and node identity has a
// default):
//
//   cluster_id = 1
//   [node]
//   id = 0
//   key_file = "replica-0.key"        # relative to the config file's folder
//   data_dir = "data/replica-0"       # relative to the config file's folder
//   http_listen = "127.0.0.1:10000"   # default: this member's host:http_port
//   replica_listen = "127.0.0.1:10100"# default: this member's host:replica_port
//   client_listen = "127.0.0.1:10200" # default: this member's host:client_port
//   [storage]
//   engine = "rocksdb"                # or "memory": nothing survives a restart
//   sync = "always"                   # always | batch | off (see SyncMode)
//   [protocol]
//   checkpoint_interval = 10
//   window_size = 40
//   pipeline_depth_max = 8
//   batch_requests_max = 256
//   batch_requests_min = 32
//   view_change_timeout_ms = 5000
//   status_interval_ms = 100
//   tick_ms = 10
//   [limits]
//   body_bytes_max = 1048576
//   key_bytes_max = 65536
//   value_bytes_max = 1048576
//   request_timeout_ms = 10000
//   request_retry_ms = 1000
//   request_bundle_max = 32           # gateway requests under one signature (1..65536)
//   client_connections_max = 1024     # binary-protocol clients connected at once
//   client_requests_per_second = 1000 # per client, over all its connections; then its connections wait
//   [[replicas]]                       # one per member, ids 0..n-1 in order
//   id = 0
//   host = "127.0.0.1"
//   replica_port = 10100
//   http_port = 10000
//   client_port = 10200                # optional: the binary client protocol
//   public_key = "<64 hex digits: Ed25519 public key>"
//   [[clients]]                        # clients of the binary protocol, the same list everywhere
//   id = 1                             # 1 .. 2^32-1 (common/client_id.h)
//   public_key = "<64 hex digits>"
//
// Environment overrides (each replaces one setting): PBFT_CLUSTER_ID,
// PBFT_NODE_ID, PBFT_KEY_FILE, PBFT_DATA_DIR, PBFT_HTTP_LISTEN,
// PBFT_REPLICA_LISTEN, PBFT_CLIENT_LISTEN, PBFT_CHECKPOINT_INTERVAL, PBFT_WINDOW_SIZE,
// PBFT_VIEW_CHANGE_TIMEOUT_MS, PBFT_BATCH_REQUESTS_MAX,
// PBFT_BATCH_REQUESTS_MIN, PBFT_TICK_MS,
// PBFT_BODY_BYTES_MAX, PBFT_REQUEST_TIMEOUT_MS, PBFT_REQUEST_BUNDLE_MAX, PBFT_STORAGE, PBFT_SYNC,
// PBFT_LOG (log filter).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/types.h"
#include "core/config.h"
#include "crypto/sodium_crypto.h"
#include "node/misbehaviour.h"
#include "wire/codec.h"

namespace pbft::node {

// A configuration problem; what() names the setting ("protocol.window_size: must be ...").
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Member {
  ReplicaId id = 0;
  std::string host = "127.0.0.1";
  uint16_t replica_port = 0;
  uint16_t http_port = 0;
  uint16_t client_port = 0;  // 0: serves no binary-protocol clients
  crypto::PublicKey public_key{};
};

// A client of the binary protocol (docs/API.md): every replica checks its
// requests' signatures against this key, so every replica lists it.
struct ClientMember {
  ClientId id = 0;
  crypto::PublicKey public_key{};
};

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

enum class StorageEngine { rocksdb, memory };

// When the replica's writes reach stable storage. Whatever the mode, a write
// is handed to the storage engine before any message that depends on it
// leaves, so a killed process loses nothing; the modes differ on a machine
// crash or power loss.
//   always: a write is fsynced before any message that depends on it
//           leaves. Writes share fsyncs (group commit, node_persist.cc):
//           one fsync covers every write made while the previous one ran.
//   batch:  the same as always (the name of the group-commit mode before
//           always became one; kept so that existing files still load).
//   off:    no fsync; the OS writes back when it likes. A power loss can
//           lose recent writes (and with them promises made to peers).
enum class SyncMode { always, batch, off };

// The largest limits.body_bytes_max: the operation a body of this size
// becomes (never longer than its JSON, plus a request id and a few length
// fields) fits a request on the wire.
inline constexpr uint64_t body_bytes_limit = wire::operation_bytes_max - 4096;

struct NodeConfig {
  uint64_t cluster_id = 1;
  std::vector<Member> members;
  ReplicaId self = 0;
  std::string key_file;  // absolute or relative to the working directory after loading
  std::string data_dir;
  StorageEngine storage_engine = StorageEngine::rocksdb;
  SyncMode sync = SyncMode::always;
  HostPort http_listen;
  HostPort replica_listen;
  HostPort client_listen;  // port 0: no client listener
  std::vector<ClientMember> clients;

  core::Config protocol;          // ticks already derived from the *_ms settings
  uint32_t tick_ms = 10;
  uint32_t view_change_timeout_ms = 5000;
  uint32_t status_interval_ms = 100;

  uint64_t body_bytes_max = 1u << 20;
  uint64_t key_bytes_max = 64u << 10;
  uint64_t value_bytes_max = 1u << 20;
  uint32_t request_timeout_ms = 10000;
  uint32_t request_retry_ms = 1000;
  // Gateway requests signed together (node/gateway.h); 1: each alone.
  uint32_t request_bundle_max = 32;
  uint32_t client_connections_max = 1024;
  uint32_t client_requests_per_second = 1000;
  std::string log_filter = "info";

  // [testing]: a Byzantine mode for tests (node/misbehaviour.h), refused
  // unless allow_misbehaviour is set too.
  Misbehaviour misbehave = Misbehaviour::none;
  bool allow_misbehaviour = false;

  bool dev_mode = false;
  // Dev mode only: the fixed, public key pair of this replica.
  std::optional<crypto::KeyPair> dev_key;
};

// Reads a config file. Throws ConfigError naming the setting on any problem
// (unknown keys are errors too, so a typo does not pass silently).
NodeConfig load_config_file(const std::string& path);
// The parsing half of load_config_file, from the file's text: `path` names
// it in errors and is where relative paths (key file, data folder) start
// from. Throws ConfigError on any problem in the text; the caller runs
// validate() (which also reads the key file).
NodeConfig parse_config_text(const std::string& contents, const std::string& path);

// The built-in dev cluster: 5 replicas on 127.0.0.1, HTTP on base_port+i,
// replica ports base_port+100+i, binary-protocol client ports
// base_port+200+i, fixed dev keys (NOT secret) for the replicas and for
// clients 1..dev_client_count, view-change timeout 5 s, checkpoint
// interval 10, data in data_dir.
NodeConfig dev_config(ReplicaId id, uint16_t base_port, const std::string& data_dir);
inline constexpr uint32_t dev_replica_count = 5;
inline constexpr uint32_t dev_client_count = 64;
inline constexpr uint16_t dev_base_port_default = 10000;
crypto::KeyPair dev_key_pair(ReplicaId id);
// Dev client `id` (1..dev_client_count): a fixed key pair, NOT secret.
crypto::KeyPair dev_client_key_pair(ClientId id);

// Applies the PBFT_* environment overrides listed above, then re-derives
// tick counts and validates. `getenv` is injectable for tests.
using Getenv = std::function<const char*(const char*)>;
void apply_env_overrides(NodeConfig& config, const Getenv& getenv);
// Checks the whole configuration; throws ConfigError naming the setting.
void validate(const NodeConfig& config);
// Derives protocol tick counts from the *_ms settings.
void derive_ticks(NodeConfig& config);

std::string to_string(SyncMode mode);
std::string to_string(StorageEngine engine);

// Key files: one line, the 64-hex-digit Ed25519 seed. Written with mode 0600.
crypto::KeyPair read_key_file(const std::string& path);
void write_key_file(const std::string& path, const crypto::KeyPair& key);
std::string public_key_hex(const crypto::PublicKey& key);
std::optional<crypto::PublicKey> parse_public_key_hex(const std::string& hex);

// Writes a complete cluster to `dir`: replica-<i>.toml and replica-<i>.key
// for i in 0..replicas-1, HTTP on base_port+i, replica ports
// base_port+100+i and client ports base_port+200+i on `host`. Returns the
// written paths.
std::vector<std::string> write_cluster_config(const std::string& dir, uint32_t replicas,
                                              uint16_t base_port, const std::string& host,
                                              uint64_t cluster_id);

}  // namespace pbft::node
