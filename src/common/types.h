// Basic value types shared by every layer: identifiers, byte strings,
// digests and signatures.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pbft {

using ReplicaId = uint32_t;
using ClientId = uint64_t;
using View = uint64_t;
using Seq = uint64_t;

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline constexpr size_t digest_size = 32;
inline constexpr size_t signature_size = 64;
inline constexpr size_t mac_size = 32;

// BLAKE2b-256 digest (or the simulator's stand-in); compared byte-wise.
struct Digest {
  std::array<uint8_t, digest_size> bytes{};
  auto operator<=>(const Digest&) const = default;
};

using Signature = std::array<uint8_t, signature_size>;
using Mac = std::array<uint8_t, mac_size>;

std::string to_hex(ByteView data);
// Hex digits (either case) back to bytes; nullopt on odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view text);
inline std::string to_hex(const Digest& d) { return to_hex(ByteView(d.bytes)); }
// The first 8 hex digits: enough to tell digests apart in logs and traces.
inline std::string short_hex(const Digest& d) { return to_hex(ByteView(d.bytes.data(), 4)); }

inline ByteView as_bytes(const std::string& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string to_string(ByteView b) { return std::string(b.begin(), b.end()); }

}  // namespace pbft
