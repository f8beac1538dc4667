// Unit tests of the replica's defences: forged certificates, a bad
// NEW-VIEW, state transfer with a bad snapshot, messages that claim another
// sender. Whole-protocol behaviour is covered by tests/scenarios and the
// simulator.
#include "core/replica.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <set>

#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 9;

struct Node {
  Node(const Config& c, ReplicaId id)
      : crypto(secret, crypto::Principal::replica(id)), replica(c, id, crypto, kv) {}
  crypto::FakeCrypto crypto;
  kv::MapStore kv;
  Replica replica;
  bool isolated = false;
  std::vector<FetchState> fetches;
};

class Cluster {
 public:
  explicit Cluster(Config c) : config(c) {
    for (ReplicaId i = 0; i < c.replica_count; ++i) nodes.push_back(std::make_unique<Node>(c, i));
  }

  wire::Request request(ClientId c, const std::string& key, const std::string& value) {
    wire::Request r{c, ++timestamps[c], kv::encode_operation({kv::OpKind::put, key, value}), {}};
    r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(c)).sign(wire::signing_bytes(r));
    return r;
  }
  void submit(const wire::Request& r) {
    for (auto& n : nodes) {
      if (n->isolated) continue;
      n->replica.receive_request(r);
      collect(n->replica.id());
    }
    pump();
  }
  void collect(ReplicaId i) {
    for (;;) {
      Output out = nodes[i]->replica.take_output();
      if (out.empty()) return;
      if (out.fetch_state) nodes[i]->fetches.push_back(*out.fetch_state);
      for (ClientReply& r : out.replies) replies.push_back(r.reply);
      for (Send& s : out.sends) {
        for (ReplicaId to = 0; to < nodes.size(); ++to) {
          if (to != i && (!s.to || *s.to == to)) queue.push_back({i, to, s.message});
        }
      }
      if (out.resume) nodes[i]->replica.resume();  // nothing to persist here
    }
  }
  void deliver(ReplicaId from, ReplicaId to, const wire::Message& m) {
    nodes[to]->replica.receive(from, m);
    collect(to);
  }
  void pump() {
    while (!queue.empty()) {
      auto [from, to, m] = queue.front();
      queue.pop_front();
      if (nodes[from]->isolated || nodes[to]->isolated) continue;
      deliver(from, to, m);
    }
  }
  void tick(int times) {
    for (int t = 0; t < times; ++t) {
      for (auto& n : nodes) {
        if (n->isolated) continue;
        n->replica.tick();
        collect(n->replica.id());
      }
      pump();
    }
  }
  Replica& r(ReplicaId i) { return nodes[i]->replica; }

  Config config;
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<std::tuple<ReplicaId, ReplicaId, wire::Message>> queue;
  std::map<ClientId, uint64_t> timestamps;
  std::vector<wire::Reply> replies;  // every reply any replica sent
};

Config small_config() {
  Config c;
  c.replica_count = 4;
  c.checkpoint_interval = 2;
  c.window_size = 4;
  c.view_change_timeout_ticks = 10;
  c.status_interval_ticks = 3;
  return c;
}

TEST(Replica, CommitClaimingAnotherSenderIsDropped) {
  Cluster c(small_config());
  c.submit(c.request(1, "a", "1"));
  ASSERT_EQ(c.r(1).last_executed(), 1u);
  // Replica 2's link carries a commit that names replica 3.
  wire::Commit forged{0, 2, c.r(0).batch_digest({}), 3};
  c.deliver(2, 1, forged);
  EXPECT_EQ(c.r(1).rejected().wrong_sender, 1u);
  EXPECT_TRUE(c.r(1).durable().slots.find(2) == c.r(1).durable().slots.end());
}

