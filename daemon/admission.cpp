#include "daemon/admission.h"

#include <cstdio>
#include <memory>
#include <set>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/jcs.h"
#include "core/signature_file.h"
#include "system/records.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;

bool replayed(const VerifyReport& r) {
  for (const auto& f : r.failures) {
    if (f.check == "replayed") return true;
  }
  return false;
}

std::optional<Digest> parse_hex_id(std::string_view hex) {
  Digest d{};
  if (!decode_lower_hex(hex, d)) return std::nullopt;
  return d;
}

AdmissionResult failure(AdmissionOutcome outcome, Error error) {
  AdmissionResult r;
  r.outcome = outcome;
  r.error = std::move(error);
  return r;
}

AdmissionResult bad_id() {
  return failure(AdmissionOutcome::kMalformed,
                 Error(Errc::kMalformed, "a proposal id is 64 lowercase hex digits"));
}

}  // namespace

Admission::Admission(const Config& config, Clock clock, StateDir& state, const PolicyInForce& policy,
                     Attested attested, SystemClient& system, AuditReporter& audit, JobQueue& queue)
    : config_(config),
      clock_(std::move(clock)),
      state_(state),
      policy_(policy),
      attested_(std::move(attested)),
      system_(system),
      audit_(audit),
      queue_(queue) {}

AdmissionResult Admission::reject(const std::optional<Digest>& proposal, AdmissionOutcome outcome,
                                  std::vector<std::string> reasons, json report) {
  json fields = {{"reasons", reasons}};
  if (proposal) fields["proposal"] = digest_to_string(*proposal);
  audit_.report(audit::event::kBundleRejected, fields);
  AdmissionResult r;
  r.outcome = outcome;
  r.proposal = proposal;
  r.reasons = std::move(reasons);
  r.report = std::move(report);
  return r;
}

VerifyOptions Admission::verify_options() const {
  VerifyOptions o;
  o.now = clock_();
  o.skew_seconds = config_.skew_seconds;
  o.box_id = config_.box_id;
  // The helper's executed set, as it is now. Unreadable: empty here (the check is advisory;
  // the helper judges replays against its own set).
  auto set = read_executed_set(SystemPaths(config_).executed());
  auto executed_ids = std::make_shared<std::set<Digest>>(set.ok() ? std::move(*set) : std::set<Digest>{});
  o.already_executed = [executed_ids](const Digest& d) { return executed_ids->count(d) != 0; };
  // require_attestation rules count a key only when its vendor attestation verifies here,
  // on the box, against the pinned roots (and the configured attestation_root files).
  o.attestation_verified = attested_;
  return o;
}

// Verifies and, when approved, hands the bundle to the helper and queues its job. Caller
// holds submit_mu_.
AdmissionResult Admission::accept(const Bundle& b, const json& raw) {
  const Digest id = b.proposal().id();
  audit_.report(audit::event::kBundleReceived, {{"proposal", digest_to_string(id)},
                                                {"action", std::string(action_name(b.proposal().action()))},
                                                {"signatures", b.signatures().size()}});
  if (auto why = box_refusal(b, config_)) return reject(id, AdmissionOutcome::kUnsupported, {*why});
  VerifyReport report = verify_bundle(b, policy_.get(), verify_options());
  if (!report.approved) {
    return reject(id, replayed(report) ? AdmissionOutcome::kReplayed : AdmissionOutcome::kRejected,
                  report.reasons(), report.to_json());
  }
  // The helper decides: it verifies the bundle itself, logs bundle-verified and marks the id
  // executed in its own records (or refuses and logs why).
  auto text = jcs::serialize(raw);
  if (!text.ok()) return failure(AdmissionOutcome::kInternalError, text.error());
  auto accepted = system_.accept(*text);
  if (!accepted.ok()) {
    const Error& e = accepted.error();
    if (e.code != Errc::kRejected) return failure(AdmissionOutcome::kHelperFailed, e);
    AdmissionResult r;
    r.outcome = e.message.find("replayed:") != std::string::npos ? AdmissionOutcome::kReplayed
                                                                 : AdmissionOutcome::kRejected;
    r.proposal = id;
    r.reasons = {e.message};
    r.report = report.to_json();
    return r;
  }
  JobRecord job;
  job.proposal = id;
  job.action = b.proposal().action();
  job.bundle = raw;
  job.received = clock_();
  // A crash before this job is saved leaves the helper's record of an accepted proposal
  // without a job; JobQueue::recover queues those at the next start.
  auto queued = queue_.enqueue(job);
  if (!queued.ok()) return failure(AdmissionOutcome::kInternalError, queued.error());
  auto removed = state_.remove_pending(id);
  if (!removed.ok()) {
    // The job is queued all the same. The file left behind only shows as pending a proposal
    // that is executed now: nothing added to it can be accepted again.
    std::fprintf(stderr, "countersignd: %s\n", removed.error().message.c_str());
  }
  AdmissionResult r;
  r.outcome = AdmissionOutcome::kAccepted;
  r.proposal = id;
  r.action = job.action;
  r.report = report.to_json();
  return r;
}

AdmissionResult Admission::submit_bundle(std::string_view body) {
  auto doc = jcs::parse(body);
  if (!doc.ok()) {
    auto r = reject(std::nullopt, AdmissionOutcome::kMalformed, {"malformed bundle: " + doc.error().message});
    r.error = doc.error();
    return r;
  }
  auto b = Bundle::parse(*doc);
  if (!b.ok()) {
    auto r = reject(std::nullopt, AdmissionOutcome::kMalformed, {"malformed bundle: " + b.error().message});
    r.error = b.error();
    return r;
  }
  std::lock_guard lock(submit_mu_);
  return accept(*b, *doc);
}

