#include "core/bytes.h"

#include <gtest/gtest.h>

namespace countersign {
namespace {

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  Bytes b{0x00, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b), "00abff");
  EXPECT_EQ(*hex_decode("00ABff"), b);
  EXPECT_FALSE(hex_decode("abc").ok());
  auto bad = hex_decode("zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("offset 0"), std::string::npos);
  EXPECT_TRUE(is_lower_hex("00ab", 4));
  EXPECT_FALSE(is_lower_hex("00AB", 4));
}

TEST(Base64, StrictStandardPadded) {
  EXPECT_EQ(base64_encode(to_bytes("ab")), "YWI=");
  EXPECT_EQ(*base64_decode("YWI="), to_bytes("ab"));
  EXPECT_FALSE(base64_decode("YWI").ok()) << "missing padding";
  EXPECT_FALSE(base64_decode("YW I=").ok()) << "whitespace";
  EXPECT_FALSE(base64_decode("YWJ=").ok()) << "non-zero padding bits";
  EXPECT_FALSE(base64_decode("-_8=").ok()) << "URL-safe alphabet";
  EXPECT_TRUE(base64_decode("").ok());
}

}  // namespace
}  // namespace countersign
