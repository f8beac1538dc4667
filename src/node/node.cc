#include "node/node.h"

#include <boost/asio/post.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/client_id.h"
#include "node/logging.h"
#include "storage/memory_storage.h"
#include "storage/rocks_storage.h"
#include "wire/codec.h"

namespace pbft::node {
namespace {

crypto::Keyring make_keyring(const NodeConfig& c) {
  crypto::Keyring k;
  k.self = c.dev_key ? *c.dev_key : read_key_file(c.key_file);
  k.self_is_replica = true;
  k.self_id = c.self;
  for (const Member& m : c.members) k.replicas.push_back(m.public_key);
  for (const ClientMember& m : c.clients) k.clients[m.id] = m.public_key;
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

std::unique_ptr<storage::Storage> open_storage(const NodeConfig& c) {
  if (c.storage_engine == StorageEngine::memory) return std::make_unique<storage::MemoryStorage>();
  return storage::RocksStorage::open(c.data_dir);
}

}  // namespace

Node::Node(boost::asio::io_context& io, NodeConfig config)
    : io_(io),
      config_(std::move(config)),
      crypto_(make_keyring(config_)),
      tick_timer_(io),
      propose_timer_(io),
      ids_(std::random_device{}()) {
  auto log = logger("node");
  storage_ = open_storage(config_);
  replica_store_ = std::make_unique<storage::ReplicaStore>(*storage_);
  std::optional<core::DurableState> durable = replica_store_->load();
  kv_ = std::make_unique<kv::KvStore>(*storage_);
  if (durable) {
    log->info("recovered from {}: view {}, last executed {}, stable checkpoint {}", config_.data_dir,
              durable->view, durable->last_executed, durable->stable_seq);
    logged_view_ = durable->view;
    logged_stable_ = durable->stable_seq;
  } else if (config_.storage_engine == StorageEngine::rocksdb) {
    log->info("new replica: empty data folder {}", config_.data_dir);
  } else {
    log->warn("storage engine 'memory': nothing this replica writes survives a restart");
  }
  core::Config protocol = config_.protocol;
  protocol.defer_proposals = true;  // batches close once per turn of the loop (propose_later)
  replica_ = std::make_unique<core::Replica>(protocol, config_.self, crypto_, *kv_,
                                             durable.value_or(core::DurableState{}));
  if (config_.sync != SyncMode::off) {
    sync_thread_ = std::make_unique<storage::SyncThread>(
        *storage_,
        [this](uint64_t generation, double seconds) {
          boost::asio::post(io_, [this, generation, seconds] { on_synced(generation, seconds); });
        },
        // On the sync thread, at once: no message that waits for this sync
        // may leave.
        [this](const std::string& what) { storage_failed(storage::StorageError(what)); });
  }
  kv::FetchOptions fetch;
  fetch.self = config_.self;
  fetch.replica_count = config_.protocol.replica_count;
  fetch.timeout_ticks = std::max<uint64_t>(1, 2000 / std::max<uint32_t>(1, config_.tick_ms));
  fetcher_ = std::make_unique<kv::StateFetcher>(*kv_, crypto_, fetch);
  network_ = std::make_unique<transport::PeerNetwork>(
      io, network_options(config_), crypto_,
      [this](ReplicaId from, wire::Message m) { on_peer_message(from, std::move(m)); });
  core::Quorum quorum = config_.protocol.quorum();
  GatewayOptions g;
  g.self = config_.self;
  g.replica_count = config_.protocol.replica_count;
  g.reply_quorum = quorum.reply;
  // A fast read needs every replica's answer (gateway.h).
  g.write_quorum = quorum.reply;
  g.fast_quorum = quorum.n;
  g.retry_ms = config_.request_retry_ms;
  g.timeout_ms = config_.request_timeout_ms;
  g.bundle_requests_max = config_.request_bundle_max;
  gateway_ = std::make_unique<Gateway>(
      io, g, crypto_, [this](ReplicaId to, const wire::Request& r) { send_request(to, r); });
  http::ServerOptions h;
  h.host = config_.http_listen.host;
  h.port = config_.http_listen.port;
  h.body_bytes_max = config_.body_bytes_max;
  http::ApiLimits limits{config_.key_bytes_max, config_.value_bytes_max};
  if (config_.client_listen.port != 0) {
    transport::ClientServerOptions o;
    o.cluster_id = config_.cluster_id;
    o.listen_host = config_.client_listen.host;
    o.listen_port = config_.client_listen.port;
    o.connections_max = config_.client_connections_max;
    o.requests_per_second = config_.client_requests_per_second;
    clients_ = std::make_unique<transport::ClientServer>(
        io, o,
        [this](transport::ClientServer::ConnectionId from, wire::Request r) { on_client_request(from, std::move(r)); },
        transport::ClientServer::Auth{
            [this](ClientId client, ByteView frame) { return crypto_.mac_to_client(client, frame); },
            [this](ClientId client, ByteView frame, const Mac& mac) {
              return crypto_.verify_client_mac(client, frame, mac);
            }});
  }
  http_ = std::make_unique<http::Server>(
      io, h, [this, limits](http::Request request, http::Respond respond) {
        handle_http(std::move(request), std::move(respond), limits);
      });
}

Node::~Node() { stop(); }

void Node::start() {
  network_->start();
  http_->start();
  if (clients_) clients_->start();
  auto log = logger("node");
  log->info("replica {} of {} (f={}, quorum={}): HTTP on {}:{}, replicas on {}:{}, {}", config_.self,
            config_.protocol.replica_count, config_.protocol.quorum().f,
            config_.protocol.quorum().q, config_.http_listen.host, http_->port(),
            config_.replica_listen.host, network_->listen_port(),
            clients_ ? fmt::format("clients on {}:{} ({} known)", config_.client_listen.host, clients_->listen_port(),
                                   config_.clients.size())
                     : std::string("no client port"));
  on_tick();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  propose_timer_.cancel();
  http_->stop();
  if (clients_) clients_->stop();
  network_->stop();
  gateway_->cancel_all();
}

void Node::on_tick() {
  if (stopped_) return;
  replica_->tick();
  run_output();
  if (config_.misbehave == Misbehaviour::flood) flood_peers();
  try {
    // The fetcher writes to storage itself: the core's writes go first.
    if (fetcher_->active()) write_state();
    fetcher_->tick();
  } catch (const storage::StorageError& e) {
    storage_failed(e);
  }
  drive_fetcher();
  tick_timer_.expires_after(std::chrono::milliseconds(config_.tick_ms));
  tick_timer_.async_wait([this](auto ec) {
    if (!ec) on_tick();
  });
}

void Node::send_request(ReplicaId to, const wire::Request& request) {
  if (to == config_.self) {
    replica_->receive_own_request(request);
    run_output();
  } else {
    network_->send(to, request);
  }
}

// The frame's MAC is the client's (the client listener checked it). A fast
// read needs no more: it is answered to this client and goes nowhere else.
// An ordered request travels on in batches, so its signature is checked
// here, once, before anything else (the core does not check it again).
void Node::on_client_request(transport::ClientServer::ConnectionId from, wire::Request request) {
  if (stopped_) return;
  const bool read_only = (request.flags & wire::Request::flag_read_only) != 0;
  if (gateway_of(request.client)) return;
  ClientRoute& route = client_links_[request.client];
  if (!read_only) {
    // What was checked is the whole request, a bundle path included: a
    // copy with another path must be checked again.
    Bytes checked_bytes = wire::signing_bytes(request);
    for (const Digest& d : request.bundle_path) checked_bytes.insert(checked_bytes.end(), d.bytes.begin(), d.bytes.end());
    for (int i = 0; i < 4; ++i) checked_bytes.push_back(static_cast<uint8_t>(request.bundle_index >> (8 * i)));
    const std::pair<Digest, Signature> seen{crypto_.digest(checked_bytes), request.sig};
    if (route.checked != seen) {
      if (!core::check_client_signature(crypto_, request, verified_bundles_)) {
        ++client_bad_signatures_;
        if (route.connections.empty()) client_links_.erase(request.client);
        clients_->close(from);  // a correct client never sends one
        return;
      }
      route.checked = seen;
    }
  }
  if (request.timestamp > route.timestamp) {
    route.timestamp = request.timestamp;  // what was checked stays: its retries are not checked again
    route.connections = {from};
  } else if (request.timestamp == route.timestamp && route.connections.size() < client_route_connections_max &&
             std::find(route.connections.begin(), route.connections.end(), from) == route.connections.end()) {
    route.connections.push_back(from);
  }
  replica_->receive_checked_request(request);
  run_output();
}

void Node::on_peer_message(ReplicaId from, wire::Message message) {
  if (stopped_) return;
  if (auto* reply = std::get_if<wire::Reply>(&message)) {
    gateway_->on_reply(from, *reply);
    return;
  }
  if (auto* ask = std::get_if<wire::StateRequest>(&message)) {
    if (ask->replica != from) return;
    try {
      wire::StateReply reply = kv::StateFetcher::serve(*ask, config_.self, replica_->checkpoint_at(ask->seq), *kv_);
      if (config_.misbehave == Misbehaviour::bad_state_chunks) corrupt_state_reply(reply);
      if (config_.misbehave != Misbehaviour::silent) network_->send(from, reply);
    } catch (const storage::StorageError& e) {
      storage_failed(e);
    }
    return;
  }
  if (auto* state = std::get_if<wire::StateReply>(&message)) {
    if (state->replica != from) return;
    try {
      write_state();
      fetcher_->on_reply(from, *state);
    } catch (const storage::StorageError& e) {
      storage_failed(e);
    }
    drive_fetcher();
    return;
  }
  const uint64_t mutes_before = replica_->mutes();
  replica_->receive(from, message);
  if (replica_->mutes() != mutes_before) {
    // The core caught `from` signing garbage and drops what it sends for a
    // while: stop reading it at all for as long (TCP holds the rest back).
    network_->mute(from, std::chrono::milliseconds(uint64_t{config_.protocol.mute_faulty_peer_ticks} *
                                                   config_.tick_ms));
  }
  run_output();
}

// Runs the core's output in the prescribed order: (executed batches are
// already applied) persist, then sends and replies, then state fetches, then
// resume execution past a checkpoint. A storage failure stops the process:
// a replica never goes on from a state it could not write.
void Node::run_output() {
  if (in_output_) return;  // the outer call picks up what this step produced
  in_output_ = true;
  try {
    run_output_steps();
  } catch (const storage::StorageError& e) {
    storage_failed(e);
  }
  in_output_ = false;
  log_transitions();
}

void Node::run_output_steps() {
  for (;;) {
    core::Output out = replica_->take_output();
    if (out.empty()) break;
    note_executed(out.executed);
    if (out.persist || out.resume) persist_state();
    // Execution goes on past a checkpoint only once the checkpoint's state
    // is written (its read view is taken then): write it now.
    if (out.resume) write_state();
    for (core::Send& s : out.sends) deliver(std::move(s));
    for (core::ClientReply& r : out.replies) deliver(std::move(r));
    if (out.fetch_state) on_fetch_state(*out.fetch_state);
    if (out.propose) propose_later();
    if (out.resume) replica_->resume();
  }
}

// A forged result, signed as a correct one would be (the signature covers
// the request's operation digest, which the reply cache keeps).
void Node::forge_reply(wire::Reply& reply) const {
  reply.result = forge_result(reply.result);
  if (!reply.sig) return;
  const core::ClientTable::Entry* entry = replica_->durable().clients.find(reply.client);
  if (entry == nullptr || entry->timestamp != reply.timestamp) return;
  reply.sig = crypto_.sign(wire::reply_signing_bytes(reply.client, reply.timestamp, reply.seq, config_.self,
                                                     entry->operation, crypto_.digest(reply.result)));
}

void Node::storage_failed(const std::exception& e) {
  auto log = logger("node");
  log->critical("storage failure, stopping this replica so it never runs on a state it could not "
                "write: {}",
                e.what());
  log->flush();
  std::_Exit(74);  // EX_IOERR
}

void Node::on_fetch_state(const core::FetchState& fetch) {
  if (!fetch_logged_seq_ || *fetch_logged_seq_ != fetch.seq) {
    logger("node")->warn("behind the cluster: fetching the state at stable checkpoint {} (digest {})",
                         fetch.seq, short_hex(fetch.digest));
    fetch_logged_seq_ = fetch.seq;
    fetch_started_ = fetch_logged_at_ = std::chrono::steady_clock::now();
  }
  write_state();
  fetcher_->start(fetch.seq, fetch.digest);
  drive_fetcher();
}

// Sends the fetcher's requests; hands a completely fetched state to the core.
void Node::drive_fetcher() {
  for (auto& [to, request] : fetcher_->take_requests()) network_->send(to, request);
  if (auto ready = fetcher_->take_ready()) {
    log_fetch_progress(true);
    ++metrics_.state_transfers_completed;
    note_event("state_transfer", "state transfer complete at seq " + std::to_string(ready->first));
    replica_->state_transferred(ready->first, ready->second);
    run_output();
  } else if (fetcher_->active()) {
    log_fetch_progress(false);
  }
}

void Node::log_fetch_progress(bool done) {
  auto now = std::chrono::steady_clock::now();
  if (!done && now - fetch_logged_at_ < std::chrono::seconds(1)) return;
  fetch_logged_at_ = now;
  kv::StateFetcher::Progress p = fetcher_->progress();
  double seconds = std::chrono::duration<double>(now - fetch_started_).count();
  double mb = static_cast<double>(p.bytes) / 1e6;
  logger("node")->info("state transfer{} at seq {}: {:.1f} MB in {} chunks, buckets {}/{}, {:.1f} MB/s{}",
                       done ? " complete" : "", p.seq, mb, p.chunks, p.buckets_done, p.buckets_total,
                       seconds > 0 ? mb / seconds : 0.0,
                       p.bad_replies > 0 ? fmt::format(", {} bad replies", p.bad_replies) : "");
}

void Node::log_transitions() {
  auto log = logger("node");
  if (replica_->view() != logged_view_ || replica_->view_active() != logged_active_) {
    if (!replica_->view_active()) {
      log->warn("view change: moving to view {} (primary would be replica {})", replica_->view(),
                replica_->primary_of(replica_->view()));
      ++metrics_.view_changes;
      note_event("view_change", fmt::format("view change to view {}", replica_->view()));
    } else {
      log->info("view {} started: primary is replica {}", replica_->view(),
                replica_->primary_of(replica_->view()));
      note_event("view_started", fmt::format("view {} started, primary replica {}", replica_->view(),
                                             replica_->primary_of(replica_->view())));
    }
    logged_view_ = replica_->view();
    logged_active_ = replica_->view_active();
  }
  if (replica_->stable_seq() != logged_stable_) {
    log->debug("stable checkpoint at seq {}", replica_->stable_seq());
    note_event("checkpoint", fmt::format("stable checkpoint at seq {}", replica_->stable_seq()));
    logged_stable_ = replica_->stable_seq();
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
  submit(std::move(op), std::move(request_id), Path::ordered, std::move(done));
}

void Node::get(std::string request_id, std::string key, http::KvDone done) {
  bool generated = request_id.empty();
  if (generated) request_id = new_request_id();
  kv::Operation op{kv::OpKind::get, std::move(key), "", generated ? "" : request_id};
  submit(std::move(op), std::move(request_id), Path::ordered, std::move(done));
}

// The fast read carries no request id: it records nothing, and its
// fallback is an ordered read, which is safe to run twice.
void Node::get_fast(std::string key, http::KvDone done) {
  kv::Operation op{kv::OpKind::get, std::move(key), "", ""};
  submit(std::move(op), new_request_id(), Path::fast, std::move(done));
}

void Node::submit(kv::Operation op, std::string request_id, Path path, http::KvDone done) {
  order(op, std::move(request_id), path, [op, done = std::move(done)](http::OpOutcome o) {
    if (auto* error = std::get_if<http::ApiError>(&o)) {
      done(std::move(*error));
      return;
    }
    const http::OpReply& reply = std::get<http::OpReply>(o);
    const kv::Result& r = reply.result;
    http::KvResult out{reply.request_id, r.sequence, op.key, std::nullopt};
    if (op.kind == kv::OpKind::put) {
      out.value = op.value;
      out.revision = r.sequence;
    } else if (r.status == kv::ResultStatus::ok) {
      out.value = r.value;
      // A get answered before revisions (plain form, from a reply cache) has none.
      if (r.form == kv::ResultForm::record) out.revision = r.revision;
    }
    if (op.kind == kv::OpKind::get) out.read_path = reply.fast ? "fast" : "ordered";
    done(std::move(out));
  });
}

static_assert(kv::result_bytes_max <= wire::result_bytes_max, "every KV answer fits a reply");

void Node::execute(kv::Operation op, http::OpDone done) {
  std::string request_id = op.request_id.empty() ? new_request_id() : op.request_id;
  order(std::move(op), std::move(request_id), Path::ordered, std::move(done));
}

void Node::execute_with_proof(kv::Operation op, http::OpDone done) {
  std::string request_id = op.request_id.empty() ? new_request_id() : op.request_id;
  order(std::move(op), std::move(request_id), Path::ordered_with_proof, std::move(done));
}

void Node::order(kv::Operation op, std::string request_id, Path path, http::OpDone done) {
  if (auto error = unavailable()) {
    done(*error);
    return;
  }
  uint32_t timeout_ms = config_.request_timeout_ms;
  const auto submitted = std::chrono::steady_clock::now();
  auto answered = [this, submitted, request_id, timeout_ms, done = std::move(done)](GatewayOutcome o) {
    if (std::holds_alternative<GatewayTimeout>(o)) {
      done(http::ApiError{504, "request not committed within " + std::to_string(timeout_ms) +
                                   " ms; it may still take effect (retry with the same request-id)"});
      return;
    }
    if (std::holds_alternative<GatewayBusy>(o)) {
      done(http::ApiError{503, "too many requests in flight on this replica", 1});
      return;
    }
    GatewayAnswer& answer = std::get<GatewayAnswer>(o);
    if (config_.misbehave == Misbehaviour::wrong_results) {
      // A lying gateway tells its HTTP client the forged result, and passes
      // on the certificate it collected with the forged result in it.
      Bytes forged = forge_result(kv::encode_result(answer.result));
      if (std::optional<kv::Result> f = kv::decode_result(forged)) answer.result = *f;
      if (answer.proof) answer.proof->result = forged;
    }
    kv::Result& r = answer.result;
    const double latency_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
    metrics_.commit_latency_s.observe(latency_s);
    metrics_.activity.committed(unix_ms(), latency_s);
    switch (r.status) {
      case kv::ResultStatus::conflict:
        done(http::ApiError{409, "request-id " + request_id +
                                     " was already used for a different operation"});
        return;
      case kv::ResultStatus::bad_operation:
        done(http::ApiError{500, "the cluster could not execute the operation"});
        return;
      case kv::ResultStatus::too_large:
        done(http::ApiError{413, "the transaction's answer would exceed " +
                                     std::to_string(kv::result_bytes_max) + " bytes; nothing was written"});
        return;
      case kv::ResultStatus::ok:
      case kv::ResultStatus::not_found:
      case kv::ResultStatus::compare_failed:
        break;
    }
    if (answer.fast) ++metrics_.fast_reads;
    done(http::OpReply{request_id, std::move(r), std::move(answer.proof), answer.fast});
  };
  if (path == Path::fast) gateway_->submit_fast_read(op, std::move(answered));
  else gateway_->submit(op, path == Path::ordered_with_proof, std::move(answered));
}

std::optional<std::string> Node::get_local(const std::string& key) { return kv_->get(key); }

std::string Node::state_json() {
  using json = nlohmann::ordered_json;  // the seed's fields first, in its order
  const core::DurableState& d = replica_->durable();
  json j;
  if (!replica_->view_active()) j["replica_state"] = "ViewChange";
  else if (replica_->is_primary()) j["replica_state"] = {{"Leader", {{"sequence", d.last_proposed}}}};
  else j["replica_state"] = "Replica";
  j["view"] = replica_->view();
  j["asks_view_change"] = replica_->asking_view() == 0 ? json(nullptr) : json(replica_->asking_view());
  j["last_applied"] = replica_->last_executed();
  j["last_stable_checkpoint_sequence"] =
      replica_->stable_seq() == 0 ? json(nullptr) : json(replica_->stable_seq());
  core::Quorum q = config_.protocol.quorum();
  j["replica_id"] = config_.self;
  j["primary"] = replica_->primary_of(replica_->view());
  j["replica_count"] = q.n;
  j["f"] = q.f;
  j["quorum"] = q.q;
  j["connected_peers"] = network_->connected_peers();
  j["requests_in_flight"] = gateway_->in_flight();
  if (fetcher_->active()) {
    kv::StateFetcher::Progress p = fetcher_->progress();
    j["state_transfer"] = {{"seq", p.seq},
                           {"bytes", p.bytes},
                           {"chunks", p.chunks},
                           {"buckets_done", p.buckets_done},
                           {"buckets_total", p.buckets_total},
                           {"bad_replies", p.bad_replies}};
  } else {
    j["state_transfer"] = nullptr;
  }
  j["storage"] = {{"engine", to_string(config_.storage_engine)}, {"sync", to_string(config_.sync)}};
  const core::RejectCounts& r = replica_->rejected();
  j["rejected"] = json::object();
  for (const auto& [reason, count] : core::named_counts(r)) j["rejected"][reason] = count;
  transport::NetworkStats s = network_->stats();
  j["transport"] = {{"bad_frames", s.bad_frames},
                    {"bad_macs", s.bad_macs},
                    {"connections_accepted", s.connections_accepted},
                    {"connections_closed_for_errors", s.connections_closed_for_errors}};
  return j.dump();
}

}  // namespace pbft::node
