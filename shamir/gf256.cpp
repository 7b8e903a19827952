#include "shamir/gf256.h"

#include <cstddef>

namespace countersign::shamir::gf256 {

std::uint8_t mul(std::uint8_t a, std::uint8_t b) {
  unsigned product = 0;
  unsigned aa = a;
  for (unsigned i = 0; i < 8; ++i) {
    // Add aa when bit i of b is set; the mask is all ones or all zeros.
    product ^= aa & (0u - ((static_cast<unsigned>(b) >> i) & 1u));
    // aa *= x, reduced by x^8+x^4+x^3+x+1 when it overflows.
    const unsigned high = (aa >> 7) & 1u;
    aa = ((aa << 1) ^ (0x11Bu & (0u - high))) & 0xFFu;
  }
  return static_cast<std::uint8_t>(product);
}

std::uint8_t inv(std::uint8_t a) {
  // a^254 = a^-1 in GF(256)*; fixed square-and-multiply chain over the bits of 254.
  std::uint8_t result = 1;
  std::uint8_t power = a;
  for (unsigned bit = 0; bit < 8; ++bit) {
    if (((254u >> bit) & 1u) != 0) result = mul(result, power);  // exponent is public
    power = mul(power, power);
  }
  return result;
}

Result<SecretBytes> interpolate(std::span<const Point> points, std::uint8_t x) {
  if (points.empty()) return make_error(Errc::kInvalidArgument, "interpolation needs at least one share");
  const std::size_t length = points[0].y.size();
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (points[i].y.size() != length) {
      return make_error(Errc::kInvalidArgument, "all share values must have the same length");
    }
    for (std::size_t j = i + 1; j < points.size(); ++j) {
      if (points[i].x == points[j].x) {
        return make_error(Errc::kInvalidArgument, "share indices must be unique");
      }
    }
  }
  for (const Point& p : points) {
    if (p.x == x) return SecretBytes::copy_of(p.y);
  }
  SecretBytes result(length);
  for (std::size_t i = 0; i < points.size(); ++i) {
    // Lagrange basis l_i(x) = prod_{j != i} (x - x_j) / (x_i - x_j); subtraction is XOR.
    // It depends only on the public indices.
    std::uint8_t numerator = 1;
    std::uint8_t denominator = 1;
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      numerator = mul(numerator, static_cast<std::uint8_t>(x ^ points[j].x));
      denominator = mul(denominator, static_cast<std::uint8_t>(points[i].x ^ points[j].x));
    }
    const std::uint8_t basis = mul(numerator, inv(denominator));
    for (std::size_t k = 0; k < length; ++k) {
      result.data()[k] = static_cast<std::uint8_t>(result.data()[k] ^ mul(basis, points[i].y[k]));
    }
  }
  return result;
}

}  // namespace countersign::shamir::gf256
