#include "daemon/admission.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/human_size.h"
#include "core/jcs.h"
#include "core/sha256.h"
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

// Keys whose signatures could count for `b`: the policy's, and for a rotation also the new
// policy's.
std::size_t signing_keys(const Policy& policy, const Bundle& b) {
  std::size_t n = 0;
  for (const auto& a : policy.approvers()) n += a.keys.size();
  if (b.new_policy()) {
    for (const auto& a : b.new_policy()->approvers()) n += a.keys.size();
  }
  return n;
}

// The failed checks a pending proposal must not have: all but those more signatures can
// mend (threshold and roles, and for a rotation the same under the new policy).
std::vector<std::string> reasons_besides_signatures(const VerifyReport& report) {
  auto mendable = [](const CheckFailure& f) { return f.check == "threshold" || f.check == "roles"; };
  std::vector<std::string> out;
  for (const auto& f : report.failures) {
    if (mendable(f)) continue;
    if (f.check == "rotation-new-policy" && !report.under_new_policy.empty()) {
      const auto& sub = report.under_new_policy.front().failures;
      if (std::all_of(sub.begin(), sub.end(), mendable)) continue;
    }
    out.push_back(f.check + ": " + f.message);
  }
  return out;
}

AdmissionResult bad_id() {
  return failure(AdmissionOutcome::kMalformed,
                 Error(Errc::kMalformed, "a proposal id is 64 lowercase hex digits"));
}

}  // namespace

Admission::Admission(const Config& config, Clock clock, StateDir& state, const PolicyInForce& policy,
                     Attested attested, SystemClient& system, AuditReporter& audit, Refusals& refusals,
                     JobQueue& queue)
    : config_(config),
      clock_(std::move(clock)),
      state_(state),
      policy_(policy),
      attested_(std::move(attested)),
      system_(system),
      audit_(audit),
      refusals_(refusals),
      queue_(queue) {}

Admission::Request Admission::request(std::string_view body, const Peer& peer) {
  return Request{peer, digest_to_string(sha256(body)), body.size()};
}

