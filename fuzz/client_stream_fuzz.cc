// The binary client protocol's framing, as a replica reads it: frames each
// followed by a 32-byte MAC (transport::FrameSplitter with a trailer), cut
// into arbitrary pieces, and each MAC checked as transport::ClientServer
// checks it (SodiumCrypto::verify_client_mac). Input: one control byte, then
// the stream.
//   bit 0: put client 100's MAC on every complete frame, as the client
//          computes it, so that the fuzzer gets past the MAC; otherwise the
//          MACs are whatever the input holds.
//   bits 1-7: seed of the piece sizes.
// Checks: the pieces a stream arrives in do not change what is read; every
// message's frame and MAC are the bytes the stream holds at that place; a
// MAC verifies exactly when it is the one the client computes over that
// frame (a forged or misplaced MAC never does); re-encoding the message
// gives a frame that decodes to it again; a fault is final; nothing over
// the body limit is buffered waiting for its end.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_keys.h"
#include "transport/frame_splitter.h"
#include "wire/codec.h"

using namespace pbft;
using transport::FrameSplitter;

namespace {

constexpr ReplicaId self = 1;
constexpr ClientId client_id = fuzz::first_client;
constexpr size_t body_bytes_max = 64u << 10;

struct Keys {
  std::unique_ptr<crypto::SodiumCrypto> replica;
  std::unique_ptr<crypto::SodiumCrypto> client;
  Keys() {
    replica = std::make_unique<crypto::SodiumCrypto>(fuzz::keyring_for_replica(self));
    crypto::Keyring k = fuzz::keyring_for_replica(self);
    k.self = fuzz::client_key(client_id);
    k.self_is_replica = false;
    k.self_id = client_id;
    this->client = std::make_unique<crypto::SodiumCrypto>(k);
  }
};
const Keys& keys() {
  static const Keys k;
  return k;
}

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// Puts the client's MAC after every complete frame.
void remac(Bytes& stream) {
  size_t pos = 0;
  while (stream.size() - pos >= wire::frame_header_size) {
    const uint64_t size = wire::frame_header_size + uint64_t{le32(stream.data() + pos + 16)};
    if (stream.size() - pos < size + mac_size) return;
    const std::optional<Mac> mac = keys().client->mac_to_replica(self, ByteView(stream).subspan(pos, size));
    FUZZ_CHECK(mac.has_value(), "the client has a key for every replica");
    std::copy(mac->begin(), mac->end(), stream.begin() + static_cast<std::ptrdiff_t>(pos + size));
    pos += size + mac_size;
  }
}

struct Seen {
  FrameSplitter::Event::Kind kind;
  std::optional<wire::Message> message;
  bool mac_ok = false;
  bool operator==(const Seen&) const = default;
};

template <typename Piece>
std::vector<Seen> run(ByteView stream, Piece piece) {
  FrameSplitter splitter(fuzz::cluster_id, body_bytes_max, mac_size);
  std::vector<Seen> events;
  size_t pos = 0;
  size_t consumed = 0;  // stream bytes of the messages delivered so far
  for (size_t i = 0; pos < stream.size(); ++i) {
    const size_t n = std::min(piece(i), stream.size() - pos);
    splitter.append(stream.subspan(pos, n));
    pos += n;
    for (;;) {
      FrameSplitter::Event ev = splitter.next();
      if (ev.kind == FrameSplitter::Event::Kind::need_more) {
        FUZZ_CHECK(splitter.buffered() == pos - consumed, "everything not yet a message stays buffered");
        FUZZ_CHECK(splitter.buffered() <= wire::frame_header_size + body_bytes_max + mac_size,
                   "nothing over the limit is buffered");
        break;
      }
      if (ev.kind == FrameSplitter::Event::Kind::fault) {
        FUZZ_CHECK(!ev.reason.empty(), "a fault says why");
        splitter.append(stream.subspan(pos));
        FUZZ_CHECK(splitter.next().kind == FrameSplitter::Event::Kind::fault, "a fault is final");
        events.push_back({ev.kind, std::nullopt, false});
        return events;
      }
      FUZZ_CHECK(ev.message.has_value() && ev.trailer.size() == mac_size, "a message with its MAC");
      const ByteView at = stream.subspan(consumed, ev.frame.size() + mac_size);
      FUZZ_CHECK(std::equal(ev.frame.begin(), ev.frame.end(), at.begin()) &&
                     std::equal(ev.trailer.begin(), ev.trailer.end(), at.begin() + ev.frame.size()),
                 "frame and MAC are the stream's bytes at that place");
      consumed += ev.frame.size() + mac_size;
      Mac mac{};
      std::copy(ev.trailer.begin(), ev.trailer.end(), mac.begin());
      const bool ok = keys().replica->verify_client_mac(client_id, ev.frame, mac);
      const std::optional<Mac> expected = keys().client->mac_to_replica(self, ev.frame);
      FUZZ_CHECK(ok == (expected == mac), "a MAC verifies exactly when it is the client's over this frame");
      const wire::Decoded<wire::Message> again =
          wire::decode_frame(wire::encode_frame(fuzz::cluster_id, *ev.message), fuzz::cluster_id);
      FUZZ_CHECK(again.ok() && *again.value == *ev.message, "a message encodes to a frame that decodes to it");
      events.push_back({ev.kind, std::move(ev.message), ok});
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

  const std::vector<Seen> whole = run(stream, [](size_t) { return SIZE_MAX; });
  uint64_t state = (control >> 1) * 0x9e3779b97f4a7c15ull + stream.size();
  const std::vector<Seen> pieces = run(stream, [&](size_t) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t r = state >> 33;
    return static_cast<size_t>(r % 4 == 0 ? 1 : r % 97);
  });
  FUZZ_CHECK(whole == pieces, "the pieces a stream arrives in do not change what is read");
  return 0;
}