AdmissionResult Admission::create_pending(std::string_view body) {
  auto doc = jcs::parse(body);
  if (!doc.ok()) return failure(AdmissionOutcome::kMalformed, Error(Errc::kMalformed, doc.error().message));
  if (!doc->is_object() || !doc->contains("proposal") || !doc->contains("manifest")) {
    return failure(AdmissionOutcome::kMalformed,
                   Error(Errc::kMalformed, "expected {\"proposal\": {...}, \"manifest\": {...}}"));
  }
  json as_bundle = {{"schema", kBundleSchema},
                    {"proposal", (*doc)["proposal"]},
                    {"manifest", (*doc)["manifest"]},
                    {"signatures", json::array()}};
  if (doc->size() != 2) {
    return failure(AdmissionOutcome::kMalformed,
                   Error(Errc::kMalformed, "only \"proposal\" and \"manifest\" are allowed"));
  }
  auto b = Bundle::parse(as_bundle);
  if (!b.ok()) return failure(AdmissionOutcome::kMalformed, b.error());
  std::lock_guard lock(submit_mu_);
  const Digest id = b->proposal().id();
  AdmissionResult r;
  r.proposal = id;
  if (auto why = box_refusal(*b, config_)) {
    r.outcome = AdmissionOutcome::kUnsupported;
    r.reasons = {*why};
    return r;
  }
  VerifyReport report = verify_bundle(*b, policy_.get(), verify_options());
  // Everything but the signatures must already hold.
  for (const auto& f : report.failures) {
    if (f.check != "threshold" && f.check != "roles") r.reasons.push_back(f.check + ": " + f.message);
  }
  if (!r.reasons.empty()) {
    r.outcome = replayed(report) ? AdmissionOutcome::kReplayed : AdmissionOutcome::kRejected;
    return r;
  }
  auto existing = state_.load_pending(id);
  if (existing.ok() && *existing) return lookup(id);
  auto saved = state_.save_pending(id, as_bundle);
  if (!saved.ok()) return failure(AdmissionOutcome::kInternalError, saved.error());
  audit_.report(audit::event::kProposalPending, {{"proposal", digest_to_string(id)},
                                                 {"action", std::string(action_name(b->proposal().action()))},
                                                 {"missing", report.missing}});
  r.outcome = AdmissionOutcome::kPendingCreated;
  r.report = report.to_json();
  return r;
}

AdmissionResult Admission::lookup(std::string_view proposal_hex) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) return bad_id();
  return lookup(*id);
}

AdmissionResult Admission::lookup(const Digest& id) {
  auto doc = state_.load_pending(id);
  if (!doc.ok()) return failure(AdmissionOutcome::kInternalError, doc.error());
  AdmissionResult r;
  r.proposal = id;
  if (!*doc) {
    if (queue_.contains(id)) {
      r.outcome = AdmissionOutcome::kAccepted;
      return r;
    }
    return failure(AdmissionOutcome::kNotFound,
                   Error(Errc::kNotFound, "no pending proposal " + hex_encode(id)));
  }
  auto b = Bundle::parse(**doc);
  if (!b.ok()) return failure(AdmissionOutcome::kInternalError, b.error());
  r.outcome = AdmissionOutcome::kPending;
  r.report = verify_bundle(*b, policy_.get(), verify_options()).to_json();
  return r;
}

AdmissionResult Admission::add_signature(std::string_view proposal_hex, std::string_view body) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) return bad_id();
  auto sig = SignatureFile::parse_text(body);
  if (!sig.ok()) return failure(AdmissionOutcome::kMalformed, sig.error());
  std::lock_guard lock(submit_mu_);
  auto doc = state_.load_pending(*id);
  if (!doc.ok()) return failure(AdmissionOutcome::kInternalError, doc.error());
  if (!*doc) {
    return failure(AdmissionOutcome::kNotFound,
                   Error(Errc::kNotFound, "no pending proposal " + hex_encode(*id)));
  }
  json bundle = **doc;
  json sig_json = sig->to_json();
  for (const auto& existing : bundle["signatures"]) {
    if (existing == sig_json) return lookup(*id);  // the same file twice: nothing new
  }
  bundle["signatures"].push_back(sig_json);
  auto b = Bundle::parse(bundle);
  if (!b.ok()) return failure(AdmissionOutcome::kMalformed, b.error());
  VerifyReport report = verify_bundle(*b, policy_.get(), verify_options());
  const auto& verdict = report.signatures.back();
  AdmissionResult r;
  r.proposal = *id;
  if (verdict.status != SignatureVerdict::Status::kCounted) {
    std::string reason =
        std::string(verdict_name(verdict.status)) + (verdict.reason.empty() ? "" : ": " + verdict.reason);
    audit_.report(audit::event::kSignatureRejected,
                  {{"proposal", digest_to_string(*id)}, {"key", verdict.key_id}, {"reason", reason}});
    r.outcome = AdmissionOutcome::kSignatureRejected;
    r.reasons = {reason};
    r.report = report.to_json();
    return r;
  }
  audit_.report(
      audit::event::kSignatureAccepted,
      {{"proposal", digest_to_string(*id)}, {"key", verdict.key_id}, {"approver", verdict.approver_id}});
  if (report.approved) return accept(*b, bundle);
  auto saved = state_.save_pending(*id, bundle);
  if (!saved.ok()) return failure(AdmissionOutcome::kInternalError, saved.error());
  r.outcome = AdmissionOutcome::kPending;
  r.report = report.to_json();
  return r;
}

}  // namespace countersign::daemon
