// Message validation by a core replica. Replica 1 of a 4-replica cluster
// (f = 1; replica 0, the primary, in replica_primary_fuzz) receives what a Byzantine replica 3, any number of clients and a
// broken link can send: messages decoded from the input by the wire codec,
// optionally fixed up with everything the attacker can compute (replica 3's
// and the clients' signatures, batch digests), small view and sequence
// numbers, ticks, and replays of what replica 1 itself sent. Real Ed25519
// (libsodium, not instrumented, so the fuzzer cannot learn a signature from
// a comparison).
//
// Input: records of [control u8][type u8][length u16 LE][body]. Type 1..12
// is a MessageType; 0xf0 and up replays replica 1's own message number
// (type - 0xf0) of the ones it sent so far. Control bits:
//   0-2  link: 0-3 replica 3's; 4 replica 1 itself; 5 a non-member id;
//        6 a client straight to replica 1 (requests); 7 replica 3's, then a tick
//   3    sign whatever replica 3 or a client can sign
//   4    set pre-prepare digests to their batch's digest
//   5    small numbers: view % 8, seq % 64
//   6    tick first
//   7    send the frame with the wrong cluster id
//
// Checks after every message, whatever it is: one faulty replica cannot
// make replica 1 execute, checkpoint, accept a pre-prepare, prepare or
// commit, install a view, or fetch state; votes it keeps come from replica
// 3 only; everything it sends is signed correctly; requests it forwards
// carry their client's signature. And a forged message (its outer
// signature does not verify for the signer it names, a link-authenticated
// message naming another sender, a message on a link that is not a peer's,
// a frame with another cluster id) changes nothing and produces nothing.
// The counts of forged messages sent and accepted print at exit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "common/client_id.h"
#include "core/replica.h"
#include "core/request_bundle.h"
#include "fuzz_check.h"
#include "fuzz_keys.h"
#include "kv/map_store.h"
#include "wire/codec.h"

using namespace pbft;
using wire::Message;

