// The primary's batching when the host decides when batches close
// (Config::defer_proposals), and the one signature check per request.
#include <gtest/gtest.h>

#include "common/client_id.h"
#include "core/replica.h"
#include "crypto/fake_crypto.h"
#include "kv/map_store.h"
#include "kv/operation.h"
#include "wire/codec.h"

namespace pbft::core {
namespace {

constexpr uint64_t secret = 11;

// FakeCrypto that counts the client signatures it checks.
class CountingCrypto final : public crypto::Crypto {
 public:
  explicit CountingCrypto(ReplicaId self) : inner_(secret, crypto::Principal::replica(self)) {}
  Digest digest(ByteView data) const override { return inner_.digest(data); }
  Signature sign(ByteView data) const override { return inner_.sign(data); }
  bool verify_replica(ReplicaId s, ByteView d, const Signature& sig) const override {
    return inner_.verify_replica(s, d, sig);
  }
  bool verify_client(ClientId s, ByteView d, const Signature& sig) const override {
    ++client_checks;
    return inner_.verify_client(s, d, sig);
  }
  Mac mac(ReplicaId p, ByteView d) const override { return inner_.mac(p, d); }
  bool verify_mac(ReplicaId p, ByteView d, const Mac& m) const override { return inner_.verify_mac(p, d, m); }
  mutable int client_checks = 0;

 private:
  crypto::FakeCrypto inner_;
};

// One replica with a counting crypto, its start-up output taken.
struct Lone {
  Lone(const Config& config, ReplicaId id) : crypto(id), replica(config, id, crypto, kv) {
    (void)replica.take_output();
  }
  CountingCrypto crypto;
  kv::MapStore kv;
  Replica replica;
};

wire::Request request(ClientId c, uint64_t timestamp, const std::string& value) {
  wire::Request r{c, timestamp, kv::encode_operation({kv::OpKind::put, "k", value}), {}};
  r.sig = crypto::FakeCrypto(secret, crypto::Principal::client(c)).sign(wire::signing_bytes(r));
  return r;
}

// A request of replica `gateway`'s HTTP gateway, with a good signature.
wire::Request gateway_request(ReplicaId gateway, uint32_t slot, const std::string& value) {
  return request(gateway_client_id(gateway, slot), 1, value);
}

std::vector<wire::PrePrepare> pre_prepares(const Output& out) {
  std::vector<wire::PrePrepare> found;
  for (const Send& s : out.sends)
    if (auto* pp = std::get_if<wire::PrePrepare>(&s.message)) found.push_back(*pp);
  return found;
}

size_t prepares(const Output& out) {
  size_t n = 0;
  for (const Send& s : out.sends) n += std::holds_alternative<wire::Prepare>(s.message);
  return n;
}

Config deferred() {
  Config c;
  c.replica_count = 4;
  c.defer_proposals = true;
  return c;
}

TEST(DeferredProposals, RequestsWaitForProposeAndShareOneBatch) {
  Lone primary_host(deferred(), 0);
  Replica& primary = primary_host.replica;

  primary.receive_request(request(1, 1, "a"));
  Output first = primary.take_output();
  EXPECT_TRUE(first.propose) << "the host is asked to propose";
  EXPECT_TRUE(pre_prepares(first).empty()) << "no batch before propose()";
  primary.receive_request(request(2, 1, "b"));
  primary.receive_request(request(3, 1, "c"));
  Output more = primary.take_output();
  EXPECT_FALSE(more.propose) << "asked once until the host answers";
  EXPECT_TRUE(pre_prepares(more).empty());

  primary.propose();
  Output out = primary.take_output();
  std::vector<wire::PrePrepare> pps = pre_prepares(out);
  ASSERT_EQ(pps.size(), 1u);
  EXPECT_EQ(pps[0].seq, 1u);
  EXPECT_EQ(pps[0].batch.size(), 3u);
  EXPECT_TRUE(out.persist);
  EXPECT_FALSE(out.propose);

  // After the answer, the next request asks again.
  primary.receive_request(request(4, 1, "d"));
  EXPECT_TRUE(primary.take_output().propose);
}

TEST(DeferredProposals, ProposeRespectsThePipelineAndBatchLimits) {
  Config c = deferred();
  c.pipeline_depth_max = 1;
  c.batch_requests_max = 2;
  Lone primary_host(c, 0);
  Replica& primary = primary_host.replica;
  for (ClientId client = 1; client <= 5; ++client) primary.receive_request(request(client, 1, "v"));
  (void)primary.take_output();
  primary.propose();
  std::vector<wire::PrePrepare> pps = pre_prepares(primary.take_output());
  ASSERT_EQ(pps.size(), 1u) << "one batch in flight at most";
  EXPECT_EQ(pps[0].batch.size(), 2u);
  primary.propose();  // the pipeline is still full
  EXPECT_TRUE(pre_prepares(primary.take_output()).empty());
}

TEST(PipelineRoom, AnotherBatchNeedsEnoughRequestsForEachInFlight) {
  Config c;
  c.pipeline_depth_max = 3;
  c.batch_requests_min = 4;
  EXPECT_TRUE(c.pipeline_has_room(0, 1)) << "nothing in flight: one request is enough";
  EXPECT_FALSE(c.pipeline_has_room(1, 3));
  EXPECT_TRUE(c.pipeline_has_room(1, 4));
  EXPECT_FALSE(c.pipeline_has_room(2, 7));
  EXPECT_TRUE(c.pipeline_has_room(2, 8));
  EXPECT_FALSE(c.pipeline_has_room(3, 1000)) << "never more than pipeline_depth_max";
  c.batch_requests_min = 0;
  EXPECT_TRUE(c.pipeline_has_room(2, 1)) << "0: whenever the pipeline has room";
}

// The primary closes a batch at once when none is in flight, and another
// only when batch_requests_min requests wait for each one in flight.
TEST(PipelineRoom, ALoadedPrimaryPacksBiggerBatches) {
  Config c;
  c.replica_count = 4;
  c.batch_requests_min = 3;
  Lone primary_host(c, 0);
  Replica& primary = primary_host.replica;
  ClientId next_client = 1;
  auto arrive = [&](int count) {
    std::vector<wire::PrePrepare> proposed;
    for (int i = 0; i < count; ++i) {
      primary.receive_request(request(next_client++, 1, "v"));
      for (wire::PrePrepare& pp : pre_prepares(primary.take_output())) proposed.push_back(std::move(pp));
    }
    return proposed;
  };
  std::vector<wire::PrePrepare> first = arrive(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].batch.size(), 1u) << "an idle pipeline sends the request at once";
  EXPECT_TRUE(arrive(2).empty()) << "two waiting, one batch in flight";
  std::vector<wire::PrePrepare> second = arrive(1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].seq, 2u);
  EXPECT_EQ(second[0].batch.size(), 3u);
  EXPECT_TRUE(arrive(5).empty()) << "two in flight: six must wait";
  std::vector<wire::PrePrepare> third = arrive(1);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].batch.size(), 6u);
}

