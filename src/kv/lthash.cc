#include "kv/lthash.h"

#include <sodium.h>

#include <string>

#include "common/assert.h"
#include "crypto/sodium_crypto.h"

namespace pbft::kv {

static_assert(crypto_stream_chacha20_ietf_KEYBYTES == 32);
static_assert(crypto_stream_chacha20_ietf_NONCEBYTES == 12);

LtHash LtHash::of_record(std::string_view key, std::string_view value) {
  crypto::init_sodium();
  uint8_t seed[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof seed);
  // The key's length keeps (key, value) pairs apart that concatenate alike.
  PBFT_ASSERT(key.size() <= UINT32_MAX, "record key too long");
  const uint32_t n = static_cast<uint32_t>(key.size());
  const uint8_t len[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                          static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
  crypto_generichash_update(&st, len, sizeof len);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(value.data()), value.size());
  crypto_generichash_final(&st, seed, sizeof seed);

  uint8_t stream[bytes_size];
  const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
  crypto_stream_chacha20_ietf(stream, sizeof stream, nonce, seed);
  LtHash h;
  for (size_t i = 0; i < lanes; ++i)
    h.lanes_[i] = static_cast<uint16_t>(stream[2 * i] | (stream[2 * i + 1] << 8));
  return h;
}

bool LtHash::from_bytes(ByteView bytes, LtHash& out) {
  if (bytes.size() != bytes_size) return false;
  for (size_t i = 0; i < lanes; ++i)
    out.lanes_[i] = static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
  return true;
}

void LtHash::to_bytes(uint8_t* out) const {
  for (size_t i = 0; i < lanes; ++i) {
    out[2 * i] = static_cast<uint8_t>(lanes_[i]);
    out[2 * i + 1] = static_cast<uint8_t>(lanes_[i] >> 8);
  }
}

Bytes LtHash::to_bytes() const {
  Bytes out(bytes_size);
  to_bytes(out.data());
  return out;
}

// uint16_t arithmetic wraps mod 2^16 once truncated back: the lattice sum.
void LtHash::add(const LtHash& other) {
  for (size_t i = 0; i < lanes; ++i) lanes_[i] = static_cast<uint16_t>(lanes_[i] + other.lanes_[i]);
}

void LtHash::remove(const LtHash& other) {
  for (size_t i = 0; i < lanes; ++i) lanes_[i] = static_cast<uint16_t>(lanes_[i] - other.lanes_[i]);
}

bool LtHash::is_zero() const {
  for (uint16_t l : lanes_)
    if (l != 0) return false;
  return true;
}

}  // namespace pbft::kv
