#include "daemon/engine.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>

#include "core/audit_entry.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/jcs.h"
#include "core/policy_chain.h"
#include "core/signature_file.h"
#include "daemon/admission.h"
#include "daemon/audit_reporter.h"
#include "daemon/challenges.h"
#include "daemon/fetcher.h"
#include "daemon/job_queue.h"
#include "daemon/log_reader.h"
#include "daemon/log_shipper.h"
#include "daemon/policy_in_force.h"
#include "daemon/refusals.h"
#include "daemon/runners.h"
#include "daemon/staging.h"
#include "daemon/state.h"
#include "daemon/system_client.h"
#include "daemon/witnesses.h"
#include "smartcard/attestation.h"
#include "system/dpkg_query.h"
#include "system/records.h"

namespace countersign::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

// Members in dependency order: each is built from the ones above it and destroyed before
// them (the queue's worker stops before what it runs with goes).
struct Engine::Impl {
  Config config;
  Clock clock;
  StateDir state;
  attestation::Roots attestation_roots;  // for require_attestation rules
  HelperSystemClient system;
  std::unique_ptr<Fetcher> fetcher;
  AuditReporter audit;
  Refusals refusals;
  PolicyInForce policy;
  RunnerEnv runners;
  JobQueue queue;
  Admission admission;
  LogReader log;
  ChallengeBook challenges;
  std::atomic<bool> stopped{false};
  // GET /v1/snapshots: the helper's last answer, until a job finishes (a job is what changes
  // the snapshots) or kSnapshotCacheSeconds pass.
  static constexpr std::int64_t kSnapshotCacheSeconds = 60;
  std::mutex snapshots_mu;
  std::optional<SnapshotListing> snapshots_cached;
  UnixTime snapshots_at = 0;
  // The audit log's destinations (syslog, journal) and witnesses; stopped before everything
  // above goes.
  std::unique_ptr<LogShipper> shipper;
  std::unique_ptr<Witnesses> witnesses;

  Impl(Config c, Clock clk, StateDir s, attestation::Roots roots, Policy in_force, std::unique_ptr<Fetcher> f)
      : config(std::move(c)),
        clock(std::move(clk)),
        state(std::move(s)),
        attestation_roots(std::move(roots)),
        system(config.helper, SystemPaths(config)),
        fetcher(std::move(f)),
        audit(system),
        refusals(audit, std::chrono::seconds(config.refusal_interval_seconds)),
        policy(std::move(in_force)),
        runners{config, system, *fetcher, audit,
                [this](const Bundle& b, const JobRecord& job) { return still_approved(b, job); }},
        queue(
            state, clock,
            [this](const JobRecord& job, bool resumed, JobSink& sink) { return run(job, resumed, sink); },
            [this](const JobRecord&) {
              forget_snapshots();
              audit.sign_checkpoint_or_warn("after a job");
            }),
        admission(
            config, clock, state, policy, [this](const PolicyKey& k) { return attested(k); }, system, audit,
            refusals, queue),
        log(config.log_dir(), audit),
        challenges(config.challenge_lifetime_seconds) {}

  bool attested(const PolicyKey& k) const { return attestation::check(k, attestation_roots).verified; }

  void forget_snapshots() {
    std::lock_guard lock(snapshots_mu);
    snapshots_cached.reset();
  }

  // A job about to run, checked again under the policy in force now: a rotation since may
  // have revoked its signers. Expiry as of its acceptance; not a replay of itself (the helper
  // marked it executed when it accepted it, and judges replays itself).
  std::optional<std::string> still_approved(const Bundle& b, const JobRecord& job) const {
    const Policy p = policy.get();
    VerifyOptions o;
    o.now = job.received;
    o.skew_seconds = config.skew_seconds;
    o.box_id = config.box_id;
    o.already_executed = [](const Digest&) { return false; };
    o.attestation_verified = [this](const PolicyKey& k) { return attested(k); };
    VerifyReport report = verify_bundle(b, p, o);
    if (report.approved) return std::nullopt;
    auto reasons = report.reasons();
    return "no longer approved under policy version " + std::to_string(p.version()) + ": " +
           (reasons.empty() ? std::string("not approved") : reasons.front());
  }

