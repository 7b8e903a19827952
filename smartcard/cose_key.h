// A FIDO2 credential public key as authenticators write it: a COSE_Key (RFC 9052 section 7,
// RFC 9053 sections 7.1 and 7.2) in CTAP2 canonical CBOR, the last part of the attested
// credential data in authenticatorData (WebAuthn Level 2, 6.5.1).
#pragma once

#include <cstddef>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"

namespace countersign::fido2 {

struct CoseKey {
  PublicKey key;
  std::size_t length;  // the bytes of the input the COSE_Key took
};

// Reads the one COSE_Key at the start of `in` (bytes may follow it: authenticatorData's
// extensions) as a key of `alg`:
//   fido2-es256  {1 kty: 2 (EC2), 3 alg: -7 (ES256), -1 crv: 1 (P-256), -2 x: 32 bytes, -3 y: 32 bytes}
//   fido2-eddsa  {1 kty: 1 (OKP), 3 alg: -8 (EdDSA), -1 crv: 6 (Ed25519), -2 x: 32 bytes}
// Each label exactly once, in any order, and no other label: WebAuthn Level 2, 6.5.1.1
// ("MUST contain the alg parameter and MUST NOT contain any other OPTIONAL parameters").
// The point goes through PublicKey::from_raw, so it passes every check of core.
// Errors: kInvalidArgument for a non-FIDO2 alg; kMalformed for CBOR cbor_reader.h refuses,
// a missing, repeated, unknown or ill-typed label, or a kty, alg or crv other than the above
// (naming it); core's errors for a point core refuses.
// Reads with cbor::Reader: allocates nothing, whatever lengths the input declares.
Result<CoseKey> parse_cose_key(Alg alg, ByteView in);

}  // namespace countersign::fido2
