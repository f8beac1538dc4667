// Whole wire frames: header, cluster id, checksum and body, as a peer could
// send them. Decoding must never crash; a frame that decodes re-encodes to
// the same bytes (the codec is canonical) and decodes to the same message;
// it decodes for its own cluster id only; the header decoder agrees with
// the frame decoder.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "wire/codec.h"

using namespace pbft;

namespace {
constexpr uint64_t cluster_id = 0x5eed;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView frame(data, size);
  const wire::Decoded<wire::Message> m = wire::decode_frame(frame, cluster_id);
  if (size >= wire::frame_header_size) {
    const wire::Decoded<wire::FrameHeader> h = wire::decode_frame_header(frame.first(wire::frame_header_size));
    if (m.ok()) {
      FUZZ_CHECK(h.ok(), "a frame that decodes has a good header");
      FUZZ_CHECK(h.value->cluster_id == cluster_id, "only frames of this cluster decode");
      FUZZ_CHECK(h.value->body_size == size - wire::frame_header_size, "the header states the body size");
      FUZZ_CHECK(h.value->type == wire::type_of(*m.value), "the header states the message type");
    }
  }
  if (!m.ok()) {
    FUZZ_CHECK(!m.error.empty(), "a rejected frame says why");
    return 0;
  }
  FUZZ_CHECK(!wire::decode_frame(frame, cluster_id + 1).ok(), "a frame decodes for its own cluster only");
  const Bytes again = wire::encode_frame(cluster_id, *m.value);
  FUZZ_CHECK(again == Bytes(data, data + size), "a decoded frame re-encodes to the same bytes");
  const wire::Decoded<wire::Message> m2 = wire::decode_frame(again, cluster_id);
  FUZZ_CHECK(m2.ok() && *m2.value == *m.value, "a re-encoded frame decodes to the same message");
  return 0;
}
