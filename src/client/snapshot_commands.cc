#include "client/snapshot_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/http_client.h"
#include "core/client_table.h"
#include "core/quorum.h"
#include "core/replica.h"
#include "crypto/sodium_crypto.h"
#include "kv/buckets.h"
#include "kv/chunk.h"
#include "kv/kv_store.h"
#include "kv/lthash.h"
#include "kv/manifest.h"
#include "kv/records.h"
#include "kv/snapshot_file.h"
#include "node/config.h"
#include "storage/replica_store.h"
#include "storage/rocks_storage.h"

namespace pbft::client {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Who the cluster is: its id, its members' public keys and addresses.
struct ClusterInfo {
  uint64_t cluster_id = 0;
  std::vector<crypto::PublicKey> keys;
  std::vector<Endpoint> members;
  uint32_t checkpoint_interval = 0;
  std::string data_dir;  // from --config
  std::string source;    // for messages
};

ClusterInfo cluster_info(const std::string& config_path) {
  node::NodeConfig c;
  ClusterInfo info;
  if (!config_path.empty()) {
    try {
      c = node::load_config_file(config_path);
    } catch (const std::exception& e) {
      throw Failure(std::string("cannot read --config: ") + e.what());
    }
    info.source = "the public keys in " + config_path;
    info.data_dir = c.data_dir;
  } else {
    c = node::dev_config(0, node::dev_base_port_default, "data");
    info.source = "the dev cluster's public keys (give --config for another cluster)";
  }
  info.cluster_id = c.cluster_id;
  info.checkpoint_interval = c.protocol.checkpoint_interval;
  for (const node::Member& m : c.members) {
    info.keys.push_back(m.public_key);
    info.members.push_back(Endpoint{m.host, m.http_port});
  }
  return info;
}

std::unique_ptr<crypto::SodiumCrypto> verifier(const ClusterInfo& info) {
  crypto::Keyring k;
  k.self = crypto::generate_key_pair();
  k.self_is_replica = false;
  k.replicas = info.keys;
  return std::make_unique<crypto::SodiumCrypto>(std::move(k));
}

std::vector<Endpoint> parse_endpoints(const std::vector<std::string>& texts) {
  try {
    return parse_endpoint_list(texts);
  } catch (const std::invalid_argument& e) {
    throw Failure(e.what());
  }
}

bool parse_hex(const std::string& text, uint8_t* out, size_t size) {
  std::optional<Bytes> bytes = from_hex(text);
  if (!bytes || bytes->size() != size) return false;
  std::copy(bytes->begin(), bytes->end(), out);
  return true;
}

std::string megabytes(uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(bytes < 10'000'000 ? 2 : 1) << static_cast<double>(bytes) / 1e6 << " MB";
  return s.str();
}

std::string signers_of(const std::vector<wire::Checkpoint>& cert) {
  std::string s;
  for (const wire::Checkpoint& c : cert) s += (s.empty() ? "" : ",") + std::to_string(c.replica);
  return s;
}

// ---------------------------------------------------------------- save

struct Offer {
  Endpoint endpoint;
  kv::SnapshotHeader header;  // without state
};

// Progress on stderr: redrawn in place on a terminal, a line a second
// otherwise (with --progress).
class Progress {
 public:
  Progress(std::ostream& err, bool enabled, bool terminal) : err_(err), enabled_(enabled), terminal_(terminal) {}
  void set_total(uint64_t buckets) { buckets_total_ = buckets; }
  void add(uint64_t bytes, uint64_t chunks, uint64_t buckets) {
    bytes_ += bytes;
    chunks_ += chunks;
    buckets_ += buckets;
    show(false);
  }
  void finish() { show(true); }
  uint64_t bytes() const { return bytes_; }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