TEST(DeferredProposals, ABackupNeverAsks) {
  Lone backup_host(deferred(), 1);
  Replica& backup = backup_host.replica;
  backup.receive_request(request(1, 1, "a"));
  Output out = backup.take_output();
  EXPECT_FALSE(out.propose);
  ASSERT_EQ(out.sends.size(), 1u);  // passed on to the primary
  EXPECT_EQ(out.sends[0].to, std::optional<ReplicaId>(0));
}

// A pre-prepare as primary 0 would sign it.
wire::PrePrepare proposal(const Replica& backup, std::vector<wire::Request> batch) {
  wire::PrePrepare pp;
  pp.view = 0;
  pp.seq = 1;
  pp.digest = backup.batch_digest(batch);
  pp.batch = std::move(batch);
  pp.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(0)).sign(wire::signing_bytes(pp));
  return pp;
}

TEST(RequestChecks, ARequestCheckedOnArrivalIsNotCheckedAgainInAPrePrepare) {
  Lone backup_host(Config{}, 1);
  Replica& backup = backup_host.replica;
  CountingCrypto& crypto = backup_host.crypto;
  const wire::Request known = request(1, 1, "a");
  backup.receive_request(known);
  (void)backup.take_output();
  ASSERT_EQ(crypto.client_checks, 1);

  const wire::Request unknown = request(2, 1, "b");
  backup.receive(0, proposal(backup, {known, unknown}));
  EXPECT_EQ(crypto.client_checks, 2) << "only the request it had not seen is checked";
  EXPECT_EQ(prepares(backup.take_output()), 1u);
}

TEST(RequestChecks, ARequestThatDiffersFromTheKnownOneIsChecked) {
  Lone backup_host(Config{}, 1);
  Replica& backup = backup_host.replica;
  CountingCrypto& crypto = backup_host.crypto;
  const wire::Request known = request(1, 1, "a");
  backup.receive_request(known);
  (void)backup.take_output();

  // Same client and timestamp, another operation, the known one's signature.
  wire::Request forged = request(1, 1, "forged");
  forged.sig = known.sig;
  backup.receive(0, proposal(backup, {forged}));
  EXPECT_EQ(crypto.client_checks, 2);
  EXPECT_EQ(prepares(backup.take_output()), 0u) << "a forged request in a batch is refused";
  EXPECT_EQ(backup.rejected().malformed, 1u);
}