AdmissionResult Admission::reject(const Request& req, const std::optional<Digest>& proposal,
                                  AdmissionOutcome outcome, const std::string& code,
                                  std::vector<std::string> reasons, json report) {
  json fields = {{"bundle", req.body_hash}, {"bytes", req.bytes}};
  if (proposal) fields["proposal"] = digest_to_string(*proposal);
  refusals_.report(audit::event::kBundleRejected, code, req.peer, reasons, std::move(fields));
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
AdmissionResult Admission::accept(const Request& req, const Bundle& b, const json& raw) {
  const Digest id = b.proposal().id();
  if (auto why = box_refusal(b, config_))
    return reject(req, id, AdmissionOutcome::kUnsupported, "unsupported", {*why});
  const Policy policy = policy_.get();
  // Bounded work before any signature is checked: no more signatures than keys could count.
  const std::size_t keys = signing_keys(policy, b);
  if (b.signatures().size() > keys) {
    return reject(req, id, AdmissionOutcome::kRejected, "too-many-signatures",
                  {"too-many-signatures: the bundle carries " + std::to_string(b.signatures().size()) +
                   " signatures; policy version " + std::to_string(policy.version()) + " has " +
                   std::to_string(keys) + " keys that could count"});
  }
  VerifyReport report = verify_bundle(b, policy, verify_options());
  if (!report.approved) {
    return reject(req, id, replayed(report) ? AdmissionOutcome::kReplayed : AdmissionOutcome::kRejected,
                  report.failures.empty() ? "not-approved" : report.failures.front().check, report.reasons(),
                  report.to_json());
  }
  audit_.report(audit::event::kBundleReceived, {{"proposal", digest_to_string(id)},
                                                {"action", std::string(action_name(b.proposal().action()))},
                                                {"signatures", b.signatures().size()},
                                                {"bundle", req.body_hash},
                                                {"peer", req.peer.to_json()}});
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
  job.submitter = req.peer.to_json();
  // A crash before this job is saved leaves the helper's record of an accepted proposal
  // without a job; JobQueue::recover queues those at the next start.
  auto queued = queue_.enqueue(job);
  if (!queued.ok()) return failure(AdmissionOutcome::kInternalError, queued.error());
  drop_pending(id);
  AdmissionResult r;
  r.outcome = AdmissionOutcome::kAccepted;
  r.proposal = id;
  r.action = job.action;
  r.report = report.to_json();
  return r;
}

AdmissionResult Admission::submit_bundle(std::string_view body, const Peer& peer) {
  const Request req = request(body, peer);
  auto doc = jcs::parse(body);
  if (!doc.ok()) {
    auto r = reject(req, std::nullopt, AdmissionOutcome::kMalformed, "malformed",
                    {"malformed bundle: " + doc.error().message});
    r.error = doc.error();
    return r;
  }
  auto b = Bundle::parse(*doc);
  if (!b.ok()) {
    auto r = reject(req, std::nullopt, AdmissionOutcome::kMalformed, "malformed",
                    {"malformed bundle: " + b.error().message});
    r.error = b.error();
    return r;
  }
  std::lock_guard lock(submit_mu_);
  return accept(req, *b, *doc);
}

Result<void> Admission::load_pending_index() {
  if (pending_) return {};
  CS_TRY(auto files, state_.list_pending());
  std::map<Digest, PendingInfo> index;
  for (const auto& f : files) {
    auto doc = state_.load_pending(f.proposal);
    Result<Bundle> b =
        doc.ok() && *doc ? Bundle::parse(**doc) : Result<Bundle>(Error(Errc::kMalformed, "unreadable"));
    if (!b.ok()) {
      // Not a pending proposal this daemon could have kept: dropped, said on stderr.
      std::fprintf(stderr, "countersignd: dropping unreadable pending proposal %s\n",
                   hex_encode(f.proposal).c_str());
      (void)state_.remove_pending(f.proposal);
      continue;
    }
    index[f.proposal] = PendingInfo{b->proposal().expires(), f.bytes};
  }
  pending_ = std::move(index);
  return {};
}

void Admission::drop_pending(const Digest& id) {
  auto removed = state_.remove_pending(id);
  if (!removed.ok()) {
    // The file left behind only shows as pending a proposal that is executed or expired
    // now: nothing added to it can be accepted again.
    std::fprintf(stderr, "countersignd: %s\n", removed.error().message.c_str());
  }
  if (pending_) pending_->erase(id);
}

Result<void> Admission::save_pending(const Digest& id, const Bundle& b, const json& doc) {
  CS_TRY_VOID(state_.save_pending(id, doc));
  if (pending_) (*pending_)[id] = PendingInfo{b.proposal().expires(), doc.dump().size()};
  return {};
}

void Admission::sweep_pending() {
  std::lock_guard lock(submit_mu_);
  if (!load_pending_index().ok()) return;
  const UnixTime now = clock_();
  auto executed = read_executed_set(SystemPaths(config_).executed());
  std::vector<Digest> gone;
  for (const auto& [id, info] : *pending_) {
    if (info.expires < now || (executed.ok() && executed->count(id))) gone.push_back(id);
  }
  for (const auto& id : gone) drop_pending(id);
}

Result<PendingRequest> parse_pending_request(std::string_view body) {
  auto doc = jcs::parse(body);
  if (!doc.ok()) return Error(Errc::kMalformed, doc.error().message);
  if (!doc->is_object() || !doc->contains("proposal") || !doc->contains("manifest")) {
    return Error(Errc::kMalformed, "expected {\"proposal\": {...}, \"manifest\": {...}}");
  }
  json as_bundle = {{"schema", kBundleSchema},
                    {"proposal", (*doc)["proposal"]},
                    {"manifest", (*doc)["manifest"]},
                    {"signatures", json::array()}};
  if (doc->size() != 2) return Error(Errc::kMalformed, "only \"proposal\" and \"manifest\" are allowed");
  CS_TRY(Bundle bundle, Bundle::parse(as_bundle));
  return PendingRequest{std::move(as_bundle), std::move(bundle)};
}

AdmissionResult Admission::create_pending(std::string_view body, const Peer& peer) {
  auto parsed = parse_pending_request(body);
  if (!parsed.ok()) return failure(AdmissionOutcome::kMalformed, parsed.error());
  const json& as_bundle = parsed->as_bundle;
  const Bundle* b = &parsed->bundle;
  sweep_pending();
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
  r.reasons = reasons_besides_signatures(report);
  if (!r.reasons.empty()) {
    r.outcome = replayed(report) ? AdmissionOutcome::kReplayed : AdmissionOutcome::kRejected;
    return r;
  }
  if (auto loaded = load_pending_index(); !loaded.ok()) {
    return failure(AdmissionOutcome::kInternalError, loaded.error());
  }
  if (pending_->count(id)) return lookup(id);
  std::uint64_t bytes = 0;
  for (const auto& [other, info] : *pending_) bytes += info.bytes;
  const std::uint64_t size = as_bundle.dump().size();
  if (pending_->size() >= config_.max_pending || bytes + size > config_.max_pending_bytes) {
    return failure(AdmissionOutcome::kBusy,
                   Error(Errc::kRejected,
                         "the box keeps no more pending proposals now: " + std::to_string(pending_->size()) +
                             " of " + std::to_string(config_.max_pending) + " (max_pending), " +
                             human_size(bytes) + " of " + human_size(config_.max_pending_bytes) +
                             " (max_pending_bytes); each is dropped at its expiry"));
  }
  auto saved = save_pending(id, *b, as_bundle);
  if (!saved.ok()) return failure(AdmissionOutcome::kInternalError, saved.error());
  audit_.report(audit::event::kProposalPending, {{"proposal", digest_to_string(id)},
                                                 {"action", std::string(action_name(b->proposal().action()))},
                                                 {"missing", report.missing},
                                                 {"peer", peer.to_json()}});
  r.outcome = AdmissionOutcome::kPendingCreated;
  r.report = report.to_json();
  return r;
}

AdmissionResult Admission::lookup(std::string_view proposal_hex) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) return bad_id();
  std::lock_guard lock(submit_mu_);
  return lookup(*id);
}

