// How approvals come into countersignd (DESIGN.md "Box-side daemon", API): a whole bundle, or
// a proposal with its manifest and then its signatures one at a time. For a quick answer the
// daemon checks them against its copy of the policy in force and the helper's executed set;
// that check is advisory. An approved bundle goes to the helper (SystemClient::accept), which
// verifies it again itself and decides; accepted, it becomes a queued job (JobQueue).
//
// One submission is judged at a time; every call is thread-safe. Results are domain
// outcomes; the API (daemon/api.cpp) turns them into HTTP. Every request comes with its Peer
// (daemon/peer.h), which each report and the job record carry.
//
// What anyone who reaches the API can send costs bounded work and bounded log: before any
// signature is checked, a bundle with more signatures than the policy has keys (for a
// rotation: both policies) is refused; refusals (bundle-rejected, signature-rejected) go
// through Refusals (daemon/refusals.h): reason codes, the body's SHA-256, the peer, aggregated
// per peer and code. bundle-received is reported for a bundle the daemon's check approved,
// just before the helper judges it; proposal-pending, signature-accepted as they happen.
//
// Pending proposals are kept in state_dir/daemon/pending/ (state.h): at most
// Config::max_pending of them and Config::max_pending_bytes in all (kBusy beyond), each
// dropped once its `expires` passes. For a pending rotate-policy, a signature counts when it
// counts under the policy in force or under the new policy (the rotation needs both rules).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bundle.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/timeutil.h"
#include "core/verify.h"
#include "daemon/audit_reporter.h"
#include "daemon/config.h"
#include "daemon/job_queue.h"
#include "daemon/peer.h"
#include "daemon/policy_in_force.h"
#include "daemon/refusals.h"
#include "daemon/state.h"
#include "daemon/system_client.h"

namespace countersign::daemon {

enum class AdmissionOutcome {
  kAccepted,           // the helper accepted the bundle and its job is queued; for a lookup:
                       // no longer pending, its job exists
  kPending,            // a pending proposal, still missing signatures
  kPendingCreated,     // the same, created by this request
  kRejected,           // not approved: `reasons`, and `report` where a verification ran
  kReplayed,           // the proposal was executed already (`reasons`, `report`)
  kUnsupported,        // nothing this box can do (another box's snapshot, install-packages)
  kMalformed,          // the request does not parse: `error`, and `reasons` for a bundle
  kSignatureRejected,  // the signature does not count: `reasons` (one), `report`
  kNotFound,           // no such pending proposal (or it expired): `error`
  kBusy,               // the box keeps no more pending proposals now: `error`
  kVetoCounted,        // the helper counted the veto (or had it already): `report` is its answer
  kVetoRejected,       // the veto does not count: `reasons` (one), `report` when the daemon judged it
  kTooLate,            // a veto of a proposal whose privileged step is done: `reasons`
  kHelperFailed,       // the helper could not answer: `error`
  kInternalError,      // the daemon could not read or write its own state: `error`
};

struct AdmissionResult {
  AdmissionOutcome outcome = AdmissionOutcome::kInternalError;
  std::optional<Digest> proposal;
  std::optional<Action> action;      // kAccepted by a submission
  std::vector<std::string> reasons;  // why not, one line each
  nlohmann::json report;             // VerifyReport::to_json() of the daemon's check; null when none ran
  std::optional<Error> error;        // kMalformed, kNotFound, kHelperFailed, kInternalError
};

// The body of POST /v1/proposals, {"proposal": {...}, "manifest": {...}} and nothing else, read
// as the bundle it stands for: `as_bundle` (no signatures yet) is what a pending proposal is
// kept as, `bundle` its parse. kMalformed naming what is wrong, or Bundle::parse's error. Pure:
// no state, no policy (Admission::create_pending checks those next).
struct PendingRequest {
  nlohmann::json as_bundle;
  Bundle bundle;
};
Result<PendingRequest> parse_pending_request(std::string_view body);

class Admission {
 public:
  // Counts a key of a require_attestation rule only when this returns true for it.
  using Attested = std::function<bool(const PolicyKey&)>;

  // Every reference must outlive the Admission.
  Admission(const Config& config, Clock clock, StateDir& state, const PolicyInForce& policy,
            Attested attested, SystemClient& system, AuditReporter& audit, Refusals& refusals,
            JobQueue& queue);

  // POST /v1/bundles: a whole bundle.
  AdmissionResult submit_bundle(std::string_view body, const Peer& peer = {});
  // POST /v1/proposals: {"proposal": {...}, "manifest": {...}}. Everything but the
  // signatures must hold already (kRejected, kReplayed, kUnsupported otherwise). An existing
  // pending proposal is answered as lookup() does. kBusy when max_pending or
  // max_pending_bytes would be exceeded (after dropping the expired ones).
  AdmissionResult create_pending(std::string_view body, const Peer& peer = {});
  // POST /v1/proposals/<hex>/signatures: one signature file. Once the rule is met the
  // bundle is submitted as by submit_bundle; the same file twice is answered as lookup().
  AdmissionResult add_signature(std::string_view proposal_hex, std::string_view body, const Peer& peer = {});
  // GET /v1/proposals/<hex>: kPending with the current report, kAccepted when it has a job,
  // kNotFound, kMalformed for an id that is not 64 lowercase hex digits.
  AdmissionResult lookup(std::string_view proposal_hex);
  // POST /v1/proposals/<hex>/vetoes: one veto file, for a proposal pending here or accepted
  // (its job not finished). The daemon judges it first for a quick answer (a veto that does
  // not count is refused through Refusals), then the helper decides (SystemClient::veto).
  // Once the helper says the proposal is vetoed, a pending proposal is dropped and its job,
  // queued or running, ends "vetoed" before its privileged step (JobQueue::veto).
  AdmissionResult add_veto(std::string_view proposal_hex, std::string_view body, const Peer& peer = {});

  // Drops the pending proposals whose `expires` passed (and those executed already). Called
  // at start and before a new one is kept.
  void sweep_pending();

 private:
  // One request: who sent it, and the SHA-256 and size of its body (what a refusal logs).
  struct Request {
    const Peer& peer;
    std::string body_hash;
    std::size_t bytes = 0;
  };
  static Request request(std::string_view body, const Peer& peer);
  struct PendingInfo {
    UnixTime expires = 0;
    std::uint64_t bytes = 0;
  };

  AdmissionResult accept(const Request& req, const Bundle& b, const nlohmann::json& raw);
  AdmissionResult reject(const Request& req, const std::optional<Digest>& proposal, AdmissionOutcome outcome,
                         const std::string& code, std::vector<std::string> reasons,
                         nlohmann::json report = nullptr);
  AdmissionResult lookup(const Digest& id);
  VerifyOptions verify_options() const;
  // Caller holds submit_mu_: the index of pending proposals, loaded on first use.
  Result<void> load_pending_index();
  Result<void> save_pending(const Digest& id, const Bundle& b, const nlohmann::json& doc);
  void drop_pending(const Digest& id);

  const Config& config_;
  Clock clock_;
  StateDir& state_;
  const PolicyInForce& policy_;
  Attested attested_;
  SystemClient& system_;
  AuditReporter& audit_;
  Refusals& refusals_;
  JobQueue& queue_;
  std::mutex submit_mu_;  // verification and acceptance of one proposal at a time; pending_
  std::optional<std::map<Digest, PendingInfo>> pending_;
};

}  // namespace countersign::daemon
