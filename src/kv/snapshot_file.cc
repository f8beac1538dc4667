#include "kv/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/client_table.h"
#include "core/quorum.h"
#include "crypto/sodium_crypto.h"
#include "kv/buckets.h"
#include "kv/lthash.h"
#include "kv/manifest.h"
#include "kv/records.h"
#include "wire/codec.h"

namespace pbft::kv {
namespace {

[[noreturn]] void fail(const std::string& what) { throw SnapshotError(what); }

std::string errno_text() { return std::strerror(errno); }

// Sequential reads of a snapshot file, hashing what it reads.
class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) fail("cannot open " + path + ": " + errno_text());
    crypto::init_sodium();
    crypto_generichash_init(&hash_, nullptr, 0, digest_size);
  }
  ~FileReader() {
    if (file_ != nullptr) std::fclose(file_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  void read(void* out, size_t size, const char* what, bool hashed = true) {
    if (size > 0 && std::fread(out, 1, size, file_) != size) {
      if (std::ferror(file_)) fail("cannot read " + path_ + ": " + errno_text());
      fail(std::string("truncated file: it ends inside the ") + what);
    }
    if (hashed) crypto_generichash_update(&hash_, static_cast<const uint8_t*>(out), size);
    offset_ += size;
  }
  uint32_t u32(const char* what) {
    uint8_t b[4];
    read(b, 4, what);
    return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
           static_cast<uint32_t>(b[3]) << 24;
  }
  uint64_t u64(const char* what) {
    uint64_t lo = u32(what);
    uint64_t hi = u32(what);
    return lo | hi << 32;
  }
  std::string string(size_t max, const char* what) {
    const uint32_t size = u32(what);
    if (size > max) fail(std::string(what) + " of " + std::to_string(size) + " bytes is over the limit of " +
                         std::to_string(max));
    std::string s(size, '\0');
    read(s.data(), size, what);
    return s;
  }
  Digest digest_so_far() {
    crypto_generichash_state copy = hash_;
    Digest d;
    crypto_generichash_final(&copy, d.bytes.data(), d.bytes.size());
    return d;
  }
  bool at_end() {
    const int c = std::fgetc(file_);
    if (c == EOF) return true;
    std::ungetc(c, file_);
    return false;
  }
  uint64_t offset() const { return offset_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  crypto_generichash_state hash_;
  uint64_t offset_ = 0;
};

SnapshotHeader read_header(FileReader& in) {
  char magic[8];
  in.read(magic, sizeof magic, "header");
  if (std::string_view(magic, sizeof magic) != snapshot_magic) fail("not a pbft-kv snapshot file (bad magic)");
  const uint32_t version = in.u32("header");
  if (version != snapshot_format_version)
    fail("snapshot format version " + std::to_string(version) + " is not supported (this build reads version " +
         std::to_string(snapshot_format_version) + ")");
  SnapshotHeader h;
  h.cluster_id = in.u64("header");
  h.seq = in.u64("header");
  in.read(h.digest.bytes.data(), digest_size, "header");
  h.replica_count = in.u32("header");
  const uint32_t entries = in.u32("certificate");
  if (entries > wire::certificate_entries_max) fail("certificate with " + std::to_string(entries) + " entries");
  for (uint32_t i = 0; i < entries; ++i) {
    wire::Checkpoint c{h.seq, h.digest, in.u32("certificate"), {}};
    in.read(c.sig.data(), c.sig.size(), "certificate");
    h.certificate.push_back(c);
  }
  const uint32_t state_size = in.u32("state");
  if (state_size > wire::snapshot_bytes_max) fail("state of " + std::to_string(state_size) + " bytes");
  h.state.resize(state_size);
  in.read(h.state.data(), state_size, "state");
  return h;
}

void put_le(uint8_t* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

std::string check_certificate(Seq seq, const Digest& digest, const std::vector<wire::Checkpoint>& certificate,
                              uint32_t replica_count, uint32_t checkpoint_interval, const crypto::Crypto& crypto) {
  if (seq == 0) return "there is no certificate for the initial state (sequence number 0)";
  if (checkpoint_interval != 0 && seq % checkpoint_interval != 0)
    return "sequence number " + std::to_string(seq) + " is not a multiple of the checkpoint interval " +
           std::to_string(checkpoint_interval);
  if (replica_count == 0) return "no replicas";
  const uint32_t q = core::Quorum::for_replicas(replica_count).q;
  std::set<ReplicaId> signers;
  for (const wire::Checkpoint& c : certificate) {
    if (c.seq != seq || c.state_digest != digest) return "a signed checkpoint is for another state";
    if (c.replica >= replica_count) return "a signature from replica " + std::to_string(c.replica) + ", not a member";
    if (!signers.insert(c.replica).second) return "two signatures from replica " + std::to_string(c.replica);
    if (!crypto.verify_replica(c.replica, wire::signing_bytes(c), c.sig))
      return "the signature of replica " + std::to_string(c.replica) + " is not valid";
  }
  if (signers.size() < q)
    return std::to_string(signers.size()) + " valid signatures, a quorum of " + std::to_string(replica_count) +
           " replicas needs " + std::to_string(q);
  return {};
}

std::vector<Digest> state_leaves(const SnapshotHeader& header) {
  crypto::init_sodium();
  Digest d;
  crypto_generichash(d.bytes.data(), d.bytes.size(), header.state.data(), header.state.size(), nullptr, 0);
  if (d != header.digest) fail("the state does not have the certified digest");
  size_t consumed = 0;
  if (!core::ClientTable::decode(header.state, consumed)) fail("the state's reply cache does not decode");
  std::optional<std::vector<Digest>> leaves = decode_manifest(ByteView(header.state).subspan(consumed));
  if (!leaves) fail("the state's manifest does not decode (another build's bucket counts?)");
  return *leaves;
}

SnapshotWriter::SnapshotWriter(std::string path, const SnapshotHeader& header)
    : path_(std::move(path)), temp_(path_ + ".tmp") {
  crypto::init_sodium();
  crypto_generichash_init(&hash_, nullptr, 0, digest_size);
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create " + temp_ + ": " + errno_text());
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    ::close(fd);
    fail("cannot open " + temp_ + ": " + errno_text());
  }
  put(snapshot_magic.data(), snapshot_magic.size());
  put_u32(snapshot_format_version);
  put_u64(header.cluster_id);
  put_u64(header.seq);
  put(header.digest.bytes.data(), digest_size);
  put_u32(header.replica_count);
  put_u32(static_cast<uint32_t>(header.certificate.size()));
  for (const wire::Checkpoint& c : header.certificate) {
    put_u32(c.replica);
    put(c.sig.data(), c.sig.size());
  }
  put_u32(static_cast<uint32_t>(header.state.size()));
  put(header.state.data(), header.state.size());
}

SnapshotWriter::~SnapshotWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) ::unlink(temp_.c_str());
}