TEST(Replica, ViewChangeWithForgedPreparesIsRejected) {
  Cluster c(small_config());
  Node& byz = *c.nodes[3];
  // A prepared certificate whose prepares claim replicas 1 and 2 but are
  // signed with replica 3's key.
  wire::PrePrepare pp{0, 1, c.r(0).batch_digest({}), {}, {}};
  pp.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(0)).sign(wire::signing_bytes(pp));
  wire::PreparedCert cert{pp, {}};
  for (ReplicaId claimed : {1u, 2u}) {
    wire::Prepare p{0, 1, pp.digest, claimed, {}};
    p.sig = byz.crypto.sign(wire::signing_bytes(p));
    cert.prepares.push_back(p);
  }
  wire::ViewChange vc{1, 0, {}, {cert}, 3, {}};
  vc.sig = byz.crypto.sign(wire::signing_bytes(vc));
  c.deliver(3, 1, vc);
  EXPECT_EQ(c.r(1).rejected().bad_certificate, 1u);

  // The same view change without the forged certificate is fine.
  wire::ViewChange honest{1, 0, {}, {}, 3, {}};
  honest.sig = byz.crypto.sign(wire::signing_bytes(honest));
  c.deliver(3, 1, honest);
  EXPECT_EQ(c.r(1).rejected().bad_certificate, 1u);
}

TEST(Replica, NewViewThatDoesNotMatchItsViewChangesReplacesThePrimary) {
  Cluster c(small_config());
  c.submit(c.request(1, "a", "1"));
  // Real view changes for view 1 from replicas 0, 2 and 3, each carrying
  // its prepared certificate for seq 1.
  std::vector<wire::ViewChange> vcs;
  for (ReplicaId i : {0u, 2u, 3u}) {
    wire::ViewChange vc{1, 0, {}, {}, i, {}};
    for (const auto& [seq, cert] : c.r(i).durable().prepared_certs) vc.prepared.push_back(cert);
    vc.sig = c.nodes[i]->crypto.sign(wire::signing_bytes(vc));
    vcs.push_back(vc);
  }
  ASSERT_FALSE(vcs[0].prepared.empty());
  // Wrong: seq 1 was prepared with a real batch, not a null request.
  wire::PrePrepare header{1, 1, c.r(0).batch_digest({}), {}, {}};
  header.sig = c.nodes[1]->crypto.sign(wire::signing_bytes(header));
  wire::NewView bad{1, vcs, {header}, 1, {}};
  bad.sig = c.nodes[1]->crypto.sign(wire::signing_bytes(bad));
  c.deliver(1, 2, bad);
  EXPECT_EQ(c.r(2).rejected().bad_certificate, 1u);
  EXPECT_EQ(c.r(2).view(), 0u) << "a wrong NEW-VIEW for a later view does not move a replica out of its view";
  EXPECT_TRUE(c.r(2).view_active());
  // Changing to view 1 itself (f+1 view changes for it), replica 2 replaces
  // the primary that signed the wrong NEW-VIEW.
  c.deliver(0, 2, vcs[0]);
  c.deliver(3, 2, vcs[2]);
  ASSERT_EQ(c.r(2).view(), 1u);
  ASSERT_FALSE(c.r(2).view_active());
  c.queue.clear();
  c.deliver(1, 2, bad);
  EXPECT_EQ(c.r(2).rejected().bad_certificate, 2u);
  EXPECT_EQ(c.r(2).view(), 2u) << "a primary that signs a wrong NEW-VIEW is replaced";
  EXPECT_FALSE(c.r(2).view_active());

  // The right pre-prepare is accepted by a replica still in view 0.
  wire::PrePrepare good_header = vcs[0].prepared[0].pre_prepare;
  good_header.view = 1;
  good_header.batch.clear();
  good_header.sig = c.nodes[1]->crypto.sign(wire::signing_bytes(good_header));
  wire::NewView good{1, vcs, {good_header}, 1, {}};
  good.sig = c.nodes[1]->crypto.sign(wire::signing_bytes(good));
  c.deliver(1, 3, good);
  EXPECT_EQ(c.r(3).view(), 1u);
  EXPECT_TRUE(c.r(3).view_active());
  EXPECT_EQ(c.r(3).rejected().bad_certificate, 0u);
}

