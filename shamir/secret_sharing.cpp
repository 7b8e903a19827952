#include "shamir/secret_sharing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <cstring>

#include "core/openssl_util.h"

namespace countersign::shamir {

namespace {

// HMAC-SHA256(key = random_part, msg = secret), first 4 bytes (SLIP-0039 "digest share").
Result<SecretBytes> create_digest(ByteView random_part, ByteView secret) {
  SecretBytes mac(EVP_MAX_MD_SIZE);
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), random_part.data(), static_cast<int>(random_part.size()), secret.data(),
           secret.size(), mac.data(), &mac_len) == nullptr ||
      mac_len < kDigestBytes) {
    return detail::openssl_failure("HMAC-SHA256 (OpenSSL)");
  }
  mac.truncate(kDigestBytes);
  return mac;
}

}  // namespace

Result<std::vector<RawShare>> split_secret(unsigned threshold, unsigned count, const SecretBytes& secret) {
  if (threshold < 1) return make_error(Errc::kInvalidArgument, "a threshold must be at least 1");
  if (threshold > count) {
    return make_error(Errc::kInvalidArgument, "a threshold (" + std::to_string(threshold) +
                                                  ") cannot exceed the number of shares (" +
                                                  std::to_string(count) + ")");
  }
  if (count > 16) return make_error(Errc::kInvalidArgument, "at most 16 shares per level");
  if (secret.size() < kDigestBytes)
    return make_error(Errc::kInvalidArgument, "the secret is too short to share");
  ensure_sodium_initialized();
  std::vector<RawShare> shares;
  shares.reserve(count);
  if (threshold == 1) {
    for (unsigned i = 0; i < count; ++i)
      shares.push_back({static_cast<std::uint8_t>(i), SecretBytes::copy_of(secret.view())});
    return shares;
  }
  // threshold - 2 random shares, the digest share and the secret fix the polynomial.
  const unsigned random_count = threshold - 2;
  for (unsigned i = 0; i < random_count; ++i) {
    SecretBytes v(secret.size());
    randombytes_buf(v.data(), v.size());
    shares.push_back({static_cast<std::uint8_t>(i), std::move(v)});
  }
  SecretBytes digest_share(secret.size());
  randombytes_buf(digest_share.data() + kDigestBytes, secret.size() - kDigestBytes);
  CS_TRY(SecretBytes digest, create_digest(digest_share.view().subspan(kDigestBytes), secret.view()));
  std::memcpy(digest_share.data(), digest.data(), kDigestBytes);

  std::vector<gf256::Point> base;
  for (const RawShare& s : shares) base.push_back({s.x, s.value.view()});
  base.push_back({kDigestIndex, digest_share.view()});
  base.push_back({kSecretIndex, secret.view()});
  for (unsigned i = random_count; i < count; ++i) {
    CS_TRY(SecretBytes v, gf256::interpolate(base, static_cast<std::uint8_t>(i)));
    shares.push_back({static_cast<std::uint8_t>(i), std::move(v)});
  }
  return shares;
}

Result<SecretBytes> recover_secret(unsigned threshold, std::span<const gf256::Point> points) {
  if (points.empty()) return make_error(Errc::kInvalidArgument, "no shares to recover from");
  if (threshold == 1) return SecretBytes::copy_of(points[0].y);
  CS_TRY(SecretBytes secret, gf256::interpolate(points, kSecretIndex));
  CS_TRY(SecretBytes digest_share, gf256::interpolate(points, kDigestIndex));
  if (digest_share.size() < kDigestBytes)
    return make_error(Errc::kInvalidArgument, "share values are too short");
  CS_TRY(SecretBytes digest, create_digest(digest_share.view().subspan(kDigestBytes), secret.view()));
  if (sodium_memcmp(digest.data(), digest_share.data(), kDigestBytes) != 0) {
    return make_error(
        Errc::kHashMismatch,
        "digest mismatch: these shares do not recover a consistent secret (one is corrupt, or they "
        "come from different backups with the same identifier)");
  }
  return secret;
}

}  // namespace countersign::shamir
