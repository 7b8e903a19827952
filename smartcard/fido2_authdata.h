// authenticatorData (WebAuthn Level 2, 6.1) as an authenticator writes it when it makes a
// credential: the fixed header and the attested credential data (6.5.1) with the
// credential's COSE_Key. What a fido2-packed attestation signs and what it says.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"
#include "core/sha256.h"

namespace countersign::fido2 {

// Flags (WebAuthn Level 2, 6.1, "flags").
inline constexpr std::uint8_t kFlagUserPresent = 0x01;
inline constexpr std::uint8_t kFlagUserVerified = 0x04;
inline constexpr std::uint8_t kFlagAttestedCredential = 0x40;
inline constexpr std::uint8_t kFlagExtensions = 0x80;

struct AttestedAuthenticatorData {
  Digest rp_id_hash;
  std::uint8_t flags;
  std::uint32_t sign_count;
  Bytes aaguid;         // 16 bytes
  Bytes credential_id;  // 1 to 1023 bytes
  PublicKey public_key;
};

// Parses `data` as the authenticatorData of a credential of `alg` (fido2-es256 or
// fido2-eddsa):
//   rpIdHash (32) || flags (1) || signCount (4, big-endian) ||
//   aaguid (16) || credentialIdLength L (2, big-endian) || credentialId (L) || COSE_Key
// The AT flag must be set; the ED flag must not (countersign asks for no extensions, and
// an authenticator adds none of its own accord), and nothing may follow the COSE_Key.
// L must be 1..1023 (WebAuthn Level 2, 6.5.1) and within the input; the COSE_Key is read
// by parse_cose_key (cose_key.h). Flags and rpIdHash are returned, not judged: that is the
// caller's (fido2_attestation.h). Allocates only the returned copies; every length is
// checked against the bytes left before it is used.
// Errors: kInvalidArgument for a non-FIDO2 alg; kMalformed naming the first thing wrong;
// parse_cose_key's errors for the key.
Result<AttestedAuthenticatorData> parse_attested_authenticator_data(Alg alg, ByteView data);

}  // namespace countersign::fido2
