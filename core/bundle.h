// Bundle: what the box receives (DESIGN.md "Bundle"): a proposal, the document it approves
// and the signatures. The "manifest" member holds a manifest (install-model, remove-model: kind
// model; install-packages: kind packages) or, for rotate-policy, the new policy document, or, for
// restore-snapshot, the snapshot document (core/snapshot_doc.h). The signature list holds approvals and may
// hold vetoes (both signature files, core/signature_file.h). Parsing checks schema and shape only; whether
// the bundle is approved is verify_bundle's job (core/verify.h).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/manifest.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/result.h"
#include "core/signature_file.h"
#include "core/snapshot_doc.h"

namespace countersign {

inline constexpr std::string_view kBundleSchema = "countersign/bundle/v1";

class Bundle {
 public:
  static Result<Bundle> parse(const nlohmann::json& doc);
  static Result<Bundle> parse_text(std::string_view text);
  // Assembles a bundle. `subject` is the manifest (or new policy) document.
  static Result<Bundle> create(const Proposal& proposal, const nlohmann::json& subject,
                               std::vector<SignatureFile> signatures);

  const Proposal& proposal() const { return *proposal_; }
  // The approved document as received, and its JCS hash.
  const nlohmann::json& subject() const { return subject_; }
  const Digest& subject_hash() const { return subject_hash_; }
  // Set when the subject is a manifest / a policy.
  const std::optional<Manifest>& manifest() const { return manifest_; }
  const std::optional<Policy>& new_policy() const { return new_policy_; }
  const std::optional<SnapshotDoc>& snapshot() const { return snapshot_; }
  const std::vector<SignatureFile>& signatures() const { return signatures_; }

  nlohmann::json to_json() const;

 private:
  Bundle() = default;
  std::optional<Proposal> proposal_;
  nlohmann::json subject_;
  Digest subject_hash_{};
  std::optional<Manifest> manifest_;
  std::optional<Policy> new_policy_;
  std::optional<SnapshotDoc> snapshot_;
  std::vector<SignatureFile> signatures_;
};

}  // namespace countersign
