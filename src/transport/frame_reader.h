// Turns the bytes of one inbound connection into authenticated messages.
// Pure: no I/O, no clock; the connection feeds it what it reads.
//
// Checks, in stream order: the frame header (magic, version, type, reserved
// bits, body size limit, cluster id), then the sender id (a peer: below the
// replica count, not self, and the connection's bound sender if it has
// one), then, once the whole record is in, the MAC, then the frame's
// checksum and body. The first authenticated message binds the reader to
// its sender. Any failure is final.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/types.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::transport {

class FrameReader {
 public:
  enum class Fault {
    none,
    bad_frame,  // header, size, cluster, checksum or body
    bad_mac,    // MAC, sender id not a peer, or not the bound sender
  };

  struct Event {
    enum class Kind { need_more, message, fault };
    Kind kind = Kind::need_more;
    ReplicaId sender = 0;                  // message
    std::optional<wire::Message> message;  // message
    Fault fault = Fault::none;             // fault
    std::string reason;                    // fault
  };

  // `crypto` must outlive the reader (it is only used inside feed()).
  FrameReader(uint64_t cluster_id, ReplicaId self, uint32_t replica_count,
              const crypto::Crypto& crypto);

  // Consumes bytes from the front of `data`, at most up to the end of the
  // current record, and returns how many. `event` is need_more (everything
  // was consumed, the record is incomplete), message (one record completed;
  // call again with the rest) or fault (the stream is bad; stop reading).
  size_t feed(ByteView data, Event& event);

  // Part of a record has arrived but not all of it.
  bool mid_frame() const { return !buffer_.empty(); }
  std::optional<ReplicaId> bound_sender() const { return bound_; }
  bool failed() const { return failed_; }

 private:
  bool check_prefix(Event& event);
  void finish_record(Event& event);
  void fail(Event& event, Fault fault, std::string reason);

  uint64_t cluster_id_;
  ReplicaId self_;
  uint32_t replica_count_;
  const crypto::Crypto* crypto_;

  Bytes buffer_;         // the record so far
  size_t expected_ = 0;  // its full size, once the prefix is in
  ReplicaId sender_ = 0;
  std::optional<ReplicaId> bound_;
  bool failed_ = false;
};

}  // namespace pbft::transport
