// The kv-node daemon's composition root: storage (RocksDB or memory), one
// replica of the protocol core, its key-value state machine, state transfer,
// the replica transport, the HTTP API with its gateway client, and the tick
// timer, all on one io_context thread. The node runs the core's output in
// the order output.h prescribes: what a message promises is written to
// storage before the message leaves.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <deque>
#include <variant>
#include <string>

#include "core/replica.h"
#include "crypto/sodium_crypto.h"
#include "http/api.h"
#include "http/ops_api.h"
#include "http/server.h"
#include "kv/kv_store.h"
#include "kv/state_fetcher.h"
#include "node/config.h"
#include "node/gateway.h"
#include "node/node_metrics.h"
#include "storage/replica_store.h"
#include "storage/storage.h"
#include "storage/sync_thread.h"
#include "transport/client_server.h"
#include "transport/peer_network.h"

namespace pbft::node {

class Node final : public http::KvBackend, public http::OpsBackend {
 public:
  Node(boost::asio::io_context& io, NodeConfig config);
  ~Node() override;

  // Binds the replica and HTTP listeners (throws std::system_error when an
  // address is taken) and starts ticking.
  void start();
  // Stops listening, closes connections, fails requests in flight.
  void stop();

  uint16_t http_port() const { return http_->port(); }
  uint16_t replica_port() const { return network_->listen_port(); }
  // 0 when this replica serves no binary-protocol clients.
  uint16_t client_port() const { return clients_ ? clients_->listen_port() : 0; }

  // http::KvBackend
  void put(std::string request_id, std::string key, std::string value, http::KvDone done) override;
  void get(std::string request_id, std::string key, http::KvDone done) override;
  void execute(kv::Operation op, http::OpDone done) override;
  void execute_with_proof(kv::Operation op, http::OpDone done) override;
  std::optional<std::string> get_local(const std::string& key) override;
  void get_fast(std::string key, http::KvDone done) override;
  std::string state_json() override;

  // http::OpsBackend (node_ops.cc)
  std::string metrics_text() override;
  http::Readiness readiness() override;
  std::string cluster_json() override;
  std::string slots_json() override;
  std::string activity_json() override;

 private:
  // node_ops.cc: what the metrics and the dashboard record.
  void handle_http(http::Request request, http::Respond respond, const http::ApiLimits& limits);
  void note_executed(const std::vector<core::Executed>& executed);
  void note_event(std::string kind, std::string text);
  // node_snapshot.cc: the snapshot export routes (docs/API.md).
  bool handle_snapshot(const http::Request& request, const http::Respond& respond);
  void expire_snapshot_exports();

  void on_tick();
  void on_peer_message(ReplicaId from, wire::Message message);
  void send_request(ReplicaId to, const wire::Request& request);
  // A request from a binary-protocol client (transport/client_server.h).
  void on_client_request(transport::ClientServer::ConnectionId from, wire::Request request);
  void run_output();
  void run_output_steps();
  // Group commit (node_persist.cc): persist_state() asks for a state
  // write, made once per turn of the event loop by write_state(); what the
  // core sends after it waits in held_ until the sync that covers it.
  void persist_state();
  void write_state();
  void on_synced(uint64_t generation, double seconds);
  void deliver(core::Send send);
  void deliver(core::ClientReply reply);
  void send_now(core::Send send);
  void send_now(core::ClientReply reply);
  void release_held();
  void replay_old_message();
  void flood_peers();
  void propose_later();
  [[noreturn]] void storage_failed(const std::exception& e);
  void on_fetch_state(const core::FetchState& fetch);
  void drive_fetcher();
  void log_fetch_progress(bool done);
  enum class Path { ordered, ordered_with_proof, fast };
  void submit(kv::Operation op, std::string request_id, Path path, http::KvDone done);
  // Orders `op` and answers with its result, or the error the seed routes
  // give for a timeout, a busy gateway, a conflict or a failed execution.
  void order(kv::Operation op, std::string request_id, Path path, http::OpDone done);
  // Misbehaviour::wrong_results: what this replica sends instead.
  void forge_reply(wire::Reply& reply) const;
  std::optional<http::ApiError> unavailable() const;
  std::string new_request_id();
  void log_transitions();

  boost::asio::io_context& io_;
  NodeConfig config_;
  crypto::SodiumCrypto crypto_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::ReplicaStore> replica_store_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<core::Replica> replica_;
  std::unique_ptr<kv::StateFetcher> fetcher_;
  std::unique_ptr<transport::PeerNetwork> network_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<transport::ClientServer> clients_;  // null: no client port
  // Where each binary-protocol client's replies go: the connections its
  // newest correctly signed request came on (a few: a replay of that
  // request on another connection, by whoever saw it, adds a connection
  // but takes none away; an older request moves nothing).
  struct ClientRoute {
    uint64_t timestamp = 0;
    std::vector<transport::ClientServer::ConnectionId> connections;
    // The last request whose signature checked, by the digest of what the
    // signature covers: a copy of it (a retry, or a replay) is not checked again.
    std::optional<std::pair<Digest, Signature>> checked;
  };
  static constexpr size_t client_route_connections_max = 4;
  std::map<ClientId, ClientRoute> client_links_;
  uint64_t client_bad_signatures_ = 0;  // requests refused: not signed by a known client
  core::VerifiedBundles verified_bundles_;  // bundle roots of binary-protocol clients checked here
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer propose_timer_;  // Misbehaviour::slow_primary
  bool stopped_ = false;
  bool in_output_ = false;

  // Group commit. State writes are numbered; write `written_` is durable
  // once synced_ reaches it. A message leaves only when every write made
  // before it was produced is durable (a pending write counts as made).
  std::unique_ptr<storage::SyncThread> sync_thread_;
  uint64_t written_ = 0;
  uint64_t synced_ = 0;
  bool write_due_ = false;     // durable state changed since the last write
  bool write_posted_ = false;  // write_state() is queued on the event loop
  bool propose_posted_ = false;
  struct Held {
    uint64_t needs;  // the write that must be durable first
    std::variant<core::Send, core::ClientReply> message;
  };
  std::deque<Held> held_;
  std::deque<core::Send> replay_log_;  // Misbehaviour::replay: what it sent
  uint64_t flood_sent_ = 0;            // Misbehaviour::flood

  // State transfer progress, for the log.
  std::optional<Seq> fetch_logged_seq_;
  std::chrono::steady_clock::time_point fetch_started_;
  std::chrono::steady_clock::time_point fetch_logged_at_;

  // What the log last said, to report changes once.
  View logged_view_ = 0;
  bool logged_active_ = true;
  Seq logged_stable_ = 0;
  std::mt19937_64 ids_;
  NodeMetrics metrics_;

  // Checkpoints being exported by `kvctl snapshot save`: kept (with a read
  // view of their records) while a client reads them, even after the
  // replica moved its stable checkpoint past them.
  struct SnapshotExport {
    Digest digest;
    std::vector<wire::Checkpoint> certificate;
    Bytes state;  // reply cache + manifest
    kv::CheckpointReader reader;
    std::chrono::steady_clock::time_point used;
  };
  std::map<Seq, SnapshotExport> exports_;
};

}  // namespace pbft::node
