// The SLIP-0039 passphrase encryption of the master secret (SLIP-0039 "Encryption of the
// master secret"): a 4-round Feistel network whose round function is
//
//   F_i(R) = PBKDF2-HMAC-SHA256(password = i || passphrase, salt = salt || R,
//                               iterations = 2500 << e, length = |R|)
//
// with salt = "shamir" || identifier (2 bytes, big-endian) for non-extendable shares and the
// empty string for extendable ones. PBKDF2 is OpenSSL's.
//
// Every passphrase decrypts to some secret: a wrong passphrase gives a different, valid
// looking secret and cannot be detected. That is by design (plausible deniability).
#pragma once

#include <cstdint>

#include "core/result.h"
#include "core/secret.h"

namespace countersign::shamir {

struct CipherParams {
  std::uint16_t identifier = 0;
  bool extendable = false;
  std::uint8_t iteration_exponent = 0;  // 0..15
};

// SLIP-0039 passphrases are printable ASCII (32..126); an empty passphrase is allowed.
// Returns kInvalidArgument naming the first offending position otherwise.
Result<void> check_passphrase(const SecretBytes& passphrase);

// Encrypts or decrypts `input` (even length). kInvalidArgument for an odd length, a
// passphrase that is not printable ASCII or an exponent above 15; kInternal if OpenSSL fails.
Result<SecretBytes> encrypt_master_secret(const SecretBytes& master_secret, const SecretBytes& passphrase,
                                          const CipherParams& params);
Result<SecretBytes> decrypt_master_secret(const SecretBytes& encrypted, const SecretBytes& passphrase,
                                          const CipherParams& params);

}  // namespace countersign::shamir
