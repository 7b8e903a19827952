// Hardware attestation of policy keys (DESIGN.md "Policy", hardware attestation): whether a
// key is proven to live in a vendor's hardware, checked against pinned vendor roots, and
// what the attestation says (model, serial, firmware, PIN and touch policy).
//
// Two formats:
//   fido2-packed  FIDO2 packed attestation of the enrolment (fido2_attestation.h).
//   yubikey-piv   YubiKey PIV slot attestation: certificates = [slot attestation
//                 certificate, attestation key certificate (object 5FFF01), further
//                 intermediates...]. Each certificate must be signed by the next and the
//                 last by a pinned root; the first must certify the policy key itself.
//                 Validity periods are not checked (an attestation proves where a key was
//                 made, not that a certificate is current), nor are CA flags: Yubico's older
//                 attestation intermediates are X.509 v1 certificates, which path validation
//                 refuses as CAs (piv-go checks these chains the same way).
// Everything here works offline and needs no device: the signing tools and the box both use it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/policy.h"
#include "core/result.h"

namespace countersign::attestation {

// Trusted roots per format (DER).
struct Roots {
  std::vector<Bytes> fido2;  // for fido2-packed
  std::vector<Bytes> piv;    // for yubikey-piv

  // The vendor roots compiled in (smartcard/roots/, origin in SOURCE.txt): Yubico's FIDO
  // root for fido2-packed; Yubico's PIV root and (for keys attested before 2018) its U2F
  // root for yubikey-piv.
  static Roots pinned();
  // Adds the certificates of PEM or DER files as roots for both formats (another vendor,
  // a test CA). Errors: the file's read or parse error, naming it.
  Result<void> add_files(const std::vector<std::string>& paths);
  // pinned() plus add_files(paths): what --attestation-root and the box's
  // attestation_root setting give.
  static Result<Roots> pinned_plus(const std::vector<std::string>& paths);
};

// What a YubiKey PIV attestation certificate says about the key (Yubico's extensions under
// 1.3.6.1.4.1.41482.3); each field is empty when the certificate does not carry it.
struct PivFacts {
  std::string firmware;                 // ".3": "5.4.3"
  std::optional<std::uint32_t> serial;  // ".7"
  std::string pin_policy;               // ".8" first byte: "never", "once", "always"
  std::string touch_policy;             // ".8" second byte: "never", "always", "cached"
  std::string subject;                  // the slot attestation certificate's subject
};

// Verifies a yubikey-piv attestation (see the header comment). Errors: kInvalidArgument
// when the key carries none or another format, kMalformed for unreadable certificates,
// kInvalidDocument when the attestation certifies another key, kCrypto when a certificate
// is not signed by the next, kRejected when the chain does not end at one of `roots_der`.
Result<PivFacts> verify_yubikey_piv(const PolicyKey& key, const std::vector<Bytes>& roots_der);

// The outcome for one policy key, for people (detail) and scripts (to_json).
struct Check {
  bool verified = false;
  std::string format;  // empty when the key carries no attestation
  std::string detail;  // "yubikey-piv verified: YubiKey serial 1234567, firmware 5.4.3, ..."
                       // or why it is not verified
  std::string aaguid;  // fido2-packed: the authenticator model (hex)
  std::string model;   // fido2-packed: its name where known (fido2_model)
  std::string subject;
  PivFacts piv;  // yubikey-piv
  nlohmann::json to_json() const;
};

// The authenticator model a FIDO2 AAGUID (16 bytes) names, for the YubiKeys Yubico lists in
// "YubiKey Hardware FIDO2 AAGUIDs" (developers.yubico.com); "" for any other.
std::string fido2_model(ByteView aaguid);

// Checks `key`'s attestation of any format against `roots`. Never fails: an unverified
// attestation is a Check with verified = false and the reason in detail.
Check check(const PolicyKey& key, const Roots& roots);

}  // namespace countersign::attestation
