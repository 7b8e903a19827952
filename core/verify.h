// Approval verification (DESIGN.md "Bundle": verification, in order, each failure with its
// own reason) and policy rotation (DESIGN.md "Policy": rotation).
//
// Order of checks: schema and shape (done by Bundle::parse); the approved document's hash
// equals proposal.manifest; domain equals the policy's; this box is listed (if the proposal
// names boxes and a box id is given); not expired and not created in the future beyond the
// allowed skew; proposal id never executed; then each signature (for this proposal, known
// key, algorithm matches the key, signature valid, else reported invalid and not counted);
// votes counted once per approver; the action's rule met.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bundle.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "core/timeutil.h"

namespace countersign {

struct VerifyOptions {
  UnixTime now = 0;                   // judge expiry as of this time
  std::int64_t skew_seconds = 300;    // tolerated clock difference for "created"
  std::optional<std::string> box_id;  // check the proposal's box list against this id
  // Returns true when the box has already executed this proposal id (replay).
  std::function<bool(const Digest&)> already_executed;
  // Returns true when the key's hardware attestation verifies against pinned vendor roots.
  // Unset: no key counts as attested (rules with require_attestation fail closed).
  std::function<bool(const PolicyKey&)> attestation_verified;
  // Vetoes held apart from the bundle (the box's, submitted with `box veto`); vetoes inside
  // the bundle's signature list count the same.
  std::vector<SignatureFile> vetoes;
};

// One failed check, in DESIGN's order. `check` is a stable name for scripts:
// manifest-hash, domain, box, expired, not-yet-valid, replayed, no-rule, vetoed, threshold,
// roles, rotation-version, rotation-domain, rotation-new-policy.
struct CheckFailure {
  std::string check;
  std::string message;
};

struct SignatureVerdict {
  // kProposer: valid, but the rule does not count the proposer's own signature.
  enum class Status { kCounted, kInvalid, kDuplicate, kNotAllowed, kNotAttested, kProposer };
  // Approvals: the position in the bundle's signature list. Vetoes: the position among the
  // vetoes, the bundle's first, then VerifyOptions::vetoes.
  std::size_t index = 0;
  std::string key_id;
  std::string approver_id;  // empty when the key is unknown
  Status status = Status::kInvalid;
  std::string reason;  // why it did not count (empty when counted)
};
std::string_view verdict_name(SignatureVerdict::Status s);

struct VerifyReport {
  bool approved = false;
  Digest proposal_id{};
  Action action = Action::kInstallModel;
  std::string policy_domain;
  std::uint64_t policy_version = 0;
  std::optional<Rule> rule;
  std::vector<CheckFailure> failures;
  std::vector<SignatureVerdict> signatures;
  std::vector<std::string> counted;        // approver ids, in signature order
  std::vector<std::string> missing;        // approvers who may count and have not
  std::vector<std::string> missing_roles;  // required roles no counted signer holds
  std::optional<std::string> proposer;     // as the proposal names it
  std::vector<SignatureVerdict> vetoes;    // every veto seen, counted or not
  std::vector<std::string> vetoed_by;      // approver ids whose veto counted
  // True when the rule's veto count is reached: the proposal is dead, whatever else holds.
  bool vetoed = false;
  // For rotate-policy: the same check under the new policy.
  std::vector<VerifyReport> under_new_policy;

  nlohmann::json to_json() const;
  // Why it was not approved, one line per reason: each failed check ("threshold: ..."), each
  // signature that did not count ("signature 2 (carol): invalid: ..."), then the same under
  // the new policy for rotations ("under the new policy: ..."). Empty when approved.
  std::vector<std::string> reasons() const;
  // Human-readable multi-line report.
  std::string to_text(const Policy& policy) const;
};

// Checks signatures for `proposal` against `policy`. `subject_hash` is the hash of the
// document the proposal approves, when the caller has it (bundle); null skips that check.
VerifyReport verify_approval(const Proposal& proposal, const Digest* subject_hash,
                             std::span<const SignatureFile> signatures, const Policy& policy,
                             const VerifyOptions& options);

// verify_approval over a bundle; for rotate-policy also the rotation rules: the new policy
// has the same domain and version + 1, and the signatures also meet the new policy's own
// rotate-policy rule (reported in under_new_policy).
VerifyReport verify_bundle(const Bundle& bundle, const Policy& policy, const VerifyOptions& options);

}  // namespace countersign
