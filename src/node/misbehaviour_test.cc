#include "node/misbehaviour.h"

#include <gtest/gtest.h>

namespace pbft::node {
namespace {

TEST(Misbehaviour, EveryModeParsesByItsName) {
  for (const auto& [mode, name] : misbehaviour_names) {
    EXPECT_EQ(parse_misbehaviour(name), mode);
    EXPECT_EQ(to_string(mode), name);
  }
  EXPECT_EQ(parse_misbehaviour("Silent"), std::nullopt);
  EXPECT_EQ(misbehaviour_choices(), "none, wrong-results, silent, corrupt-signatures");
}

TEST(Misbehaviour, CorruptSignaturesFlipsTheMessageSignature) {
  wire::PrePrepare p{1, 2, {}, {}, {}};
  p.sig.fill(7);
  wire::Message m = p;
  ASSERT_TRUE(corrupt_signatures(m));
  const auto& out = std::get<wire::PrePrepare>(m);
  EXPECT_NE(out.sig, p.sig);
  EXPECT_EQ(out.sig[0], 7 ^ 1);
  EXPECT_TRUE(std::equal(out.sig.begin() + 1, out.sig.end(), p.sig.begin() + 1));
  EXPECT_EQ(out.view, p.view);
  EXPECT_EQ(out.seq, p.seq);

  wire::Message checkpoint = wire::Checkpoint{10, {}, 3, {}};
  ASSERT_TRUE(corrupt_signatures(checkpoint));
  EXPECT_EQ(std::get<wire::Checkpoint>(checkpoint).sig[0], 1);
}

TEST(Misbehaviour, AMessageWithoutSignatureIsLeftAlone) {
  wire::Message reply = wire::Reply{};
  EXPECT_FALSE(corrupt_signatures(reply));
  EXPECT_EQ(std::get<wire::Reply>(reply), wire::Reply{});
}

}  // namespace
}  // namespace pbft::node
