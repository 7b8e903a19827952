// A verified Nitro attestation (nitro.h) against the policy (DESIGN.md "Policy", `images`):
// which approved image it shows, and whether it binds this box.
//
// An image matches when every PCR it lists is equal to the document's, and the enclave is not
// in debug mode (a debug enclave's PCRs 0-2 are zero and its memory is open to the parent
// instance, so it matches nothing). A document binds a box when its user_data is
//   SHA-256(JCS({"box": <box id>, "log_key": <log public key, SPKI DER base64>,
//                "tls_key": <the API's TLS public key, SPKI DER base64; absent when none>}))
// so an attestation made for one box, or for another log key, is refused for this one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "smartcard/nitro.h"

namespace countersign::nitro {

// The approved image `report` matches, pointing into `policy`. Errors (kRejected), each
// saying why: a debug-mode enclave, a policy with no aws-nitro images, no image whose PCRs
// all match (naming, for each image, the first PCR that differs or is missing).
Result<const Image*> match_image(const Report& report, const Policy& policy);

// What the box puts in user_data (see the header comment). `log_key_spki` and `tls_key_spki`
// are SubjectPublicKeyInfo DER. Errors: kInvalidArgument for a box id that is not a name.
Result<Digest> binding(std::string_view box_id, ByteView log_key_spki, std::optional<ByteView> tls_key_spki);

// Whether `report`'s user_data is binding(box_id, log_key_spki, tls_key_spki). Errors
// (kRejected): no user_data, user_data that is not 32 bytes, or another binding.
Result<void> check_binding(const Report& report, std::string_view box_id, ByteView log_key_spki,
                           std::optional<ByteView> tls_key_spki);

// What the box's own check of itself found: the approved image it runs and the document.
struct SelfAttestation {
  std::string image;  // the approved image's name (untrusted text from the policy)
  Report report;
};

// A document as a file holds it: raw CBOR (a COSE_Sign1 starts with 0xd2, tag 18, or 0x84, an
// array of 4, neither a base64 character) or its base64, as the AWS SDKs print it (line
// breaks and spaces allowed). Errors (kMalformed) name `name`.
Result<Bytes> document_from_file_text(std::string_view text, const std::string& name);

// The SubjectPublicKeyInfo of the box's log key as the binding carries it, from its verifier
// key (vkey). kInvalidArgument for a key that is not Ed25519 (type 0x01).
Result<Bytes> log_key_spki(const note::Verifier& log_key);

// Who the box is, as its binding names it: its id, log key and API TLS key (SPKI DER).
struct BoxKeys {
  std::string box_id;
  Bytes log_key_spki;
  std::optional<Bytes> tls_key_spki;
};

// What an approver is told about a box's attestation beside a proposal (`proposal show`, the
// app's Review view, the first line of `attest verify`).
struct Verdict {
  bool approved = false;
  // Approved: "box-7f3a runs approved image safebox-2026.11, attested 12m ago" ("the enclave"
  // when no box was given). Otherwise why not, the first failure of: the document does not
  // verify, no approved image (or a debug-mode enclave), another box or key, another nonce.
  // Untrusted text in it is escaped.
  std::string line;
  std::optional<Report> report;  // when the document verified
  std::string image;             // the approved image's name, when one matched (unescaped)
};

// Judges `cose` at `at` (the chain's time) as of `now` (for the age), against the policy's
// images, and, when given, the binding to `box` and the nonce asked for.
Verdict judge(ByteView cose, const Policy& policy, const std::vector<Bytes>& roots, UnixTime at, UnixTime now,
              const std::optional<BoxKeys>& box, const std::optional<Bytes>& nonce);

// The System component's check before an action whose rule says attested_image (DESIGN.md
// "Policy"): `cose`, just obtained from the box's Nitro Secure Module for `nonce`, verifies
// against `roots` at `at`, carries that nonce (so it is fresh, not a replay of an older one),
// matches an approved image and binds `box`. Errors: verify()'s, match_image()'s and
// check_binding()'s, and kRejected for another nonce; each message starts with what failed.
Result<SelfAttestation> check_self(ByteView cose, const Policy& policy, const std::vector<Bytes>& roots,
                                   UnixTime at, ByteView nonce, const BoxKeys& box);

}  // namespace countersign::nitro
