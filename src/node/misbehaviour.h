// Test-only Byzantine behaviour of a replica, for tests that check that
// clients never accept what a lying replica says. Off unless a config both
// sets `[testing] misbehave` and allows it with `[testing]
// allow_misbehaviour = true` (or PBFT_MISBEHAVE with
// PBFT_ALLOW_MISBEHAVIOUR=1); kv-node logs it loudly at start.
//
// To add a mode: a value here, its name in misbehaviour_names, and what it
// does where the node sends (node.cc, at the Misbehaviour checks).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::node {

enum class Misbehaviour : uint8_t {
  none = 0,
  // Replies to clients carry a different (well-formed) result, signed when
  // signatures are asked for; this replica's gateway answers its HTTP
  // clients with that forged result too, whatever the others said.
  wrong_results = 1,
  // Sends nothing to its peers and no replies: a replica that looks crashed
  // to the others but keeps running (its HTTP API still answers).
  silent = 2,
  // Every protocol message it sends carries a signature with one bit
  // flipped (inside a correctly MACed frame): its peers must reject each
  // one, and a primary that does this must be replaced.
  corrupt_signatures = 3,
  // As the primary, sends each pre-prepare it broadcasts to half its peers
  // and, to the other half, a conflicting one (same view and sequence, an
  // empty batch), both correctly signed.
  equivocate = 4,
  // The checkpoints it sends carry a wrong state digest, correctly signed.
  wrong_checkpoint_digest = 5,
  // With every protocol message it sends, sends one it sent before again
  // (an old view, an old sequence number, a vote already counted).
  replay = 6,
  // As the primary, holds each batch for 80% of the view-change timeout
  // before proposing it.
  slow_primary = 7,
  // Every tick, sends each peer flood_prepares_per_tick prepares for the
  // top slots of its window with a broken signature, inside correctly MACed
  // frames: each costs the receiver a signature check before it is
  // rejected, and costs the sender nothing but the MAC. It still takes part
  // in the protocol as a correct replica would.
  flood = 8,
  // Answers every state-transfer request with a part whose payload has
  // one byte changed (the manifest or the chunk of records asked for):
  // the fetcher must notice, count it and get that part from another peer.
  bad_state_chunks = 9,
};

// Misbehaviour::flood: prepares per peer and tick (10 ms by default): about
// 25,000 a second per peer, more signature checks than a replica on two
// cores can make.
inline constexpr uint32_t flood_prepares_per_tick = 256;

inline constexpr std::array<std::pair<Misbehaviour, std::string_view>, 10> misbehaviour_names{{
    {Misbehaviour::none, "none"},
    {Misbehaviour::wrong_results, "wrong-results"},
    {Misbehaviour::silent, "silent"},
    {Misbehaviour::corrupt_signatures, "corrupt-signatures"},
    {Misbehaviour::equivocate, "equivocate"},
    {Misbehaviour::wrong_checkpoint_digest, "wrong-checkpoint-digest"},
    {Misbehaviour::replay, "replay"},
    {Misbehaviour::slow_primary, "slow-primary"},
    {Misbehaviour::flood, "flood"},
    {Misbehaviour::bad_state_chunks, "bad-state-chunks"},
}};

std::string_view to_string(Misbehaviour m);
std::optional<Misbehaviour> parse_misbehaviour(std::string_view name);
// "none, wrong-results": for error messages.
std::string misbehaviour_choices();

// A result that differs from `result` and still decodes as a key-value
// result (kv/operation.h) when `result` does: the value altered, an absent
// key reported present, a range with an extra entry, a transaction's branch
// flipped. Bytes that do not decode get their last byte flipped.
Bytes forge_result(ByteView result);

// Flips one bit of the signature `message` carries at its top level (the
// certificates inside it stay as they were). Returns false when it has none.
bool corrupt_signatures(wire::Message& message);

// Misbehaviour::equivocate: a pre-prepare for the same view and sequence
// number with an empty batch (a different digest), signed as `pp` is; `pp`
// must not be empty (an empty proposal is sent as it is).
wire::PrePrepare conflicting_pre_prepare(const wire::PrePrepare& pp, const crypto::Crypto& crypto);

// Misbehaviour::flood: the n-th junk prepare from `self` for (view, seq):
// a digest made from n, so no two are alike, and a signature that no key
// made but that Ed25519 must compute through to reject.
wire::Prepare flood_prepare(View view, Seq seq, ReplicaId self, uint64_t n);

// Misbehaviour::bad_state_chunks: the reply's payload with its middle byte
// changed. Returns false when there is nothing to change (an unavailable
// part, an empty payload).
bool corrupt_state_reply(wire::StateReply& reply);

// Misbehaviour::wrong_checkpoint_digest: a checkpoint message gets another
// state digest, signed again. Returns false for any other message.
bool forge_checkpoint_digest(wire::Message& message, const crypto::Crypto& crypto);

}  // namespace pbft::node