void SnapshotWriter::put(const void* data, size_t size) {
  if (size == 0) return;
  if (std::fwrite(data, 1, size, file_) != size) fail("cannot write " + temp_ + ": " + errno_text());
  crypto_generichash_update(&hash_, static_cast<const uint8_t*>(data), size);
  bytes_ += size;
}

void SnapshotWriter::put_u32(uint32_t v) {
  uint8_t b[4];
  put_le(b, v, 4);
  put(b, 4);
}

void SnapshotWriter::put_u64(uint64_t v) {
  uint8_t b[8];
  put_le(b, v, 8);
  put(b, 8);
}

void SnapshotWriter::add_bucket(uint32_t bucket, const std::vector<ChunkRecord>& records) {
  if (records.empty()) return;
  put_u32(bucket);
  put_u64(records.size());
  for (const ChunkRecord& r : records) {
    put_u32(static_cast<uint32_t>(r.key.size()));
    put(r.key.data(), r.key.size());
    put_u32(static_cast<uint32_t>(r.value.size()));
    put(r.value.data(), r.value.size());
  }
  records_ += records.size();
}

void SnapshotWriter::commit(const std::function<void(const std::string&)>& before_rename) {
  put_u32(snapshot_end_marker);
  put_u64(records_);
  uint8_t sum[digest_size];
  crypto_generichash_final(&hash_, sum, sizeof sum);
  if (std::fwrite(sum, 1, sizeof sum, file_) != sizeof sum) fail("cannot write " + temp_ + ": " + errno_text());
  bytes_ += sizeof sum;
  if (std::fflush(file_) != 0) fail("cannot write " + temp_ + ": " + errno_text());
  if (::fsync(::fileno(file_)) != 0) fail("cannot sync " + temp_ + ": " + errno_text());
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) fail("cannot close " + temp_ + ": " + errno_text());
  if (before_rename) before_rename(temp_);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    fail("cannot rename " + temp_ + " to " + path_ + ": " + errno_text());
  committed_ = true;
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail("cannot sync the folder " + dir + ": " + errno_text());
  }
}