  RunOutcome run(const JobRecord& job, bool resumed, JobSink& sink) {
    RunOutcome outcome = run_job(runners, job, resumed, sink);
    if (outcome.kind == RunOutcome::Kind::kInterrupted && job.action == Action::kInstallModel) {
      // Stopped by vetoes: the helper will never install it, so its staging goes now.
      if (auto v = queue.find(job.proposal); v && sink.cancelled()) {
        auto finished = system.finished(job.proposal);
        auto b = Bundle::parse(job.bundle);
        if (finished.ok() && *finished && !(*finished)->done && b.ok() && b->manifest()) {
          (void)system.staging_remove(b->manifest()->hash());
        }
      }
    }
    if (outcome.kind == RunOutcome::Kind::kDone && job.action == Action::kRotatePolicy) {
      // The daemon's copy of the policy in force: replayed from the helper's chain, as at
      // open, before the job shows as done.
      auto chain = read_policy_chain(config, [this](const PolicyKey& k) { return attested(k); });
      if (chain.ok()) {
        policy.set(chain->current);
      } else {
        std::fprintf(stderr, "countersignd: cannot read the policy chain: %s\n",
                     chain.error().message.c_str());
      }
    }
    return outcome;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::open(const Config& config, Clock clock) {
  CS_TRY_VOID(config.validate());
  auto roots = attestation::Roots::pinned_plus(config.attestation_roots);
  if (!roots.ok()) return roots.error().with_context("attestation_root");
  // The policy in force, as the helper keeps it: the configured root replayed through the
  // accepted rotations. A broken chain stops the daemon too (the helper refuses to act on one).
  auto chain = read_policy_chain(
      config, [&roots](const PolicyKey& k) { return attestation::check(k, *roots).verified; });
  if (!chain.ok()) return chain.error();
  CS_TRY(StateDir state, StateDir::open(config.daemon_dir()));
  CS_TRY(auto fetcher, SourceFetcher::from_config(config));
  CS_TRY(auto destinations, log_destinations(config));
  CS_TRY(auto shipper, LogShipper::open(config, std::move(destinations)));
  CS_TRY(auto witnesses, Witnesses::open(config));
  auto impl = std::make_unique<Impl>(config, std::move(clock), std::move(state), std::move(*roots),
                                     chain->current, std::move(fetcher));
  impl->shipper = std::move(shipper);
  impl->witnesses = std::move(witnesses);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<void> Engine::start() {
  Impl& s = *impl_;
  const Policy p = s.policy.get();
  s.audit.report(audit::event::kDaemonStarted, {{"box", s.config.box_id},
                                                {"domain", p.domain()},
                                                {"policy_version", p.version()},
                                                {"policy", digest_to_string(p.hash())}});
  auto accepted = read_proposal_records(SystemPaths(s.config));
  if (!accepted.ok()) return accepted.error();
  CS_TRY(auto queued, s.queue.recover(*accepted));
  std::set<Digest> keep;  // the staging of every unfinished install
  for (const auto& job : queued) {
    if (job.action != Action::kInstallModel && job.action != Action::kInstallPackages) continue;
    auto b = Bundle::parse(job.bundle);
    if (b.ok() && b->manifest()) keep.insert(b->manifest()->hash());
  }
  clean_staging(s.config, keep, s.system, s.audit);
  s.admission.sweep_pending();
  CS_TRY_VOID(s.audit.sign_checkpoint());
  s.shipper->start();
  s.witnesses->start();
  s.queue.start();
  return {};
}

void Engine::stop() {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  s.queue.stop();
  s.refusals.stop();
  s.audit.report(audit::event::kDaemonStopped, {{"box", s.config.box_id}});
  s.audit.sign_checkpoint_or_warn("at stop");
  // daemon-stopped on its way out too, when the destinations take it within a moment.
  if (auto size = s.log.size()) s.shipper->drain(*size, std::chrono::seconds(2));
  s.shipper->stop();
  s.witnesses->stop();
}

Admission& Engine::admission() { return impl_->admission; }
const JobQueue& Engine::jobs() const { return impl_->queue; }
LogReader& Engine::log() { return impl_->log; }
Witnesses& Engine::witnesses() { return *impl_->witnesses; }

EngineStatus Engine::status() const {
  const Impl& s = *impl_;
  const Policy p = s.policy.get();
  EngineStatus st;
  st.box = s.config.box_id;
  st.domain = p.domain();
  st.policy_version = p.version();
  st.policy_hash = p.hash();
  st.queued = s.queue.queued();
  st.running = s.queue.running();
  st.snapshot_backend = s.config.snapshot.to_string();
  auto executed = read_executed_set(SystemPaths(s.config).executed());
  st.executed = executed.ok() ? executed->size() : 0;
  st.log_report_failures = s.audit.failures();
  st.log_size = impl_->log.size();
  st.log_destinations = s.shipper->status();
  st.witnesses = s.witnesses->status();
  return st;
}

Result<BoxPackages> Engine::packages() const {
  const Impl& s = *impl_;
  return query_box_packages(system_command_runner(60), s.config.system_admindir(), s.config.box_id,
                            s.clock());
}

std::vector<InstalledModel> Engine::models() const {
  const Impl& s = *impl_;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s.config.models_dir(), ec)) {
    std::string name = e.path().filename().string();
    if (is_lower_hex(name, 64) && e.is_directory(ec) && !e.is_symlink(ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  const SystemPaths system(s.config);
  std::vector<InstalledModel> out;
  for (const auto& hex : names) {
    InstalledModel m{hex, s.config.models_dir() + "/" + hex, std::nullopt};
    auto record = read_installed_record(system, hex);
    if (record.ok() && *record) m.record = std::move(**record);
    out.push_back(std::move(m));
  }
  return out;
}

Policy Engine::policy() const { return impl_->policy.get(); }

Result<SnapshotListing> Engine::snapshots() {
  Impl& s = *impl_;
  if (s.config.snapshot.kind == SnapshotSpec::Kind::kNone &&
      s.config.system_snapshot.kind == SnapshotSpec::Kind::kNone)
    return SnapshotListing{"none", {}};
  // One helper run at a time answers every caller; the others wait for its answer.
  std::lock_guard lock(s.snapshots_mu);
  const UnixTime now = s.clock();
  if (s.snapshots_cached && now >= s.snapshots_at && now - s.snapshots_at < Impl::kSnapshotCacheSeconds) {
    return *s.snapshots_cached;
  }
  CS_TRY(auto listed, s.system.snapshot_list());
  SnapshotListing out{s.config.snapshot.to_string(), {}};
  for (const auto& e : listed) {
    auto doc = SnapshotDoc::create({s.config.box_id, e.backend, e.id, e.taken, e.scope});
    if (doc.ok()) out.snapshots.push_back(std::move(*doc));
  }
  s.snapshots_cached = out;
  s.snapshots_at = now;
  return out;
}

UnixTime Engine::now() const { return impl_->clock(); }

Result<Challenge> Engine::issue_challenge() {
  Impl& s = *impl_;
  return s.challenges.issue(s.policy.get().domain(), s.config.box_id, s.clock());
}

Result<json> Engine::prove(std::string_view body) {
  Impl& s = *impl_;
  CS_TRY(SignatureFile proof, SignatureFile::parse_text(body));
  if (proof.statement() != Statement::kLiveness) {
    return Error(
        Errc::kInvalidArgument,
        std::string("this file is ") + (proof.statement() == Statement::kVeto ? "a veto" : "an approval") +
            ", not a liveness proof: " +
            (proof.statement() == Statement::kVeto
                 ? "submit it with `countersign box veto` (POST /v1/proposals/<id>/vetoes)"
                 : "add it with `countersign box add-signature` (POST /v1/proposals/<id>/signatures)"));
  }
  auto challenge = s.challenges.find(proof.proposal(), s.clock());
  if (!challenge) {
    return Error(Errc::kNotFound,
                 "no such challenge: " + digest_to_string(proof.proposal()) +
                     " is not one this box issued in the last challenge_lifetime (or it "
                     "restarted since): ask the box for a new one (countersign box challenge)");
  }
  CS_TRY(std::string input,
         jcs::serialize(json{{"challenge", challenge->to_json()}, {"proof", proof.to_json()}}));
  return s.system.prove(input);
}

Result<json> Engine::attestation(const std::optional<Bytes>& nonce) {
  json request = json::object();
  if (nonce) request["nonce"] = hex_encode(*nonce);
  CS_TRY(std::string input, jcs::serialize(request));
  return impl_->system.attest(input);
}

Result<LivenessReport> Engine::approvers() {
  Impl& s = *impl_;
  CS_TRY(auto proofs, s.log.latest_proofs());
  return liveness_report(s.policy.get(), proofs, s.clock());
}

bool Engine::wait_idle(std::chrono::milliseconds timeout) { return impl_->queue.wait_idle(timeout); }

}  // namespace countersign::daemon
