// Each checker on a hand-made history that breaks it (and one that does not):
// a checker that cannot fail proves nothing.
#include "sim/checkers.h"

#include <gtest/gtest.h>

#include "crypto/fake_crypto.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::sim {
namespace {

constexpr uint64_t secret = 42;

Bytes put(const std::string& key, const std::string& value) {
  return kv::encode_operation(kv::Operation{kv::OpKind::put, key, value});
}
Bytes get(const std::string& key) { return kv::encode_operation(kv::Operation{kv::OpKind::get, key, ""}); }
Bytes ok() { return kv::encode_result(kv::Result{kv::ResultStatus::ok, std::nullopt}); }
Bytes value(const std::string& v) { return kv::encode_result(kv::Result{kv::ResultStatus::ok, v}); }

wire::Request request(ClientId c, uint64_t t, Bytes op) {
  crypto::FakeCrypto client(secret, crypto::Principal::client(c));
  wire::Request r{c, t, std::move(op), {}};
  r.sig = client.sign(wire::signing_bytes(r));
  return r;
}

Digest digest_of(const std::vector<wire::Request>& batch) {
  crypto::FakeCrypto any(secret, crypto::Principal::replica(0));
  return any.digest(wire::batch_bytes(batch));
}

// A history builder: clients send, a batch is proposed, replicas execute.
struct History {
  Checkers checkers;

  Digest batch(const std::vector<wire::Request>& requests) {
    Digest d = digest_of(requests);
    checkers.batch_seen(d, requests);
    return d;
  }
  void send(const wire::Request& r) { checkers.client_sent(r.client, r.timestamp, r.operation); }
  void execute(ReplicaId replica, Seq seq, const Digest& d, std::vector<core::ExecutedRequest> reqs,
               Time at = 0) {
    checkers.executed(replica, core::Executed{seq, 0, d, std::move(reqs)}, at);
  }
  std::string first_checker() const {
    return checkers.violations().empty() ? "" : checkers.violations().front().checker;
  }
};

ClientOp op(ClientId c, uint64_t t, Bytes operation, Time invoked, Time completed, Bytes result) {
  ClientOp o;
  o.client = c;
  o.timestamp = t;
  o.operation = std::move(operation);
  o.invoked = invoked;
  o.completed = true;
  o.completed_at = completed;
  o.result = std::move(result);
  return o;
}

// Two operations, executed identically by three replicas and accepted.
TEST(Checkers, ConsistentHistoryPasses) {
  History h;
  wire::Request a = request(1000, 1, put("k", "v1")), b = request(1001, 1, get("k"));
  h.send(a);
  h.send(b);
  Digest d1 = h.batch({a}), d2 = h.batch({b});
  for (ReplicaId r = 0; r < 3; ++r) {
    h.execute(r, 1, d1, {{1000, 1, ok()}});
    h.execute(r, 2, d2, {{1001, 1, value("v1")}});
  }
  ClientOp oa = op(1000, 1, a.operation, 10, 20, ok());
  ClientOp ob = op(1001, 1, b.operation, 30, 40, value("v1"));
  h.checkers.accepted(oa);
  h.checkers.accepted(ob);
  h.checkers.finish({oa, ob}, 50);
  EXPECT_TRUE(h.checkers.ok()) << h.checkers.violations().front().details;
  EXPECT_EQ(h.checkers.executions(), 6u);
}

TEST(Checkers, AgreementDifferentBatchesAtOneSeq) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a")), b = request(1001, 1, put("k", "b"));
  h.send(a);
  h.send(b);
  Digest da = h.batch({a}), db = h.batch({b});
  h.execute(0, 1, da, {{1000, 1, ok()}});
  EXPECT_TRUE(h.checkers.ok());
  h.execute(1, 1, db, {{1001, 1, ok()}});
  EXPECT_EQ(h.first_checker(), "agreement");
}

TEST(Checkers, AgreementSameRequestAtDifferentPositions) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a"));
  h.send(a);
  Digest d = h.batch({a});
  h.execute(0, 1, d, {{1000, 1, ok()}});
  h.execute(1, 3, d, {{1000, 1, ok()}});  // seq 3 carries some other digest nowhere else
  EXPECT_EQ(h.first_checker(), "agreement");
}

TEST(Checkers, AgreementSameRequestDifferentResults) {
  History h;
  wire::Request a = request(1000, 1, get("k"));
  h.send(a);
  Digest d = h.batch({a});
  h.execute(0, 1, d, {{1000, 1, value("x")}});
  h.execute(1, 1, d, {{1000, 1, value("y")}});
  EXPECT_EQ(h.first_checker(), "agreement");
}

TEST(Checkers, AgreementCheckpointStates) {
  History h;
  Digest a, b;
  b.bytes[0] = 1;
  h.checkers.checkpoint(0, 4, a, 0);
  h.checkers.checkpoint(1, 4, a, 0);
  h.checkers.checkpoint(1, 8, b, 0);
  EXPECT_TRUE(h.checkers.ok());
  h.checkers.checkpoint(2, 4, b, 0);
  EXPECT_EQ(h.first_checker(), "agreement");
}

