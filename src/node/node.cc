#include "node/node.h"

#include <nlohmann/json.hpp>

#include "common/client_id.h"
#include "node/logging.h"

namespace pbft::node {
namespace {

crypto::Keyring make_keyring(const NodeConfig& c) {
  crypto::Keyring k;
  k.self = c.dev_key ? *c.dev_key : read_key_file(c.key_file);
  k.self_is_replica = true;
  k.self_id = c.self;
  for (const Member& m : c.members) k.replicas.push_back(m.public_key);
  return k;
}

transport::PeerNetworkOptions network_options(const NodeConfig& c) {
  transport::PeerNetworkOptions o;
  o.cluster_id = c.cluster_id;
  o.self = c.self;
  o.listen_host = c.replica_listen.host;
  o.listen_port = c.replica_listen.port;
  for (const Member& m : c.members) o.peers.push_back({m.id, m.host, m.replica_port});
  return o;
}

}  // namespace

Node::Node(boost::asio::io_context& io, NodeConfig config)
    : io_(io),
      config_(std::move(config)),
      crypto_(make_keyring(config_)),
      replica_(config_.protocol, config_.self, crypto_, kv_),
      tick_timer_(io),
      ids_(std::random_device{}()) {
  network_ = std::make_unique<transport::PeerNetwork>(
      io, network_options(config_), crypto_,
      [this](ReplicaId from, wire::Message m) { on_peer_message(from, std::move(m)); });
  core::Quorum quorum = config_.protocol.quorum();
  GatewayOptions g;
  g.self = config_.self;
  g.replica_count = config_.protocol.replica_count;
  g.reply_quorum = quorum.reply;
  g.retry_ms = config_.request_retry_ms;
  g.timeout_ms = config_.request_timeout_ms;
  gateway_ = std::make_unique<Gateway>(
      io, g, crypto_, [this](ReplicaId to, const wire::Request& r) { send_request(to, r); });
  http::ServerOptions h;
  h.host = config_.http_listen.host;
  h.port = config_.http_listen.port;
  h.body_bytes_max = config_.body_bytes_max;
  http::ApiLimits limits{config_.key_bytes_max, config_.value_bytes_max};
  http_ = std::make_unique<http::Server>(
      io, h, [this, limits](http::Request request, http::Respond respond) {
        http::handle_api(request, *this, limits, std::move(respond));
      });
}

Node::~Node() { stop(); }

void Node::start() {
  network_->start();
  http_->start();
  auto log = logger("node");
  log->info("replica {} of {} (f={}, quorum={}): HTTP on {}:{}, replicas on {}:{}", config_.self,
            config_.protocol.replica_count, config_.protocol.quorum().f,
            config_.protocol.quorum().q, config_.http_listen.host, http_->port(),
            config_.replica_listen.host, network_->listen_port());
  on_tick();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  http_->stop();
  network_->stop();
  gateway_->cancel_all();
}

void Node::on_tick() {
  if (stopped_) return;
  replica_.tick();
  run_output();
  if (fetching_ && replica_.last_executed() >= fetching_->seq) fetching_.reset();
  tick_timer_.expires_after(std::chrono::milliseconds(config_.tick_ms));
  tick_timer_.async_wait([this](auto ec) {
    if (!ec) on_tick();
  });
}

void Node::send_request(ReplicaId to, const wire::Request& request) {
  if (to == config_.self) {
    replica_.receive_request(request);
    run_output();
  } else {
    network_->send(to, request);
  }
}

void Node::on_peer_message(ReplicaId from, wire::Message message) {
  if (stopped_) return;
  if (auto* reply = std::get_if<wire::Reply>(&message)) {
    gateway_->on_reply(from, *reply);
    return;
  }
  if (auto* ask = std::get_if<wire::StateRequest>(&message)) {
    if (ask->replica != from) return;
    wire::StateReply answer{ask->seq, config_.self, {}};
    if (const core::OwnCheckpoint* cp = replica_.checkpoint_at(ask->seq)) answer.snapshot = cp->snapshot;
    network_->send(from, answer);
    return;
  }
  if (auto* state = std::get_if<wire::StateReply>(&message)) {
    if (!fetching_ || state->seq != fetching_->seq || state->replica != from) return;
    if (state->snapshot.empty()) {
      ask_for_state();  // that peer no longer has it: try the next
      return;
    }
    logger("node")->info("state transfer: {} bytes at seq {} from replica {}",
                         state->snapshot.size(), state->seq, from);
    replica_.state_transferred(state->seq, state->snapshot);
    run_output();
    return;
  }
  replica_.receive(from, message);
  run_output();
}

// Runs the core's output in the prescribed order: (executed batches are
// already applied) persist, then sends and replies, then state fetches.
void Node::run_output() {
  if (in_output_) return;  // the outer call picks up what this step produced
  in_output_ = true;
  for (;;) {
    core::Output out = replica_.take_output();
    if (out.empty()) break;
    // out.persist: the replica's state lives in memory for now; durable
    // storage (RocksDB) writes it here before anything below leaves.
    for (core::Send& s : out.sends) {
      if (s.to) network_->send(*s.to, s.message);
      else network_->broadcast(s.message);
    }
    for (core::ClientReply& r : out.replies) {
      std::optional<ReplicaId> owner = gateway_of(r.client);
      if (!owner) continue;  // clients outside the cluster arrive with the client library
      if (*owner == config_.self) gateway_->on_reply(config_.self, r.reply);
      else if (*owner < config_.protocol.replica_count) network_->send(*owner, r.reply);
    }
    if (out.fetch_state) on_fetch_state(*out.fetch_state);
  }
  in_output_ = false;
  log_transitions();
}

void Node::on_fetch_state(const core::FetchState& fetch) {
  if (!fetching_ || fetching_->seq != fetch.seq) {
    logger("node")->warn("behind the cluster: fetching the state at stable checkpoint {} (digest {})",
                         fetch.seq, short_hex(fetch.digest));
  }
  fetching_ = fetch;
  ask_for_state();
}

void Node::ask_for_state() {
  if (!fetching_ || config_.protocol.replica_count < 2) return;
  fetch_peer_ = (fetch_peer_ + 1) % config_.protocol.replica_count;
  if (fetch_peer_ == config_.self) fetch_peer_ = (fetch_peer_ + 1) % config_.protocol.replica_count;
  network_->send(fetch_peer_, wire::StateRequest{fetching_->seq, config_.self});
}

void Node::log_transitions() {
  auto log = logger("node");
  if (replica_.view() != logged_view_ || replica_.view_active() != logged_active_) {
    if (!replica_.view_active()) {
      log->warn("view change: moving to view {} (primary would be replica {})", replica_.view(),
                replica_.primary_of(replica_.view()));
    } else {
      log->info("view {} started: primary is replica {}", replica_.view(),
                replica_.primary_of(replica_.view()));
    }
    logged_view_ = replica_.view();
    logged_active_ = replica_.view_active();
  }
  if (replica_.stable_seq() != logged_stable_) {
    log->debug("stable checkpoint at seq {}", replica_.stable_seq());
    logged_stable_ = replica_.stable_seq();
  }
}

std::optional<http::ApiError> Node::unavailable() const {
  uint32_t reachable = network_->connected_peers() + 1;
  uint32_t q = config_.protocol.quorum().q;
  if (reachable >= q) return std::nullopt;
  return http::ApiError{503,
                        "no quorum reachable: connected to " + std::to_string(reachable) + " of " +
                            std::to_string(config_.protocol.replica_count) + " replicas, need " +
                            std::to_string(q),
                        1};
}

std::string Node::new_request_id() {
  uint64_t hi = ids_(), lo = ids_();
  hi = (hi & ~0xf000ull) | 0x4000ull;                // version 4
  lo = (lo & ~(3ull << 62)) | (2ull << 62);          // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

void Node::put(std::string request_id, std::string key, std::string value, http::KvDone done) {
  bool generated = request_id.empty();
  if (generated) request_id = new_request_id();
  kv::Operation op{kv::OpKind::put, std::move(key), std::move(value), generated ? "" : request_id};
  submit(std::move(op), std::move(request_id), std::move(done));
}

void Node::get(std::string request_id, std::string key, http::KvDone done) {
  bool generated = request_id.empty();
  if (generated) request_id = new_request_id();
  kv::Operation op{kv::OpKind::get, std::move(key), "", generated ? "" : request_id};
  submit(std::move(op), std::move(request_id), std::move(done));
}

void Node::submit(kv::Operation op, std::string request_id, http::KvDone done) {
  if (auto error = unavailable()) {
    done(*error);
    return;
  }
  uint32_t timeout_ms = config_.request_timeout_ms;
  gateway_->submit(op, [op, request_id, timeout_ms, done = std::move(done)](GatewayOutcome o) {
    if (std::holds_alternative<GatewayTimeout>(o)) {
      done(http::ApiError{504, "request not committed within " + std::to_string(timeout_ms) +
                                   " ms; it may still take effect (retry with the same request-id)"});
      return;
    }
    if (std::holds_alternative<GatewayBusy>(o)) {
      done(http::ApiError{503, "too many requests in flight on this replica", 1});
      return;
    }
    const kv::Result& r = std::get<kv::Result>(o);
    switch (r.status) {
      case kv::ResultStatus::conflict:
        done(http::ApiError{409, "request-id " + request_id +
                                     " was already used for a different operation"});
        return;
      case kv::ResultStatus::bad_operation:
        done(http::ApiError{500, "the cluster could not execute the operation"});
        return;
      case kv::ResultStatus::ok:
      case kv::ResultStatus::not_found:
        break;
    }
    http::KvResult out{request_id, r.sequence, op.key, std::nullopt};
    if (op.kind == kv::OpKind::put) out.value = op.value;
    else if (r.status == kv::ResultStatus::ok) out.value = r.value;
    done(std::move(out));
  });
}

std::optional<std::string> Node::get_local(const std::string& key) { return kv_.get(key); }

std::string Node::state_json() {
  using json = nlohmann::ordered_json;  // the seed's fields first, in its order
  const core::DurableState& d = replica_.durable();
  json j;
  if (!replica_.view_active()) j["replica_state"] = "ViewChange";
  else if (replica_.is_primary()) j["replica_state"] = {{"Leader", {{"sequence", d.last_proposed}}}};
  else j["replica_state"] = "Replica";
  j["view"] = replica_.view();
  j["last_applied"] = replica_.last_executed();
  j["last_stable_checkpoint_sequence"] =
      replica_.stable_seq() == 0 ? json(nullptr) : json(replica_.stable_seq());
  core::Quorum q = config_.protocol.quorum();
  j["replica_id"] = config_.self;
  j["primary"] = replica_.primary_of(replica_.view());
  j["replica_count"] = q.n;
  j["f"] = q.f;
  j["quorum"] = q.q;
  j["connected_peers"] = network_->connected_peers();
  j["requests_in_flight"] = gateway_->in_flight();
  j["state_transfer"] = fetching_ ? json{{"seq", fetching_->seq}} : json(nullptr);
  const core::RejectCounts& r = replica_.rejected();
  j["rejected"] = {{"bad_signature", r.bad_signature},     {"wrong_sender", r.wrong_sender},
                   {"wrong_view", r.wrong_view},           {"out_of_window", r.out_of_window},
                   {"malformed", r.malformed},             {"conflicting", r.conflicting},
                   {"bad_certificate", r.bad_certificate}, {"bad_state", r.bad_state}};
  transport::NetworkStats s = network_->stats();
  j["transport"] = {{"bad_frames", s.bad_frames},
                    {"bad_macs", s.bad_macs},
                    {"connections_accepted", s.connections_accepted},
                    {"connections_closed_for_errors", s.connections_closed_for_errors}};
  return j.dump();
}

}  // namespace pbft::node