 private:
  void show(bool last) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const auto period = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1000);
    if (!last && now - shown_ < period) return;
    shown_ = now;
    const double s = seconds();
    std::ostringstream line;
    line << "snapshot: buckets " << buckets_ << "/" << buckets_total_;
    if (buckets_total_ > 0) line << " (" << (100 * buckets_ / buckets_total_) << "%)";
    line << ", " << chunks_ << " chunks, " << megabytes(bytes_) << ", " << std::fixed << std::setprecision(1)
         << (s > 0 ? static_cast<double>(bytes_) / 1e6 / s : 0.0) << " MB/s";
    if (terminal_) err_ << "\r\033[K" << line.str() << (last ? "\n" : "") << std::flush;
    else err_ << line.str() << "\n" << std::flush;
  }

  std::ostream& err_;
  bool enabled_, terminal_;
  uint64_t bytes_ = 0, chunks_ = 0, buckets_ = 0, buckets_total_ = 0;
  Clock::time_point started_ = Clock::now();
  Clock::time_point shown_{};
};

class Saver {
 public:
  Saver(const SnapshotCommands& o, const ClusterInfo& info, std::vector<Endpoint> endpoints, std::ostream& err)
      : o_(o), info_(info), endpoints_(std::move(endpoints)), err_(err), crypto_(verifier(info)) {}

  int run(std::ostream& out) {
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    Progress progress(err_, o_.progress || terminal, terminal);
    choose_checkpoint();
    const kv::SnapshotHeader& h = header_;
    err_ << "snapshot: checkpoint " << h.seq << " (digest " << short_hex(h.digest) << ", signed by replicas "
         << signers_of(h.certificate) << ") from " << sources_.size() << " replica"
         << (sources_.size() == 1 ? "" : "s") << "\n";
    fetch_state();
    const std::vector<Digest> leaves = kv::state_leaves(header_);
    const Digest empty;
    uint64_t total = 0;
    for (const Digest& l : leaves) total += l != empty ? 1 : 0;
    progress.set_total(total);
    progress.add(header_.state.size(), 1, 0);

    kv::SnapshotWriter writer(o_.file, header_);
    fetch_records(leaves, writer, progress);
    kv::SnapshotSummary written;
    writer.commit([&](const std::string& temp) {
      // Read back what reached the disk: only a file that verifies gets the name.
      written = kv::read_snapshot_file(temp);
    });
    progress.finish();
    const double seconds = progress.seconds();
    out << "saved " << o_.file << ": checkpoint " << h.seq << ", digest " << to_hex(h.digest) << ", "
        << written.keys << " keys (" << written.records << " records), " << written.file_bytes << " bytes, "
        << std::fixed << std::setprecision(2) << seconds << " s\n";
    if (bad_answers_ > 0)
      err_ << "snapshot: " << bad_answers_ << " answers from replicas did not verify and were fetched again elsewhere\n";
    return 0;
  }

 private:
  std::optional<HttpAnswer> get(const Endpoint& e, const std::string& target) {
    try {
      return http_call(e, "GET", target, "", {}, o_.timeout_ms);
    } catch (const HttpUnreachable& x) {
      err_ << "snapshot: " << e.name() << " unreachable: " << x.what() << "\n";
      return std::nullopt;
    }
  }

  std::optional<kv::SnapshotHeader> ask_checkpoint(const Endpoint& e, std::optional<Seq> seq) {
    std::optional<HttpAnswer> a = get(e, seq ? "/api/v1/snapshot?seq=" + std::to_string(*seq) : "/api/v1/snapshot");
    if (!a) return std::nullopt;
    if (a->status != 200) {
      if (!seq) err_ << "snapshot: " << e.name() << " answered " << a->status << ": " << a->body << "\n";
      return std::nullopt;
    }
    kv::SnapshotHeader h;
    try {
      const nlohmann::json j = nlohmann::json::parse(a->body);
      h.cluster_id = j.at("cluster_id").get<uint64_t>();
      h.seq = j.at("seq").get<uint64_t>();
      h.replica_count = j.at("replica_count").get<uint32_t>();
      if (!parse_hex(j.at("digest").get<std::string>(), h.digest.bytes.data(), digest_size))
        throw std::invalid_argument("bad digest");
      for (const nlohmann::json& c : j.at("certificate")) {
        wire::Checkpoint cp{h.seq, h.digest, c.at("replica").get<uint32_t>(), {}};
        if (!parse_hex(c.at("signature").get<std::string>(), cp.sig.data(), cp.sig.size()))
          throw std::invalid_argument("bad signature");
        h.certificate.push_back(cp);
      }
    } catch (const std::exception& x) {
      err_ << "snapshot: " << e.name() << " gave an unreadable checkpoint: " << x.what() << "\n";
      return std::nullopt;
    }
    if (h.cluster_id != info_.cluster_id) {
      err_ << "snapshot: " << e.name() << " belongs to cluster " << h.cluster_id << ", not " << info_.cluster_id
           << "; ignored\n";
      return std::nullopt;
    }
    if (h.replica_count != info_.keys.size()) {
      err_ << "snapshot: " << e.name() << " says the cluster has " << h.replica_count << " replicas, "
           << info_.source << " list " << info_.keys.size() << "; ignored\n";
      return std::nullopt;
    }
    const std::string bad = kv::check_certificate(h.seq, h.digest, h.certificate, h.replica_count,
                                                  info_.checkpoint_interval, *crypto_);
    if (!bad.empty()) {
      ++bad_answers_;
      err_ << "snapshot: " << e.name() << " offered checkpoint " << h.seq
           << " with a certificate that does not verify (" << bad << "); ignored\n";
      return std::nullopt;
    }
    return h;
  }

