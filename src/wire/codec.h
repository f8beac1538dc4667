// The binary wire format. A frame is a fixed 24-byte header followed by the
// body:
//
//   offset size field
//   0      4    magic "PBKV"
//   4      1    version (1)
//   5      1    message type (MessageType)
//   6      2    reserved, must be 0
//   8      8    cluster id
//   16     4    body length in bytes (at most frame_body_bytes_max)
//   20     4    CRC-32C of the body
//
// All integers are little-endian. Byte strings and lists are a u32 count
// followed by the items; every count is bounded (limits below). Decoding is
// strict: wrong magic, version, type, cluster, checksum, an over-long count,
// a truncated body or trailing bytes all fail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/types.h"
#include "wire/messages.h"

namespace pbft::wire {

inline constexpr uint32_t frame_magic = 0x564b4250;  // "PBKV" little-endian
// 2: requests carry flags, replies a sequence number and an optional signature.
// 3: a status carries the view change its sender asks for.
inline constexpr uint8_t frame_version = 3;
inline constexpr size_t frame_header_size = 24;
inline constexpr size_t frame_body_bytes_max = 64u << 20;
inline constexpr size_t operation_bytes_max = 2u << 20;
inline constexpr size_t result_bytes_max = 2u << 20;
inline constexpr size_t batch_requests_max = 4096;
inline constexpr size_t certificate_entries_max = 1024;  // signatures in one certificate
inline constexpr size_t prepared_certs_max = 4096;        // entries in one view change
inline constexpr size_t view_changes_max = 1024;          // view changes in one new view
inline constexpr size_t status_slots_max = 4096;
inline constexpr size_t snapshot_bytes_max = frame_body_bytes_max - 64;
inline constexpr size_t state_key_bytes_max = (64u << 10) + 64;  // a record key in state transfer (a 64 KiB user key and its tag)

struct DecodeError {
  std::string reason;
};

// A decoded value or the reason it was rejected.
template <typename T>
struct Decoded {
  std::optional<T> value;
  std::string error;
  bool ok() const { return value.has_value(); }
};

// Whole frames.
Bytes encode_frame(uint64_t cluster_id, const Message& m);
Decoded<Message> decode_frame(ByteView frame, uint64_t cluster_id);

struct FrameHeader {
  MessageType type{};
  uint64_t cluster_id = 0;
  uint32_t body_size = 0;
  uint32_t body_crc = 0;
};
// Header only, for a transport that reads the header first to learn how
// much body follows.
Decoded<FrameHeader> decode_frame_header(ByteView header);

// What each signature covers: a domain tag naming the message type, then
// the signed fields.
Bytes signing_bytes(const Request& m);
Bytes signing_bytes(const PrePrepare& m);
Bytes signing_bytes(const Prepare& m);
Bytes signing_bytes(const Checkpoint& m);
Bytes signing_bytes(const ViewChange& m);
Bytes signing_bytes(const NewView& m);
// A bundle of requests (Request::flag_bundled, core/request_bundle.h): the
// bytes of a leaf (a request's signing bytes under another tag), of an
// inner node (its two children's digests) and what the bundle's one
// signature covers (the root). Distinct tags: no leaf passes for a node,
// no root signature for another message's.
Bytes bundle_leaf_bytes(const Request& m);
Bytes bundle_node_bytes(const Digest& left, const Digest& right);
Bytes bundle_signing_bytes(const Digest& root);
// What a signed reply's signature covers (see Reply): the view and the
// result bytes themselves are left out, the result by its digest.
Bytes reply_signing_bytes(ClientId client, uint64_t timestamp, Seq seq, ReplicaId replica,
                          const Digest& operation_digest, const Digest& result_digest);
// The same fields under another domain, for an answer of the read-only
// fast path (seq: the answering replica's last executed): no one can pass
// such a signature off as an ordered reply's.
Bytes fast_reply_signing_bytes(ClientId client, uint64_t timestamp, Seq seq, ReplicaId replica,
                               const Digest& operation_digest, const Digest& result_digest);

// The bytes a batch digest is computed over (requests with their
// signatures, in order).
Bytes batch_bytes(const std::vector<Request>& batch);

// CRC-32C (Castagnoli), as in the frame header.
uint32_t crc32c(ByteView data);

}  // namespace pbft::wire
