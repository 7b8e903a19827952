// Arithmetic in GF(256) and Lagrange interpolation over it: the Shamir layer of SLIP-0039
// ("Shamir's secret sharing", field GF(2^8) with the Rijndael polynomial x^8+x^4+x^3+x+1).
//
// Multiplication is done bit by bit with masks, without log/exp tables, so that the time
// and the memory addresses touched do not depend on secret share bytes.
#pragma once

#include <cstdint>
#include <span>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"

namespace countersign::shamir::gf256 {

// a * b in GF(256). Constant time.
std::uint8_t mul(std::uint8_t a, std::uint8_t b);
// The multiplicative inverse a^254; inv(0) is 0. Constant time.
std::uint8_t inv(std::uint8_t a);

// One point of a polynomial per byte position: y[k] = P_k(x). `y` is borrowed.
struct Point {
  std::uint8_t x = 0;
  ByteView y;
};

// Evaluates at `x` the polynomials of degree < points.size() through `points`, byte position
// by byte position. Errors (kInvalidArgument): no points, two points with the same x, or
// values of different lengths. When `x` is one of the points, returns a copy of its value.
Result<SecretBytes> interpolate(std::span<const Point> points, std::uint8_t x);

}  // namespace countersign::shamir::gf256
