// The transport's frame reader: the bytes of one inbound connection, cut
// into arbitrary pieces. Input: one control byte, then the stream.
//   bit 0: re-MAC every complete record as its sender would (for senders
//          that are peers), so that the fuzzer gets past the MAC into the
//          frame decoder; otherwise MACs are whatever the input holds.
//   bits 1-7: seed of the piece sizes.
// Checks: feeding the stream in pieces gives exactly the events of feeding
// it whole; no record is delivered unless its MAC is the one its sender
// computes (a forged MAC is never accepted); delivered senders are peers
// and every message on a connection comes from its first sender; nothing
// is read after a fault.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_keys.h"
#include "transport/frame_reader.h"
#include "transport/stream_format.h"

using namespace pbft;
using transport::FrameReader;

namespace {

constexpr ReplicaId self = 1;

struct Keys {
  std::vector<std::unique_ptr<crypto::SodiumCrypto>> replicas;
  Keys() {
    for (uint32_t i = 0; i < fuzz::replica_count; ++i)
      replicas.push_back(std::make_unique<crypto::SodiumCrypto>(fuzz::keyring_for_replica(i)));
  }
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Puts the sender's MAC on every complete record whose sender is a peer.
void remac(Bytes& stream) {
  size_t pos = 0;
  while (stream.size() - pos >= transport::record_prefix_size) {
    const ReplicaId sender = transport::read_sender_id(ByteView(stream).subspan(pos));
    const uint64_t body = fuzz::le32(stream.data() + pos + transport::sender_id_size + 16);
    const uint64_t record = transport::record_prefix_size + body;
    if (stream.size() - pos < record + mac_size) return;
    if (sender < fuzz::replica_count && sender != self) {
      const Mac mac = keys().replicas[sender]->mac(self, ByteView(stream).subspan(pos, record));
      std::copy(mac.begin(), mac.end(), stream.begin() + static_cast<std::ptrdiff_t>(pos + record));
    }
    pos += record + mac_size;
  }
}

struct Seen {
  FrameReader::Event::Kind kind;
  ReplicaId sender;
  std::optional<wire::Message> message;
  FrameReader::Fault fault;
  bool operator==(const Seen&) const = default;
};

// Feeds `stream` in pieces of at most `piece(i)` bytes; returns the events
// (need_more left out) and checks what each delivered record carried.
template <typename Piece>
std::vector<Seen> run(ByteView stream, Piece piece) {
  FrameReader reader(fuzz::cluster_id, self, fuzz::replica_count, *keys().replicas[self]);
  std::vector<Seen> events;
  size_t pos = 0;
  size_t record_start = 0;
  for (size_t i = 0; pos < stream.size(); ++i) {
    ByteView chunk = stream.subspan(pos, std::min(piece(i), stream.size() - pos));
    while (!chunk.empty()) {
      FrameReader::Event ev;
      const size_t used = reader.feed(chunk, ev);
      FUZZ_CHECK(used <= chunk.size(), "feed consumes at most what it is given");
      pos += used;
      chunk = chunk.subspan(used);
      if (ev.kind == FrameReader::Event::Kind::need_more) {
        FUZZ_CHECK(chunk.empty(), "need_more only once everything is consumed");
        continue;
      }
      if (ev.kind == FrameReader::Event::Kind::fault) {
        FUZZ_CHECK(reader.failed() && !ev.reason.empty(), "a fault is final and says why");
        FrameReader::Event again;
        FUZZ_CHECK(reader.feed(stream.subspan(pos), again) == 0 && again.kind == FrameReader::Event::Kind::fault,
                   "nothing is read after a fault");
        events.push_back({ev.kind, 0, std::nullopt, ev.fault});
        return events;
      }
      FUZZ_CHECK(ev.message.has_value(), "a message event carries a message");
      FUZZ_CHECK(ev.sender < fuzz::replica_count && ev.sender != self, "messages come from peers");
      FUZZ_CHECK(reader.bound_sender() == ev.sender, "the connection is bound to its sender");
      FUZZ_CHECK(events.empty() || events.front().sender == ev.sender, "one sender per connection");
      const ByteView record = stream.subspan(record_start, pos - record_start - mac_size);
      Mac mac{};
      std::copy(stream.begin() + static_cast<std::ptrdiff_t>(pos - mac_size),
                stream.begin() + static_cast<std::ptrdiff_t>(pos), mac.begin());
      FUZZ_CHECK(keys().replicas[ev.sender]->mac(self, record) == mac,
                 "a delivered record has its sender's MAC");
      FUZZ_CHECK(transport::read_sender_id(record) == ev.sender, "the record names its sender");
      events.push_back({ev.kind, ev.sender, std::move(ev.message), FrameReader::Fault::none});
      record_start = pos;
      FUZZ_CHECK(!reader.mid_frame(), "a delivered record leaves nothing buffered");
    }
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const uint8_t control = data[0];
  Bytes stream(data + 1, data + size);
  if (control & 1) remac(stream);

  fuzz::check_pieces_do_not_matter(stream, control >> 1, [](const Bytes& s, auto piece) { return run(s, piece); });
  return 0;
}