TEST(Checkers, AgreementFinalStates) {
  History h;
  h.checkers.final_state(0, 7, Bytes{1, 2, 3}, 0);
  h.checkers.final_state(1, 7, Bytes{1, 2, 3}, 0);
  h.checkers.final_state(2, 6, Bytes{9}, 0);
  EXPECT_TRUE(h.checkers.ok());
  h.checkers.final_state(3, 7, Bytes{1, 2, 4}, 0);
  EXPECT_EQ(h.first_checker(), "agreement");
}

TEST(Checkers, ValidityRequestNeverSent) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a"));
  Digest d = h.batch({a});  // on the wire, but the client never sent it
  h.execute(0, 1, d, {{1000, 1, ok()}});
  EXPECT_EQ(h.first_checker(), "validity");
}

TEST(Checkers, ValidityOperationNotWhatTheClientSent) {
  History h;
  wire::Request sent = request(1000, 1, put("k", "a"));
  h.send(sent);
  wire::Request tampered = sent;
  tampered.operation = put("k", "evil");
  Digest d = h.batch({tampered});
  h.execute(0, 1, d, {{1000, 1, ok()}});
  EXPECT_EQ(h.first_checker(), "validity");
}

TEST(Checkers, ValidityBatchNeverSeen) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a"));
  h.send(a);
  h.execute(0, 1, digest_of({a}), {{1000, 1, ok()}});
  EXPECT_EQ(h.first_checker(), "validity");
}

TEST(Checkers, ValidityExecutedTwiceByOneReplica) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a"));
  h.send(a);
  Digest d = h.batch({a});
  h.execute(0, 1, d, {{1000, 1, ok()}});
  EXPECT_TRUE(h.checkers.ok());
  h.execute(0, 2, d, {{1000, 1, ok()}});
  ASSERT_FALSE(h.checkers.ok());
  bool validity = false;
  for (const Violation& v : h.checkers.violations()) validity |= v.checker == "validity";
  EXPECT_TRUE(validity);
}

TEST(Checkers, LinearizabilityWrongAcceptedResult) {
  History h;
  wire::Request a = request(1000, 1, get("k"));
  h.send(a);
  Digest d = h.batch({a});
  h.execute(0, 1, d, {{1000, 1, value("real")}});
  h.checkers.accepted(op(1000, 1, a.operation, 0, 10, value("lie")));
  EXPECT_EQ(h.first_checker(), "linearizability");
}

TEST(Checkers, LinearizabilityAcceptedButNeverExecuted) {
  History h;
  wire::Request a = request(1000, 1, get("k"));
  h.send(a);
  ClientOp o = op(1000, 1, a.operation, 0, 10, value("x"));
  h.checkers.accepted(o);  // nothing executed yet: checked at the end
  EXPECT_TRUE(h.checkers.ok());
  h.checkers.finish({o}, 20);
  EXPECT_EQ(h.first_checker(), "linearizability");
}

TEST(Checkers, LinearizabilityRealTimeOrder) {
  History h;
  wire::Request a = request(1000, 1, put("k", "a")), b = request(1001, 1, put("k", "b"));
  h.send(a);
  h.send(b);
  Digest d = h.batch({b, a});  // b ordered first...
  h.execute(0, 1, d, {{1001, 1, ok()}, {1000, 1, ok()}});
  // ...although a completed before b was invoked.
  ClientOp oa = op(1000, 1, a.operation, 0, 10, ok());
  ClientOp ob = op(1001, 1, b.operation, 20, 30, ok());
  h.checkers.finish({oa, ob}, 40);
  EXPECT_EQ(h.first_checker(), "linearizability");

  // Concurrent operations may be ordered either way.
  History g;
  g.send(a);
  g.send(b);
  Digest e = g.batch({b, a});
  g.execute(0, 1, e, {{1001, 1, ok()}, {1000, 1, ok()}});
  g.checkers.finish({op(1000, 1, a.operation, 0, 25, ok()), op(1001, 1, b.operation, 20, 30, ok())}, 40);
  EXPECT_TRUE(g.checkers.ok());
}

TEST(Checkers, LivenessReportsOpenOperations) {
  std::vector<ClientOp> ops = {op(1000, 1, get("k"), 0, 10, ok())};
  EXPECT_FALSE(check_liveness(ops, 100, 200, "").has_value());
  ClientOp open;
  open.client = 1001;
  open.timestamp = 7;
  open.invoked = 50;
  ops.push_back(open);
  auto v = check_liveness(ops, 100, 200, "r0 v3");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->checker, "liveness");
  EXPECT_NE(v->details.find("c1001/t7"), std::string::npos);
  EXPECT_NE(v->details.find("r0 v3"), std::string::npos);
}

}  // namespace
}  // namespace pbft::sim
