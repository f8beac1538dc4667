#include "transport/frame_reader.h"

#include <algorithm>
#include <utility>

#include "transport/stream_format.h"
#include "wire/codec.h"

namespace pbft::transport {
namespace {

// Records above this do not keep their buffer once delivered.
constexpr size_t buffer_keep_bytes = 1u << 20;

}  // namespace

FrameReader::FrameReader(uint64_t cluster_id, ReplicaId self, uint32_t replica_count,
                         const crypto::Crypto& crypto)
    : cluster_id_(cluster_id), self_(self), replica_count_(replica_count), crypto_(&crypto) {}

size_t FrameReader::feed(ByteView data, Event& event) {
  event = Event{};
  if (failed_) {
    fail(event, Fault::bad_frame, "reader already failed");
    return 0;
  }
  size_t used = 0;
  if (buffer_.size() < record_prefix_size) {
    const size_t take = std::min(record_prefix_size - buffer_.size(), data.size());
    buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    used += take;
    if (buffer_.size() < record_prefix_size) return used;
    if (!check_prefix(event)) return used;
  }
  const size_t take = std::min(expected_ - buffer_.size(), data.size() - used);
  const auto from = data.begin() + static_cast<std::ptrdiff_t>(used);
  buffer_.insert(buffer_.end(), from, from + static_cast<std::ptrdiff_t>(take));
  used += take;
  if (buffer_.size() == expected_) finish_record(event);
  return used;
}

bool FrameReader::check_prefix(Event& event) {
  const ByteView prefix(buffer_.data(), record_prefix_size);
  const wire::Decoded<wire::FrameHeader> header =
      wire::decode_frame_header(prefix.subspan(sender_id_size));
  if (!header.ok()) {
    fail(event, Fault::bad_frame, "bad frame header: " + header.error);
    return false;
  }
  if (header.value->cluster_id != cluster_id_) {
    fail(event, Fault::bad_frame, "wrong cluster id");
    return false;
  }
  sender_ = read_sender_id(prefix);
  if (sender_ >= replica_count_ || sender_ == self_) {
    fail(event, Fault::bad_mac, "sender " + std::to_string(sender_) + " is not a peer");
    return false;
  }
  if (bound_ && *bound_ != sender_) {
    fail(event, Fault::bad_mac,
         "sender " + std::to_string(sender_) + " on a connection bound to " +
             std::to_string(*bound_));
    return false;
  }
  expected_ = record_prefix_size + header.value->body_size + mac_size;
  // Grow with what actually arrives beyond this, so that a header claiming
  // a huge body costs nothing until the bytes come.
  buffer_.reserve(std::min(expected_, buffer_keep_bytes));
  return true;
}

void FrameReader::finish_record(Event& event) {
  const ByteView all(buffer_);
  const ByteView record = all.first(expected_ - mac_size);
  Mac mac{};
  std::copy(all.end() - static_cast<std::ptrdiff_t>(mac_size), all.end(), mac.begin());
  if (!crypto_->verify_mac(sender_, record, mac)) {
    fail(event, Fault::bad_mac, "bad MAC from " + std::to_string(sender_));
    return;
  }
  wire::Decoded<wire::Message> decoded =
      wire::decode_frame(record.subspan(sender_id_size), cluster_id_);
  if (!decoded.ok()) {
    fail(event, Fault::bad_frame, "undecodable frame: " + decoded.error);
    return;
  }
  bound_ = sender_;
  event.kind = Event::Kind::message;
  event.sender = sender_;
  event.message = std::move(decoded.value);
  if (buffer_.capacity() > buffer_keep_bytes) {
    Bytes().swap(buffer_);
  } else {
    buffer_.clear();
  }
  expected_ = 0;
}

void FrameReader::fail(Event& event, Fault fault, std::string reason) {
  failed_ = true;
  event.kind = Event::Kind::fault;
  event.fault = fault;
  event.reason = std::move(reason);
}

}  // namespace pbft::transport
