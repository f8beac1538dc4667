// Client identities. Every replica's HTTP gateway acts as a pool of PBFT
// clients, one per concurrent request, signing with that replica's own key:
// their ids carry the replica in the upper 32 bits (replica + 1, so that no
// gateway id is below 2^32) and a slot number in the lower 32 bits. Other
// clients (the client library, kvctl) use ids below 2^32 and keys of their
// own.
#pragma once

#include <cstdint>
#include <optional>

#include "common/types.h"

namespace pbft {

inline constexpr ClientId gateway_client_id(ReplicaId replica, uint32_t slot) {
  return (static_cast<uint64_t>(replica) + 1) << 32 | slot;
}

// The replica whose gateway owns `client`, if it is a gateway client.
inline constexpr std::optional<ReplicaId> gateway_of(ClientId client) {
  uint64_t high = client >> 32;
  if (high == 0 || high > 0xffffffffu) return std::nullopt;
  return static_cast<ReplicaId>(high - 1);
}

static_assert(gateway_of(gateway_client_id(3, 7)) == 3u);
static_assert(!gateway_of(12345).has_value());

}  // namespace pbft
