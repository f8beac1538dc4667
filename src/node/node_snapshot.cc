// The snapshot export routes (docs/API.md, "Snapshots"): what `kvctl
// snapshot save` reads. A client first asks for the stable checkpoint
// (GET /api/v1/snapshot): the replica answers with its certificate and
// keeps that checkpoint, with a read view of its records, for as long as
// the client keeps reading (snapshot_export_idle_ms after the last
// request), even when its stable checkpoint moves on meanwhile. The client
// then reads the checkpoint's state (reply cache and manifest) and its
// records in chunks, and checks all of it against the certificate itself:
// nothing here is to be trusted more than this one replica.
#include <nlohmann/json.hpp>

#include "http/query.h"
#include "node/logging.h"
#include "node/node.h"

namespace pbft::node {
namespace {

constexpr std::string_view kPathSnapshot = "/api/v1/snapshot";
constexpr std::string_view kPathSnapshotState = "/api/v1/snapshot/state";
constexpr std::string_view kPathSnapshotChunk = "/api/v1/snapshot/chunk";
constexpr auto snapshot_export_idle = std::chrono::seconds(60);
constexpr size_t snapshot_exports_max = 4;
constexpr uint32_t snapshot_chunk_bytes_default = 1u << 20;
constexpr uint32_t snapshot_chunk_bytes_max = 8u << 20;

http::Response binary_response(const http::Request& request, Bytes body) {
  http::Response res;
  res.result(200);
  res.version(request.version());
  res.keep_alive(request.keep_alive());
  res.set(http::bhttp::field::content_type, "application/octet-stream");
  res.set(http::bhttp::field::cache_control, "no-store");
  res.body().assign(body.begin(), body.end());
  res.prepare_payload();
  return res;
}

bool parse_u64(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool parse_hex(const std::string& text, Bytes& out) {
  std::optional<Bytes> bytes = from_hex(text);
  if (!bytes) return false;
  out = std::move(*bytes);
  return true;
}

}  // namespace

void Node::expire_snapshot_exports() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(exports_, [now](const auto& e) { return now - e.second.used > snapshot_export_idle; });
}

bool Node::handle_snapshot(const http::Request& request, const http::Respond& respond) {
  const std::string_view target(request.target().data(), request.target().size());
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (path != kPathSnapshot && path != kPathSnapshotState && path != kPathSnapshotChunk) return false;
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  auto error = [&](unsigned status, const std::string& message) {
    respond(http::json_error(status, message, version, keep_alive));
  };
  if (request.method() != http::bhttp::verb::get) {
    http::Response res = http::json_error(405, "method not allowed", version, keep_alive);
    res.set(http::bhttp::field::allow, "GET");
    respond(std::move(res));
    return true;
  }
  const http::Query query = http::parse_query(question == std::string_view::npos ? "" : target.substr(question + 1));
  if (!query.error.empty()) {
    error(400, query.error);
    return true;
  }
  expire_snapshot_exports();

  uint64_t seq = 0;
  const std::string* seq_text = query.find("seq");
  if (seq_text != nullptr && !parse_u64(*seq_text, seq)) {
    error(400, "seq must be a sequence number");
    return true;
  }
  if (path != kPathSnapshot && seq_text == nullptr) {
    error(400, "seq is required (from GET /api/v1/snapshot)");
    return true;
  }

  if (path == kPathSnapshot) {
    const Seq stable = replica_->stable_seq();
    if (seq_text == nullptr) seq = stable;
    if (!exports_.contains(seq)) {
      if (seq == 0) {
        respond(http::json_error(503, "no stable checkpoint yet (one is taken every " +
                                          std::to_string(config_.protocol.checkpoint_interval) +
                                          " sequence numbers)", version, keep_alive));
        return true;
      }
      if (seq != stable) {
        error(410, "checkpoint " + std::to_string(seq) + " is not kept here; the stable checkpoint is " +
                       std::to_string(stable));
        return true;
      }
      const core::OwnCheckpoint* own = replica_->checkpoint_at(seq);
      std::optional<kv::CheckpointReader> reader = kv_->reader(seq);
      if (own == nullptr || !reader || own->digest != replica_->durable().stable_digest) {
        error(503, "this replica keeps no readable copy of its stable checkpoint " + std::to_string(seq) +
                       " (it restarted or fetched its state since); ask another replica");
        return true;
      }
      if (exports_.size() >= snapshot_exports_max) exports_.erase(exports_.begin());
      exports_.emplace(seq, SnapshotExport{own->digest, replica_->durable().stable_cert, own->snapshot,
                                           std::move(*reader), {}});
      logger("node")->info("exporting stable checkpoint {} (digest {}) for a snapshot", seq,
                           short_hex(own->digest));
    }
    SnapshotExport& e = exports_.at(seq);
    e.used = std::chrono::steady_clock::now();
    nlohmann::json cert = nlohmann::json::array();
    for (const wire::Checkpoint& c : e.certificate)
      cert.push_back({{"replica", c.replica}, {"signature", to_hex(ByteView(c.sig))}});
    nlohmann::json j = {{"cluster_id", config_.cluster_id},
                        {"replica_id", config_.self},
                        {"replica_count", config_.protocol.replica_count},
                        {"checkpoint_interval", config_.protocol.checkpoint_interval},
                        {"seq", seq},
                        {"digest", to_hex(e.digest)},
                        {"certificate", cert},
                        {"state_bytes", e.state.size()},
                        {"kept_ms", std::chrono::duration_cast<std::chrono::milliseconds>(snapshot_export_idle).count()}};
    respond(http::json_response(j.dump(), 200, version, keep_alive));
    return true;
  }

  auto it = exports_.find(seq);
  if (it == exports_.end()) {
    error(410, "checkpoint " + std::to_string(seq) +
                   " is not being exported here (expired after 60 s idle, or never asked for); start again "
                   "with GET /api/v1/snapshot");
    return true;
  }
  SnapshotExport& e = it->second;
  e.used = std::chrono::steady_clock::now();
  if (path == kPathSnapshotState) {
    metrics_.snapshot_export_bytes += e.state.size();
    respond(binary_response(request, e.state));
    return true;
  }

  uint64_t bucket = 0, end = 0, max_bytes = snapshot_chunk_bytes_default;
  const std::string* bucket_text = query.find("bucket");
  const std::string* end_text = query.find("end");
  if (bucket_text == nullptr || !parse_u64(*bucket_text, bucket) || end_text == nullptr ||
      !parse_u64(*end_text, end) || bucket >= end || end > kv::bucket_count) {
    error(400, "bucket and end must give buckets [bucket, end) within 0.." + std::to_string(kv::bucket_count));
    return true;
  }
  if (const std::string* m = query.find("max_bytes")) {
    if (!parse_u64(*m, max_bytes) || max_bytes == 0 || max_bytes > snapshot_chunk_bytes_max) {
      error(400, "max_bytes must be 1.." + std::to_string(snapshot_chunk_bytes_max));
      return true;
    }
  }
  Bytes after;
  if (const std::string* a = query.find("after")) {
    if (!parse_hex(*a, after) || after.size() > kv::record_key_bytes_max) {
      error(400, "after must be a record key in hex");
      return true;
    }
  }
  std::optional<Bytes> chunk = e.reader.read_chunk(static_cast<uint32_t>(bucket), after, static_cast<uint32_t>(end),
                                                   static_cast<uint32_t>(max_bytes));
  if (!chunk) {
    error(400, "no such range");
    return true;
  }
  metrics_.snapshot_export_bytes += chunk->size();
  respond(binary_response(request, std::move(*chunk)));
  return true;
}

}  // namespace pbft::node
