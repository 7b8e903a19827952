// GF(256) arithmetic against a table-based reference and the field axioms.
#include "shamir/gf256.h"

#include <gtest/gtest.h>

namespace countersign::shamir {
namespace {

// Reference: Russian peasant multiplication with the Rijndael polynomial, written plainly.
std::uint8_t slow_mul(std::uint8_t a, std::uint8_t b) {
  unsigned r = 0, x = a, y = b;
  while (y != 0) {
    if ((y & 1u) != 0) r ^= x;
    x <<= 1;
    if ((x & 0x100u) != 0) x ^= 0x11Bu;
    y >>= 1;
  }
  return static_cast<std::uint8_t>(r);
}

TEST(Gf256, MultiplicationMatchesReferenceForAllPairs) {
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_EQ(gf256::mul(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)),
                slow_mul(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)))
          << a << " * " << b;
    }
  }
  EXPECT_EQ(gf256::mul(0x53, 0xCA), 0x01);  // FIPS-197 section 4.2 example of inverses
}

TEST(Gf256, InverseOfEveryNonZeroElement) {
  for (unsigned a = 1; a < 256; ++a) {
    EXPECT_EQ(gf256::mul(static_cast<std::uint8_t>(a), gf256::inv(static_cast<std::uint8_t>(a))), 1) << a;
  }
  EXPECT_EQ(gf256::inv(0), 0);
}

TEST(Gf256, InterpolationRecoversALine) {
  // P(x) = 7 + 3x: P(1) = 7 ^ 3 = 4, P(2) = 7 ^ 6 = 1; P(0) must be 7.
  const std::uint8_t y1[] = {4}, y2[] = {1};
  const gf256::Point pts[] = {{1, y1}, {2, y2}};
  auto at0 = gf256::interpolate(pts, 0);
  ASSERT_TRUE(at0.ok());
  EXPECT_EQ(at0->data()[0], 7);
  const gf256::Point dup[] = {{1, y1}, {1, y2}};
  EXPECT_FALSE(gf256::interpolate(dup, 0).ok());
}

}  // namespace
}  // namespace countersign::shamir
