// The framing of the replica-to-replica stream (see peer_network.h):
//
//   u32 sender id (little-endian) | wire frame (codec.h) | MAC (32 bytes)
//
// The MAC covers the "record": the sender id followed by the frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/types.h"
#include "wire/codec.h"

namespace pbft::transport {

inline constexpr size_t sender_id_size = 4;
// What the receiver reads before it knows how long the rest is.
inline constexpr size_t record_prefix_size = sender_id_size + wire::frame_header_size;

// sender id | frame: the bytes the MAC covers.
inline Bytes make_record(ReplicaId sender, ByteView frame) {
  Bytes out;
  out.reserve(sender_id_size + frame.size());
  for (size_t i = 0; i < sender_id_size; ++i) {
    out.push_back(static_cast<uint8_t>(sender >> (8 * i)));
  }
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

// The sender id at the start of a record (at least sender_id_size bytes).
inline ReplicaId read_sender_id(ByteView record) {
  ReplicaId id = 0;
  for (size_t i = 0; i < sender_id_size; ++i) id |= static_cast<ReplicaId>(record[i]) << (8 * i);
  return id;
}

}  // namespace pbft::transport
