// The gateway signs the requests of one turn of its event loop together
// and sends each, signed, to every replica.
#include "node/gateway.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "common/client_id.h"
#include "core/request_bundle.h"
#include "crypto/sodium_crypto.h"
#include "crypto/test_keys.h"
#include "wire/codec.h"

namespace pbft::node {
namespace {

constexpr uint32_t replicas = 4;
constexpr ReplicaId self = 1;

crypto::SodiumCrypto replica_crypto(ReplicaId id) {
  return crypto::SodiumCrypto(crypto::test::replica_keyring(0xa7, id, replicas));
}

struct Sent {
  ReplicaId to;
  wire::Request request;
};

struct Fixture {
  explicit Fixture(uint32_t bundle_max) : crypto(replica_crypto(self)), verifier(replica_crypto(0)) {
    GatewayOptions o;
    o.self = self;
    o.replica_count = replicas;
    o.bundle_requests_max = bundle_max;
    gateway = std::make_unique<Gateway>(io, o, crypto, [this](ReplicaId to, const wire::Request& r) {
      sent.push_back({to, r});
      if (on_send) on_send(to, r);
    });
  }
  void put(int i) {
    gateway->submit(kv::Operation{kv::OpKind::put, "k" + std::to_string(i), "v"}, [](GatewayOutcome) {});
  }
  boost::asio::io_context io;
  crypto::SodiumCrypto crypto;
  crypto::SodiumCrypto verifier;
  std::vector<Sent> sent;
  std::function<void(ReplicaId, const wire::Request&)> on_send;
  std::unique_ptr<Gateway> gateway;
};

TEST(GatewayBundles, TheRequestsOfOneTurnShareOneSignatureAndGoToEveryReplica) {
  Fixture f(32);
  for (int i = 0; i < 5; ++i) f.put(i);
  EXPECT_TRUE(f.sent.empty()) << "nothing leaves before the end of the turn";
  f.io.poll();
  ASSERT_EQ(f.sent.size(), 5u * replicas);
  std::set<ClientId> clients;
  std::set<Signature> sigs;
  core::VerifiedBundles seen;
  for (const Sent& s : f.sent) {
    clients.insert(s.request.client);
    sigs.insert(s.request.sig);
    EXPECT_EQ(gateway_of(s.request.client), self);
    EXPECT_TRUE(core::check_client_signature(f.verifier, s.request, seen));
  }
  EXPECT_EQ(clients.size(), 5u);
  EXPECT_EQ(sigs.size(), 1u);
  EXPECT_EQ(f.gateway->signatures(), 1u);
  EXPECT_EQ(f.gateway->signed_requests(), 5u);
  // Each request goes to the others first and to this replica last.
  for (size_t i = 0; i < f.sent.size(); i += replicas) EXPECT_EQ(f.sent[i + replicas - 1].to, self);

  // A request alone in its turn is signed alone.
  f.sent.clear();
  f.put(9);
  f.io.poll();
  ASSERT_EQ(f.sent.size(), size_t{replicas});
  EXPECT_EQ(f.sent[0].request.flags & wire::Request::flag_bundled, 0);
  EXPECT_TRUE(f.verifier.verify_client(f.sent[0].request.client, wire::signing_bytes(f.sent[0].request),
                                       f.sent[0].request.sig));
  EXPECT_EQ(f.gateway->signatures(), 2u);
}

TEST(GatewayBundles, ABundleHoldsAtMostTheConfiguredNumberOfRequests) {
  Fixture f(2);
  for (int i = 0; i < 5; ++i) f.put(i);
  f.io.poll();
  std::set<Signature> sigs;
  for (const Sent& s : f.sent) sigs.insert(s.request.sig);
  EXPECT_EQ(sigs.size(), 3u);
  EXPECT_EQ(f.gateway->signatures(), 3u);
  EXPECT_EQ(f.gateway->signed_requests(), 5u);
  core::VerifiedBundles seen;
  for (const Sent& s : f.sent) EXPECT_TRUE(core::check_client_signature(f.verifier, s.request, seen));
}

TEST(GatewayBundles, RequestsThatEndBeforeTheTurnDoesAreNotSent) {
  Fixture f(32);
  f.put(1);
  f.put(2);
  f.gateway->cancel_all();
  f.io.poll();
  EXPECT_TRUE(f.sent.empty());
  // A gateway gone before its turn ends leaves nothing behind to run.
  f.put(3);
  f.gateway.reset();
  f.io.poll();
  EXPECT_TRUE(f.sent.empty());
}

// Sending to itself can answer a call at once, and whatever its caller
// does then (here: fail every call, as a shutdown does) ends the rest of
// the bundle before it is sent.
TEST(GatewayBundles, CallsEndedWhileTheBundleIsSentAreNotSent) {
  Fixture f(32);
  f.on_send = [&](ReplicaId to, const wire::Request&) {
    if (to == self) f.gateway->cancel_all();
  };
  for (int i = 0; i < 3; ++i) f.put(i);
  f.io.poll();
  ASSERT_EQ(f.sent.size(), size_t{replicas}) << "only the first request went out";
  for (const Sent& s : f.sent) EXPECT_EQ(s.request.client, f.sent[0].request.client);
  EXPECT_EQ(f.gateway->in_flight(), 0u);
}

}  // namespace
}  // namespace pbft::node