  // The highest certified stable checkpoint any replica offers; then every
  // replica that keeps it becomes a source.
  void choose_checkpoint() {
    std::vector<Offer> offers;
    for (const Endpoint& e : endpoints_)
      if (std::optional<kv::SnapshotHeader> h = ask_checkpoint(e, std::nullopt)) offers.push_back({e, std::move(*h)});
    if (offers.empty())
      throw Failure("no replica offered a stable checkpoint with a valid certificate (checked with " + info_.source +
                    ")");
    const Offer* best = &offers[0];
    for (const Offer& o : offers)
      if (o.header.seq > best->header.seq) best = &o;
    header_ = best->header;
    for (const Offer& o : offers)
      if (o.header.seq == header_.seq) sources_.push_back(o.endpoint);
    for (const Offer& o : offers)
      if (o.header.seq != header_.seq && ask_checkpoint(o.endpoint, header_.seq)) sources_.push_back(o.endpoint);
  }

  void fetch_state() {
    for (size_t k = 0; k < sources_.size(); ++k) {
      const Endpoint& e = sources_[(current_ + k) % sources_.size()];
      std::optional<HttpAnswer> a = get(e, "/api/v1/snapshot/state?seq=" + std::to_string(header_.seq));
      if (!a || a->status != 200) continue;
      header_.state.assign(a->body.begin(), a->body.end());
      try {
        kv::state_leaves(header_);
        current_ = (current_ + k) % sources_.size();
        return;
      } catch (const kv::SnapshotError& x) {
        ++bad_answers_;
        err_ << "snapshot: " << e.name() << " sent a state that does not verify (" << x.what()
             << "); asking another replica\n";
      }
    }
    throw Failure("no replica sent the state of checkpoint " + std::to_string(header_.seq) + " that verifies");
  }

