#include "common/types.h"

#include <gtest/gtest.h>

namespace pbft {
namespace {

TEST(Hex, RoundTripsAndReadsEitherCase) {
  const Bytes bytes{0x00, 0x7f, 0xa5, 0xff};
  EXPECT_EQ(to_hex(ByteView(bytes)), "007fa5ff");
  EXPECT_EQ(from_hex("007fa5ff"), bytes);
  EXPECT_EQ(from_hex("007FA5FF"), bytes);
  EXPECT_EQ(from_hex(""), Bytes{});
}

TEST(Hex, RefusesOddLengthAndNonHexDigits) {
  EXPECT_EQ(from_hex("abc"), std::nullopt);
  EXPECT_EQ(from_hex("0g"), std::nullopt);
  EXPECT_EQ(from_hex("  "), std::nullopt);
}

}  // namespace
}  // namespace pbft
