#include "core/bytes.h"

#include <gtest/gtest.h>

#include <array>

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

TEST(Hex, DecodesExactlyLowercaseIntoAFixedBuffer) {
  std::array<std::uint8_t, 3> out{};
  ASSERT_TRUE(decode_lower_hex("00abff", out));
  EXPECT_EQ(out, (std::array<std::uint8_t, 3>{0x00, 0xab, 0xff}));
  EXPECT_FALSE(decode_lower_hex("00ABff", out)) << "uppercase";
  EXPECT_FALSE(decode_lower_hex("00abf", out)) << "too short";
  EXPECT_FALSE(decode_lower_hex("00abff00", out)) << "too long";
  EXPECT_FALSE(decode_lower_hex("00agff", out)) << "not a hex digit";
  EXPECT_FALSE(decode_lower_hex(std::string_view("00a\0ff", 6), out)) << "NUL";
  for (int c = 0; c < 256; ++c) {
    std::string two = {static_cast<char>(c), '0'};
    std::array<std::uint8_t, 1> one{};
    const bool want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    EXPECT_EQ(decode_lower_hex(two, one), want) << "byte " << c;
  }
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