  // Every record, in chunks of consecutive buckets from the current source;
  // each bucket is checked against its leaf as soon as it is complete and
  // only then written. An answer that does not verify drops what was read
  // of the bucket it was in, and that bucket is asked of the next source.
  void fetch_records(const std::vector<Digest>& leaves, kv::SnapshotWriter& writer, Progress& progress) {
    const Digest empty;
    auto next_nonempty = [&](uint32_t from) {
      while (from < kv::bucket_count && leaves[from] == empty) ++from;
      return from;
    };
    uint32_t b = next_nonempty(0);
    std::vector<kv::ChunkRecord> records;  // of bucket b so far
    std::string after;                     // the last key of `records`
    size_t failures = 0;                   // in a row
    // Bucket b is complete: verified and written, or the reason it is not.
    auto finish = [&]() -> std::string {
      kv::LtHash hash;
      for (const kv::ChunkRecord& r : records) hash.add(kv::LtHash::of_record(r.key, r.value));
      if (kv::bucket_leaf(b, hash) != leaves[b])
        return "bucket " + std::to_string(b) + " does not match the certified digest";
      writer.add_bucket(b, records);
      progress.add(0, 0, records.empty() ? 0 : 1);
      records.clear();
      after.clear();
      return {};
    };
    // Moves to bucket `to`, past buckets that must be empty.
    auto skip_to = [&](uint32_t to) -> std::string {
      for (uint32_t u = b + 1; u < to && u < kv::bucket_count; ++u)
        if (leaves[u] != empty) return "bucket " + std::to_string(u) + " was left out";
      b = to;
      return {};
    };
    while (b < kv::bucket_count) {
      const Endpoint& e = sources_[current_];
      std::string problem;
      std::string target = "/api/v1/snapshot/chunk?seq=" + std::to_string(header_.seq) + "&bucket=" +
                           std::to_string(b) + "&end=" + std::to_string(kv::bucket_count) +
                           "&max_bytes=" + std::to_string(o_.chunk_bytes);
      if (!after.empty()) target += "&after=" + to_hex(as_bytes(after));
      std::optional<HttpAnswer> a = get(e, target);
      if (!a) {
        problem = "unavailable";
      } else if (a->status != 200) {
        err_ << "snapshot: " << e.name() << " answered " << a->status << ": " << a->body << "\n";
        problem = "unavailable";
      } else if (std::optional<kv::Chunk> chunk = kv::decode_chunk(as_bytes(a->body)); !chunk) {
        problem = "a chunk that does not decode";
      } else {
        progress.add(a->body.size(), 1, 0);
        for (kv::ChunkRecord& r : chunk->records) {
          if (r.bucket < b || r.bucket >= kv::bucket_count || kv::bucket_of(r.key) != r.bucket) {
            problem = "a record in the wrong bucket";
            break;
          }
          if (r.bucket > b) {
            if (problem = finish(); !problem.empty()) break;
            if (problem = skip_to(r.bucket); !problem.empty()) break;
          }
          if (!(after < r.key) || !kv::valid_record(r.key, r.value)) {
            problem = "an invalid or misordered record";
            break;
          }
          after = r.key;
          records.push_back(std::move(r));
        }
        if (problem.empty()) {
          if (chunk->done) {
            problem = finish();
            if (problem.empty()) problem = skip_to(kv::bucket_count);
          } else if (chunk->next_bucket == b && !records.empty() && chunk->next_after == after) {
            // more of bucket b
          } else if (chunk->next_after.empty() && chunk->next_bucket > b && chunk->next_bucket < kv::bucket_count) {
            problem = finish();
            if (problem.empty()) problem = skip_to(chunk->next_bucket);
          } else {
            problem = "a chunk that does not continue where it stopped";
          }
          if (problem.empty() && after.empty() && records.empty() && b < kv::bucket_count && leaves[b] == empty)
            b = next_nonempty(b);
        }
      }
      if (problem.empty()) {
        failures = 0;
        continue;
      }
      if (problem != "unavailable") {
        ++bad_answers_;
        err_ << "snapshot: " << e.name() << " sent records that do not verify (" << problem
             << "); asking another replica\n";
      }
      records.clear();
      after.clear();
      current_ = (current_ + 1) % sources_.size();
      if (++failures >= sources_.size())
        throw Failure("no replica sent bucket " + std::to_string(b) + " of checkpoint " +
                      std::to_string(header_.seq) + " so that it verifies; nothing was written");
    }
  }

  const SnapshotCommands& o_;
  const ClusterInfo& info_;
  std::vector<Endpoint> endpoints_;
  std::ostream& err_;
  std::unique_ptr<crypto::SodiumCrypto> crypto_;
  kv::SnapshotHeader header_;
  std::vector<Endpoint> sources_;
  size_t current_ = 0;
  uint64_t bad_answers_ = 0;
};

// ---------------------------------------------------------------- restore

void sync_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Stages one verified bucket into `kv` in pieces of about 4 MiB, as state
// transfer does with fetched chunks.
void stage_bucket(kv::KvStore& kv, Seq seq, uint32_t b, std::vector<kv::ChunkRecord>& records) {
  constexpr size_t piece_bytes = 4u << 20;
  std::string after;
  size_t i = 0;
  while (i < records.size()) {
    kv::Chunk chunk;
    size_t bytes = 0;
    while (i < records.size() && (chunk.records.empty() || bytes < piece_bytes)) {
      bytes += kv::chunk_record_size(records[i].key.size(), records[i].value.size());
      chunk.records.push_back(std::move(records[i++]));
    }
    chunk.done = i == records.size();
    if (!chunk.done) {
      chunk.next_bucket = b;
      chunk.next_after = chunk.records.back().key;
    }
    const std::string next_after = chunk.records.back().key;
    kv::StageResult r = kv.stage_chunk(seq, b, as_bytes(after), b + 1, kv::encode_chunk(chunk));
    if (!r.ok || (chunk.done && r.buckets_verified != 1))
      throw Failure("bucket " + std::to_string(b) + " was refused by the store");
    after = next_after;
  }
}

