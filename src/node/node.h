// The kv-node daemon's composition root: one replica of the protocol core,
// its key-value state machine, the replica transport, the HTTP API with its
// gateway client, and the tick timer, all on one io_context thread. The node
// runs the core's output in the order output.h prescribes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "core/replica.h"
#include "crypto/sodium_crypto.h"
#include "http/api.h"
#include "http/server.h"
#include "kv/kv_store.h"
#include "node/config.h"
#include "node/gateway.h"
#include "transport/peer_network.h"

namespace pbft::node {

class Node final : public http::KvBackend {
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

  // http::KvBackend
  void put(std::string request_id, std::string key, std::string value, http::KvDone done) override;
  void get(std::string request_id, std::string key, http::KvDone done) override;
  std::optional<std::string> get_local(const std::string& key) override;
  std::string state_json() override;

 private:
  void on_tick();
  void on_peer_message(ReplicaId from, wire::Message message);
  void send_request(ReplicaId to, const wire::Request& request);
  void run_output();
  void on_fetch_state(const core::FetchState& fetch);
  void ask_for_state();
  void submit(kv::Operation op, std::string request_id, http::KvDone done);
  std::optional<http::ApiError> unavailable() const;
  std::string new_request_id();
  void log_transitions();

  boost::asio::io_context& io_;
  NodeConfig config_;
  crypto::SodiumCrypto crypto_;
  kv::KvStore kv_;
  core::Replica replica_;
  std::unique_ptr<transport::PeerNetwork> network_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> http_;
  boost::asio::steady_timer tick_timer_;
  bool stopped_ = false;
  bool in_output_ = false;

  // State transfer: what to fetch, and which peer to ask next.
  std::optional<core::FetchState> fetching_;
  ReplicaId fetch_peer_ = 0;

  // What the log last said, to report changes once.
  View logged_view_ = 0;
  bool logged_active_ = true;
  Seq logged_stable_ = 0;
  std::mt19937_64 ids_;
};

}  // namespace pbft::node