// Read views of checkpoints live in the host's memory only: a replica
// restarted exactly at a checkpoint takes it again (so its host can serve
// it to peers), after checking its state is the one it checkpointed.
TEST(Replica, RestartedAtACheckpointTakesItAgain) {
  Cluster c(small_config());
  c.submit(c.request(1, "a", "1"));
  c.submit(c.request(2, "b", "2"));
  ASSERT_EQ(c.r(0).last_executed(), 2u);
  ASSERT_NE(c.r(0).checkpoint_at(2), nullptr);

  struct Counting final : StateMachine {
    explicit Counting(kv::MapStore& inner) : inner(inner) {}
    Bytes apply(Seq seq, ByteView op) override { return inner.apply(seq, op); }
    Bytes checkpoint(Seq seq) override {
      seqs.push_back(seq);
      return inner.checkpoint(seq);
    }
    bool restore(Seq seq, ByteView m) override { return inner.restore(seq, m); }
    void discard_checkpoints_below(Seq) override {}
    kv::MapStore& inner;
    std::vector<Seq> seqs;
  };
  Counting counting(c.nodes[0]->kv);
  Replica restarted(small_config(), 0, c.nodes[0]->crypto, counting, c.r(0).durable());
  EXPECT_EQ(counting.seqs, std::vector<Seq>{2});
  EXPECT_TRUE(restarted.take_output().resume);  // the host persists, then keeps a read view

  // Not at a checkpoint (seq 3 executed): nothing to take again.
  c.submit(c.request(1, "a", "3"));
  ASSERT_EQ(c.r(0).last_executed(), 3u);
  Counting later(c.nodes[0]->kv);
  Replica restarted_later(small_config(), 0, c.nodes[0]->crypto, later, c.r(0).durable());
  EXPECT_TRUE(later.seqs.empty());
}

TEST(Replica, StateTransferChecksTheCertifiedDigest) {
  Cluster c(small_config());
  c.nodes[3]->isolated = true;
  c.submit(c.request(1, "a", "1"));
  c.submit(c.request(2, "b", "2"));
  c.submit(c.request(1, "a", "3"));
  ASSERT_EQ(c.r(0).stable_seq(), 2u);
  ASSERT_EQ(c.r(3).last_executed(), 0u);
  c.nodes[3]->isolated = false;
  c.tick(4);  // STATUS brings replica 3 the certificate; it asks for the state
  ASSERT_FALSE(c.nodes[3]->fetches.empty());
  FetchState fetch = c.nodes[3]->fetches.back();
  EXPECT_EQ(fetch.seq, 2u);

  Bytes wrong = c.r(0).checkpoint_at(2)->snapshot;
  wrong.back() ^= 1;
  c.r(3).state_transferred(2, wrong);
  c.collect(3);
  EXPECT_EQ(c.r(3).rejected().bad_state, 1u);
  EXPECT_EQ(c.r(3).last_executed(), 0u);
  EXPECT_FALSE(c.nodes[3]->kv.get("a").has_value());

  c.r(3).state_transferred(2, c.r(0).checkpoint_at(2)->snapshot);
  c.collect(3);
  c.pump();
  EXPECT_EQ(c.r(3).stable_seq(), 2u);
  EXPECT_EQ(c.nodes[3]->kv.get("b"), "2");
  c.tick(10);  // and then it catches up on seq 3 from its peers
  EXPECT_EQ(c.r(3).last_executed(), 3u);
  EXPECT_EQ(c.nodes[3]->kv.get("a"), "3");
}

