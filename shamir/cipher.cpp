#include "shamir/cipher.h"

#include <openssl/evp.h>

#include <cstring>
#include <string>

#include "core/openssl_util.h"

namespace countersign::shamir {

namespace {

constexpr unsigned kRounds = 4;
constexpr unsigned kBaseIterations = 10000;  // split over the 4 rounds

Result<SecretBytes> feistel(const SecretBytes& input, const SecretBytes& passphrase,
                            const CipherParams& params, bool encrypt) {
  if (input.size() % 2 != 0 || input.empty()) {
    return make_error(Errc::kInvalidArgument,
                      "the master secret must have an even, non-zero number of bytes");
  }
  if (params.iteration_exponent > 15) {
    return make_error(Errc::kInvalidArgument, "the iteration exponent must be between 0 and 15");
  }
  CS_TRY_VOID(check_passphrase(passphrase));
  const std::size_t half = input.size() / 2;
  SecretBytes left = SecretBytes::copy_of(input.view().subspan(0, half));
  SecretBytes right = SecretBytes::copy_of(input.view().subspan(half));

  // Salt prefix: "shamir" || id for non-extendable shares (SLIP-0039 since 2024 leaves it
  // out for extendable ones so that the identifier can change between backups).
  std::string prefix;
  if (!params.extendable) {
    prefix = "shamir";
    prefix += static_cast<char>(params.identifier >> 8);
    prefix += static_cast<char>(params.identifier & 0xFF);
  }
  SecretBytes password(1 + passphrase.size());
  if (!passphrase.empty()) std::memcpy(password.data() + 1, passphrase.data(), passphrase.size());
  SecretBytes salt(prefix.size() + half);
  std::memcpy(salt.data(), prefix.data(), prefix.size());
  SecretBytes f(half);
  const int iterations = static_cast<int>((kBaseIterations << params.iteration_exponent) / kRounds);

  for (unsigned step = 0; step < kRounds; ++step) {
    const unsigned round = encrypt ? step : kRounds - 1 - step;
    password.data()[0] = static_cast<std::uint8_t>(round);
    std::memcpy(salt.data() + prefix.size(), right.data(), half);
    if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()), static_cast<int>(password.size()),
                          salt.data(), static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(half), f.data()) != 1) {
      return detail::openssl_failure("PBKDF2-HMAC-SHA256 (OpenSSL)");
    }
    // (L, R) <- (R, L xor F(R))
    for (std::size_t k = 0; k < half; ++k)
      left.data()[k] = static_cast<std::uint8_t>(left.data()[k] ^ f.data()[k]);
    std::swap(left, right);
  }
  SecretBytes out(input.size());
  std::memcpy(out.data(), right.data(), half);
  std::memcpy(out.data() + half, left.data(), half);
  return out;
}

}  // namespace

Result<void> check_passphrase(const SecretBytes& passphrase) {
  for (std::size_t i = 0; i < passphrase.size(); ++i) {
    const std::uint8_t c = passphrase.data()[i];
    if (c < 32 || c > 126) {
      return make_error(Errc::kInvalidArgument,
                        "the SLIP-39 passphrase may contain only printable ASCII characters (space to ~); "
                        "character " +
                            std::to_string(i + 1) + " is not one");
    }
  }
  return {};
}

Result<SecretBytes> encrypt_master_secret(const SecretBytes& master_secret, const SecretBytes& passphrase,
                                          const CipherParams& params) {
  return feistel(master_secret, passphrase, params, true);
}

Result<SecretBytes> decrypt_master_secret(const SecretBytes& encrypted, const SecretBytes& passphrase,
                                          const CipherParams& params) {
  return feistel(encrypted, passphrase, params, false);
}

}  // namespace countersign::shamir
