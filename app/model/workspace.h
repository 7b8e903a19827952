// Workspace: the documents open in one app window and what the views derive from them.
//
// Opening a file puts it where it belongs by kind: a proposal, the manifest it approves, the
// previous manifest (to diff against), a policy, signatures (for the open proposal only), a
// bundle (which brings its proposal, manifest and signatures), an audit log export, a
// checkpoint, the box's attestation document and a packages manifest's review material.
// Everything here is plain C++ over core; the Qt models and views read it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/model/box_attestation.h"
#include "app/model/document.h"
#include "core/audit_verify.h"
#include "core/bundle.h"
#include "core/liveness.h"
#include "core/manifest.h"
#include "core/manifest_diff.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/secret.h"
#include "core/signature_file.h"
#include "core/verify.h"
#include "smartcard/attestation.h"

namespace countersign::app {

struct SignatureEntry {
  SignatureFile signature;
  std::string source;  // file path, "bundle" or "pasted"
};

struct Workspace {
  std::optional<Proposal> proposal;
  std::string proposal_path;
  std::optional<Manifest> manifest;       // the manifest the proposal approves (or the one opened)
  std::optional<nlohmann::json> subject;  // the approved document as received, for bundles
  std::string manifest_path;
  std::optional<Manifest> previous;  // the manifest to diff against
  std::string previous_path;
  std::optional<Policy> policy;
  std::string policy_path;
  std::vector<SignatureEntry> signatures;
  std::optional<Bundle> bundle;
  std::string bundle_path;
  std::optional<AuditExport> log;
  std::string log_path;
  std::optional<CheckpointNote> checkpoint;
  std::string checkpoint_path;
  std::optional<AttestationDocument> attestation;  // the box's AWS Nitro attestation
  std::string attestation_path;
  // Review material of a packages manifest (`packages plan --review`): the changelog entries
  // of each package. Shown only with the manifest it names (packages_review_for_manifest).
  std::optional<PackagesReview> packages_review;
  std::string packages_review_path;
  std::string known_manifests_dir;  // folder searched for the proposal's previous manifest
  // What hardware attestations are checked against (Policy view, Collect, Verify, and
  // whether a PIV card may wait for a touch): the pinned vendor roots, plus the app's
  // --attestation-root files (attestation::Roots::pinned_plus).
  attestation::Roots attestation_roots = attestation::Roots::pinned();
  // What the box's attestation document is judged with (box_attestation.h): its log and TLS
  // keys and the Nitro root, from --box-log-key, --box-tls-key and --nitro-root.
  NitroInputs nitro;

  // Loads a file and adds it. Returns what happened in one line ("opened proposal x.json").
  Result<std::string> open(const std::string& path);
  // Adds a parsed document. A signature for another proposal than the open one is refused
  // (kInvalidArgument naming both ids); a repeated signature is ignored.
  Result<std::string> add(Document doc);
  // A manifest opened by hand as the one to diff against.
  Result<std::string> open_previous(const std::string& path);
  // A one-line (or pretty) signature pasted as text.
  Result<std::string> add_signature_text(std::string_view text);
  // Looks for the proposal's `previous` manifest in known_manifests_dir (every *.json file
  // that is a manifest with that hash). Returns the path found, or kNotFound saying where
  // it looked.
  Result<std::string> find_previous();

  // The open review material when it is the review of the open packages manifest; nullptr
  // otherwise (none open, no manifest, or the review of another manifest).
  const PackagesReview* packages_review_for_manifest() const;

  std::vector<SignatureFile> signature_files() const;
  std::optional<ManifestDiff> diff() const;
};

// The approval state of the open proposal's signatures under the open policy, as the box
// would judge it now (attestation checked against ws.attestation_roots).
struct Approval {
  VerifyReport report;
  std::size_t counted = 0;
  std::uint64_t threshold = 0;
  bool met = false;      // threshold and roles met and no other check failed
  std::string progress;  // "2 of 3 approvals — still needs 1 more, including someone from compliance"
};
// kInvalidArgument when no proposal or no policy is open.
Result<Approval> approval(const Workspace& ws, UnixTime now);

// A bundle of the open proposal, its manifest (or new policy) and every signature that is
// not invalid. kInvalidArgument saying what is missing.
Result<Bundle> assemble_bundle(const Workspace& ws, UnixTime now);
// assemble_bundle, then an atomic write of the pretty JSON to `path`.
Result<Bundle> export_bundle(const Workspace& ws, const std::string& path, UnixTime now);

// The report `countersign bundle verify` prints for the open bundle (or, without one, for
// the bundle the Collect view would export) under the open policy.
struct BundleCheck {
  VerifyReport report;
  std::string text;
};
Result<BundleCheck> verify_open_bundle(const Workspace& ws, UnixTime now, const std::string& box_id);

// Approver liveness under the open policy, from the "approver-proved" entries of the open
// audit log export (core/liveness.h). kInvalidArgument when no policy or no log is open.
Result<LivenessReport> liveness(const Workspace& ws, UnixTime now);

// Whether a key's hardware attestation verifies against `roots`, in words.
struct KeyAttestation {
  bool verified = false;
  std::string text;
};
KeyAttestation key_attestation(const PolicyKey& key, const attestation::Roots& roots);

// Signs the proposal with a software key file. Refuses an expired proposal. The passphrase
// is only read; the caller wipes it.
Result<SignatureFile> sign_with_key_file(const Proposal& proposal, const std::string& key_path,
                                         const SecretBytes& passphrase, std::optional<std::string> signer,
                                         UnixTime now);
// Who holds the key in a software key file under `policy` (may be null): "alice (Alice
// Chen, CTO)", or a sentence saying the key is not in the policy. Reads the public part only.
Result<std::string> key_file_holder(const std::string& key_path, const Policy* policy);
// Writes a signature file (never over an existing file).
Result<void> save_signature(const SignatureFile& sig, const std::string& path);
// The signature as one line of JSON (its JCS form), for pasting and QR codes.
std::string signature_one_line(const SignatureFile& sig);

// Checks the open audit log export against the open checkpoint (if any) with the log key
// (a vkey: "name+hexid+base64"). Returns the report in words.
Result<std::string> verify_log(const Workspace& ws, std::string_view vkey);

}  // namespace countersign::app
