// Byzantine replicas: a correct core::Replica with its own FakeCrypto whose
// output is rewritten (and extended) before it leaves. It can only sign and
// MAC as itself, as a real faulty replica could.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/replica.h"
#include "crypto/crypto.h"
#include "sim/rng.h"
#include "wire/messages.h"

namespace pbft::sim {

enum class ByzMode : uint8_t {
  silent,              // sends nothing
  equivocate,          // as primary: a second pre-prepare for half the backups
  wrong_digest,        // corrupt digests in prepares, commits, checkpoints
  replay,              // re-sends old messages it sent or received
  forge_certificates,  // tampered view changes and new views
  impersonate,         // claims to be another replica (envelope or signed field)
  flood_future,        // view changes and pre-prepares for views far ahead
  lie_to_clients,      // wrong results in replies (the same lie on every liar)
  bad_state,           // corrupt manifests and chunks in state transfer
};
inline constexpr ByzMode all_byz_modes[] = {
    ByzMode::silent,      ByzMode::equivocate,   ByzMode::wrong_digest,
    ByzMode::replay,      ByzMode::forge_certificates, ByzMode::impersonate,
    ByzMode::flood_future, ByzMode::lie_to_clients, ByzMode::bad_state,
};
std::string_view mode_name(ByzMode mode);
// "equivocate+replay"
std::string modes_name(const std::vector<ByzMode>& modes);

// A message on its way out: destinations, the sender its envelope claims
// (the MAC is always computed with the real sender's key), the message.
struct Outgoing {
  std::vector<ReplicaId> to;
  ReplicaId envelope_from = 0;
  wire::Message message;
};

// The alternative proposals of equivocating primaries, shared by colluding
// replicas so that all of them show the same half of the cluster the same
// alternative.
struct Equivocation {
  struct Alternative {
    Digest original;
    wire::PrePrepare alternative;
  };
  std::map<std::pair<View, Seq>, Alternative> alternatives;
  bool valid_only = false;  // colluders: only alternatives that pass validation
  // Which destinations get the alternative: odd replica ids.
  static bool gets_alternative(ReplicaId to) { return to % 2 == 1; }
};

class Byzantine {
 public:
  // A replica may combine several modes (silent overrides the others).
  Byzantine(std::vector<ByzMode> modes, ReplicaId self, uint32_t replica_count,
            const crypto::Crypto& crypto, Rng rng, std::shared_ptr<Equivocation> equivocation);

  const std::vector<ByzMode>& modes() const { return modes_; }
  bool has(ByzMode m) const;

  // Rewrites what the core asked to send.
  std::vector<Outgoing> transform(const core::Replica& r, std::vector<core::Send> sends);
  // Extra messages it sends on its own every tick.
  std::vector<Outgoing> on_tick(const core::Replica& r);
  // Rewrites the replies to clients.
  void transform_replies(std::vector<core::ClientReply>& replies) const;
  // Rewrites its answer to a peer's state-transfer request (the honest
  // answer comes in). False: it does not answer at all.
  bool transform_state_reply(const core::Replica& r, wire::StateReply& reply);

  // What it has seen, for replays and made-up batches.
  void on_received(const wire::Message& m);
  void on_request(const wire::Request& r);

  uint64_t tampered() const { return tampered_; }

 private:
  std::vector<ReplicaId> destinations(const core::Send& s) const;
  void pass(std::vector<Outgoing>& out, std::vector<ReplicaId> to, wire::Message m);
  void equivocate(const core::Replica& r, core::Send s, std::vector<Outgoing>& out);
  const Equivocation::Alternative& alternative_for(const core::Replica& r,
                                                   const wire::PrePrepare& pp);
  void corrupt_digest(core::Send& s);
  void forge(const core::Replica& r, core::Send& s);
  void impersonate(core::Send s, std::vector<Outgoing>& out);
  void remember(const wire::Message& m);
  std::vector<wire::Request> made_up_batch();
  template <typename M>
  M resigned(M m) const;

  std::vector<ByzMode> modes_;
  ReplicaId self_;
  uint32_t replica_count_;
  const crypto::Crypto& crypto_;
  Rng rng_;
  std::shared_ptr<Equivocation> equivocation_;
  std::deque<wire::Message> memory_;          // replay: recent messages
  std::deque<wire::Request> seen_requests_;   // recent client requests
  uint64_t future_ = 0;                       // flood_future: views ahead
  uint64_t tampered_ = 0;
};

}  // namespace pbft::sim