namespace {

// Replica 1, a backup in view 0; replica_primary_fuzz builds this file with
// PBFT_FUZZ_SELF=0, the primary of view 0, which also proposes.
#ifndef PBFT_FUZZ_SELF
#define PBFT_FUZZ_SELF 1
#endif
constexpr ReplicaId self = PBFT_FUZZ_SELF;
static_assert(self != 3, "replica 3 is the faulty one");
constexpr ReplicaId faulty = 3;
constexpr uint32_t n = fuzz::replica_count;

struct Principals {
  crypto::SodiumCrypto replica1{fuzz::keyring_for_replica(self)};
  crypto::SodiumCrypto faulty3{fuzz::keyring_for_replica(faulty)};
  crypto::SodiumCrypto verifier{fuzz::keyring_for_replica(0)};
  std::map<ClientId, std::unique_ptr<crypto::SodiumCrypto>> clients;
  Principals() {
    for (ClientId c = fuzz::first_client; c < fuzz::first_client + fuzz::client_count; ++c)
      clients[c] = std::make_unique<crypto::SodiumCrypto>(fuzz::keyring_for_client(c));
  }
};
const Principals& keys() {
  static const Principals p;
  return p;
}

core::Config config() {
  core::Config c;
  c.replica_count = n;
  c.checkpoint_interval = 2;
  c.window_size = 4;
  c.view_change_timeout_ticks = 10;
  c.status_interval_ticks = 3;
  // Short: a muted replica 3 is heard again a few ticks later, so one bad
  // signature does not hide the rest of the input.
  c.mute_faulty_peer_ticks = 2;
  return c;
}

// ------------------------------------------------------------ counts
struct Counts {
  uint64_t messages = 0;
  uint64_t undecodable = 0;
  uint64_t forged_sent = 0, forged_accepted = 0;
  uint64_t wrong_cluster_sent = 0, wrong_cluster_accepted = 0;
  uint64_t bad_link_sent = 0, bad_link_accepted = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> forged_by_type;  // sent, accepted
};
Counts counts;

void print_counts() {
  std::fprintf(stderr,
               "replica_fuzz: messages %llu, undecodable %llu; forged sent %llu accepted %llu; "
               "wrong cluster id sent %llu accepted %llu; non-peer link sent %llu accepted %llu\n",
               (unsigned long long)counts.messages, (unsigned long long)counts.undecodable,
               (unsigned long long)counts.forged_sent, (unsigned long long)counts.forged_accepted,
               (unsigned long long)counts.wrong_cluster_sent, (unsigned long long)counts.wrong_cluster_accepted,
               (unsigned long long)counts.bad_link_sent, (unsigned long long)counts.bad_link_accepted);
  for (const auto& [type, c] : counts.forged_by_type)
    std::fprintf(stderr, "replica_fuzz: forged %s sent %llu accepted %llu\n", type.c_str(),
                 (unsigned long long)c.first, (unsigned long long)c.second);
}

// ------------------------------------------------------------ fix-ups
struct Clamp {
  void operator()(wire::Request&) const {}
  void operator()(wire::PrePrepare& m) const {
    m.view %= 8;
    m.seq %= 64;
  }
  void operator()(wire::Prepare& m) const {
    m.view %= 8;
    m.seq %= 64;
  }
  void operator()(wire::Commit& m) const {
    m.view %= 8;
    m.seq %= 64;
  }
  void operator()(wire::Checkpoint& m) const { m.seq %= 64; }
  void operator()(wire::ViewChange& m) const {
    m.new_view %= 8;
    m.stable_seq %= 64;
    for (auto& c : m.checkpoint_cert) (*this)(c);
    for (auto& c : m.prepared) {
      (*this)(c.pre_prepare);
      for (auto& p : c.prepares) (*this)(p);
    }
  }
  void operator()(wire::NewView& m) const {
    m.view %= 8;
    for (auto& vc : m.view_changes) (*this)(vc);
    for (auto& pp : m.pre_prepares) (*this)(pp);
  }
  void operator()(wire::Status& m) const {
    m.view %= 8;
    m.stable_seq %= 64;
    m.last_executed %= 64;
    m.asks_view %= 8;
  }
  void operator()(wire::StableCheckpoint& m) const {
    for (auto& c : m.certificate) (*this)(c);
  }
  template <typename T>
  void operator()(T&) const {}
};

Digest batch_digest(const std::vector<wire::Request>& batch) {
  return keys().verifier.digest(wire::batch_bytes(batch));
}

struct FixDigests {
  void operator()(wire::PrePrepare& m) const { m.digest = batch_digest(m.batch); }
  void operator()(wire::ViewChange& m) const {
    for (auto& c : m.prepared) {
      (*this)(c.pre_prepare);
      for (auto& p : c.prepares) p.digest = c.pre_prepare.digest;
    }
  }
  void operator()(wire::NewView& m) const {
    for (auto& vc : m.view_changes) (*this)(vc);
  }
  template <typename T>
  void operator()(T&) const {}
};

// Signs what replica 3 or a client can sign; leaves everything else.
struct Sign {
  void operator()(wire::Request& m) const {
    // A bundled request: its path's root, as if it were all of a bundle's
    // signer's requests (core/request_bundle.h).
    const bool bundled = (m.flags & wire::Request::flag_bundled) != 0 && !m.bundle_path.empty() &&
                         m.bundle_path.size() <= wire::Request::bundle_depth_max;
    const Bytes bytes = bundled ? wire::bundle_signing_bytes(core::bundle_root(keys().verifier, m))
                                : wire::signing_bytes(m);
    if (auto it = keys().clients.find(m.client); it != keys().clients.end()) {
      m.sig = it->second->sign(bytes);
    } else if (gateway_of(m.client) == faulty) {
      m.sig = keys().faulty3.sign(bytes);
    }
  }
  void operator()(wire::PrePrepare& m) const {
    for (auto& r : m.batch) (*this)(r);
    if (m.view % n == faulty) m.sig = keys().faulty3.sign(wire::signing_bytes(m));
  }
  void operator()(wire::Prepare& m) const {
    if (m.replica == faulty) m.sig = keys().faulty3.sign(wire::signing_bytes(m));
  }
  void operator()(wire::Checkpoint& m) const {
    if (m.replica == faulty) m.sig = keys().faulty3.sign(wire::signing_bytes(m));
  }
  void operator()(wire::ViewChange& m) const {
    for (auto& c : m.checkpoint_cert) (*this)(c);
    for (auto& c : m.prepared) {
      (*this)(c.pre_prepare);
      for (auto& p : c.prepares) (*this)(p);
    }
    if (m.replica == faulty) m.sig = keys().faulty3.sign(wire::signing_bytes(m));
  }
  void operator()(wire::NewView& m) const {
    for (auto& vc : m.view_changes) (*this)(vc);
    for (auto& pp : m.pre_prepares) (*this)(pp);
    if (m.replica == faulty) m.sig = keys().faulty3.sign(wire::signing_bytes(m));
  }
  void operator()(wire::StableCheckpoint& m) const {
    for (auto& c : m.certificate) (*this)(c);
  }
  template <typename T>
  void operator()(T&) const {}
};

// ------------------------------------------------------------ classification
bool verifies(ReplicaId signer, const Bytes& bytes, const Signature& sig) {
  return keys().verifier.verify_replica(signer, bytes, sig);
}

// A client's signature on a request, checked afresh (no remembered roots).
bool client_signed(const wire::Request& r) {
  core::VerifiedBundles fresh;
  return core::check_client_signature(keys().verifier, r, fresh);
}

// Whether the message's own authentication fails: what a replica must
// never act on.
bool forged(ReplicaId from, const Message& message) {
  return std::visit(
      [&](const auto& m) -> bool {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Request>) {
          return !client_signed(m);
        } else if constexpr (std::is_same_v<T, wire::PrePrepare>) {
          return !verifies(static_cast<ReplicaId>(m.view % n), wire::signing_bytes(m), m.sig);
        } else if constexpr (std::is_same_v<T, wire::Prepare> || std::is_same_v<T, wire::Checkpoint> ||
                             std::is_same_v<T, wire::ViewChange>) {
          return !verifies(m.replica, wire::signing_bytes(m), m.sig);
        } else if constexpr (std::is_same_v<T, wire::NewView>) {
          return m.replica != m.view % n || !verifies(m.replica, wire::signing_bytes(m), m.sig);
        } else if constexpr (std::is_same_v<T, wire::Commit> || std::is_same_v<T, wire::Status>) {
          return m.replica != from;
        } else if constexpr (std::is_same_v<T, wire::StableCheckpoint>) {
          for (const auto& c : m.certificate)
            if (!verifies(c.replica, wire::signing_bytes(c), c.sig)) return true;
          return false;
        } else {
          return true;  // replies and state transfer are not the core's to take
        }
      },
      message);
}

