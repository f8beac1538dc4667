#include "node/misbehaviour.h"

#include <variant>

#include "common/assert.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::node {

std::string_view to_string(Misbehaviour m) {
  for (const auto& [value, name] : misbehaviour_names)
    if (value == m) return name;
  return "unknown";
}

std::optional<Misbehaviour> parse_misbehaviour(std::string_view name) {
  for (const auto& [value, n] : misbehaviour_names)
    if (n == name) return value;
  return std::nullopt;
}

std::string misbehaviour_choices() {
  std::string out;
  for (const auto& [value, name] : misbehaviour_names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Bytes forge_result(ByteView result) {
  std::optional<kv::Result> r = kv::decode_result(result);
  if (!r) {
    if (result.empty()) return Bytes(1, 0);
    Bytes out(result.begin(), result.end());
    out[out.size() - 1] ^= 0xff;
    return out;
  }
  switch (r->form) {
    case kv::ResultForm::record:
      if (r->value) {
        r->value = "forged:" + *r->value;
      } else {
        r->status = kv::ResultStatus::ok;
        r->value = "forged";
        r->revision = 1;
      }
      break;
    case kv::ResultForm::range:
      r->entries.push_back(kv::Entry{"\xef\xbf\xbf" "forged", "forged", 1});
      break;
    case kv::ResultForm::txn:
      r->succeeded = !r->succeeded;
      break;
    case kv::ResultForm::plain:
      if (r->value) r->value = "forged:" + *r->value;
      break;
  }
  r->sequence += 1000;  // and the sequence number, for results with nothing else to alter
  return kv::encode_result(*r);
}

bool corrupt_signatures(wire::Message& message) {
  return std::visit(
      [](auto& m) {
        if constexpr (requires { m.sig.size(); }) {
          m.sig[0] ^= 1;
          return true;
        } else {
          return false;
        }
      },
      message);
}

wire::PrePrepare conflicting_pre_prepare(const wire::PrePrepare& pp, const crypto::Crypto& crypto) {
  PBFT_ASSERT(!pp.batch.empty(), "an empty proposal has no empty conflicting one");
  wire::PrePrepare other = pp;
  other.batch.clear();
  other.digest = crypto.digest(wire::batch_bytes(other.batch));
  other.sig = crypto.sign(wire::signing_bytes(other));
  return other;
}

wire::Prepare flood_prepare(View view, Seq seq, ReplicaId self, uint64_t n) {
  wire::Prepare p{view, seq, {}, self, {}};
  for (size_t i = 0; i < 8; ++i) p.digest.bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  // Well-formed enough for Ed25519 to do the whole computation before it
  // fails: a canonical S (below the group order: top byte small) and an R
  // that is no low-order point. Bytes of 0xfe would fail the S check at
  // once, for almost nothing.
  p.sig.fill(0x5a);
  for (size_t i = 0; i < 8; ++i) p.sig[i] = static_cast<uint8_t>(n >> (8 * i));
  p.sig[63] = 0x05;
  return p;
}

bool corrupt_state_reply(wire::StateReply& reply) {
  if (!reply.available || reply.payload.empty()) return false;
  reply.payload[reply.payload.size() / 2] ^= 0x20;
  return true;
}

bool forge_checkpoint_digest(wire::Message& message, const crypto::Crypto& crypto) {
  auto* c = std::get_if<wire::Checkpoint>(&message);
  if (c == nullptr) return false;
  c->state_digest.bytes[0] ^= 0x5a;
  c->sig = crypto.sign(wire::signing_bytes(*c));
  return true;
}

}  // namespace pbft::node
