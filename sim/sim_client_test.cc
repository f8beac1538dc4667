// The simulated clients' requests, as the replicas get them.
#include "sim/sim_client.h"

#include <gtest/gtest.h>

#include "core/request_bundle.h"
#include "kv/operation.h"

namespace pbft::sim {
namespace {

constexpr uint64_t secret = 41;

bool replica_takes(const wire::Request& r) {
  const crypto::FakeCrypto replica(secret, crypto::Principal::replica(0));
  core::VerifiedBundles fresh;
  return core::check_client_signature(replica, r, fresh);
}

TEST(SimClient, ABundlingClientSignsEveryRequestInABundleOfTwo) {
  SimClient c(7, secret, 4, 2, 2, 4, false, true);
  const wire::Request first = c.begin(kv::encode_operation({kv::OpKind::get, "k", ""}), 0, true);
  EXPECT_NE(first.flags & wire::Request::flag_bundled, 0);
  EXPECT_NE(first.flags & wire::Request::flag_read_only, 0);
  ASSERT_EQ(first.bundle_path.size(), 1u);
  EXPECT_EQ(first.bundle_index, 0u) << "odd timestamps on the left";
  EXPECT_TRUE(replica_takes(first));
  // Its fallback is ordered, with the next timestamp, on the other side.
  const wire::Request ordered = c.fall_back();
  EXPECT_EQ(ordered.flags & wire::Request::flag_read_only, 0);
  EXPECT_NE(ordered.flags & wire::Request::flag_bundled, 0);
  EXPECT_EQ(ordered.bundle_index, 1u);
  EXPECT_TRUE(replica_takes(ordered));
  wire::Request changed = ordered;
  changed.operation.back() ^= 1;
  EXPECT_FALSE(replica_takes(changed));
}

TEST(SimClient, AClientThatDoesNotBundleSignsEachRequestAlone) {
  SimClient c(8, secret, 4, 2, 2, 4, true, false);
  const wire::Request r = c.begin(kv::encode_operation({kv::OpKind::put, "k", "v"}), 0);
  EXPECT_EQ(r.flags & wire::Request::flag_bundled, 0);
  EXPECT_TRUE(r.bundle_path.empty());
  EXPECT_TRUE(replica_takes(r));
}

}  // namespace
}  // namespace pbft::sim
