// The backup file of `kvctl snapshot save`: the complete state of a
// cluster at one stable checkpoint, with the certificate that proves it.
//
// Format, version 1 (integers little-endian):
//
//   8    magic "PBKVSNAP"
//   4    format version (1)
//   8    cluster id
//   8    seq: the checkpoint's sequence number
//   32   digest: the certified state digest (of the state bytes below)
//   4    replica count n of the cluster that signed
//   4    certificate entries c (at most wire::certificate_entries_max); then c times:
//          4 replica id, 64 Ed25519 signature of CHECKPOINT (seq, digest, replica)
//   4    state length s (at most wire::snapshot_bytes_max); then s bytes: the
//          checkpoint's snapshot as the core defines it (reply cache, then the
//          key-value manifest, kv/manifest.h)
//   then, for every non-empty bucket in increasing order:
//          4 bucket, 8 record count r (at least 1); then r times:
//          4 key length, key, 4 value length, value (records.h), in key order
//   4    0xFFFFFFFF: no more buckets
//   8    total record count
//   32   BLAKE2b-256 of every byte before it
//
// Nothing may follow. A file verifies when it parses exactly, its checksum
// matches, BLAKE2b-256 of the state bytes is the digest, every record is
// one the state machine could have written (valid_record) and sits in the
// bucket its key hashes to, and every bucket's records hash to the
// manifest's leaf (empty buckets: the buckets the file omits have the empty
// leaf). The certificate is checked against the cluster's public keys
// (check_certificate), which the file cannot vouch for itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sodium.h>

#include "common/types.h"
#include "crypto/crypto.h"
#include "kv/chunk.h"
#include "wire/messages.h"

namespace pbft::kv {

inline constexpr std::string_view snapshot_magic = "PBKVSNAP";
inline constexpr uint32_t snapshot_format_version = 1;
inline constexpr uint32_t snapshot_end_marker = 0xFFFFFFFFu;

// Why a snapshot file was refused (or could not be written).
struct SnapshotError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SnapshotHeader {
  uint64_t cluster_id = 0;
  Seq seq = 0;
  Digest digest;
  uint32_t replica_count = 0;
  std::vector<wire::Checkpoint> certificate;  // seq and digest as above
  Bytes state;                                // reply cache + manifest
};

// Empty when `certificate` holds q = 2f+1 (for n = replica_count) valid
// signatures of distinct replicas on (seq, digest), with seq > 0 a multiple
// of checkpoint_interval (0: not checked); otherwise why not.
std::string check_certificate(Seq seq, const Digest& digest, const std::vector<wire::Checkpoint>& certificate,
                              uint32_t replica_count, uint32_t checkpoint_interval, const crypto::Crypto& crypto);

// The state bytes' manifest leaves, after checking BLAKE2b-256(state) ==
// digest and that the state is a reply cache followed by a manifest.
// Throws SnapshotError.
std::vector<Digest> state_leaves(const SnapshotHeader& header);

// Writes a snapshot file atomically: into `path`.tmp, made durable (fsync)
// and renamed over `path` by commit(). Buckets must come in increasing
// order; nothing checks their contents here (the caller verified them).
// Destroying a writer that was not committed removes the temporary file.
class SnapshotWriter {
 public:
  SnapshotWriter(std::string path, const SnapshotHeader& header);
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void add_bucket(uint32_t bucket, const std::vector<ChunkRecord>& records);
  // Writes the end, the checksum; fsyncs; then `before_rename(temp path)`
  // (e.g. to verify the written file; it throws to refuse it); renames and
  // fsyncs the folder.
  void commit(const std::function<void(const std::string&)>& before_rename = {});
  uint64_t bytes() const { return bytes_; }
  const std::string& temp_path() const { return temp_; }

 private:
  void put(const void* data, size_t size);
  void put_u32(uint32_t v);
  void put_u64(uint64_t v);

  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  crypto_generichash_state hash_;
  uint64_t bytes_ = 0, records_ = 0;
  bool committed_ = false;
};

struct SnapshotSummary {
  SnapshotHeader header;
  uint64_t records = 0;
  uint64_t keys = 0;  // data records
  uint64_t buckets = 0;
  uint64_t file_bytes = 0;
};

// Reads and verifies a snapshot file (everything above except the
// certificate). on_bucket, if given, gets each bucket's records once they
// are verified, in bucket order; nothing is final before the function
// returns (the checksum is checked last), so a caller must not commit what
// it did with them until then. Throws SnapshotError saying what is wrong.
SnapshotSummary read_snapshot_file(const std::string& path,
                                   const std::function<void(uint32_t, std::vector<ChunkRecord>&)>& on_bucket = {});

// The header alone, without verifying the rest (for a message about a file
// that does not verify). Throws SnapshotError.
SnapshotHeader read_snapshot_header(const std::string& path);

}  // namespace pbft::kv
