// Threshold sharing of one byte string with an integrity digest (SLIP-0039 "Sharing a
// secret" / "Recovering the secret"): the secret is the value of the polynomial at x = 255
// and a digest share at x = 254 holds HMAC-SHA256(key = R, msg = secret)[0:4] || R for a
// random R, so that recovery from wrong or mixed shares is detected.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "shamir/gf256.h"

namespace countersign::shamir {

inline constexpr std::uint8_t kSecretIndex = 255;
inline constexpr std::uint8_t kDigestIndex = 254;
inline constexpr std::size_t kDigestBytes = 4;

struct RawShare {
  std::uint8_t x = 0;
  SecretBytes value;
};

// Splits `secret` (at least 4 bytes) into `count` shares with x = 0..count-1 of which any
// `threshold` recover it. With threshold 1 every share is the secret itself. Random bytes
// come from libsodium. kInvalidArgument for threshold < 1, threshold > count, count > 16.
Result<std::vector<RawShare>> split_secret(unsigned threshold, unsigned count, const SecretBytes& secret);

// Recovers the secret from exactly `threshold` points (threshold >= 2) and checks the
// digest: kHashMismatch "digest mismatch" when the shares do not belong together.
// With threshold 1 returns the single point's value. kInvalidArgument for duplicate x or
// mixed lengths.
Result<SecretBytes> recover_secret(unsigned threshold, std::span<const gf256::Point> points);

}  // namespace countersign::shamir
