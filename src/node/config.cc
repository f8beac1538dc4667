#include "node/config.h"

#include "common/client_id.h"
#include "kv/operation.h"
#include "wire/codec.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <string_view>
#include <toml++/toml.h>
#include <utility>

namespace pbft::node {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw ConfigError(name + ": " + what);
}

std::string errno_text(int err) { return std::strerror(err); }

std::string quote_text(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(digits[(static_cast<unsigned char>(c) >> 4) & 0xf]);
      out.push_back(digits[static_cast<unsigned char>(c) & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// ---------------------------------------------------------------------------
// Hex, keys

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly out.size() * 2 hex digits; false on anything else.
bool decode_hex(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::array<uint8_t, crypto::seed_size> seed_of(const crypto::KeyPair& key) {
  std::array<uint8_t, crypto::seed_size> seed{};
  std::copy_n(key.secret_key.begin(), crypto::seed_size, seed.begin());
  return seed;
}

// The first 16 hex digits of a public key: enough to tell keys apart.
std::string short_key(const crypto::PublicKey& key) { return public_key_hex(key).substr(0, 16) + "..."; }

// Writes all of `data` to `fd`; false (errno set) on failure.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Writes `data` to an open fd, syncs and closes it; throws naming `path`.
void finish_file(int fd, const std::string& path, std::string_view data, mode_t mode) {
  if (::fchmod(fd, mode) != 0 || !write_all(fd, data) || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    fail(path, "cannot write: " + errno_text(err));
  }
  if (::close(fd) != 0) fail(path, "cannot write: " + errno_text(errno));
}

// Creates `path` (which must not exist yet) with `mode` and writes `data`.
void write_new_file(const std::string& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) fail(path, "already exists; refusing to overwrite it");
    fail(path, "cannot create: " + errno_text(err));
  }
  finish_file(fd, path, data, mode);
}

// ---------------------------------------------------------------------------
// Addresses

// Host names and IP literals: letters, digits and . - _ : % (IPv6 zones).
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '%';
  });
}

// Strict decimal: digits only, no sign, no spaces, no overflow.
template <typename T>
std::optional<T> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  T value{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// "host:port" or "[v6-address]:port", parsed strictly.
HostPort parse_host_port(std::string_view text, const std::string& name) {
  const std::string expected = "expected host:port (or [ipv6]:port), got " + quote_text(text);
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      fail(name, expected);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) fail(name, expected);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      fail(name, "write an IPv6 address in brackets ([addr]:port), got " + quote_text(text));
  }
  if (!valid_host(host)) fail(name, expected);
  auto value = parse_decimal<uint32_t>(port);
  if (!value || *value < 1 || *value > 65535)
    fail(name, "port must be a number in 1..65535, got " + quote_text(text));
  return HostPort{std::string(host), static_cast<uint16_t>(*value)};
}

std::string format_host_port(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------
// TOML reading

std::string at(const toml::node& n) {
  const auto& begin = n.source().begin;
  if (begin.line == 0) return "";
  return " (line " + std::to_string(begin.line) + ")";
}

std::string at(const toml::key& k) {
  const auto& begin = k.source().begin;
  if (begin.line == 0) return "";
  return " (line " + std::to_string(begin.line) + ")";
}

const char* describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

const toml::table& as_table(const toml::node& n, const std::string& name) {
  const toml::table* t = n.as_table();
  if (t == nullptr) fail(name, std::string("expected a table, got ") + describe(n) + at(n));
  return *t;
}

template <typename T>
T as_uint(const toml::node& n, const std::string& name) {
  const auto* v = n.as_integer();
  if (v == nullptr) fail(name, std::string("expected an integer, got ") + describe(n) + at(n));
  int64_t x = v->get();
  if (x < 0) fail(name, "must not be negative, got " + std::to_string(x) + at(n));
  if (static_cast<uint64_t>(x) > std::numeric_limits<T>::max())
    fail(name, std::to_string(x) + " is too large (at most " +
                   std::to_string(std::numeric_limits<T>::max()) + ")" + at(n));
  return static_cast<T>(x);
}

uint16_t as_port(const toml::node& n, const std::string& name) {
  const auto* v = n.as_integer();
  if (v == nullptr) fail(name, std::string("expected an integer, got ") + describe(n) + at(n));
  int64_t x = v->get();
  if (x < 1 || x > 65535) fail(name, std::to_string(x) + " is not a port (1..65535)" + at(n));
  return static_cast<uint16_t>(x);
}

std::string as_string(const toml::node& n, const std::string& name) {
  const auto* v = n.as_string();
  if (v == nullptr) fail(name, std::string("expected a string, got ") + describe(n) + at(n));
  return v->get();
}

// Reads table[key] into `out` when present.
template <typename T>
void read_uint(const toml::table& table, std::string_view key, const std::string& prefix, T& out) {
  if (const toml::node* n = table.get(key)) out = as_uint<T>(*n, prefix + "." + std::string(key));
}

const toml::node& require(const toml::table& table, std::string_view key, const std::string& name,
                          const std::string& hint) {
  const toml::node* n = table.get(key);
  if (n == nullptr) fail(name, "missing" + (hint.empty() ? std::string() : "; " + hint));
  return *n;
}

void collect_unknown(const toml::table& table, const std::string& prefix,
                     std::span<const std::string_view> allowed, std::vector<std::string>& unknown) {
  for (const auto& [key, value] : table) {
    (void)value;
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
      unknown.push_back((prefix.empty() ? "" : prefix + ".") + std::string(key.str()) +
                        ": unknown setting" + at(key));
  }
}

constexpr std::string_view root_keys[] = {"cluster_id", "node",     "protocol", "limits",
                                          "storage",    "replicas", "clients",  "testing"};
constexpr std::string_view testing_keys[] = {"misbehave", "allow_misbehaviour"};
constexpr std::string_view storage_keys[] = {"engine", "sync"};
constexpr std::string_view node_keys[] = {"id", "key_file", "data_dir", "http_listen", "replica_listen",
                                          "client_listen"};
constexpr std::string_view protocol_keys[] = {
    "checkpoint_interval",    "window_size",        "pipeline_depth_max", "batch_requests_max",
    "batch_requests_min",     "view_change_timeout_ms", "status_interval_ms", "tick_ms"};
constexpr std::string_view limits_keys[] = {
    "body_bytes_max",   "key_bytes_max",          "value_bytes_max",           "request_timeout_ms",
    "request_retry_ms", "request_bundle_max",     "client_connections_max",    "client_requests_per_second"};
constexpr std::string_view replica_keys[] = {"id", "host", "replica_port", "http_port", "client_port",
                                             "public_key"};
constexpr std::string_view client_keys[] = {"id", "public_key"};

// Every unknown key in the document, reported together so that one run
// shows every typo.
void check_unknown_keys(const toml::table& root) {
  std::vector<std::string> unknown;
  collect_unknown(root, "", root_keys, unknown);
  for (const char* section : {"node", "protocol", "limits", "storage", "testing"}) {
    const toml::node* n = root.get(section);
    if (n == nullptr) continue;
    const toml::table& table = as_table(*n, section);
    std::span<const std::string_view> allowed = limits_keys;
    if (std::string_view(section) == "node") allowed = node_keys;
    if (std::string_view(section) == "protocol") allowed = protocol_keys;
    if (std::string_view(section) == "storage") allowed = storage_keys;
    if (std::string_view(section) == "testing") allowed = testing_keys;
    collect_unknown(table, section, allowed, unknown);
  }
  for (auto [list, allowed] : {std::pair{"replicas", std::span<const std::string_view>(replica_keys)},
                                std::pair{"clients", std::span<const std::string_view>(client_keys)}}) {
    const toml::node* n = root.get(list);
    const toml::array* entries = n != nullptr ? n->as_array() : nullptr;
    if (entries == nullptr) continue;
    for (size_t i = 0; i < entries->size(); ++i) {
      if (const toml::table* t = (*entries)[i].as_table())
        collect_unknown(*t, std::string(list) + "[" + std::to_string(i) + "]", allowed, unknown);
    }
  }
  if (unknown.empty()) return;
  std::string message = unknown.front();
  for (size_t i = 1; i < unknown.size(); ++i) message += "; " + unknown[i];
  throw ConfigError(message);
}

// The whole config file; throws naming the path when it cannot be read.
std::string read_config_text(const std::string& path) {
  constexpr size_t config_bytes_max = 16u << 20;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open config file: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  std::string text;
  std::array<char, 8192> buffer{};
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      fail(path, "cannot read config file: " + errno_text(err));
    }
    if (n == 0) break;
    text.append(buffer.data(), static_cast<size_t>(n));
    if (text.size() > config_bytes_max) {
      ::close(fd);
      fail(path, "config file larger than " + std::to_string(config_bytes_max) + " bytes");
    }
  }
  ::close(fd);
  return text;
}