// Writes the snapshot's state into a new data folder `dir` (which must not
// exist): the records as verified buckets, then the protocol state of a
// replica standing at the snapshot's stable checkpoint, in one synced write.
uint64_t write_data_folder(const std::string& file, const kv::SnapshotHeader& header, const fs::path& dir) {
  size_t consumed = 0;
  std::optional<core::ClientTable> clients = core::ClientTable::decode(header.state, consumed);
  if (!clients) throw Failure("the snapshot's reply cache does not decode");
  const ByteView manifest = ByteView(header.state).subspan(consumed);
  uint64_t keys = 0;
  {
    std::unique_ptr<storage::RocksStorage> storage = storage::RocksStorage::open(dir.string());
    kv::KvStore kv(*storage);
    if (!kv.begin_transfer(header.seq, manifest)) throw Failure("the snapshot's manifest does not decode");
    kv::SnapshotSummary summary = kv::read_snapshot_file(
        file, [&](uint32_t b, std::vector<kv::ChunkRecord>& records) { stage_bucket(kv, header.seq, b, records); });
    keys = summary.keys;
    if (!kv.restore(header.seq, manifest)) throw Failure("the store refused the snapshot's state");
    if (kv.checkpoint(header.seq) != Bytes(manifest.begin(), manifest.end()))
      throw Failure("the restored state does not have the snapshot's manifest");

    core::DurableState d;
    d.view = 0;
    d.view_active = true;
    d.stable_seq = header.seq;
    d.stable_digest = header.digest;
    d.stable_cert = header.certificate;
    d.last_executed = header.seq;
    d.last_proposed = header.seq;
    d.checkpoints[header.seq] = core::OwnCheckpoint{header.digest, header.state};
    d.clients = std::move(*clients);
    storage::ReplicaStore store(*storage);
    storage::WriteBatch batch;
    kv.take_writes(batch);
    store.stage(d, batch);
    storage->write(batch, true);
    kv.written();
  }
  // Open it again as kv-node will, and check it stands where it should.
  std::unique_ptr<storage::RocksStorage> storage = storage::RocksStorage::open(dir.string());
  storage::ReplicaStore store(*storage);
  std::optional<core::DurableState> d = store.load();
  kv::KvStore kv(*storage);
  if (!d || d->stable_seq != header.seq || d->last_executed != header.seq ||
      kv.checkpoint(header.seq) != Bytes(manifest.begin(), manifest.end()) || kv.size() != keys)
    throw Failure("the restored folder does not read back as the snapshot");
  return keys;
}

