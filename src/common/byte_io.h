// Little-endian helpers for the small canonical encodings (key-value
// operations and snapshots, the reply cache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "common/assert.h"
#include "common/types.h"

namespace pbft::byte_io {

inline void put_u8(Bytes& out, uint8_t v) { out.push_back(v); }

inline void put_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline void put_u64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A u32 length, then the bytes.
inline void put_string(Bytes& out, const std::string& s) {
  PBFT_ASSERT(s.size() <= std::numeric_limits<uint32_t>::max(), "string too long to encode");
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// A u32 length, then the bytes.
inline void put_bytes(Bytes& out, ByteView b) {
  PBFT_ASSERT(b.size() <= std::numeric_limits<uint32_t>::max(), "bytes too long to encode");
  put_u32(out, static_cast<uint32_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}

// 64-bit FNV-1a: a fixed, platform-independent hash (unlike std::hash).
inline uint64_t fnv1a_64(ByteView data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : data) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Reads from the front of a byte view; every read fails (nullopt) rather
// than run past the end.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  std::optional<uint8_t> u8() {
    if (remaining() < 1) return std::nullopt;
    return data_[pos_++];
  }

  std::optional<uint32_t> u32() {
    if (remaining() < 4) return std::nullopt;
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | data_[pos_ + static_cast<size_t>(i)];
    pos_ += 4;
    return v;
  }

  std::optional<uint64_t> u64() {
    if (remaining() < 8) return std::nullopt;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | data_[pos_ + static_cast<size_t>(i)];
    pos_ += 8;
    return v;
  }

  // A u32-length-prefixed string of at most `max_size` bytes.
  std::optional<std::string> string(size_t max_size) {
    auto n = u32();
    if (!n || *n > max_size || *n > remaining()) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(data_.data() + pos_), *n);
    pos_ += *n;
    return s;
  }

  // u32-length-prefixed bytes, at most `max_size` of them.
  std::optional<Bytes> bytes(size_t max_size) {
    auto n = u32();
    if (!n || *n > max_size || *n > remaining()) return std::nullopt;
    Bytes b(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
            data_.begin() + static_cast<std::ptrdiff_t>(pos_ + *n));
    pos_ += *n;
    return b;
  }

  // The next `n` bytes, without a length prefix.
  std::optional<Bytes> raw(size_t n) {
    if (n > remaining()) return std::nullopt;
    Bytes b(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
            data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return b;
  }

  // Exactly these raw bytes (a tag).
  bool expect(ByteView bytes) {
    if (remaining() < bytes.size()) return false;
    for (size_t i = 0; i < bytes.size(); ++i)
      if (data_[pos_ + i] != bytes[i]) return false;
    pos_ += bytes.size();
    return true;
  }

 private:
  ByteView data_;
  size_t pos_ = 0;
};

}  // namespace pbft::byte_io