// Caller holds submit_mu_.
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
  if (b->proposal().expires() < clock_()) {
    drop_pending(id);
    return failure(AdmissionOutcome::kNotFound,
                   Error(Errc::kNotFound, "pending proposal " + hex_encode(id) + " expired at " +
                                              format_rfc3339(b->proposal().expires()) + " and was dropped"));
  }
  r.outcome = AdmissionOutcome::kPending;
  r.report = verify_bundle(*b, policy_.get(), verify_options()).to_json();
  return r;
}

AdmissionResult Admission::add_veto(std::string_view proposal_hex, std::string_view body, const Peer& peer) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) return bad_id();
  const Request req = request(body, peer);
  auto sig = SignatureFile::parse_text(body);
  if (!sig.ok()) return failure(AdmissionOutcome::kMalformed, sig.error());
  AdmissionResult r;
  r.proposal = *id;
  auto refused = [&](AdmissionOutcome outcome, const std::string& code, const std::string& reason,
                     json fields) {
    fields["proposal"] = digest_to_string(*id);
    fields["signature"] = req.body_hash;
    fields["statement"] = std::string(statement_noun(sig->statement()));
    refusals_.report(audit::event::kSignatureRejected, code, peer, {reason}, std::move(fields));
    r.outcome = outcome;
    r.reasons = {reason};
    return r;
  };
  if (sig->statement() != Statement::kVeto) {
    return refused(
        AdmissionOutcome::kVetoRejected, "wrong-endpoint",
        "this file is " +
            std::string(sig->statement() == Statement::kApproval ? "an approval" : "a liveness proof") +
            ", not a veto: " +
            (sig->statement() == Statement::kApproval
                 ? "add it with `countersign box add-signature` (POST /v1/proposals/<id>/signatures)"
                 : "hand it in with `countersign box prove` (POST /v1/proofs)"),
        json::object());
  }
  if (sig->proposal() != *id) {
    return refused(AdmissionOutcome::kVetoRejected, "other-proposal",
                   "the veto is of proposal " + hex_encode(sig->proposal()) + ", not " + hex_encode(*id),
                   json::object());
  }
  std::lock_guard lock(submit_mu_);
  // The proposal: pending here, or the bundle of its job.
  json proposal;
  auto pending = state_.load_pending(*id);
  if (!pending.ok()) return failure(AdmissionOutcome::kInternalError, pending.error());
  std::optional<JobView> job = queue_.find(*id);
  if (*pending) {
    proposal = (**pending)["proposal"];
  } else if (job) {
    proposal = job->record.bundle.value("proposal", json());
  } else {
    return failure(AdmissionOutcome::kNotFound,
                   Error(Errc::kNotFound, "no proposal " + hex_encode(*id) +
                                              " on this box, pending or accepted (a veto needs the proposal: "
                                              "`countersign box propose` leaves it here)"));
  }
  auto parsed = Proposal::parse(proposal);
  if (!parsed.ok()) return failure(AdmissionOutcome::kInternalError, parsed.error());
  // The daemon's quick judgement, as the helper will judge it.
  VerifyOptions options = verify_options();
  options.already_executed = [](const Digest&) { return false; };
  options.vetoes = {*sig};
  const VerifyReport report = verify_approval(*parsed, nullptr, {}, policy_.get(), options);
  const SignatureVerdict& verdict = report.vetoes.back();
  if (verdict.status != SignatureVerdict::Status::kCounted) {
    r.report = report.to_json();
    return refused(AdmissionOutcome::kVetoRejected, std::string(verdict_name(verdict.status)),
                   "veto not counted: " + std::string(verdict_name(verdict.status)) +
                       (verdict.reason.empty() ? "" : ": " + verdict.reason),
                   {{"key", verdict.key_id}});
  }
  auto text = jcs::serialize(json{{"proposal", proposal}, {"veto", sig->to_json()}});
  if (!text.ok()) return failure(AdmissionOutcome::kInternalError, text.error());
  auto answer = system_.veto(*text);
  if (!answer.ok()) {
    const Error& e = answer.error();
    if (e.code != Errc::kRejected) return failure(AdmissionOutcome::kHelperFailed, e);
    r.outcome = e.message.find("too late:") != std::string::npos ? AdmissionOutcome::kTooLate
                                                                 : AdmissionOutcome::kVetoRejected;
    r.reasons = {e.message};
    return r;
  }
  r.outcome = AdmissionOutcome::kVetoCounted;
  r.report = *answer;
  if (answer->is_object() && answer->value("vetoed", false)) {
    std::string by;
    for (const auto& a : answer->value("vetoed_by", json::array())) {
      if (a.is_string()) by += (by.empty() ? "" : ", ") + a.get<std::string>();
    }
    drop_pending(*id);
    const auto effect = queue_.veto(*id, "vetoed by " + by);
    if (effect == JobQueue::VetoEffect::kDequeued && parsed->action() == Action::kInstallModel) {
      // A queued install may have staged files in an earlier run; a running one's staging
      // goes when its run ends (Engine).
      auto b = job ? Bundle::parse(job->record.bundle) : Result<Bundle>(Error(Errc::kNotFound, ""));
      if (b.ok() && b->manifest()) (void)system_.staging_remove(b->manifest()->hash());
    }
  }
  return r;
}

