#include "transport/frame_splitter.h"

#include "wire/codec.h"

namespace pbft::transport {

FrameSplitter::FrameSplitter(uint64_t cluster_id, size_t body_bytes_max, size_t trailer_size)
    : cluster_id_(cluster_id), body_bytes_max_(body_bytes_max), trailer_size_(trailer_size) {}

void FrameSplitter::append(ByteView data) {
  if (fault_) return;
  if (begin_ > 0 && begin_ == buffer_.size()) {
    buffer_.clear();
    begin_ = 0;
  } else if (begin_ > (64u << 10) && begin_ * 2 > buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(begin_));
    begin_ = 0;
  }
  buffer_.insert(buffer_.end(), data.begin(), data.end());
}

FrameSplitter::Event FrameSplitter::next() {
  Event e;
  if (fault_) {
    e.kind = Event::Kind::fault;
    e.reason = *fault_;
    return e;
  }
  const ByteView rest = ByteView(buffer_).subspan(begin_);
  if (rest.size() < wire::frame_header_size) return e;
  wire::Decoded<wire::FrameHeader> header = wire::decode_frame_header(rest.first(wire::frame_header_size));
  std::string reason;
  if (!header.ok()) reason = header.error;
  else if (header.value->cluster_id != cluster_id_) reason = "wrong cluster id";
  else if (header.value->body_size > body_bytes_max_) reason = "frame body of " + std::to_string(header.value->body_size) + " bytes is over the limit";
  if (reason.empty()) {
    const size_t size = wire::frame_header_size + header.value->body_size;
    if (rest.size() < size + trailer_size_) return e;
    wire::Decoded<wire::Message> m = wire::decode_frame(rest.first(size), cluster_id_);
    if (m.ok()) {
      if (trailer_size_ > 0) {
        e.frame.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(size));
        e.trailer.assign(rest.begin() + static_cast<std::ptrdiff_t>(size),
                         rest.begin() + static_cast<std::ptrdiff_t>(size + trailer_size_));
      }
      begin_ += size + trailer_size_;
      e.kind = Event::Kind::message;
      e.message = std::move(m.value);
      return e;
    }
    reason = m.error;
  }
  fault_ = reason;
  buffer_.clear();
  begin_ = 0;
  e.kind = Event::Kind::fault;
  e.reason = reason;
  return e;
}

}  // namespace pbft::transport
