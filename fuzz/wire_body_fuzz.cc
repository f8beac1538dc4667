// Message bodies, one message type at a time: the first input byte picks
// the type, the rest is the body, framed here with a correct header and
// checksum so that the fuzzer spends its time inside the body decoder.
// Decoding must never crash, and a body that decodes round-trips:
// decode(encode(m)) == m, and encode(decode(b)) == b.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_check.h"
#include "wire/codec.h"

using namespace pbft;

namespace {

constexpr uint64_t cluster_id = 0x5eed;
constexpr uint8_t type_count = 12;  // MessageType::request .. state_reply

void put_le(Bytes& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t type = static_cast<uint8_t>(1 + data[0] % type_count);
  const ByteView body(data + 1, size - 1);
  if (body.size() > wire::frame_body_bytes_max) return 0;

  Bytes frame;
  frame.reserve(wire::frame_header_size + body.size());
  put_le(frame, wire::frame_magic, 4);
  put_le(frame, wire::frame_version, 1);
  put_le(frame, type, 1);
  put_le(frame, 0, 2);
  put_le(frame, cluster_id, 8);
  put_le(frame, body.size(), 4);
  put_le(frame, wire::crc32c(body), 4);
  frame.insert(frame.end(), body.begin(), body.end());

  const wire::Decoded<wire::Message> m = wire::decode_frame(frame, cluster_id);
  if (!m.ok()) {
    FUZZ_CHECK(!m.error.empty(), "a rejected body says why");
    return 0;
  }
  FUZZ_CHECK(static_cast<uint8_t>(wire::type_of(*m.value)) == type, "a body decodes as the type it was sent as");
  const Bytes again = wire::encode_frame(cluster_id, *m.value);
  FUZZ_CHECK(again == frame, "a decoded body re-encodes to the same bytes");
  const wire::Decoded<wire::Message> m2 = wire::decode_frame(again, cluster_id);
  FUZZ_CHECK(m2.ok() && *m2.value == *m.value, "decode(encode(m)) == m");
  return 0;
}