AdmissionResult Admission::add_signature(std::string_view proposal_hex, std::string_view body,
                                         const Peer& peer) {
  auto id = parse_hex_id(proposal_hex);
  if (!id) return bad_id();
  const Request req = request(body, peer);
  auto sig = SignatureFile::parse_text(body);
  if (!sig.ok()) return failure(AdmissionOutcome::kMalformed, sig.error());
  if (sig->statement() != Statement::kApproval) {
    const std::string reason =
        "this file is " + std::string(sig->statement() == Statement::kVeto ? "a veto" : "a liveness proof") +
        ", not an approval: " +
        (sig->statement() == Statement::kVeto
             ? "submit it with `countersign box veto` (POST /v1/proposals/<id>/vetoes)"
             : "hand it in with `countersign box prove` (POST /v1/proofs)");
    refusals_.report(audit::event::kSignatureRejected, "wrong-endpoint", peer, {reason},
                     {{"proposal", digest_to_string(*id)}, {"signature", req.body_hash}});
    AdmissionResult r;
    r.outcome = AdmissionOutcome::kSignatureRejected;
    r.proposal = *id;
    r.reasons = {reason};
    return r;
  }
  std::lock_guard lock(submit_mu_);
  AdmissionResult current = lookup(*id);  // drops it when it expired
  if (current.outcome != AdmissionOutcome::kPending) return current;
  auto doc = state_.load_pending(*id);
  if (!doc.ok() || !*doc) {
    return failure(AdmissionOutcome::kInternalError,
                   doc.ok() ? Error(Errc::kIo, "pending proposal vanished") : doc.error());
  }
  json bundle = **doc;
  json sig_json = sig->to_json();
  for (const auto& existing : bundle["signatures"]) {
    if (existing == sig_json) return current;  // the same file twice: nothing new
  }
  bundle["signatures"].push_back(sig_json);
  auto b = Bundle::parse(bundle);
  if (!b.ok()) return failure(AdmissionOutcome::kMalformed, b.error());
  VerifyReport report = verify_bundle(*b, policy_.get(), verify_options());
  // The new signature's verdict; for a rotation it counts when it counts under either policy
  // (the rule needs both: the old policy's threshold and the new policy's own).
  const SignatureVerdict* verdict = &report.signatures.back();
  std::string reason =
      std::string(verdict_name(verdict->status)) + (verdict->reason.empty() ? "" : ": " + verdict->reason);
  if (verdict->status != SignatureVerdict::Status::kCounted && !report.under_new_policy.empty()) {
    const SignatureVerdict& next = report.under_new_policy.front().signatures.back();
    if (next.status == SignatureVerdict::Status::kCounted) {
      verdict = &next;
    } else {
      reason = "under the policy in force: " + reason +
               "; under the new policy: " + std::string(verdict_name(next.status)) +
               (next.reason.empty() ? "" : ": " + next.reason);
    }
  }
  AdmissionResult r;
  r.proposal = *id;
  if (verdict->status != SignatureVerdict::Status::kCounted) {
    refusals_.report(
        audit::event::kSignatureRejected, std::string(verdict_name(verdict->status)), peer, {reason},
        {{"proposal", digest_to_string(*id)}, {"key", verdict->key_id}, {"signature", req.body_hash}});
    r.outcome = AdmissionOutcome::kSignatureRejected;
    r.reasons = {reason};
    r.report = report.to_json();
    return r;
  }
  audit_.report(audit::event::kSignatureAccepted, {{"proposal", digest_to_string(*id)},
                                                   {"key", verdict->key_id},
                                                   {"approver", verdict->approver_id},
                                                   {"peer", peer.to_json()}});
  if (report.approved) return accept(req, *b, bundle);
  auto saved = save_pending(*id, *b, bundle);
  if (!saved.ok()) return failure(AdmissionOutcome::kInternalError, saved.error());
  r.outcome = AdmissionOutcome::kPending;
  r.report = report.to_json();
  return r;
}

}  // namespace countersign::daemon