int run_restore(const SnapshotCommands& o, const ClusterInfo& info, std::ostream& out, std::ostream& err) {
  std::string dir_text = o.data_dir.empty() ? info.data_dir : o.data_dir;
  if (dir_text.empty()) throw Failure("give --data-dir DIR (or --config with the replica's node.data_dir)");
  kv::SnapshotHeader header;
  try {
    header = kv::read_snapshot_header(o.file);
  } catch (const kv::SnapshotError& e) {
    throw Failure(o.file + " is not a usable snapshot: " + e.what());
  }
  if (header.cluster_id != info.cluster_id)
    throw Failure(o.file + " is a snapshot of cluster " + std::to_string(header.cluster_id) + ", the config's is " +
                  std::to_string(info.cluster_id) + "; refusing to restore it");
  if (header.replica_count != info.keys.size())
    throw Failure(o.file + " comes from a cluster of " + std::to_string(header.replica_count) + " replicas, " +
                  info.source + " list " + std::to_string(info.keys.size()) + "; refusing to restore it");
  const std::string bad = kv::check_certificate(header.seq, header.digest, header.certificate, header.replica_count,
                                                info.checkpoint_interval, *verifier(info));
  if (!bad.empty()) throw Failure(o.file + ": the checkpoint certificate does not verify with " + info.source + ": " + bad);

  fs::path dir = fs::absolute(dir_text).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "DIR/"

  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec)) throw Failure(dir.string() + " exists and is not a folder");
  const bool occupied = exists && !fs::is_empty(dir, ec);
  if (occupied && !o.force)
    throw Failure(dir.string() + " is not empty; give --force to replace it (the old folder is kept, renamed)");
  if (occupied && fs::exists(dir / "LOCK", ec)) {
    // A replica's folder: make sure no replica has it open (RocksDB locks it).
    try {
      storage::RocksStorage::open(dir.string());
    } catch (const std::exception& e) {
      throw Failure(dir.string() + " is in use (stop its replica first): " + e.what());
    }
  }
  const fs::path temp = dir.string() + ".restoring";
  fs::remove_all(temp, ec);
  fs::create_directories(temp);
  uint64_t keys = 0;
  try {
    keys = write_data_folder(o.file, header, temp);
  } catch (const kv::SnapshotError& e) {
    fs::remove_all(temp, ec);
    throw Failure(o.file + " does not verify: " + e.what() + "; nothing was restored");
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
  if (exists) {
    if (occupied) {
      const fs::path aside = dir.string() + ".replaced-" +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
      fs::rename(dir, aside);
      err << "kvctl snapshot restore: the old " << dir.string() << " is now " << aside.string()
          << " (delete it once the replica runs)\n";
    } else {
      fs::remove(dir);
    }
  }
  fs::rename(temp, dir);
  sync_folder(dir.parent_path());
  out << "restored " << o.file << " into " << dir.string() << ": checkpoint " << header.seq << ", digest "
      << to_hex(header.digest) << ", " << keys << " keys; the replica starts in view 0 at that stable checkpoint\n";
  return 0;
}

// ---------------------------------------------------------------- inspect