std::string resolve_path(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (path.is_relative()) path = base / path;
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (!ec) path = absolute;
  return path.lexically_normal().string();
}

// ---------------------------------------------------------------------------
// Environment

template <typename T>
void env_number(const Getenv& getenv, const char* var, const char* setting, T& out) {
  const char* raw = getenv(var);
  if (raw == nullptr || *raw == '\0') return;
  std::string_view text(raw);
  auto value = parse_decimal<uint64_t>(text);
  if (!value)
    throw ConfigError(std::string(var) + ": " + quote_text(text) + " is not a non-negative integer (sets " +
                      setting + ")");
  if (*value > std::numeric_limits<T>::max())
    throw ConfigError(std::string(var) + ": " + std::to_string(*value) + " is too large (at most " +
                      std::to_string(std::numeric_limits<T>::max()) + "; sets " + setting + ")");
  out = static_cast<T>(*value);
}

void env_host_port(const Getenv& getenv, const char* var, HostPort& out) {
  const char* raw = getenv(var);
  if (raw == nullptr || *raw == '\0') return;
  out = parse_host_port(raw, var);
}

void env_string(const Getenv& getenv, const char* var, std::string& out) {
  const char* raw = getenv(var);
  if (raw == nullptr || *raw == '\0') return;
  out = raw;
}

std::optional<SyncMode> parse_sync_mode(std::string_view text) {
  if (text == "always") return SyncMode::always;
  if (text == "batch") return SyncMode::batch;
  if (text == "off") return SyncMode::off;
  return std::nullopt;
}

std::optional<StorageEngine> parse_storage_engine(std::string_view text) {
  if (text == "rocksdb") return StorageEngine::rocksdb;
  if (text == "memory") return StorageEngine::memory;
  return std::nullopt;
}

SyncMode sync_mode_setting(std::string_view text, const std::string& where) {
  auto mode = parse_sync_mode(text);
  if (!mode) throw ConfigError(where + ": " + quote_text(text) + " is not a sync mode (always, batch or off)");
  return *mode;
}

StorageEngine storage_engine_setting(std::string_view text, const std::string& where) {
  auto engine = parse_storage_engine(text);
  if (!engine) throw ConfigError(where + ": " + quote_text(text) + " is not a storage engine (rocksdb or memory)");
  return *engine;
}

bool same(const HostPort& a, const HostPort& b) { return a.host == b.host && a.port == b.port; }