SnapshotHeader read_snapshot_header(const std::string& path) {
  FileReader in(path);
  return read_header(in);
}

SnapshotSummary read_snapshot_file(const std::string& path,
                                   const std::function<void(uint32_t, std::vector<ChunkRecord>&)>& on_bucket) {
  FileReader in(path);
  SnapshotSummary s;
  s.header = read_header(in);
  const std::vector<Digest> leaves = state_leaves(s.header);
  std::vector<bool> seen(bucket_count, false);
  int64_t last_bucket = -1;
  for (;;) {
    const uint32_t bucket = in.u32("bucket list");
    if (bucket == snapshot_end_marker) break;
    if (bucket >= bucket_count) fail("bucket " + std::to_string(bucket) + " does not exist");
    if (static_cast<int64_t>(bucket) <= last_bucket) fail("buckets out of order at bucket " + std::to_string(bucket));
    last_bucket = bucket;
    const uint64_t count = in.u64("bucket");
    if (count == 0) fail("bucket " + std::to_string(bucket) + " is listed empty");
    std::vector<ChunkRecord> records;
    LtHash hash;
    for (uint64_t i = 0; i < count; ++i) {
      ChunkRecord r{bucket, in.string(record_key_bytes_max, "record key"),
                    in.string(record_value_bytes_max, "record value")};
      if (!valid_record(r.key, r.value)) fail("bucket " + std::to_string(bucket) + " holds an invalid record");
      if (bucket_of(r.key) != bucket) fail("a record in bucket " + std::to_string(bucket) + " belongs elsewhere");
      if (!records.empty() && !(records.back().key < r.key))
        fail("records out of order in bucket " + std::to_string(bucket));
      hash.add(LtHash::of_record(r.key, r.value));
      records.push_back(std::move(r));
    }
    if (bucket_leaf(bucket, hash) != leaves[bucket])
      fail("bucket " + std::to_string(bucket) + " does not match the certified digest");
    seen[bucket] = true;
    s.records += count;
    if (!is_request_bucket(bucket)) s.keys += count;
    ++s.buckets;
    if (on_bucket) on_bucket(bucket, records);
  }
  const Digest empty_leaf;
  for (uint32_t b = 0; b < bucket_count; ++b)
    if (!seen[b] && leaves[b] != empty_leaf) fail("bucket " + std::to_string(b) + " is missing from the file");
  const uint64_t total = in.u64("trailer");
  if (total != s.records) fail("the trailer counts " + std::to_string(total) + " records, the file holds " +
                               std::to_string(s.records));
  const Digest expected = in.digest_so_far();
  Digest sum;
  in.read(sum.bytes.data(), digest_size, "checksum", false);
  if (sum != expected) fail("checksum mismatch: the file is corrupt");
  if (!in.at_end()) fail("unexpected bytes after the checksum");
  s.file_bytes = in.offset();
  return s;
}

}  // namespace pbft::kv