int run_inspect(const SnapshotCommands& o, const std::string& config, std::ostream& out, std::ostream& err) {
  kv::SnapshotSummary s;
  try {
    s = kv::read_snapshot_file(o.file);
  } catch (const kv::SnapshotError& e) {
    err << "kvctl snapshot inspect: " << o.file << " does not verify: " << e.what() << "\n";
    return 1;
  }
  const kv::SnapshotHeader& h = s.header;
  std::string cert = "not checked (give --config for the cluster's public keys)";
  bool cert_ok = true;
  if (!config.empty()) {
    const ClusterInfo info = cluster_info(config);
    std::string bad;
    if (h.cluster_id != info.cluster_id) bad = "the config is of cluster " + std::to_string(info.cluster_id);
    else if (h.replica_count != info.keys.size()) bad = "the config lists " + std::to_string(info.keys.size()) + " replicas";
    else bad = kv::check_certificate(h.seq, h.digest, h.certificate, h.replica_count, info.checkpoint_interval, *verifier(info));
    cert_ok = bad.empty();
    cert = cert_ok ? "valid (" + info.source + ")" : "INVALID: " + bad;
  }
  const uint32_t q = core::Quorum::for_replicas(std::max<uint32_t>(h.replica_count, 1)).q;
  if (o.output == "json") {
    nlohmann::ordered_json j = {{"file", o.file},
                                {"format_version", kv::snapshot_format_version},
                                {"cluster_id", h.cluster_id},
                                {"seq", h.seq},
                                {"digest", to_hex(h.digest)},
                                {"replica_count", h.replica_count},
                                {"quorum", q},
                                {"signers", nlohmann::json::array()},
                                {"certificate", cert},
                                {"state_bytes", h.state.size()},
                                {"keys", s.keys},
                                {"records", s.records},
                                {"buckets", s.buckets},
                                {"file_bytes", s.file_bytes},
                                {"verified", cert_ok}};
    for (const wire::Checkpoint& c : h.certificate) j["signers"].push_back(c.replica);
    out << j.dump() << "\n";
  } else {
    out << "file          " << o.file << "\n"
        << "format        pbft-kv snapshot, version " << kv::snapshot_format_version << "\n"
        << "cluster_id    " << h.cluster_id << "\n"
        << "seq           " << h.seq << "\n"
        << "digest        " << to_hex(h.digest) << "\n"
        << "replicas      " << h.replica_count << " (quorum " << q << ")\n"
        << "signed by     replicas " << signers_of(h.certificate) << "\n"
        << "certificate   " << cert << "\n"
        << "state         " << h.state.size() << " bytes (reply cache and manifest)\n"
        << "keys          " << s.keys << " (" << s.records << " records in " << s.buckets << " buckets)\n"
        << "size          " << s.file_bytes << " bytes\n"
        << "checksum      ok; every bucket matches the digest\n";
  }
  if (!cert_ok) {
    err << "kvctl snapshot inspect: " << o.file << ": " << cert << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void SnapshotCommands::add_to(CLI::App& app) {
  CLI::App* snapshot = app.add_subcommand("snapshot", "Backups: save, inspect and restore a stable checkpoint");
  snapshot->require_subcommand(1);
  save = snapshot->add_subcommand("save", "Fetch the latest stable checkpoint from the cluster, verified, into FILE");
  save->add_option("file", file, "The snapshot file to write (atomically; never left half-written)")->required();
  save->add_option("--endpoints", endpoints, "Replica HTTP endpoints, host:port, comma-separated")->delimiter(',');
  save->add_option("--config", config, "A replica's TOML config: its members and their public keys");
  save->add_flag("--progress", progress, "Show progress on stderr even when it is not a terminal");
  save->add_option("--timeout-ms", timeout_ms, "Per-request timeout")->capture_default_str();
  save->add_option("--chunk-bytes", chunk_bytes, "Bytes asked per chunk")->capture_default_str()->check(
      CLI::Range(1u, 8u << 20));

  inspect = snapshot->add_subcommand("inspect", "Print a snapshot file's header and verify it offline");
  inspect->add_option("file", file, "The snapshot file")->required();
  inspect->add_option("--config", config, "A replica's TOML config: check the certificate with its public keys");
  inspect->add_option("-o,--output", output, "Output format")->check(CLI::IsMember({"table", "json"}));

  restore = snapshot->add_subcommand("restore", "Make a replica's data folder from a verified snapshot file");
  restore->add_option("file", file, "The snapshot file")->required();
  restore->add_option("--data-dir", data_dir, "The data folder to create (default: node.data_dir of --config)");
  restore->add_option("--config", config, "The replica's TOML config (cluster id, public keys, data folder)");
  restore->add_flag("--force", force, "Replace a non-empty folder (it is renamed aside, not deleted)");
}

bool SnapshotCommands::run(const std::vector<std::string>& global_endpoints, const std::string& global_config,
                           std::ostream& out, std::ostream& err, int& exit_code) {
  if ((save == nullptr || !save->parsed()) && (inspect == nullptr || !inspect->parsed()) &&
      (restore == nullptr || !restore->parsed()))
    return false;
  const std::string cfg = config.empty() ? global_config : config;
  const char* name = save->parsed() ? "save" : inspect->parsed() ? "inspect" : "restore";
  try {
    if (inspect->parsed()) {
      exit_code = run_inspect(*this, cfg, out, err);
      return true;
    }
    const ClusterInfo info = cluster_info(cfg);
    if (restore->parsed()) {
      exit_code = run_restore(*this, info, out, err);
      return true;
    }
    std::vector<std::string> texts = endpoints.empty() ? global_endpoints : endpoints;
    std::vector<Endpoint> eps = texts.empty() ? info.members : parse_endpoints(texts);
    if (eps.empty()) throw Failure("no endpoints given");
    if (cfg.empty() && texts.empty())
      err << "kvctl snapshot save: no --config: asking the dev cluster on 127.0.0.1:"
          << node::dev_base_port_default << ".. and checking with its public keys\n";
    Saver saver(*this, info, std::move(eps), err);
    exit_code = saver.run(out);
  } catch (const std::exception& e) {
    err << "kvctl snapshot " << name << ": " << e.what() << "\n";
    exit_code = 1;
  }
  return true;
}

}  // namespace pbft::client
