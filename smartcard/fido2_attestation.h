// Checks a FIDO2 "fido2-packed" attestation carried by a policy key entry (DESIGN.md
// "Policy", hardware attestation): that the key entry's credential was made inside an
// authenticator whose attestation certificate chains to a pinned vendor root.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/policy.h"
#include "core/result.h"

namespace countersign::fido2 {

struct AttestationInfo {
  Bytes aaguid;         // 16 bytes, names the authenticator model
  std::string subject;  // the attestation certificate's subject, one line
};

// Verifies `key.attestation` (format "fido2-packed"), in this order:
//  1. authenticatorData parses (parse_attested_authenticator_data, fido2_authdata.h: no
//     extensions, nothing after the COSE_Key) and its attested credential data has
//     key.credential_id and key.key; rpIdHash = SHA-256(rp_id) and the user-present flag is
//     set (kInvalidDocument otherwise);
//  2. the packed attestation signature (WebAuthn Level 2, 8.2) by the first certificate over
//     authenticatorData || clientDataHash: ECDSA with SHA-256 (alg ES256, which libfido2
//     also assumes when the statement's alg is not kept), DER signature, through OpenSSL
//     (kMalformed for a certificate that is not DER X.509, kCrypto otherwise);
//  3. the certificate chains (further certificates as intermediates) to one of `roots_der`
//     (OpenSSL X509_verify_cert; kRejected otherwise).
// kInvalidArgument when the key carries no attestation or another format. No libfido2 and
// no CBOR library: the box links this (tests/smartcard/fido2_attestation_test.cpp checks
// its verdicts against libfido2's fido_cred_verify).
Result<AttestationInfo> verify_attestation(const PolicyKey& key, std::string_view rp_id,
                                           const std::vector<Bytes>& roots_der);

}  // namespace countersign::fido2