TEST(RequestChecks, AGatewaysRequestOverItsOwnLinkIsNotCheckedByABackup) {
  Lone backup_host(Config{}, 1);
  Replica& backup = backup_host.replica;
  CountingCrypto& crypto = backup_host.crypto;
  const wire::Request r = gateway_request(2, 5, "a");
  backup.receive(2, r);
  EXPECT_EQ(crypto.client_checks, 0);
  EXPECT_TRUE(backup.take_output().sends.empty()) << "the gateway sent it to the primary itself";
  backup.receive(0, proposal(backup, {r}));
  EXPECT_EQ(crypto.client_checks, 0);
  EXPECT_EQ(prepares(backup.take_output()), 1u);
}

TEST(RequestChecks, AGatewaysRequestFromAnotherReplicaIsChecked) {
  Lone backup_host(Config{}, 1);
  Replica& backup = backup_host.replica;
  CountingCrypto& crypto = backup_host.crypto;
  // Replica 3 passes on (or forges) a request of replica 2's gateway.
  wire::Request forged = gateway_request(2, 5, "a");
  forged.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(3)).sign(wire::signing_bytes(forged));
  backup.receive(3, forged);
  EXPECT_EQ(crypto.client_checks, 1);
  EXPECT_EQ(backup.rejected().bad_signature, 1u);
  backup.receive(3, gateway_request(2, 5, "a"));
  EXPECT_EQ(crypto.client_checks, 2);
  EXPECT_EQ(backup.rejected().bad_signature, 1u) << "a genuine one passes its check";
}

TEST(RequestChecks, ThePrimaryChecksEvenALinkVouchedRequest) {
  Lone primary_host(Config{}, 0);
  Replica& primary = primary_host.replica;
  CountingCrypto& crypto = primary_host.crypto;
  wire::Request bad = gateway_request(2, 5, "a");
  bad.sig[0] ^= 1;
  primary.receive(2, bad);
  EXPECT_EQ(crypto.client_checks, 1);
  EXPECT_EQ(primary.rejected().bad_signature, 1u);
  EXPECT_TRUE(pre_prepares(primary.take_output()).empty())
      << "a bad signature never reaches a batch, where backups without the request would refuse it";
}

TEST(RequestChecks, OwnGatewayRequestsAreNeitherCheckedNorRelayed) {
  Lone backup_host(Config{}, 1);
  Replica& backup = backup_host.replica;
  CountingCrypto& crypto = backup_host.crypto;
  backup.receive_own_request(gateway_request(1, 0, "a"));
  EXPECT_EQ(crypto.client_checks, 0);
  EXPECT_TRUE(backup.take_output().sends.empty());
  // Another replica's gateway client is not this one's own.
  EXPECT_DEATH(backup.receive_own_request(gateway_request(2, 0, "a")), "only this replica's gateway");
}

// A backup trusts a request its gateway's link vouches for; when it becomes
// primary it checks the request before proposing it, so that a faulty
// gateway's bad signature never reaches a correct primary's batch.
TEST(RequestChecks, ABackupThatBecomesPrimaryChecksWhatItTrusted) {
  Lone r1_host(Config{}, 1);
  Replica& r1 = r1_host.replica;
  wire::Request bad = gateway_request(3, 9, "a");
  bad.sig[0] ^= 1;
  r1.receive(3, bad);
  EXPECT_EQ(r1_host.crypto.client_checks, 0);
  (void)r1.take_output();
  for (uint32_t t = 0; t < Config{}.view_change_timeout_ticks; ++t) r1.tick();
  ASSERT_EQ(r1.asked_view(), 1u);
  (void)r1.take_output();
  // Replicas 0 and 2 change to view 1 too; replica 1 is its primary.
  for (ReplicaId from : {ReplicaId{0}, ReplicaId{2}}) {
    wire::ViewChange vc;
    vc.new_view = 1;
    vc.replica = from;
    vc.sig = crypto::FakeCrypto(secret, crypto::Principal::replica(from)).sign(wire::signing_bytes(vc));
    r1.receive(from, vc);
  }
  ASSERT_TRUE(r1.is_primary()) << r1.describe();
  Output out = r1.take_output();
  for (const wire::PrePrepare& pp : pre_prepares(out))
    for (const wire::Request& r : pp.batch) EXPECT_NE(r.client, bad.client) << "proposed unchecked";
  EXPECT_EQ(r1_host.crypto.client_checks, 1);
  EXPECT_EQ(r1.rejected().bad_signature, 1u);
}

}  // namespace
}  // namespace pbft::core