// ------------------------------------------------------------ the replica
struct Observed {
  core::DurableState durable;
  std::map<Seq, std::map<ReplicaId, wire::Checkpoint>> votes;
  size_t target_votes = 0;
  std::map<ReplicaId, core::PeerReport> peers;
  bool operator==(const Observed&) const = default;
};

Observed observe(const core::Replica& r) {
  return {r.durable(), r.checkpoint_votes(), r.target_view_change_votes(), r.peer_reports()};
}

void check_signed_by_self(const Message& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::Request>) {
          FUZZ_CHECK(client_signed(m), "a forwarded request carries its client's signature");
        } else if constexpr (std::is_same_v<T, wire::PrePrepare>) {
          FUZZ_CHECK(m.view % n == self && verifies(self, wire::signing_bytes(m), m.sig),
                     "what the replica proposes it signs as the primary");
          FUZZ_CHECK(m.digest == batch_digest(m.batch), "a proposal's digest is its batch's");
          for (const wire::Request& r : m.batch)
            FUZZ_CHECK(client_signed(r), "the primary proposes only requests its clients signed");
        } else if constexpr (std::is_same_v<T, wire::Prepare> || std::is_same_v<T, wire::Checkpoint> ||
                             std::is_same_v<T, wire::ViewChange> || std::is_same_v<T, wire::NewView>) {
          if (m.replica == self)
            FUZZ_CHECK(verifies(self, wire::signing_bytes(m), m.sig), "what replica 1 signs verifies");
        } else if constexpr (std::is_same_v<T, wire::Commit> || std::is_same_v<T, wire::Status>) {
          FUZZ_CHECK(m.replica == self, "replica 1 speaks for itself only");
        }
      },
      message);
}

void check_invariants(const core::Replica& r, const core::Output& out) {
  const core::DurableState& d = r.durable();
  FUZZ_CHECK(d.last_executed == 0 && out.executed.empty(), "one faulty replica cannot make replica 1 execute");
  FUZZ_CHECK(d.stable_seq == 0 && d.stable_cert.empty(), "nor make a checkpoint stable");
  FUZZ_CHECK(!out.fetch_state, "nor make it fetch state");
  FUZZ_CHECK(!(d.view_active && d.view != 0) && !d.new_view, "nor install a view");
  FUZZ_CHECK(d.prepared_certs.empty(), "nor make it prepare");
  FUZZ_CHECK(out.replies.empty(), "nothing executed, nothing to reply");
  for (const auto& [seq, slot] : d.slots) {
    FUZZ_CHECK(!slot.prepared && !slot.committed, "one faulty replica cannot make a slot prepare");
    if (slot.pre_prepare) {
      // Only the primary's own proposals: nobody else can sign one for view 0.
      FUZZ_CHECK(self == 0 && slot.pre_prepare->view == 0, "no pre-prepare but the replica's own");
      check_signed_by_self(*slot.pre_prepare);
    }
    for (const auto& [id, p] : slot.prepares) FUZZ_CHECK(id == faulty, "prepares kept are replica 3's");
    for (const auto& [id, c] : slot.commits) FUZZ_CHECK(id == faulty, "commits kept are replica 3's");
  }
  for (const auto& [seq, votes] : r.checkpoint_votes())
    for (const auto& [id, vote] : votes) FUZZ_CHECK(id == faulty, "checkpoint votes kept are replica 3's");
  FUZZ_CHECK(r.target_view_change_votes() <= 2, "view changes: replica 1's and 3's only");
  for (const core::Send& s : out.sends) {
    FUZZ_CHECK(!s.to || *s.to != self, "replica 1 does not send to itself");
    check_signed_by_self(s.message);
  }
}

