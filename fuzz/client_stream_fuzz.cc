// The binary client protocol's framing, as a replica reads it: frames each
// followed by a 32-byte MAC (transport::FrameSplitter with a trailer), cut
// into arbitrary pieces, and each MAC checked as transport::ClientServer
// checks it (SodiumCrypto::verify_client_mac). Input: one control byte, then
// the stream.
//   bit 0: put on every complete frame the MAC of the client its request
//          names (clients 100-103; client 100 for anything else), as that
//          client computes it, so that the fuzzer gets past the MAC;
//          otherwise the MACs are whatever the input holds.
//   bits 1-7: seed of the piece sizes.
// Checks: the pieces a stream arrives in do not change what is read; every
// message's frame and MAC are the bytes the stream holds at that place; a
// request's MAC, checked under the client the request names (as the
// listener checks it), verifies exactly when it is the one that client
// computes over that frame (a forged, misplaced or other client's MAC
// never does; a client the replica does not know never verifies); re-encoding the message
// gives a frame that decodes to it again; a fault is final; nothing over
// the body limit is buffered waiting for its end.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_keys.h"
#include "transport/frame_splitter.h"
#include "wire/codec.h"

using namespace pbft;
using transport::FrameSplitter;

namespace {

constexpr ReplicaId self = 1;
constexpr size_t body_bytes_max = 64u << 10;

struct Keys {
  std::unique_ptr<crypto::SodiumCrypto> replica;
  std::vector<std::unique_ptr<crypto::SodiumCrypto>> clients;  // first_client + i
  Keys() {
    replica = std::make_unique<crypto::SodiumCrypto>(fuzz::keyring_for_replica(self));
    for (ClientId c = fuzz::first_client; c < fuzz::first_client + fuzz::client_count; ++c) {
      crypto::Keyring k = fuzz::keyring_for_replica(self);
      k.self = fuzz::client_key(c);
      k.self_is_replica = false;
      k.self_id = c;
      clients.push_back(std::make_unique<crypto::SodiumCrypto>(k));
    }
  }
  // The client's own MAC over `frame`, if it is one of the known clients.
  std::optional<Mac> mac_of(ClientId c, ByteView frame) const {
    if (c < fuzz::first_client || c >= fuzz::first_client + fuzz::client_count) return std::nullopt;
    return clients[c - fuzz::first_client]->mac_to_replica(self, frame);
  }
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Puts the client's MAC after every complete frame.
void remac(Bytes& stream) {
  size_t pos = 0;
  while (stream.size() - pos >= wire::frame_header_size) {
    const uint64_t size = wire::frame_header_size + uint64_t{fuzz::le32(stream.data() + pos + 16)};
    if (stream.size() - pos < size + mac_size) return;
    const ByteView frame = ByteView(stream).subspan(pos, size);
    ClientId c = fuzz::first_client;
    const wire::Decoded<wire::Message> m = wire::decode_frame(frame, fuzz::cluster_id);
    if (m.ok()) {
      if (const auto* r = std::get_if<wire::Request>(&*m.value); r && keys().mac_of(r->client, frame)) c = r->client;
    }
    const std::optional<Mac> mac = keys().mac_of(c, frame);
    FUZZ_CHECK(mac.has_value(), "a known client has a key for every replica");
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
      bool ok = false;
      if (const auto* r = std::get_if<wire::Request>(&*ev.message)) {
        ok = keys().replica->verify_client_mac(r->client, ev.frame, mac);
        const std::optional<Mac> expected = keys().mac_of(r->client, ev.frame);
        FUZZ_CHECK(ok == (expected == mac), "a MAC verifies exactly when it is the named client's over this frame");
      }
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

  fuzz::check_pieces_do_not_matter(stream, control >> 1, [](const Bytes& s, auto piece) { return run(s, piece); });
  return 0;
}