TEST(Replica, RetransmittedRequestGetsTheCachedReplyAndRunsOnce) {
  Cluster c(small_config());
  wire::Request r = c.request(1, "a", "1");
  c.submit(r);
  ASSERT_EQ(c.r(2).last_executed(), 1u);
  c.r(2).receive_request(r);
  Output out = c.r(2).take_output();
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_EQ(out.replies[0].reply.timestamp, r.timestamp);
  EXPECT_TRUE(out.sends.empty());
  c.submit(r);
  EXPECT_EQ(c.r(0).last_executed(), 1u);
}

wire::Request signed_by_client(wire::Request r) {
  r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(r.client)).sign(wire::signing_bytes(r));
  return r;
}

bool reply_signature_valid(const Cluster& c, const wire::Reply& reply, const wire::Request& request) {
  const crypto::Crypto& crypto = c.nodes[0]->crypto;
  return reply.sig && crypto.verify_replica(reply.replica,
                                            wire::reply_signing_bytes(reply.client, reply.timestamp, reply.seq,
                                                                      reply.replica, crypto.digest(request.operation),
                                                                      crypto.digest(reply.result)),
                                            *reply.sig);
}

TEST(Replica, SignsRepliesOnlyWhenTheRequestAsks) {
  Cluster c(small_config());
  c.submit(c.request(1, "a", "1"));
  ASSERT_EQ(c.replies.size(), 4u);
  for (const wire::Reply& reply : c.replies) {
    EXPECT_FALSE(reply.sig.has_value());
    EXPECT_EQ(reply.seq, 1u);
  }
  c.replies.clear();
  wire::Request r = c.request(1, "a", "2");
  r.flags = wire::Request::flag_signed_reply;
  r = signed_by_client(r);
  c.submit(r);
  ASSERT_EQ(c.replies.size(), 4u);
  std::set<ReplicaId> signers;
  for (const wire::Reply& reply : c.replies) {
    EXPECT_EQ(reply.seq, 2u);
    EXPECT_TRUE(reply_signature_valid(c, reply, r)) << reply.replica;
    signers.insert(reply.replica);
  }
  EXPECT_EQ(signers.size(), 4u);
  // A signature does not carry over to another operation or sequence number.
  wire::Reply moved = c.replies[0];
  moved.seq = 3;
  EXPECT_FALSE(reply_signature_valid(c, moved, r));
  wire::Request other = r;
  other.operation = kv::encode_operation({kv::OpKind::put, "a", "3"});
  EXPECT_FALSE(reply_signature_valid(c, c.replies[0], other));
}

TEST(Replica, CachedReplyIsSignedForTheSameOperationOnly) {
  Cluster c(small_config());
  wire::Request r = c.request(1, "a", "1");
  r.flags = wire::Request::flag_signed_reply;
  r = signed_by_client(r);
  c.submit(r);
  ASSERT_EQ(c.r(2).last_executed(), 1u);
  while (!c.r(2).take_output().empty()) {
  }
  // The same request again: the cached result, signed, at its seq.
  c.r(2).receive_request(r);
  Output out = c.r(2).take_output();
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_EQ(out.replies[0].reply.seq, 1u);
  EXPECT_TRUE(reply_signature_valid(c, out.replies[0].reply, r));
  // Another operation under the executed timestamp (a lying client or
  // gateway fishing for a signature binding it to the old result): nothing.
  wire::Request swapped = r;
  swapped.operation = kv::encode_operation({kv::OpKind::get, "a", ""});
  swapped = signed_by_client(swapped);
  c.r(2).receive_request(swapped);
  EXPECT_TRUE(c.r(2).take_output().replies.empty());
}

