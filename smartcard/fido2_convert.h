// Conversions between the forms libfido2 hands out and core's types. Separate from the
// device so they can be tested against libfido2's regress vectors and fuzzed.
#pragma once

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"

namespace countersign::fido2 {

// A credential public key as libfido2 gives it after decoding the COSE_Key
// (fido_cred_pubkey_ptr): for fido2-es256 the 64 bytes x || y, for fido2-eddsa the 32-byte
// Ed25519 key. Goes through libfido2's es256_pk / eddsa_pk -> EVP_PKEY -> SPKI DER
// (i2d_PUBKEY) -> PublicKey::parse, so the result passes every check of core.
// Errors: kInvalidArgument for a non-FIDO2 alg, kMalformed for a key libfido2 refuses,
// core's errors for one core refuses.
Result<PublicKey> public_key_from_libfido2(Alg alg, ByteView raw);

// authenticatorData as libfido2 gives it for an assertion (fido_assert_authdata_ptr): a
// CBOR byte string (CTAP 2.1 section 6.2.2, member 0x02). Returns its contents; kMalformed
// for anything but exactly one definite byte string with a shortest-form head (read by
// cbor_reader.h: nothing is allocated before the length is checked against the input).
Result<Bytes> unwrap_authenticator_data(ByteView cbor);

}  // namespace countersign::fido2
