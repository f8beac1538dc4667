// Splits a byte stream of wire frames (codec.h: header, then body; no
// sender id), each followed by a fixed-size trailer (none, or a MAC), into
// messages. The client protocol's framing: every frame, each way, is
// followed by the MAC of that client and replica pair
// (transport/client_server.h). Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/types.h"
#include "wire/messages.h"

namespace pbft::transport {

class FrameSplitter {
 public:
  struct Event {
    enum class Kind { need_more, message, fault };
    Kind kind = Kind::need_more;
    std::optional<wire::Message> message;  // message
    Bytes frame;                           // message, with a trailer: the frame's bytes
    Bytes trailer;                         // message: the bytes after the frame
    std::string reason;                    // fault
  };

  // Frames whose body is over body_bytes_max are a fault before their body
  // is read.
  FrameSplitter(uint64_t cluster_id, size_t body_bytes_max, size_t trailer_size = 0);

  // Queues bytes read from the stream.
  void append(ByteView data);
  // The next complete message, need_more, or a fault (final: every later
  // call returns it again).
  Event next();

  // Bytes queued that are not yet a whole frame.
  size_t buffered() const { return buffer_.size() - begin_; }

 private:
  uint64_t cluster_id_;
  size_t body_bytes_max_;
  size_t trailer_size_;
  Bytes buffer_;
  size_t begin_ = 0;  // consumed prefix of buffer_
  std::optional<std::string> fault_;
};

}  // namespace pbft::transport