TEST(Replica, SignsAFastReadUnderItsOwnDomainWhenAsked) {
  Cluster c(small_config());
  c.submit(c.request(1, "a", "1"));
  while (!c.r(2).take_output().empty()) {
  }
  wire::Request read{1, 100, kv::encode_operation({kv::OpKind::get, "a", ""}), {},
                     wire::Request::flag_read_only | wire::Request::flag_signed_reply};
  read = signed_by_client(read);
  c.r(2).receive_request(read);
  Output out = c.r(2).take_output();
  ASSERT_EQ(out.replies.size(), 1u);
  const wire::Reply& reply = out.replies[0].reply;
  ASSERT_TRUE(reply.sig.has_value());
  EXPECT_EQ(reply.seq, 1u);
  const crypto::Crypto& crypto = c.nodes[0]->crypto;
  const Digest op = crypto.digest(read.operation), result = crypto.digest(reply.result);
  EXPECT_TRUE(crypto.verify_replica(
      2, wire::fast_reply_signing_bytes(1, 100, reply.seq, 2, op, result), *reply.sig));
  // Not a signature anyone can pass off as an ordered reply's.
  EXPECT_FALSE(reply_signature_valid(c, reply, read));
  // Unasked, a fast answer is not signed.
  read.flags = wire::Request::flag_read_only;
  read = signed_by_client(read);
  c.r(2).receive_request(read);
  out = c.r(2).take_output();
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_FALSE(out.replies[0].reply.sig.has_value());
}

TEST(Replica, ARequestTheHostCheckedIsNotCheckedAgain) {
  Cluster c(small_config());
  wire::Request r = c.request(1, "a", "1");
  r.sig[0] ^= 1;
  c.r(0).receive_request(r);
  EXPECT_TRUE(c.r(0).take_output().sends.empty());
  EXPECT_EQ(c.r(0).rejected().bad_signature, 1u);
  // The host vouches for this one: not checked, proposed.
  const uint64_t checks = c.nodes[0]->crypto.client_verifications();
  c.r(0).receive_checked_request(r);
  EXPECT_EQ(c.nodes[0]->crypto.client_verifications(), checks);
  Output out = c.r(0).take_output();
  out.propose = out.propose || !out.sends.empty();
  EXPECT_TRUE(out.propose) << "the primary proposes a checked request";
  // A backup passes a checked request on to the primary, as it does an unchecked one.
  c.r(2).receive_checked_request(c.request(2, "b", "1"));
  out = c.r(2).take_output();
  ASSERT_EQ(out.sends.size(), 1u);
  EXPECT_EQ(out.sends[0].to, std::optional<ReplicaId>(0));
  EXPECT_TRUE(std::holds_alternative<wire::Request>(out.sends[0].message));
}

// Whether backup `r`, ticked up to `ticks` times, passes the request with
// `timestamp` on to the primary of view 0.
bool passes_on(Replica& r, uint64_t timestamp, int ticks) {
  for (int t = 0; t < ticks; ++t) {
    r.tick();
    for (const Send& s : r.take_output().sends) {
      const auto* request = std::get_if<wire::Request>(&s.message);
      if (request != nullptr && s.to == std::optional<ReplicaId>(0) && request->timestamp == timestamp) return true;
    }
  }
  return false;
}

TEST(Replica, ABackupWaitsForTheClientThatSentToEveryReplica) {
  Config config = small_config();
  config.proposal_timeout_ticks = 5;
  Cluster c(config);
  wire::Request r = c.request(1, "a", "1");
  r.flags = wire::Request::flag_sent_to_all;
  r = signed_by_client(r);
  c.r(2).receive_checked_request(r);
  Output out = c.r(2).take_output();
  EXPECT_TRUE(out.sends.empty()) << "the client sent it to the primary itself";
  // Left waiting by the primary, it is passed on.
  EXPECT_TRUE(passes_on(c.r(2), r.timestamp, 8));
}