std::optional<Message> decode_body(uint8_t type, ByteView body, uint64_t cluster) {
  Bytes frame;
  auto put = [&](uint64_t v, int len) {
    for (int i = 0; i < len; ++i) frame.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(wire::frame_magic, 4);
  put(wire::frame_version, 1);
  put(type, 1);
  put(0, 2);
  put(cluster, 8);
  put(body.size(), 4);
  put(wire::crc32c(body), 4);
  frame.insert(frame.end(), body.begin(), body.end());
  wire::Decoded<Message> m = wire::decode_frame(frame, fuzz::cluster_id);
  return m.value;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  keys();
  std::atexit(print_counts);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kv::MapStore store;
  core::Replica replica(config(), self, keys().replica1, store);
  core::Output out = replica.take_output();
  if (out.resume) replica.resume();
  out = replica.take_output();
  std::vector<Message> sent;  // what replica 1 sent, for replays
  // Keeps what replica 1 sent; resumes it when it stopped at a checkpoint
  // (the host would have persisted by then) and checks what that produced.
  auto keep = [&](const core::Output& o) {
    for (const core::Send& s : o.sends)
      if (sent.size() < 32) sent.push_back(s.message);
    if (!o.resume) return;
    replica.resume();
    core::Output more = replica.take_output();
    check_invariants(replica, more);
    for (const core::Send& s : more.sends)
      if (sent.size() < 32) sent.push_back(s.message);
  };

  size_t pos = 0;
  for (int records = 0; records < 24 && size - pos >= 4; ++records) {
    const uint8_t control = data[pos];
    const uint8_t type = data[pos + 1];
    const size_t len = std::min<size_t>(data[pos + 2] | data[pos + 3] << 8, size - pos - 4);
    const ByteView body(data + pos + 4, len);
    pos += 4 + len;

    if (control & 0x40) {
      replica.tick();
      out = replica.take_output();
      check_invariants(replica, out);
      keep(out);
    }

    std::optional<Message> message;
    if (type >= 0xf0) {
      if (static_cast<size_t>(type - 0xf0) < sent.size()) message = sent[type - 0xf0];
    } else if (type >= 1 && type <= 12) {
      message = decode_body(type, body, fuzz::cluster_id);
      if (!message) ++counts.undecodable;
    }
    if (!message) continue;
    if (control & 0x20) std::visit(Clamp{}, *message);
    if (control & 0x10) std::visit(FixDigests{}, *message);
    if (control & 0x08) std::visit(Sign{}, *message);

    if (control & 0x80) {
      // The same message in a frame of another cluster: the codec refuses it.
      ++counts.wrong_cluster_sent;
      const Bytes frame = wire::encode_frame(fuzz::cluster_id + 1, *message);
      if (wire::decode_frame(frame, fuzz::cluster_id).ok()) {
        ++counts.wrong_cluster_accepted;
        FUZZ_CHECK(false, "a frame with another cluster id is never accepted");
      }
      continue;
    }

    const uint8_t link = control & 7;
    const bool direct = link == 6 && std::holds_alternative<wire::Request>(*message);
    ReplicaId from = faulty;
    if (link == 4) from = self;
    if (link == 5) from = n + (control >> 3);
    const bool bad_link = !direct && (from == self || from >= n);
    const bool is_forged = bad_link || forged(from, *message);
    const Observed before = observe(replica);

    ++counts.messages;
    if (direct) {
      replica.receive_request(std::get<wire::Request>(*message));
    } else {
      replica.receive(from, *message);
    }
    out = replica.take_output();
    check_invariants(replica, out);
    if (is_forged) {
      auto& by_type = counts.forged_by_type[std::string(wire::type_name(*message))];
      ++by_type.first;
      ++(bad_link ? counts.bad_link_sent : counts.forged_sent);
      const bool changed = !(observe(replica) == before) || !out.sends.empty() || !out.replies.empty() ||
                           !out.executed.empty() || out.persist || out.fetch_state;
      if (changed) {
        ++by_type.second;
        ++(bad_link ? counts.bad_link_accepted : counts.forged_accepted);
        FUZZ_CHECK(false, "a forged message changes nothing and produces nothing");
      }
    }
    keep(out);
    if (link == 7) {
      replica.tick();
      out = replica.take_output();
      check_invariants(replica, out);
      keep(out);
    }
  }
  return 0;
}
