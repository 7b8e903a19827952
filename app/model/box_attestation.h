// The Review view's "Box attestation" row: the box's AWS Nitro attestation
// document, opened like any other file, judged beside the proposal by nitro::judge
// (smartcard/nitro_binding.h: the chain to the root, an approved image of the policy, the
// binding to the box) with the box's keys and the Nitro root the app was given on its
// command line. Nothing is verified here: every check is judge's, the same as
// `countersign proposal show --attestation` and `attest verify`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/timeutil.h"
#include "smartcard/nitro.h"

namespace countersign::app {

struct Workspace;

// What an attestation document is judged with: given per run (--box-log-key, --box-tls-key,
// --nitro-root), never saved.
struct NitroInputs {
  std::optional<Bytes> log_key_spki;                 // the box's log key (Ed25519 SubjectPublicKeyInfo, DER)
  std::optional<Bytes> tls_key_spki;                 // its API's TLS key (SubjectPublicKeyInfo, DER)
  std::vector<Bytes> roots = nitro::pinned_roots();  // DER
  std::string test_root;  // the --nitro-root file the roots came from; empty: AWS's, pinned
};

// --box-log-key: the SubjectPublicKeyInfo of the box's Ed25519 log verifier key in a vkey
// file (note::Verifier::parse, nitro::log_key_spki). Errors name the file: kNotFound / kIo
// from reading, kMalformed or kUnsupported for a file that is not a vkey, kInvalidArgument
// for a key that is not Ed25519.
Result<Bytes> read_box_log_key(const std::string& path);
// --box-tls-key: the SubjectPublicKeyInfo of a TLS certificate (PEM or DER) or PEM public
// key (x509::read_spki). Errors name the file.
Result<Bytes> read_box_tls_key(const std::string& path);
// --nitro-root: the certificates (PEM or DER) to check documents against instead of the
// pinned AWS Nitro Enclaves root. Errors name the file; kMalformed when it holds none.
Result<std::vector<Bytes>> read_nitro_root(const std::string& path);

struct BoxAttestationLine {
  enum class Tone {
    kPlain,     // nothing to judge, and nothing asks for it
    kApproved,  // an approved image, checked against the pinned AWS root
    kWarning,   // an approved image, but checked against a test root (--nitro-root)
    kRefused,   // NOT APPROVED, or NOT CHECKED where the rule requires an attested image
  };
  Tone tone = Tone::kPlain;
  std::string text;  // escaped (judge's line already is; box ids through escape_untrusted)
};

// The row for the open proposal (or, without one, for the document alone):
// - attestation and policy open: judge(doc, policy, roots, now, now, box, no nonce), where box
//   is the proposal's one box with the log key (and TLS key) given; approved: judge's line
//   ("box-7f3a runs approved image safebox-2026.11, attested 12m ago"), with " — binding to
//   the box not checked (...)" when there was no box to check; otherwise "NOT APPROVED: " and
//   the reason;
// - no attestation, and the rule for the proposal's action has attested_image:
//   "NOT CHECKED: the rule for install-model requires an attested image; ...";
// - attestation but no policy: "not checked: open the policy to judge the attestation";
// - otherwise "not checked (no attestation document open)".
// Judged against a test root, a WARNING line follows naming the file.
BoxAttestationLine box_attestation(const Workspace& ws, UnixTime now);

}  // namespace countersign::app
