// Each checker on a hand-made history that breaks it (and one that does not):
// a checker that cannot fail proves nothing.
#include "sim/checkers.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

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
// Results as KvStore computes them (at their sequence number).
Bytes ok_at(Seq seq) { return kv::encode_result(kv::Result{kv::ResultStatus::ok, std::nullopt, seq}); }
Bytes read_at(const std::string& v, Seq seq, uint64_t revision) {
  kv::Result r{kv::ResultStatus::ok, v, seq, kv::ResultForm::record};
  r.revision = revision;
  return kv::encode_result(r);
}

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
    h.execute(r, 1, d1, {{1000, 1, ok_at(1)}});
    h.execute(r, 2, d2, {{1001, 1, read_at("v1", 2, 1)}});
  }
  ClientOp oa = op(1000, 1, a.operation, 10, 20, ok_at(1));
  ClientOp ob = op(1001, 1, b.operation, 30, 40, read_at("v1", 2, 1));
  h.checkers.accepted(oa);
  h.checkers.accepted(ob);
  h.checkers.finish({oa, ob}, 50);
  EXPECT_TRUE(h.checkers.ok()) << h.checkers.violations().front().details;
  EXPECT_EQ(h.checkers.executions(), 6u);
  EXPECT_TRUE(h.checkers.model_replayed());
}

// Every correct replica computed the same answer, and the client accepted
// it, but it is not what the operations mean: a range out of key order, a
// stale revision, a cas that swapped on a mismatch. Only the replay on the
// reference model sees it.
TEST(Checkers, LinearizabilityWrongAnswerEveryoneAgreesOn) {
  kv::Operation range{kv::OpKind::range, "", ""};
  range.limit = 10;
  kv::Result right_range{kv::ResultStatus::ok, std::nullopt, 3, kv::ResultForm::range};
  right_range.entries = {{"a", "1", 1}, {"b", "2", 2}};
  kv::Result wrong_order = right_range;
  std::swap(wrong_order.entries[0], wrong_order.entries[1]);
  kv::Result stale_revision = right_range;
  stale_revision.entries[1].revision = 1;
  kv::Operation cas{kv::OpKind::cas, "a", "new"};
  cas.expected = "not-1";
  kv::Result swapped{kv::ResultStatus::ok, "new", 3, kv::ResultForm::record};
  swapped.revision = 3;
  kv::Result refused{kv::ResultStatus::compare_failed, "1", 3, kv::ResultForm::record};
  refused.revision = 1;
  const std::vector<std::tuple<Bytes, kv::Result, bool>> cases = {
      {kv::encode_operation(range), right_range, true},
      {kv::encode_operation(range), wrong_order, false},
      {kv::encode_operation(range), stale_revision, false},
      {kv::encode_operation(cas), refused, true},
      {kv::encode_operation(cas), swapped, false},
  };
  for (const auto& [operation, result, right] : cases) {
    History h;
    wire::Request a = request(1000, 1, put("a", "1")), b = request(1000, 2, put("b", "2"));
    wire::Request c = request(1001, 1, operation);
    for (const auto& r : {a, b, c}) h.send(r);
    const Bytes answer = kv::encode_result(result);
    Digest d1 = h.batch({a}), d2 = h.batch({b}), d3 = h.batch({c});
    for (ReplicaId r = 0; r < 3; ++r) {
      h.execute(r, 1, d1, {{1000, 1, ok_at(1)}});
      h.execute(r, 2, d2, {{1000, 2, ok_at(2)}});
      h.execute(r, 3, d3, {{1001, 1, answer}});
    }
    ClientOp oc = op(1001, 1, c.operation, 30, 40, answer);
    h.checkers.accepted(oc);
    h.checkers.finish({oc}, 50);
    if (right) {
      EXPECT_TRUE(h.checkers.ok()) << h.checkers.violations().front().details;
    } else {
      EXPECT_EQ(h.first_checker(), "linearizability");
    }
  }
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
  g.execute(0, 1, e, {{1001, 1, ok_at(1)}, {1000, 1, ok_at(1)}});
  g.checkers.finish({op(1000, 1, a.operation, 0, 25, ok_at(1)), op(1001, 1, b.operation, 20, 30, ok_at(1))}, 40);
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

// A fast read was never executed: it must match a state of the execution
// order between what completed before it and what started after it.
TEST(Checkers, FastReadsMustSeeACompletedWrite) {
  wire::Request a = request(1000, 1, put("k", "a")), b = request(1000, 2, put("k", "b"));
  auto fast = [](Time invoked, Time completed, Bytes result) {
    ClientOp o = op(1001, 1, get("k"), invoked, completed, std::move(result));
    o.fast = true;
    return o;
  };
  auto history = [&](History& h) {
    h.send(a);
    h.send(b);
    h.execute(0, 1, h.batch({a}), {{1000, 1, ok_at(1)}});
    h.execute(0, 2, h.batch({b}), {{1000, 2, ok_at(2)}});
  };
  ClientOp oa = op(1000, 1, a.operation, 0, 10, ok_at(1));
  ClientOp ob = op(1000, 2, b.operation, 20, 30, ok_at(2));

  // Invoked after b completed: only "b" (revision 2) is right.
  History fresh;
  history(fresh);
  fresh.checkers.finish({oa, ob, fast(40, 45, read_at("b", 0, 2))}, 50);
  EXPECT_TRUE(fresh.checkers.ok()) << fresh.checkers.violations().front().details;
  History stale;
  history(stale);
  stale.checkers.finish({oa, ob, fast(40, 45, read_at("a", 0, 1))}, 50);
  EXPECT_EQ(stale.first_checker(), "linearizability");

  // Concurrent with b: either value.
  History either;
  history(either);
  either.checkers.finish({oa, ob, fast(15, 25, read_at("a", 0, 1))}, 50);
  EXPECT_TRUE(either.checkers.ok());
  // Completed before b was invoked: b's value is from the future.
  History future;
  history(future);
  future.checkers.finish({oa, ob, fast(11, 15, read_at("b", 0, 2))}, 50);
  EXPECT_EQ(future.first_checker(), "linearizability");

  // Two fast reads, both concurrent with b: the later one may not go back.
  auto fast2 = [&](uint64_t t, Time invoked, Time completed, Bytes result) {
    ClientOp o = fast(invoked, completed, std::move(result));
    o.timestamp = t;
    return o;
  };
  History back;
  history(back);
  back.checkers.finish({oa, ob, fast2(1, 15, 21, read_at("b", 0, 2)), fast2(2, 22, 25, read_at("a", 0, 1))}, 50);
  EXPECT_EQ(back.first_checker(), "linearizability");
  History forward;
  history(forward);
  forward.checkers.finish({oa, ob, fast2(1, 15, 21, read_at("a", 0, 1)), fast2(2, 22, 25, read_at("b", 0, 2))}, 50);
  EXPECT_TRUE(forward.checkers.ok());
}

}  // namespace
}  // namespace pbft::sim
