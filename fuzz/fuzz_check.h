// What the fuzz targets share: a check that stays on in every build and
// makes libFuzzer keep the input that broke it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                   what);                                                             \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace pbft::fuzz {

// A little-endian 32-bit field of an input (the wire's byte order).
inline uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// Reads a stream twice through `run(stream, piece)`, which feeds it in
// pieces of at most piece(i) bytes and returns what was read: whole, and in
// pieces whose sizes come from `seed` (often one byte, sometimes none).
// Both must read the same.
template <typename Stream, typename Run>
void check_pieces_do_not_matter(const Stream& stream, uint64_t seed, Run run) {
  const auto whole = run(stream, [](size_t) { return SIZE_MAX; });
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + stream.size();
  const auto pieces = run(stream, [&](size_t) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t r = state >> 33;
    return static_cast<size_t>(r % 4 == 0 ? 1 : r % 97);
  });
  FUZZ_CHECK(whole == pieces, "the pieces a stream arrives in do not change what is read");
}

}  // namespace pbft::fuzz
