// The node's operator side: HTTP routing with request metrics and CORS,
// /metrics, readiness, and the JSON the dashboard polls. Everything here
// only reads the core (its counters and read-only accessors).
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "node/logging.h"
#include "node/node.h"
#include "node/readiness.h"

namespace pbft::node {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Node::handle_http(http::Request request, http::Respond respond, const http::ApiLimits& limits) {
  std::string route = http::route_label({request.target().data(), request.target().size()});
  const bool cors = http::cors_readable(request);
  http::Respond counted = [this, route = std::move(route), cors,
                           respond = std::move(respond)](http::Response res) {
    ++metrics_.http_requests[{route, res.result_int()}];
    if (cors) res.set(http::bhttp::field::access_control_allow_origin, "*");
    respond(std::move(res));
  };
  bool handled = false;
  try {
    handled = handle_snapshot(request, counted) || http::handle_ops(request, *this, counted);
  } catch (const std::exception& e) {
    logger("http")->error("{} failed: {}", std::string(request.target()), e.what());
    counted(http::json_error(500, "internal error", request.version(), request.keep_alive()));
    return;
  }
  if (!handled) http::handle_api(request, *this, limits, std::move(counted));
}

namespace {

SlotSnapshot snapshot_of(Seq seq, const core::Slot& slot, Seq last_executed) {
  SlotSnapshot s;
  s.seq = seq;
  s.pre_prepare = slot.pre_prepare.has_value();
  s.requests = slot.pre_prepare ? slot.pre_prepare->batch.size() : 0;
  s.digest = slot.pre_prepare ? short_hex(slot.pre_prepare->digest) : "";
  s.prepares = slot.prepares.size();
  s.commits = slot.commits.size();
  s.prepared = slot.prepared;
  s.committed = slot.committed;
  s.executed = seq <= last_executed;
  return s;
}

}  // namespace

void Node::note_executed(const std::vector<core::Executed>& executed) {
  if (executed.empty()) return;
  uint64_t requests = 0;
  const core::DurableState& d = replica_->durable();
  for (const core::Executed& e : executed) {
    if (auto it = d.slots.find(e.seq); it != d.slots.end()) {
      metrics_.recent_slots[e.seq] = snapshot_of(e.seq, it->second, d.last_executed);
    }
    metrics_.batch_size.observe(static_cast<double>(e.requests.size()));
    requests += e.requests.size();
  }
  while (metrics_.recent_slots.size() > NodeMetrics::recent_slots_max) {
    metrics_.recent_slots.erase(metrics_.recent_slots.begin());
  }
  metrics_.executed_batches += executed.size();
  metrics_.executed_requests += requests;
  metrics_.activity.executed(unix_ms(), requests);
}

void Node::note_event(std::string kind, std::string text) {
  metrics_.events.add({unix_ms(), std::move(kind), replica_->view(), replica_->stable_seq(), std::move(text)});
}

namespace {

// The highest sequence number this replica has prepared in its view.
Seq last_prepared(const core::DurableState& d) {
  for (auto it = d.slots.rbegin(); it != d.slots.rend(); ++it) {
    if (it->second.prepared) return it->first;
  }
  return d.last_executed;
}

}  // namespace

std::string Node::metrics_text() {
  using T = PromWriter::Type;
  PromWriter w;
  const core::DurableState& d = replica_->durable();
  const core::Config& pc = config_.protocol;

  w.family("pbft_http_requests_total", T::counter, "HTTP answers sent, by route and status.");
  for (const auto& [key, count] : metrics_.http_requests) {
    w.sample("pbft_http_requests_total", {{"route", key.first}, {"status", std::to_string(key.second)}},
             static_cast<double>(count));
  }
  w.histogram("pbft_commit_latency_seconds",
              "Time from submitting a request through this replica to f+1 matching replies.",
              metrics_.commit_latency_s);
  w.single("pbft_requests_in_flight", T::gauge, "Requests of this replica's gateway waiting for replies.",
           static_cast<double>(gateway_->in_flight()));
  w.histogram("pbft_batch_size_requests", "Requests per executed batch.", metrics_.batch_size);
  w.single("pbft_executed_batches_total", T::counter, "Batches executed.",
           static_cast<double>(metrics_.executed_batches));
  w.single("pbft_executed_requests_total", T::counter, "Requests executed.",
           static_cast<double>(metrics_.executed_requests));

  w.single("pbft_last_executed_seq", T::gauge, "Highest sequence number executed.",
           static_cast<double>(d.last_executed));
  w.single("pbft_last_prepared_seq", T::gauge, "Highest sequence number prepared in this view.",
           static_cast<double>(last_prepared(d)));
  w.single("pbft_last_proposed_seq", T::gauge, "Highest sequence number with a pre-prepare in this view.",
           static_cast<double>(d.last_proposed));
  w.single("pbft_stable_checkpoint_seq", T::gauge, "Sequence number of the stable checkpoint.",
           static_cast<double>(d.stable_seq));
  w.single("pbft_low_watermark_seq", T::gauge, "Low watermark h (the stable checkpoint).",
           static_cast<double>(d.stable_seq));
  w.single("pbft_high_watermark_seq", T::gauge, "High watermark h + L: the highest sequence number accepted.",
           static_cast<double>(d.stable_seq + pc.window_size));

  w.single("pbft_view", T::gauge, "Current view.", static_cast<double>(replica_->view()));
  w.single("pbft_view_active", T::gauge, "1 while the view is active, 0 during a view change.",
           replica_->view_active() ? 1 : 0);
  w.single("pbft_is_primary", T::gauge, "1 when this replica is the primary of the active view.",
           replica_->is_primary() ? 1 : 0);
  w.single("pbft_view_changes_total", T::counter, "View changes this replica started or joined.",
           static_cast<double>(metrics_.view_changes));
  w.single("pbft_view_change_asked", T::gauge,
           "The view this replica asks to change to while it works in its view (0: it asks for none).",
           static_cast<double>(replica_->asking_view()));

  const bool fetching = fetcher_->active();
  const kv::StateFetcher::Progress p = fetcher_->progress();
  w.single("pbft_state_transfer_active", T::gauge, "1 while fetching a checkpoint's state from peers.",
           fetching ? 1 : 0);
  w.single("pbft_state_transfer_seq", T::gauge, "Checkpoint of the current or last state transfer.",
           static_cast<double>(p.seq));
  w.single("pbft_state_transfer_bytes", T::gauge, "Bytes accepted in the current or last state transfer.",
           static_cast<double>(p.bytes));
  w.single("pbft_state_transfer_chunks", T::gauge, "Chunks accepted in the current or last state transfer.",
           static_cast<double>(p.chunks));
  w.single("pbft_state_transfer_buckets_done", T::gauge, "Buckets verified in the current or last state transfer.",
           static_cast<double>(p.buckets_done));
  w.single("pbft_state_transfer_buckets_total", T::gauge, "Buckets to fetch in the current or last state transfer.",
           static_cast<double>(p.buckets_total));
  w.single("pbft_state_transfer_bad_replies", T::gauge, "Replies that failed verification in the current or last state transfer.",
           static_cast<double>(p.bad_replies));
  w.single("pbft_state_transfers_completed_total", T::counter, "State transfers completed.",
           static_cast<double>(metrics_.state_transfers_completed));
  w.single("pbft_slow_primary_view_changes_total", T::counter,
           "View changes this replica asked for because the primary left a request unproposed too long.",
           static_cast<double>(replica_->slow_primary_view_changes()));
  w.single("pbft_peer_mutes_total", T::counter,
           "Times a peer was muted for signing garbage (its messages dropped unread for a while).",
           static_cast<double>(replica_->mutes()));
  w.single("pbft_fast_reads_total", T::counter, "Reads this gateway answered by the read-only fast path.",
           static_cast<double>(metrics_.fast_reads));
  w.single("pbft_fast_read_fallbacks_total", T::counter,
           "Fast reads this gateway had to order instead (answers differed or came late).",
           static_cast<double>(gateway_->fast_fallbacks()));
  w.single("pbft_gateway_signatures_total", T::counter,
           "Signatures this gateway made over its requests (one per bundle, core/request_bundle.h).",
           static_cast<double>(gateway_->signatures()));
  w.single("pbft_gateway_signed_requests_total", T::counter, "Requests those signatures covered.",
           static_cast<double>(gateway_->signed_requests()));
  w.single("pbft_snapshot_exports", T::gauge, "Checkpoints kept for snapshot clients (GET /api/v1/snapshot).",
           static_cast<double>(exports_.size()));
  w.single("pbft_snapshot_export_bytes_total", T::counter, "State and chunk bytes served to snapshot clients.",
           static_cast<double>(metrics_.snapshot_export_bytes));

  const transport::NetworkStats s = network_->stats();
  w.single("pbft_connected_peers", T::gauge, "Peers whose outbound connection is up.",
           static_cast<double>(network_->connected_peers()));
  struct PeerFamily {
    const char* name;
    T type;
    const char* help;
    double (*value)(const transport::PeerStats&);
  };
  const PeerFamily peer_families[] = {
      {"pbft_peer_connected", T::gauge, "1 when the outbound connection to the peer is up.",
       [](const transport::PeerStats& ps) { return ps.connected ? 1.0 : 0.0; }},
      {"pbft_peer_send_queue_frames", T::gauge, "Frames queued for the peer.",
       [](const transport::PeerStats& ps) { return static_cast<double>(ps.queued_frames); }},
      {"pbft_peer_send_queue_bytes", T::gauge, "Bytes queued for the peer.",
       [](const transport::PeerStats& ps) { return static_cast<double>(ps.queued_bytes); }},
      {"pbft_peer_frames_sent_total", T::counter, "Frames sent to the peer.",
       [](const transport::PeerStats& ps) { return static_cast<double>(ps.frames_sent); }},
      {"pbft_peer_frames_dropped_total", T::counter, "Frames to the peer dropped because its queue was full.",
       [](const transport::PeerStats& ps) { return static_cast<double>(ps.frames_dropped); }},
      {"pbft_peer_frames_received_total", T::counter, "Frames received from the peer.",
       [](const transport::PeerStats& ps) { return static_cast<double>(ps.frames_received); }},
  };
  for (const PeerFamily& f : peer_families) {
    w.family(f.name, f.type, f.help);
    for (const transport::PeerStats& ps : s.peers) w.sample(f.name, {{"peer", std::to_string(ps.id)}}, f.value(ps));
  }

  const core::RejectCounts& r = replica_->rejected();
  w.family("pbft_messages_rejected_total", T::counter,
           "Messages dropped, by reason. layer=transport: before decoding (bad_mac includes unknown "
           "senders); layer=core: by the protocol.");
  const std::pair<const char*, uint64_t> transport_reasons[] = {
      {"bad_mac", s.bad_macs}, {"bad_frame", s.bad_frames}, {"connection_refused", s.connections_refused}};
  for (const auto& [reason, count] : transport_reasons) {
    w.sample("pbft_messages_rejected_total", {{"layer", "transport"}, {"reason", reason}},
             static_cast<double>(count));
  }
  for (const auto& [reason, count] : core::named_counts(r)) {
    w.sample("pbft_messages_rejected_total", {{"layer", "core"}, {"reason", reason}},
             static_cast<double>(count));
  }
  w.single("pbft_connections_closed_for_errors_total", T::counter,
           "Replica connections closed because of a protocol or I/O error.",
           static_cast<double>(s.connections_closed_for_errors));

  // The binary client protocol (transport/client_server.h); zeros without a client port.
  const transport::ClientServerStats cs = clients_ ? clients_->stats() : transport::ClientServerStats{};
  w.single("pbft_client_connections", T::gauge, "Binary-protocol client connections open.",
           static_cast<double>(cs.connections));
  w.single("pbft_client_connections_refused_total", T::counter,
           "Client connections closed at once: over limits.client_connections_max.",
           static_cast<double>(cs.connections_refused));
  w.single("pbft_client_connections_closed_for_errors_total", T::counter,
           "Client connections closed for a bad frame, a message that is not a request, a stall or an I/O error.",
           static_cast<double>(cs.connections_closed_for_errors));
  w.single("pbft_client_requests_total", T::counter, "Binary-protocol requests read from clients.",
           static_cast<double>(cs.requests));
  w.family("pbft_client_requests_dropped_total", T::counter,
           "Binary-protocol requests dropped before the protocol saw them, by reason.");
  w.sample("pbft_client_requests_dropped_total", {{"reason", "bad_signature"}},
           static_cast<double>(client_bad_signatures_));
  w.single("pbft_client_throttled_total", T::counter,
           "Times a client connection stopped reading because its client was over limits.client_requests_per_second.",
           static_cast<double>(cs.throttles));
  w.single("pbft_client_replies_sent_total", T::counter, "Replies queued to binary-protocol clients.",
           static_cast<double>(cs.replies_sent));
  w.single("pbft_client_replies_dropped_total", T::counter,
           "Replies to binary-protocol clients dropped: the connection was gone or its queue full.",
           static_cast<double>(cs.replies_dropped));

  w.histogram("pbft_storage_write_seconds", "Duration of one atomic write of the replica's state.",
              metrics_.storage_write_s);
  w.histogram("pbft_storage_sync_seconds",
              "Time making writes durable: the synced write (sync=always) or the group fsync (sync=batch).",
              metrics_.storage_sync_s);
  w.single("pbft_ready", T::gauge, "1 when /api/v1/ready answers 200.", readiness().ready ? 1 : 0);
  return w.text();
}

http::Readiness Node::readiness() {
  const core::Quorum q = config_.protocol.quorum();
  ReadinessInputs in;
  in.replica_count = q.n;
  in.f = q.f;
  in.quorum = q.q;
  in.connected_peers = network_->connected_peers();
  in.fetching = fetcher_->active();
  if (in.fetching) {
    const kv::StateFetcher::Progress p = fetcher_->progress();
    in.fetch_seq = p.seq;
    in.fetch_buckets_done = p.buckets_done;
    in.fetch_buckets_total = p.buckets_total;
  }
  in.view_active = replica_->view_active();
  in.view = replica_->view();
  in.last_executed = replica_->last_executed();
  in.slack = std::max<Seq>(config_.protocol.window_size / 2, 1);
  for (const auto& [id, report] : replica_->peer_reports()) {
    if (id != config_.self) in.peers.push_back({report.view, report.view_active, report.last_executed});
  }
  return assess_readiness(in);
}

std::string Node::cluster_json() {
  using json = nlohmann::ordered_json;
  const core::Quorum q = config_.protocol.quorum();
  json members = json::array();
  for (const Member& m : config_.members) {
    members.push_back({{"id", m.id},
                       {"host", m.host},
                       {"http_port", m.http_port},
                       {"client_port", m.client_port == 0 ? json(nullptr) : json(m.client_port)},
                       {"url", "http://" + m.host + ":" + std::to_string(m.http_port)}});
  }
  json j = {{"self", config_.self}, {"cluster_id", config_.cluster_id}, {"replica_count", q.n},
            {"f", q.f}, {"quorum", q.q}, {"members", members}};
  return j.dump();
}

std::string Node::slots_json() {
  using json = nlohmann::ordered_json;
  const core::DurableState& d = replica_->durable();
  const core::Quorum q = config_.protocol.quorum();
  json j;
  j["replica_id"] = config_.self;
  j["view"] = replica_->view();
  j["view_active"] = replica_->view_active();
  j["primary"] = replica_->primary_of(replica_->view());
  j["quorum"] = q.q;
  j["prepares_needed"] = q.q - 1;  // with the primary's pre-prepare
  j["commits_needed"] = q.q;
  j["low_watermark"] = d.stable_seq;
  j["high_watermark"] = d.stable_seq + config_.protocol.window_size;
  j["last_executed"] = d.last_executed;
  j["last_proposed"] = d.last_proposed;
  j["checkpoint_interval"] = config_.protocol.checkpoint_interval;
  // Live slots of the log, and before them the latest executed ones the
  // log may already have discarded.
  std::map<Seq, SlotSnapshot> shown;
  for (const auto& [seq, snap] : metrics_.recent_slots) {
    if (seq + NodeMetrics::recent_slots_max > d.last_executed) shown[seq] = snap;
  }
  for (const auto& [seq, slot] : d.slots) shown[seq] = snapshot_of(seq, slot, d.last_executed);
  json slots = json::array();
  for (const auto& [seq, s] : shown) {
    slots.push_back({{"seq", s.seq},
                     {"pre_prepare", s.pre_prepare},
                     {"requests", s.requests},
                     {"digest", s.digest},
                     {"prepares", s.prepares},
                     {"commits", s.commits},
                     {"prepared", s.prepared},
                     {"committed", s.committed},
                     {"executed", s.executed},
                     {"in_log", d.slots.contains(seq)}});
  }
  j["slots"] = std::move(slots);
  json checkpoints = json::array();
  if (d.stable_seq > 0) {
    checkpoints.push_back({{"seq", d.stable_seq}, {"votes", d.stable_cert.size()}, {"stable", true},
                           {"digest", short_hex(d.stable_digest)}});
  }
  for (const auto& [seq, votes] : replica_->checkpoint_votes()) {
    checkpoints.push_back({{"seq", seq}, {"votes", votes.size()}, {"stable", false}, {"digest", ""}});
  }
  j["checkpoints"] = std::move(checkpoints);
  if (replica_->view_active()) {
    j["view_change"] = nullptr;
  } else {
    j["view_change"] = {{"to_view", replica_->view()},
                        {"votes", replica_->target_view_change_votes()},
                        {"needed", q.q}};
  }
  json events = json::array();
  for (const EventLog::Event& e : metrics_.events.events()) {
    events.push_back({{"unix_ms", e.unix_ms}, {"kind", e.kind}, {"view", e.view}, {"seq", e.seq},
                      {"text", e.text}});
  }
  j["events"] = std::move(events);
  return j.dump();
}

std::string Node::activity_json() {
  using json = nlohmann::ordered_json;
  json seconds = json::array();
  for (const ActivityLog::Second& s : metrics_.activity.seconds()) {
    seconds.push_back({{"unix_s", s.unix_s},
                       {"executed", s.executed_requests},
                       {"commits", s.commits},
                       {"latency_ms_avg", s.commits > 0 ? 1000.0 * s.latency_sum_s / static_cast<double>(s.commits) : 0.0},
                       {"latency_ms_max", 1000.0 * s.latency_max_s}});
  }
  json j = {{"replica_id", config_.self}, {"now_unix_ms", unix_ms()},
            {"window_s", ActivityLog::seconds_max}, {"seconds", std::move(seconds)}};
  return j.dump();
}

}  // namespace pbft::node
