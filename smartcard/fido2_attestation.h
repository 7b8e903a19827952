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
//  1. authenticatorData: rpIdHash = SHA-256(rp_id), user present, and attested credential
//     data whose credential id equals key.credential_id and whose public key equals key.key
//     (kInvalidDocument otherwise);
//  2. the packed attestation signature (WebAuthn Level 2, 8.2) by the first certificate over
//     authenticatorData || clientDataHash (libfido2 fido_cred_verify; kCrypto otherwise);
//  3. the certificate chains (further certificates as intermediates) to one of `roots_der`
//     (OpenSSL X509_verify_cert; kRejected otherwise).
// kInvalidArgument when the key carries no attestation or another format.
Result<AttestationInfo> verify_attestation(const PolicyKey& key, std::string_view rp_id,
                                           const std::vector<Bytes>& roots_der);

// What `policy check` and the app's Policy view say about one key's attestation, for RP
// kFido2RpId: "no hardware attestation", "<format> (not checked by this build)",
// "fido2-packed NOT verified: <reason>" or "fido2-packed verified: <subject>, aaguid <hex>".
struct AttestationStatus {
  bool verified = false;
  std::string text;
  std::string aaguid;  // hex, when verified
};
AttestationStatus attestation_status(const PolicyKey& key, const std::vector<Bytes>& roots_der);

}  // namespace countersign::fido2