TEST(Replica, AnOlderRequestProposedDoesNotEndTheWatchOfANewerOne) {
  Config config = small_config();
  config.proposal_timeout_ticks = 5;
  Cluster c(config);
  wire::Request older = c.request(1, "a", "1");
  wire::Request newer = c.request(1, "a", "2");
  newer.flags = wire::Request::flag_sent_to_all;
  newer = signed_by_client(newer);
  // A faulty client: the newer request to the backups only, the older one to the primary.
  for (ReplicaId b : {1, 2, 3}) {
    c.r(b).receive_checked_request(newer);
    c.collect(b);
  }
  c.r(0).receive_request(older);
  c.collect(0);
  c.pump();
  ASSERT_EQ(c.r(2).last_executed(), 1u);
  // The backup still watches the newer one, and passes it on when the primary leaves it waiting.
  EXPECT_TRUE(passes_on(c.r(2), newer.timestamp, 8));
}

TEST(Replica, ABackupPassesReplaysOfAWaitingRequestOnAtMostOncePerTimeout) {
  Config config = small_config();
  config.proposal_timeout_ticks = 5;
  Cluster c(config);
  wire::Request r = c.request(1, "a", "1");
  auto passed_on = [&] {
    size_t n = 0;
    for (const Send& s : c.r(2).take_output().sends) n += std::holds_alternative<wire::Request>(s.message) ? 1 : 0;
    return n;
  };
  c.r(2).receive_checked_request(r);
  EXPECT_EQ(passed_on(), 1u);
  for (int i = 0; i < 10; ++i) c.r(2).receive_checked_request(r);  // replayed at once
  EXPECT_EQ(passed_on(), 0u);
  for (int t = 0; t < 5; ++t) c.r(2).tick();
  passed_on();
  c.r(2).receive_checked_request(r);  // sent again after the timeout: passed on again
  EXPECT_EQ(passed_on(), 1u);
}

TEST(Replica, ACopyOfAWaitingRequestIsNotCheckedAgain) {
  Cluster c(small_config());
  crypto::FakeCrypto& crypto = c.nodes[0]->crypto;
  wire::Request r = c.request(1, "a", "1");
  // Proposed but not executed yet, the request waits at the primary.
  c.r(0).receive_request(r);
  const uint64_t checks = crypto.client_verifications();
  c.r(0).receive(2, r);  // passed on by a backup
  EXPECT_EQ(crypto.client_verifications(), checks);
  wire::Request other = c.request(1, "a", "2");
  c.r(0).receive(2, other);
  EXPECT_EQ(crypto.client_verifications(), checks + 1) << "a different request is checked";
}

TEST(ClientTable, EncodesCanonicallyAndRejectsGarbage) {
  ClientTable t;
  t.record(7, 3, Bytes{1, 2}, 12, Digest{{4, 5}});
  t.record(2, 1, Bytes{});
  Bytes enc = t.encode();
  size_t consumed = 0;
  auto back = ClientTable::decode(enc, consumed);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
  EXPECT_EQ(consumed, enc.size());
  for (size_t len = 0; len < enc.size(); ++len) {
    size_t c2 = 0;
    EXPECT_FALSE(ClientTable::decode(ByteView(enc.data(), len), c2).has_value()) << len;
  }
  EXPECT_FALSE(t.is_new(7, 3));
  EXPECT_TRUE(t.is_new(7, 4));
  EXPECT_TRUE(t.is_new(8, 1));
}

}  // namespace
}  // namespace pbft::core

namespace pbft::core {
namespace {

TEST(Replica, KeepsEachPeersLastStatusButNotOneClaimingAnotherSender) {
  Cluster c(small_config());
  c.deliver(2, 1, wire::Status{2, 3, false, 10, 14, {}});
  c.deliver(2, 1, wire::Status{2, 4, true, 20, 25, {}});  // the later report replaces it
  c.deliver(3, 1, wire::Status{0, 9, true, 90, 99, {}});  // says it is replica 0: dropped
  const auto& reports = c.r(1).peer_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports.at(2), (PeerReport{4, true, 20, 25}));
  EXPECT_EQ(c.r(1).rejected().wrong_sender, 1u);
}

}  // namespace
}  // namespace pbft::core