// The core's messages read "<field> must ...": name the field as a setting.
std::string protocol_error(const char* message) {
  std::string_view m(message);
  size_t space = m.find(' ');
  if (space != std::string_view::npos && m.substr(space).starts_with(" must") &&
      std::all_of(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(space),
                  [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
    return "protocol." + std::string(m.substr(0, space)) + ":" + std::string(m.substr(space));
  return "protocol: " + std::string(m);
}

void append_line(std::string& out, const std::string& line = "") { out += line + "\n"; }

std::string cluster_toml(uint32_t self, const std::vector<Member>& members, uint64_t cluster_id) {
  const NodeConfig defaults;
  const Member& me = members[self];
  const uint32_t f = (static_cast<uint32_t>(members.size()) - 1) / 3;
  std::string s;
  append_line(s, "# pbft-kv: configuration of replica " + std::to_string(self) + " of a " +
                     std::to_string(members.size()) + "-replica cluster (tolerates f = " + std::to_string(f) +
                     " faulty replicas).");
  append_line(s, "# Written by `kvctl config init`. Start this replica with:");
  append_line(s, "#   kv-node --config replica-" + std::to_string(self) + ".toml");
  append_line(s, "# Relative paths below are resolved against this file's folder. Unknown settings");
  append_line(s, "# are errors. Environment variables (PBFT_NODE_ID, PBFT_DATA_DIR, PBFT_LOG, ...)");
  append_line(s, "# override single settings.");
  append_line(s);
  append_line(s, "# Every replica of one cluster uses the same cluster id; frames carrying another");
  append_line(s, "# id are dropped.");
  append_line(s, "cluster_id = " + std::to_string(cluster_id));
  append_line(s);
  append_line(s, "[node]");
  append_line(s, "# This replica's id: the index of its [[replicas]] entry below.");
  append_line(s, "id = " + std::to_string(self));
  append_line(s, "# Its Ed25519 key: SECRET, mode 0600. Its public key is replicas[" + std::to_string(self) +
                     "].public_key.");
  append_line(s, "key_file = \"replica-" + std::to_string(self) + ".key\"");
  append_line(s, "# Where this replica keeps its protocol log, checkpoints and data.");
  append_line(s, "data_dir = \"data/replica-" + std::to_string(self) + "\"");
  append_line(s, "# Addresses to listen on. Default: this replica's host and ports below.");
  append_line(s, "# http_listen = \"" + format_host_port("0.0.0.0", me.http_port) + "\"");
  append_line(s, "# replica_listen = \"" + format_host_port("0.0.0.0", me.replica_port) + "\"");
  append_line(s, "# client_listen = \"" + format_host_port("0.0.0.0", me.client_port) + "\"");
  append_line(s);
  append_line(s, "[protocol]");
  append_line(s, "# A checkpoint every checkpoint_interval sequence numbers.");
  append_line(s, "checkpoint_interval = " + std::to_string(defaults.protocol.checkpoint_interval));
  append_line(s, "# Sequence numbers accepted above the last stable checkpoint: a multiple of");
  append_line(s, "# checkpoint_interval and at least twice it.");
  append_line(s, "window_size = " + std::to_string(defaults.protocol.window_size));
  append_line(s, "# Batches the primary keeps in flight, and requests in one batch.");
  append_line(s, "pipeline_depth_max = " + std::to_string(defaults.protocol.pipeline_depth_max));
  append_line(s, "batch_requests_max = " + std::to_string(defaults.protocol.batch_requests_max));
  append_line(s, "# With batches in flight, another closes only once this many requests wait");
  append_line(s, "# for each of them (bigger batches under load; 0: whenever there is room).");
  append_line(s, "batch_requests_min = " + std::to_string(defaults.protocol.batch_requests_min));
  append_line(s, "# First view-change timeout; it doubles with every view that fails.");
  append_line(s, "view_change_timeout_ms = " + std::to_string(defaults.view_change_timeout_ms));
  append_line(s, "# How often a replica tells its peers how far it is (drives retransmission).");
  append_line(s, "status_interval_ms = " + std::to_string(defaults.status_interval_ms));
  append_line(s, "# The protocol clock's period; the times above are rounded up to whole ticks.");
  append_line(s, "tick_ms = " + std::to_string(defaults.tick_ms));
  append_line(s);
  append_line(s, "[limits]");
  append_line(s, "# Largest HTTP request body, key and value, in bytes.");
  append_line(s, "body_bytes_max = " + std::to_string(defaults.body_bytes_max));
  append_line(s, "key_bytes_max = " + std::to_string(defaults.key_bytes_max));
  append_line(s, "value_bytes_max = " + std::to_string(defaults.value_bytes_max));
  append_line(s, "# How long an HTTP request waits for its answer, and how often it is resent.");
  append_line(s, "request_timeout_ms = " + std::to_string(defaults.request_timeout_ms));
  append_line(s, "request_retry_ms = " + std::to_string(defaults.request_retry_ms));
  append_line(s, "# Requests the HTTP gateway signs with one signature (a Merkle tree of the");
  append_line(s, "# requests of one turn of its event loop); 1 signs each one alone.");
  append_line(s, "request_bundle_max = " + std::to_string(defaults.request_bundle_max));
  append_line(s, "# Binary-protocol clients connected at once, and requests each client may send");
  append_line(s, "# per second over all its connections (past it, its connections wait).");
  append_line(s, "client_connections_max = " + std::to_string(defaults.client_connections_max));
  append_line(s, "client_requests_per_second = " + std::to_string(defaults.client_requests_per_second));
  append_line(s);
  append_line(s, "[storage]");
  append_line(s, "# rocksdb (in data_dir) or memory (nothing survives a restart).");
  append_line(s, "engine = \"" + to_string(defaults.storage_engine) + "\"");
  append_line(s, "# When writes reach the disk: always (fsync before any message that depends on");
  append_line(s, "# them leaves; concurrent writes share one fsync), batch (the same as always)");
  append_line(s, "# or off (no fsync: a power loss can lose recent writes; a killed process");
  append_line(s, "# loses nothing).");
  append_line(s, "sync = \"" + to_string(defaults.sync) + "\"");
  append_line(s);
  append_line(s, "# The members, ids 0..n-1 in order; the same list in every replica's file.");
  append_line(s, "# n = 3f + 1 replicas tolerate f faulty ones.");
  for (const Member& m : members) {
    append_line(s);
    append_line(s, "[[replicas]]");
    append_line(s, "id = " + std::to_string(m.id));
    append_line(s, "host = \"" + m.host + "\"");
    append_line(s, "replica_port = " + std::to_string(m.replica_port));
    append_line(s, "http_port = " + std::to_string(m.http_port));
    append_line(s, "client_port = " + std::to_string(m.client_port));
    append_line(s, "public_key = \"" + public_key_hex(m.public_key) + "\"");
  }
  append_line(s);
  append_line(s, "# Clients of the binary protocol (the client library): ids 1..4294967295, each with");
  append_line(s, "# its Ed25519 public key (`kvctl keygen`); the same list in every replica's file.");
  append_line(s, "# [[clients]]");
  append_line(s, "# id = 1");
  append_line(s, "# public_key = \"<64 hex digits>\"");
  return s;
}

}  // namespace

std::string to_string(SyncMode mode) {
  switch (mode) {
    case SyncMode::always: return "always";
    case SyncMode::batch: return "batch";
    case SyncMode::off: return "off";
  }
  return "?";
}

std::string to_string(StorageEngine engine) {
  return engine == StorageEngine::rocksdb ? "rocksdb" : "memory";
}

// ---------------------------------------------------------------------------
// Key files

std::string public_key_hex(const crypto::PublicKey& key) { return to_hex(ByteView(key)); }

std::optional<crypto::PublicKey> parse_public_key_hex(const std::string& hex) {
  crypto::PublicKey key{};
  if (!decode_hex(hex, key)) return std::nullopt;
  return key;
}

crypto::KeyPair read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open key file: " + errno_text(errno));
  // 64 hex digits and a line end; anything longer is not a key file.
  std::array<char, 2 * crypto::seed_size + 8> buffer{};
  size_t size = 0;
  while (size < buffer.size()) {
    ssize_t n = ::read(fd, buffer.data() + size, buffer.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      sodium_memzero(buffer.data(), buffer.size());
      fail(path, "cannot read key file: " + errno_text(err));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  std::string_view text(buffer.data(), size);
  if (text.ends_with("\r\n"))
    text.remove_suffix(2);
  else if (text.ends_with("\n"))
    text.remove_suffix(1);
  std::array<uint8_t, crypto::seed_size> seed{};
  bool ok = decode_hex(text, seed);
  sodium_memzero(buffer.data(), buffer.size());
  if (!ok) {
    fail(path, "not a key file: expected one line of " + std::to_string(2 * crypto::seed_size) +
                   " hex digits (an Ed25519 seed)");
  }
  crypto::KeyPair key = crypto::key_pair_from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

void write_key_file(const std::string& path, const crypto::KeyPair& key) {
  auto seed = seed_of(key);
  if (crypto::key_pair_from_seed(seed).public_key != key.public_key) {
    sodium_memzero(seed.data(), seed.size());
    fail(path, "refusing to write an inconsistent key pair (secret and public key do not match)");
  }
  std::string line = to_hex(ByteView(seed)) + "\n";
  sodium_memzero(seed.data(), seed.size());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    sodium_memzero(line.data(), line.size());
    fail(path, "cannot create key file: " + errno_text(err));
  }
  try {
    finish_file(fd, path, line, 0600);
  } catch (...) {
    sodium_memzero(line.data(), line.size());
    throw;
  }
  sodium_memzero(line.data(), line.size());
}

// ---------------------------------------------------------------------------
// Ticks, validation

void derive_ticks(NodeConfig& config) {
  if (config.tick_ms == 0) fail("protocol.tick_ms", "must be at least 1");
  auto ticks = [&](uint32_t ms) {
    uint64_t t = (static_cast<uint64_t>(ms) + config.tick_ms - 1) / config.tick_ms;
    return static_cast<uint32_t>(std::max<uint64_t>(t, 1));
  };
  config.protocol.view_change_timeout_ticks = ticks(config.view_change_timeout_ms);
  config.protocol.status_interval_ticks = ticks(config.status_interval_ms);
  config.protocol.state_fetch_retry_ticks = config.protocol.view_change_timeout_ticks;
  config.protocol.replica_count = static_cast<uint32_t>(config.members.size());
}

void validate(const NodeConfig& config) {
  const auto& members = config.members;
  if (members.empty()) fail("replicas", "at least one [[replicas]] entry is required");
  std::map<crypto::PublicKey, size_t> keys;
  std::map<std::pair<std::string, uint16_t>, std::string> endpoints;
  for (size_t i = 0; i < members.size(); ++i) {
    const Member& m = members[i];
    const std::string name = "replicas[" + std::to_string(i) + "]";
    if (m.id != i)
      fail(name + ".id", "expected " + std::to_string(i) + ", got " + std::to_string(m.id) +
                             " (ids must be 0..n-1 in order)");
    if (!valid_host(m.host)) fail(name + ".host", quote_text(m.host) + " is not a host name or IP address");
    for (auto [port, field] : {std::pair{m.replica_port, ".replica_port"}, std::pair{m.http_port, ".http_port"},
                               std::pair{m.client_port, ".client_port"}}) {
      if (port == 0) {
        if (std::string_view(field) == ".client_port") continue;  // optional
        fail(name + field, "0 is not a port (1..65535)");
      }
      auto [it, inserted] = endpoints.emplace(std::pair{m.host, port}, name + field);
      if (!inserted)
        fail(name + field, format_host_port(m.host, port) + " is already used by " + it->second);
    }
    if (std::all_of(m.public_key.begin(), m.public_key.end(), [](uint8_t b) { return b == 0; }))
      fail(name + ".public_key", "missing (all zero)");
    auto [it, inserted] = keys.emplace(m.public_key, i);
    if (!inserted)
      fail(name + ".public_key", "same key as replicas[" + std::to_string(it->second) + "]");
  }

  if (config.self >= members.size())
    fail("node.id", std::to_string(config.self) + " is not a member (the cluster has replicas 0.." +
                        std::to_string(members.size() - 1) + ")");
  for (auto [listen, name] : {std::pair{&config.http_listen, "node.http_listen"},
                              std::pair{&config.replica_listen, "node.replica_listen"}}) {
    if (!valid_host(listen->host)) fail(name, quote_text(listen->host) + " is not a host name or IP address");
    if (listen->port == 0) fail(name, "0 is not a port (1..65535)");
  }
  if (same(config.http_listen, config.replica_listen))
    fail("node.replica_listen", "same address as node.http_listen (" +
                                    format_host_port(config.http_listen.host, config.http_listen.port) + ")");
  if (config.client_listen.port != 0) {
    if (!valid_host(config.client_listen.host))
      fail("node.client_listen", quote_text(config.client_listen.host) + " is not a host name or IP address");
    for (auto [other, name] : {std::pair{&config.http_listen, "node.http_listen"},
                               std::pair{&config.replica_listen, "node.replica_listen"}}) {
      if (same(config.client_listen, *other))
        fail("node.client_listen", std::string("same address as ") + name + " (" +
                                       format_host_port(other->host, other->port) + ")");
    }
  }
  std::map<ClientId, size_t> client_ids;
  for (size_t i = 0; i < config.clients.size(); ++i) {
    const ClientMember& c = config.clients[i];
    const std::string name = "clients[" + std::to_string(i) + "]";
    if (c.id == 0 || gateway_of(c.id))
      fail(name + ".id", std::to_string(c.id) + " is not a client id (1..4294967295; larger ids are the replicas' gateways)");
    auto [it, inserted] = client_ids.emplace(c.id, i);
    if (!inserted) fail(name + ".id", "same id as clients[" + std::to_string(it->second) + "]");
    if (std::all_of(c.public_key.begin(), c.public_key.end(), [](uint8_t b) { return b == 0; }))
      fail(name + ".public_key", "missing (all zero)");
    if (keys.contains(c.public_key))
      fail(name + ".public_key", "same key as replicas[" + std::to_string(keys.at(c.public_key)) +
                                     "] (a client needs a key of its own)");
  }
  if (config.data_dir.empty()) fail("node.data_dir", "must not be empty");

  const Member& me = members[config.self];
  const std::string member = "replicas[" + std::to_string(config.self) + "].public_key";
  if (config.dev_key) {
    if (config.dev_key->public_key != me.public_key)
      fail("node.key_file", "the dev key of this replica does not match " + member);
  } else {
    if (config.key_file.empty()) fail("node.key_file", "missing");
    crypto::KeyPair key;
    try {
      key = read_key_file(config.key_file);
    } catch (const ConfigError& e) {
      fail("node.key_file", e.what());
    }
    bool match = key.public_key == me.public_key;
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    if (!match)
      fail("node.key_file", config.key_file + " holds the key with public key " + short_key(key.public_key) +
                                ", but " + member + " is " + short_key(me.public_key) +
                                " (wrong key file or wrong node.id?)");
  }

  if (config.tick_ms == 0) fail("protocol.tick_ms", "must be at least 1");
  if (config.view_change_timeout_ms == 0) fail("protocol.view_change_timeout_ms", "must be at least 1");
  if (config.status_interval_ms == 0) fail("protocol.status_interval_ms", "must be at least 1");
  if (config.protocol.replica_count != members.size())
    fail("protocol.replica_count", std::to_string(config.protocol.replica_count) + " does not match the " +
                                       std::to_string(members.size()) + " [[replicas]] entries");
  if (const char* problem = config.protocol.validate(); *problem != '\0') throw ConfigError(protocol_error(problem));

  if (config.body_bytes_max == 0) fail("limits.body_bytes_max", "must be at least 1");
  if (config.key_bytes_max == 0) fail("limits.key_bytes_max", "must be at least 1");
  if (config.value_bytes_max == 0) fail("limits.value_bytes_max", "must be at least 1");
  // The API orders what these limits let in: every replica's state machine
  // must accept it, and the operation a body becomes must fit a request on
  // the wire (a larger one would stop the replica that signs it).
  if (config.key_bytes_max > kv::key_bytes_max)
    fail("limits.key_bytes_max", std::to_string(config.key_bytes_max) + " is over what the key-value store takes (" +
                                     std::to_string(kv::key_bytes_max) + ")");
  if (config.value_bytes_max > kv::value_bytes_max)
    fail("limits.value_bytes_max", std::to_string(config.value_bytes_max) +
                                       " is over what the key-value store takes (" +
                                       std::to_string(kv::value_bytes_max) + ")");
  if (config.body_bytes_max > body_bytes_limit)
    fail("limits.body_bytes_max", std::to_string(config.body_bytes_max) + " is over " +
                                      std::to_string(body_bytes_limit) +
                                      " (the operation it becomes must fit a request on the wire)");
  if (config.request_timeout_ms == 0) fail("limits.request_timeout_ms", "must be at least 1");
  if (config.request_retry_ms == 0) fail("limits.request_retry_ms", "must be at least 1");
  if (config.request_bundle_max == 0 || config.request_bundle_max > (1u << wire::Request::bundle_depth_max))
    fail("limits.request_bundle_max", std::to_string(config.request_bundle_max) + " is not 1.." +
                                          std::to_string(1u << wire::Request::bundle_depth_max));
  if (config.client_connections_max == 0) fail("limits.client_connections_max", "must be at least 1");
  if (config.client_requests_per_second == 0) fail("limits.client_requests_per_second", "must be at least 1");
  if (config.log_filter.empty()) fail("PBFT_LOG", "must not be empty");
  if (config.misbehave != Misbehaviour::none && !config.allow_misbehaviour)
    fail("testing.misbehave", std::string(to_string(config.misbehave)) +
                                  " makes this replica lie to clients, for tests only; refused unless "
                                  "testing.allow_misbehaviour = true (PBFT_ALLOW_MISBEHAVIOUR=1)");
}

// ---------------------------------------------------------------------------
// Loading

NodeConfig load_config_file(const std::string& path) {
  NodeConfig config = parse_config_text(read_config_text(path), path);
  validate(config);
  return config;
}

NodeConfig parse_config_text(const std::string& contents, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(contents, path);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    fail(path, "line " + std::to_string(begin.line) + ", column " + std::to_string(begin.column) +
                   ": invalid TOML: " + std::string(e.description()));
  }

  check_unknown_keys(root);

  NodeConfig config;
  const fs::path base = fs::path(path).parent_path();

  config.cluster_id = as_uint<uint64_t>(
      require(root, "cluster_id", "cluster_id", "every replica of a cluster must use the same cluster id"),
      "cluster_id");

  // [[replicas]]
  const toml::node& replicas_node =
      require(root, "replicas", "replicas", "list each member in a [[replicas]] table");
  const toml::array* replicas = replicas_node.as_array();
  if (replicas == nullptr)
    fail("replicas", std::string("expected an array of tables ([[replicas]]), got ") + describe(replicas_node) +
                         at(replicas_node));
  for (size_t i = 0; i < replicas->size(); ++i) {
    const std::string name = "replicas[" + std::to_string(i) + "]";
    const toml::table& t = as_table((*replicas)[i], name);
    Member m;
    m.id = as_uint<ReplicaId>(require(t, "id", name + ".id", ""), name + ".id");
    if (m.id != i)
      fail(name + ".id", "expected " + std::to_string(i) + ", got " + std::to_string(m.id) +
                             " (ids must be 0..n-1 in order)" + at(*t.get("id")));
    const toml::node& host = require(t, "host", name + ".host", "");
    m.host = as_string(host, name + ".host");
    if (!valid_host(m.host))
      fail(name + ".host", quote_text(m.host) + " is not a host name or IP address" + at(host));
    m.replica_port = as_port(require(t, "replica_port", name + ".replica_port", ""), name + ".replica_port");
    m.http_port = as_port(require(t, "http_port", name + ".http_port", ""), name + ".http_port");
    if (const toml::node* n = t.get("client_port")) m.client_port = as_port(*n, name + ".client_port");
    const toml::node& key_node = require(t, "public_key", name + ".public_key", "");
    auto key = parse_public_key_hex(as_string(key_node, name + ".public_key"));
    if (!key) fail(name + ".public_key", "expected 64 hex digits (an Ed25519 public key)" + at(key_node));
    m.public_key = *key;
    config.members.push_back(std::move(m));
  }

  // [node]
  const toml::table& node = as_table(require(root, "node", "node", "add a [node] table"), "node");
  config.self = as_uint<ReplicaId>(require(node, "id", "node.id", "this replica's id"), "node.id");
  const toml::node& key_file = require(node, "key_file", "node.key_file", "this replica's key file");
  std::string key_path = as_string(key_file, "node.key_file");
  if (key_path.empty()) fail("node.key_file", "must not be empty" + at(key_file));
  config.key_file = resolve_path(base, key_path);
  std::string data_dir = "data/replica-" + std::to_string(config.self);
  if (const toml::node* n = node.get("data_dir")) {
    data_dir = as_string(*n, "node.data_dir");
    if (data_dir.empty()) fail("node.data_dir", "must not be empty" + at(*n));
  }
  config.data_dir = resolve_path(base, data_dir);
  if (config.self < config.members.size()) {
    const Member& me = config.members[config.self];
    config.http_listen = HostPort{me.host, me.http_port};
    config.replica_listen = HostPort{me.host, me.replica_port};
    config.client_listen = HostPort{me.host, me.client_port};
  }
  if (const toml::node* n = node.get("client_listen"))
    config.client_listen = parse_host_port(as_string(*n, "node.client_listen"), "node.client_listen");
  if (const toml::node* n = node.get("http_listen"))
    config.http_listen = parse_host_port(as_string(*n, "node.http_listen"), "node.http_listen");
  if (const toml::node* n = node.get("replica_listen"))
    config.replica_listen = parse_host_port(as_string(*n, "node.replica_listen"), "node.replica_listen");

  // [protocol]
  if (const toml::node* n = root.get("protocol")) {
    const toml::table& p = as_table(*n, "protocol");
    read_uint(p, "checkpoint_interval", "protocol", config.protocol.checkpoint_interval);
    read_uint(p, "window_size", "protocol", config.protocol.window_size);
    read_uint(p, "pipeline_depth_max", "protocol", config.protocol.pipeline_depth_max);
    read_uint(p, "batch_requests_max", "protocol", config.protocol.batch_requests_max);
    read_uint(p, "batch_requests_min", "protocol", config.protocol.batch_requests_min);
    read_uint(p, "view_change_timeout_ms", "protocol", config.view_change_timeout_ms);
    read_uint(p, "status_interval_ms", "protocol", config.status_interval_ms);
    read_uint(p, "tick_ms", "protocol", config.tick_ms);
  }

  // [limits]
  if (const toml::node* n = root.get("limits")) {
    const toml::table& l = as_table(*n, "limits");
    read_uint(l, "body_bytes_max", "limits", config.body_bytes_max);
    read_uint(l, "key_bytes_max", "limits", config.key_bytes_max);
    read_uint(l, "value_bytes_max", "limits", config.value_bytes_max);
    read_uint(l, "request_timeout_ms", "limits", config.request_timeout_ms);
    read_uint(l, "request_retry_ms", "limits", config.request_retry_ms);
    read_uint(l, "request_bundle_max", "limits", config.request_bundle_max);
    read_uint(l, "client_connections_max", "limits", config.client_connections_max);
    read_uint(l, "client_requests_per_second", "limits", config.client_requests_per_second);
  }

  // [[clients]]
  if (const toml::node* n = root.get("clients")) {
    const toml::array* clients = n->as_array();
    if (clients == nullptr)
      fail("clients", std::string("expected an array of tables ([[clients]]), got ") + describe(*n) + at(*n));
    for (size_t i = 0; i < clients->size(); ++i) {
      const std::string name = "clients[" + std::to_string(i) + "]";
      const toml::table& t = as_table((*clients)[i], name);
      ClientMember c;
      c.id = as_uint<ClientId>(require(t, "id", name + ".id", ""), name + ".id");
      const toml::node& key_node = require(t, "public_key", name + ".public_key", "");
      auto key = parse_public_key_hex(as_string(key_node, name + ".public_key"));
      if (!key) fail(name + ".public_key", "expected 64 hex digits (an Ed25519 public key)" + at(key_node));
      c.public_key = *key;
      config.clients.push_back(c);
    }
  }

  // [storage]
  if (const toml::node* n = root.get("storage")) {
    const toml::table& s = as_table(*n, "storage");
    if (const toml::node* e = s.get("engine"))
      config.storage_engine = storage_engine_setting(as_string(*e, "storage.engine"), "storage.engine" + at(*e));
    if (const toml::node* m = s.get("sync"))
      config.sync = sync_mode_setting(as_string(*m, "storage.sync"), "storage.sync" + at(*m));
  }

  // [testing]
  if (const toml::node* n = root.get("testing")) {
    const toml::table& t = as_table(*n, "testing");
    if (const toml::node* m = t.get("misbehave")) {
      const std::string name = as_string(*m, "testing.misbehave");
      std::optional<Misbehaviour> mode = parse_misbehaviour(name);
      if (!mode) fail("testing.misbehave" + at(*m), "unknown mode '" + name + "' (one of " + misbehaviour_choices() + ")");
      config.misbehave = *mode;
    }
    if (const toml::node* a = t.get("allow_misbehaviour")) {
      const auto* b = a->as_boolean();
      if (b == nullptr) fail("testing.allow_misbehaviour" + at(*a), std::string("must be a boolean, not ") + describe(*a));
      config.allow_misbehaviour = b->get();
    }
  }

  derive_ticks(config);
  return config;
}

// ---------------------------------------------------------------------------
// Environment overrides

void apply_env_overrides(NodeConfig& target, const Getenv& getenv) {
  // Works on a copy: on error the caller's configuration is unchanged.
  NodeConfig config = target;
  env_number(getenv, "PBFT_CLUSTER_ID", "cluster_id", config.cluster_id);

  ReplicaId self = config.self;
  env_number(getenv, "PBFT_NODE_ID", "node.id", self);
  if (self != config.self) {
    // Listen addresses that were this member's defaults follow the new id.
    if (config.self < config.members.size() && self < config.members.size()) {
      const Member& old_member = config.members[config.self];
      const Member& new_member = config.members[self];
      if (same(config.http_listen, HostPort{old_member.host, old_member.http_port}))
        config.http_listen = HostPort{new_member.host, new_member.http_port};
      if (same(config.replica_listen, HostPort{old_member.host, old_member.replica_port}))
        config.replica_listen = HostPort{new_member.host, new_member.replica_port};
      if (same(config.client_listen, HostPort{old_member.host, old_member.client_port}))
        config.client_listen = HostPort{new_member.host, new_member.client_port};
    }
    config.self = self;
  }

  env_string(getenv, "PBFT_KEY_FILE", config.key_file);
  env_string(getenv, "PBFT_DATA_DIR", config.data_dir);
  env_host_port(getenv, "PBFT_HTTP_LISTEN", config.http_listen);
  env_host_port(getenv, "PBFT_REPLICA_LISTEN", config.replica_listen);
  env_host_port(getenv, "PBFT_CLIENT_LISTEN", config.client_listen);
  env_number(getenv, "PBFT_CHECKPOINT_INTERVAL", "protocol.checkpoint_interval",
             config.protocol.checkpoint_interval);
  env_number(getenv, "PBFT_WINDOW_SIZE", "protocol.window_size", config.protocol.window_size);
  env_number(getenv, "PBFT_VIEW_CHANGE_TIMEOUT_MS", "protocol.view_change_timeout_ms",
             config.view_change_timeout_ms);
  env_number(getenv, "PBFT_BATCH_REQUESTS_MAX", "protocol.batch_requests_max", config.protocol.batch_requests_max);
  env_number(getenv, "PBFT_BATCH_REQUESTS_MIN", "protocol.batch_requests_min", config.protocol.batch_requests_min);
  env_number(getenv, "PBFT_TICK_MS", "protocol.tick_ms", config.tick_ms);
  env_number(getenv, "PBFT_BODY_BYTES_MAX", "limits.body_bytes_max", config.body_bytes_max);
  env_number(getenv, "PBFT_REQUEST_TIMEOUT_MS", "limits.request_timeout_ms", config.request_timeout_ms);
  env_number(getenv, "PBFT_REQUEST_BUNDLE_MAX", "limits.request_bundle_max", config.request_bundle_max);
  env_string(getenv, "PBFT_LOG", config.log_filter);
  if (const char* raw = getenv("PBFT_STORAGE"); raw != nullptr && *raw != '\0')
    config.storage_engine = storage_engine_setting(raw, "PBFT_STORAGE (sets storage.engine)");
  if (const char* raw = getenv("PBFT_SYNC"); raw != nullptr && *raw != '\0')
    config.sync = sync_mode_setting(raw, "PBFT_SYNC (sets storage.sync)");
  if (const char* raw = getenv("PBFT_MISBEHAVE"); raw != nullptr && *raw != '\0') {
    std::optional<Misbehaviour> mode = parse_misbehaviour(raw);
    if (!mode)
      fail("PBFT_MISBEHAVE (sets testing.misbehave)",
           "unknown mode '" + std::string(raw) + "' (one of " + misbehaviour_choices() + ")");
    config.misbehave = *mode;
  }
  if (const char* raw = getenv("PBFT_ALLOW_MISBEHAVIOUR"); raw != nullptr && *raw != '\0') {
    const std::string v = raw;
    if (v != "1" && v != "0" && v != "true" && v != "false")
      fail("PBFT_ALLOW_MISBEHAVIOUR (sets testing.allow_misbehaviour)", "must be 1, 0, true or false");
    config.allow_misbehaviour = v == "1" || v == "true";
  }

  derive_ticks(config);
  validate(config);
  target = std::move(config);
}

// ---------------------------------------------------------------------------
// Dev mode

crypto::KeyPair dev_key_pair(ReplicaId id) {
  if (id >= dev_replica_count)
    fail("PBFT_DEV", std::to_string(id) + " is not a dev replica id (0.." + std::to_string(dev_replica_count - 1) +
                         ")");
  static constexpr std::string_view prefix = "pbft-kv dev key, NOT SECRET #";
  static_assert(prefix.size() + 1 <= crypto::seed_size);
  std::array<uint8_t, crypto::seed_size> seed{};
  std::copy(prefix.begin(), prefix.end(), seed.begin());
  seed[prefix.size()] = static_cast<uint8_t>('0' + id);
  return crypto::key_pair_from_seed(seed);
}

crypto::KeyPair dev_client_key_pair(ClientId id) {
  if (id == 0 || id > dev_client_count)
    throw ConfigError(std::to_string(id) + " is not a dev client id (1.." + std::to_string(dev_client_count) + ")");
  static constexpr std::string_view prefix = "pbft-kv dev client, NOT SECRET";
  static_assert(prefix.size() + 1 <= crypto::seed_size);
  std::array<uint8_t, crypto::seed_size> seed{};
  std::copy(prefix.begin(), prefix.end(), seed.begin());
  seed[prefix.size()] = static_cast<uint8_t>(id);
  return crypto::key_pair_from_seed(seed);
}

NodeConfig dev_config(ReplicaId id, uint16_t base_port, const std::string& data_dir) {
  if (id >= dev_replica_count)
    fail("PBFT_DEV", std::to_string(id) + " is not a dev replica id (0.." + std::to_string(dev_replica_count - 1) +
                         ")");
  constexpr uint32_t span = 200 + dev_replica_count - 1;
  if (base_port == 0 || base_port > 65535 - span)
    fail("PBFT_DEV_BASE_PORT", std::to_string(base_port) + " leaves no room for ports base..base+" +
                                   std::to_string(span) + " (use 1.." + std::to_string(65535 - span) + ")");
  NodeConfig config;
  config.cluster_id = 1;
  for (ReplicaId i = 0; i < dev_replica_count; ++i) {
    Member m;
    m.id = i;
    m.host = "127.0.0.1";
    m.http_port = static_cast<uint16_t>(base_port + i);
    m.replica_port = static_cast<uint16_t>(base_port + 100 + i);
    m.client_port = static_cast<uint16_t>(base_port + 200 + i);
    m.public_key = dev_key_pair(i).public_key;
    config.members.push_back(std::move(m));
  }
  for (ClientId c = 1; c <= dev_client_count; ++c) config.clients.push_back({c, dev_client_key_pair(c).public_key});
  config.self = id;
  config.data_dir = data_dir;
  config.http_listen = HostPort{"127.0.0.1", config.members[id].http_port};
  config.replica_listen = HostPort{"127.0.0.1", config.members[id].replica_port};
  config.client_listen = HostPort{"127.0.0.1", config.members[id].client_port};
  config.view_change_timeout_ms = 5000;
  config.protocol.checkpoint_interval = 10;
  config.protocol.window_size = 40;
  config.tick_ms = 10;
  config.dev_mode = true;
  config.dev_key = dev_key_pair(id);
  derive_ticks(config);
  validate(config);
  return config;
}

// ---------------------------------------------------------------------------
// Cluster generation

std::vector<std::string> write_cluster_config(const std::string& dir, uint32_t replicas, uint16_t base_port,
                                              const std::string& host, uint64_t cluster_id) {
  constexpr uint32_t replicas_max = 100;  // HTTP ports base.., replica ports base+100.., client ports base+200..
  if (replicas < 1) fail("replicas", "must be at least 1");
  if (replicas > replicas_max)
    fail("replicas", std::to_string(replicas) + " is too many: at most " + std::to_string(replicas_max) +
                         " (HTTP ports base_port+i, replica ports base_port+100+i and client ports "
                         "base_port+200+i must not overlap)");
  const uint32_t span = 200 + replicas - 1;
  if (base_port == 0 || base_port > 65535 - span)
    fail("base_port", std::to_string(base_port) + " leaves no room for ports base_port..base_port+" +
                          std::to_string(span) + " (use 1.." + std::to_string(65535 - span) + ")");
  if (!valid_host(host)) fail("host", quote_text(host) + " is not a host name or IP address");
  if (dir.empty()) fail("dir", "must not be empty");

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, "cannot create folder: " + ec.message());

  std::vector<std::string> paths;
  for (uint32_t i = 0; i < replicas; ++i) {
    paths.push_back((fs::path(dir) / ("replica-" + std::to_string(i) + ".toml")).string());
    paths.push_back((fs::path(dir) / ("replica-" + std::to_string(i) + ".key")).string());
  }
  // Check them all first, so that nothing is written when any exists.
  for (const std::string& p : paths) {
    if (fs::symlink_status(p, ec).type() != fs::file_type::not_found)
      fail(p, "already exists; refusing to overwrite it");
  }

  std::vector<crypto::KeyPair> keys;
  std::vector<Member> members;
  for (uint32_t i = 0; i < replicas; ++i) {
    keys.push_back(crypto::generate_key_pair());
    Member m;
    m.id = i;
    m.host = host;
    m.http_port = static_cast<uint16_t>(base_port + i);
    m.replica_port = static_cast<uint16_t>(base_port + 100 + i);
    m.client_port = static_cast<uint16_t>(base_port + 200 + i);
    m.public_key = keys.back().public_key;
    members.push_back(std::move(m));
  }
  try {
    for (uint32_t i = 0; i < replicas; ++i) {
      write_new_file(paths[2 * i], cluster_toml(i, members, cluster_id), 0644);
      const std::string& key_path = paths[2 * i + 1];
      // Claim the name exclusively, then write the key with mode 0600.
      write_new_file(key_path, "", 0600);
      write_key_file(key_path, keys[i]);
    }
  } catch (...) {
    for (auto& k : keys) sodium_memzero(k.secret_key.data(), k.secret_key.size());
    throw;
  }
  for (auto& k : keys) sodium_memzero(k.secret_key.data(), k.secret_key.size());
  return paths;
}

}  // namespace pbft::node
