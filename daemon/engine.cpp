#include "daemon/engine.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/audit_proof.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/manifest_diff.h"
#include "core/policy_chain.h"
#include "core/secret.h"
#include "core/signed_note.h"
#include "core/snapshot_doc.h"
#include "core/verify.h"
#include "daemon/credentials.h"
#include "daemon/fetch.h"
#include "daemon/privileged.h"
#include "daemon/state.h"
#include "smartcard/attestation.h"
#include "system/records.h"

namespace countersign::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

Reply error_reply(int status, std::string_view code, const std::string& reason) {
  return Reply{status, json{{"error", std::string(code)}, {"reason", reason}}, std::nullopt};
}

namespace {

constexpr int kOk = 200, kCreated = 201, kAccepted = 202, kBadRequest = 400, kForbidden = 403,
              kNotFound = 404, kConflict = 409, kUnprocessable = 422, kInternalError = 500,
              kUnavailable = 503;

// HTTP status for an error from parsing a request body.
int status_for(const Error& e) {
  switch (e.code) {
    case Errc::kNotFound:
      return kNotFound;
    case Errc::kRejected:
      return kForbidden;
    case Errc::kUnsupported:
      return kUnprocessable;
    case Errc::kIo:
    case Errc::kInternal:
      return kInternalError;
    default:
      return kBadRequest;
  }
}

Reply reply_for(const Error& e) { return error_reply(status_for(e), errc_name(e.code), e.message); }

// Why a verification said no, one line per reason, for the log and the reply.
std::vector<std::string> rejection_reasons(const VerifyReport& r) {
  std::vector<std::string> out;
  for (const auto& f : r.failures) out.push_back(f.check + ": " + f.message);
  for (const auto& s : r.signatures) {
    if (s.status == SignatureVerdict::Status::kCounted) continue;
    std::string who = s.approver_id.empty() ? "key " + s.key_id.substr(0, 16) : s.approver_id;
    out.push_back("signature " + std::to_string(s.index) + " (" + who +
                  "): " + std::string(verdict_name(s.status)) + (s.reason.empty() ? "" : ": " + s.reason));
  }
  for (const auto& sub : r.under_new_policy) {
    for (auto& line : rejection_reasons(sub)) out.push_back("under the new policy: " + line);
  }
  return out;
}

std::optional<Digest> parse_hex_id(std::string_view hex) {
  Digest d{};
  if (!decode_lower_hex(hex, d)) return std::nullopt;
  return d;
}

struct FileRow {
  std::string path;
  std::uint64_t total = 0, done = 0;
  std::string source;
  bool verified = false;
};

// In-memory view of a job: its record plus live progress.
struct JobView {
  JobRecord record;
  std::vector<FileRow> files;  // install-model only, filled when the fetch starts
  std::string phase;           // "verifying", "snapshot", "fetching", "installing", ...
};

}  // namespace

struct Engine::Impl {
  Config config;
  Clock clock;
  StateDir state;
  SystemPaths system;  // the helper's records, read only
  Privileged helper;
  FetchSettings fetch_settings;
  attestation::Roots attestation_roots;  // for require_attestation rules

  std::mutex log_mu;            // reads of the audit log (the helper writes it)
  std::atomic<std::uint64_t> report_failures{0};

  std::mutex submit_mu;  // verification + acceptance of one proposal at a time

  std::mutex mu;  // everything below
  std::condition_variable cv;
  Policy policy;
  std::deque<Digest> queue;
  std::map<Digest, JobView> jobs;
  std::optional<Digest> running;
  bool stopping = false;
  bool stopped = false;
  std::atomic<bool> cancel{false};
  std::thread worker;

  Impl(Config c, Clock clk, StateDir s, Policy p)
      : config(std::move(c)),
        clock(std::move(clk)),
        state(std::move(s)),
        system(config),
        helper(config.helper),
        policy(std::move(p)) {}

  // --- audit log ---------------------------------------------------------------------
  // The daemon's reports (DESIGN.md "Audit log"): the helper appends them marked
  // "reported_by": "daemon". Policy when a report cannot be appended (the helper refused it,
  // rate-limited it or could not run): it is written to stderr (the journal) and counted in
  // /v1/status as "log_report_failures", and whatever the daemon was doing goes on. Nothing
  // privileged depends on a report: the helper logs each privileged step itself and fails the
  // step when it cannot.
  void record(std::string_view event, json fields = json::object()) {
    fields["event"] = std::string(event);
    auto text = jcs::serialize(fields);
    auto r = text.ok() ? helper.run({"log", "append"}, *text, 60) : Result<json>(text.error());
    if (!r.ok()) {
      ++report_failures;
      std::fprintf(stderr, "countersignd: cannot log %s: %s\n", std::string(event).c_str(), r.error().message.c_str());
    }
  }
  // The helper signs a checkpoint when the log grew since the newest one.
  Result<void> sign_checkpoint_if_grown() {
    CS_TRY(auto r, helper.run({"log", "checkpoint"}, {}, 60));
    (void)r;
    return {};
  }
  Result<audit::AuditLog> read_log() const {
    auto log = audit::AuditLog::open(config.log_dir(), audit::AuditLog::Mode::kReadOnly);
    if (!log.ok()) return log.error().with_context("audit log " + config.log_dir());
    return log;
  }
  bool executed(const Digest& id) const {
    auto set = read_executed_set(system.executed());
    return set.ok() && set->count(id) != 0;
  }

  // --- acceptance ----------------------------------------------------------------------
  Reply reject(const std::optional<Digest>& proposal, std::vector<std::string> reasons, int status,
               const json& report = nullptr) {
    json fields = {{"reasons", reasons}};
    if (proposal) fields["proposal"] = digest_to_string(*proposal);
    record(audit::event::kBundleRejected, fields);
    json body = {{"error", "rejected"}, {"reasons", reasons}};
    if (!report.is_null()) body["report"] = report;
    return Reply{status, body, std::nullopt};
  }

  // Checks that only depend on this box (not on signatures).
  std::optional<std::string> box_specific_refusal(const Bundle& b) const {
    switch (b.proposal().action()) {
      case Action::kInstallPackages:
        return "install-packages is not supported by this version of countersignd";
      case Action::kRestoreSnapshot: {
        const auto& s = b.snapshot()->fields();
        if (s.box != config.box_id)
          return "the snapshot belongs to box \"" + s.box + "\", this is \"" + config.box_id + "\"";
        std::string backend = config.snapshot.kind == SnapshotSpec::Kind::kBtrfs ? "btrfs"
                              : config.snapshot.kind == SnapshotSpec::Kind::kZfs ? "zfs"
                                                                                 : "none";
        if (s.backend != backend)
          return "the snapshot is a " + s.backend + " snapshot, this box uses " + backend;
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  }

  VerifyOptions verify_options() {
    VerifyOptions o;
    o.now = clock();
    o.skew_seconds = config.skew_seconds;
    o.box_id = config.box_id;
    auto set = read_executed_set(system.executed());
    auto executed_ids = std::make_shared<std::set<Digest>>(set.ok() ? std::move(*set) : std::set<Digest>{});
    o.already_executed = [executed_ids](const Digest& d) { return executed_ids->count(d) != 0; };
    // require_attestation rules count a key only when its vendor attestation verifies here,
    // on the box, against the pinned roots (and the configured attestation_root files).
    o.attestation_verified = [this](const PolicyKey& k) {
      return attestation::check(k, attestation_roots).verified;
    };
    return o;
  }

  Policy current_policy() {
    std::lock_guard lock(mu);
    return policy;
  }

  // Verifies and, when approved, queues. Caller holds submit_mu.
  Reply accept(const Bundle& b, const json& raw) {
    const Digest id = b.proposal().id();
    record(audit::event::kBundleReceived, {{"proposal", digest_to_string(id)},
                                           {"action", std::string(action_name(b.proposal().action()))},
                                           {"signatures", b.signatures().size()}});
    if (auto why = box_specific_refusal(b)) return reject(id, {*why}, kUnprocessable);
    Policy p = current_policy();
    VerifyReport report = verify_bundle(b, p, verify_options());
    if (!report.approved) {
      bool replay = false;
      for (const auto& f : report.failures) replay = replay || f.check == "replayed";
      return reject(id, rejection_reasons(report), replay ? kConflict : kForbidden, report.to_json());
    }
    // The helper decides: it verifies the bundle itself, logs bundle-verified and marks the
    // id executed in its own records (or refuses and logs why).
    auto text = jcs::serialize(raw);
    if (!text.ok()) return reply_for(text.error());
    auto accepted = helper.run({"accept"}, *text);
    if (!accepted.ok()) {
      const Error& e = accepted.error();
      const bool replay = e.message.find("replayed:") != std::string::npos;
      if (e.code == Errc::kRejected) {
        return Reply{replay ? kConflict : kForbidden,
                     json{{"error", "rejected"}, {"reasons", {e.message}}, {"report", report.to_json()}}, std::nullopt};
      }
      return error_reply(kInternalError, "helper", e.message);
    }
    JobRecord job;
    job.proposal = id;
    job.action = std::string(action_name(b.proposal().action()));
    job.bundle = raw;
    job.received = clock();
    // A crash before this job is saved leaves the helper's record of an accepted proposal
    // without a job; Engine::start queues those.
    auto saved = state.save_job(job);
    if (!saved.ok()) return reply_for(saved.error());
    (void)state.remove_pending(id);
    {
      std::lock_guard lock(mu);
      jobs[id] = JobView{job, {}, "queued"};
      queue.push_back(id);
    }
    cv.notify_all();
    return Reply{kAccepted,
                 json{{"job", hex_encode(id)},
                      {"state", "queued"},
                      {"action", job.action},
                      {"report", report.to_json()}},
                 std::nullopt};
  }

  // --- jobs --------------------------------------------------------------------------
  void set_phase(const Digest& id, std::string phase) {
    std::lock_guard lock(mu);
    jobs[id].phase = std::move(phase);
  }

  void finish(JobRecord& job, JobState st, std::optional<std::string> error) {
    job.state = st;
    job.finished = clock();
    job.error = std::move(error);
    auto saved = state.save_job(job);
    (void)saved;  // the helper's records and log entries are the record of the outcome; the job file is a cache
    std::lock_guard lock(mu);
    auto& v = jobs[job.proposal];
    v.record = job;
    v.phase = job_state_name(st);
  }

  std::string proposal_hex(const JobRecord& job) const { return hex_encode(job.proposal); }

  // The helper's snapshot before this proposal's privileged step (it logs it; "none" when
  // there is no backend). Asked once per job; the helper answers with the same one again.
  Result<std::string> take_snapshot(JobRecord& job) {
    if (job.snapshot) return *job.snapshot;
    set_phase(job.proposal, "snapshot");
    CS_TRY(json r, helper.run({"snapshot", "take", proposal_hex(job)}));
    job.snapshot = r.contains("id") && r["id"].is_string() ? r["id"].get<std::string>() : std::string("none");
    (void)state.save_job(job);
    return *job.snapshot;
  }

  std::uint64_t staged_bytes(const std::string& dir) {
    std::uint64_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += it->file_size(ec);
    }
    return n;
  }

  // Gives the proposal up with the helper (which logs it with the daemon's reason) and fails
  // the job. For installs the staging goes first.
  void give_up(JobRecord& job, const std::string& reason, const std::optional<std::string>& staging_hex) {
    std::string why = reason;
    if (staging_hex) {
      auto removed = helper.run({"staging", "remove", *staging_hex});
      if (!removed.ok()) why += " (and the staging could not be removed: " + removed.error().message + ")";
    }
    auto abandoned = helper.run({"proposal", "abandon", proposal_hex(job)}, why + "\n");
    if (!abandoned.ok()) {
      std::fprintf(stderr, "countersignd: cannot abandon %s: %s\n", proposal_hex(job).c_str(),
                   abandoned.error().message.c_str());
    }
    finish(job, JobState::kFailed, reason);
  }

  void succeed(JobRecord& job, const json& helper_result) {
    job.result = helper_result;
    finish(job, JobState::kDone, std::nullopt);
  }

  void run_install(JobRecord& job, const Manifest& m, bool resumed) {
    const std::string hex = hex_encode(m.hash());
    const std::string target = config.models_dir() + "/" + hex;
    const std::string staging = config.staging_dir() + "/" + hex;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(target, ec))) {
      // Already there by name; the helper seals and re-hashes it before it counts. When it
      // is damaged the helper removes it (model-damaged) and the model is fetched again.
      set_phase(job.proposal, "installing");
      auto installed = helper.run({"model", "install", proposal_hex(job)});
      if (installed.ok()) return succeed(job, *installed);
    }
    if (resumed) {
      record(audit::event::kInstallResumed, {{"proposal", digest_to_string(job.proposal)}, {"manifest", "sha256:" + hex}});
    }
    // Free space for what is still to come.
    struct statvfs sv {};
    if (::statvfs(config.models_dir().c_str(), &sv) == 0) {
      std::uint64_t have = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
      std::uint64_t staged = staged_bytes(staging) + staged_bytes(staging + ".parts");
      std::uint64_t need = m.total_size() > staged ? m.total_size() - staged : 0;
      if (need > have) {
        return give_up(job,
                       "not enough disk space in " + config.models_dir() + ": the model needs " + human_size(need) +
                           " more, " + human_size(have) + " free",
                       hex);
      }
    }
    if (auto snap = take_snapshot(job); !snap.ok()) return give_up(job, snap.error().message, hex);
    // Staging: the daemon's own directory inside models/ (same file system: one rename).
    ::mkdir(config.staging_dir().c_str(), 0750);
    if (::mkdir(staging.c_str(), 0750) != 0 && errno != EEXIST) {
      return give_up(job, "cannot create " + staging + ": " + std::strerror(errno), hex);
    }
    {
      std::lock_guard lock(mu);
      auto& v = jobs[job.proposal];
      v.phase = "fetching";
      v.files.clear();
      for (const auto& f : m.files()) v.files.push_back(FileRow{f.path, f.size, 0, {}, false});
    }
    json sources = json::array();
    for (const auto& s : config.mirrors) sources.push_back("mirror " + s.describe());
    for (const auto& s : m.sources()) sources.push_back(s.describe());
    record(audit::event::kFetchStarted, {{"proposal", digest_to_string(job.proposal)},
                                         {"manifest", "sha256:" + hex},
                                         {"files", m.files().size()},
                                         {"bytes", m.total_size()},
                                         {"sources", sources}});
    FetchObserver obs;
    const Digest id = job.proposal;
    obs.on_event = [this, id](const FetchEvent& e) {
      if (e.kind == FetchEvent::Kind::kFileVerified) {
        std::lock_guard lock(mu);
        for (auto& row : jobs[id].files) {
          if (row.path == e.path) row.verified = true, row.done = row.total, row.source = e.source;
        }
        return;
      }
      auto ev = e.kind == FetchEvent::Kind::kHashMismatch ? audit::event::kHashMismatchAlert
                                                          : audit::event::kSourceFailed;
      record(ev, {{"proposal", digest_to_string(id)}, {"path", e.path}, {"source", e.source}, {"reason", e.reason}});
    };
    obs.on_progress = [this, id](const FileProgress& p) {
      std::lock_guard lock(mu);
      auto& files = jobs[id].files;
      if (p.file < files.size()) {
        files[p.file].done = p.done;
        files[p.file].source = p.source;
      }
    };
    obs.cancelled = [this] { return cancel.load(); };
    auto fetched = fetch_manifest(m, config.mirrors, staging, fetch_settings, obs);
    if (!fetched.ok()) {
      if (cancel.load()) return;  // stopping: the job stays "running" and resumes at the next start
      return give_up(job, fetched.error().message, hex);
    }
    set_phase(job.proposal, "installing");
    auto installed = helper.run({"model", "install", proposal_hex(job)});
    if (!installed.ok()) return give_up(job, "countersign-system refused the install: " + installed.error().message, hex);
    succeed(job, *installed);
  }

  // remove-model, restore-snapshot, rotate-policy: one helper step each, which checks, acts
  // and logs; the daemon only reports the outcome.
  void run_helper_step(JobRecord& job, const std::vector<std::string>& args, std::string phase) {
    set_phase(job.proposal, std::move(phase));
    auto r = helper.run(args);
    if (!r.ok()) return give_up(job, "countersign-system: " + r.error().message, std::nullopt);
    succeed(job, *r);
  }

  void run_rotate(JobRecord& job) {
    set_phase(job.proposal, "rotating");
    auto r = helper.run({"policy", "rotate", proposal_hex(job)});
    if (!r.ok()) return give_up(job, "countersign-system: " + r.error().message, std::nullopt);
    // The daemon's copy of the policy in force: replayed from the helper's chain, as at start.
    auto chain = read_policy_chain(config, [this](const PolicyKey& k) { return attestation::check(k, attestation_roots).verified; });
    if (chain.ok()) {
      std::lock_guard lock(mu);
      policy = chain->current;
    } else {
      std::fprintf(stderr, "countersignd: cannot read the policy chain: %s\n", chain.error().message.c_str());
    }
    succeed(job, *r);
  }

  void run_job(const Digest& id) {
    JobRecord job;
    bool resumed = false;
    {
      std::lock_guard lock(mu);
      job = jobs[id].record;
      resumed = job.state == JobState::kRunning;
      jobs[id].phase = "starting";
    }
    job.state = JobState::kRunning;
    (void)state.save_job(job);
    {
      std::lock_guard lock(mu);
      jobs[id].record = job;
    }
    auto b = Bundle::parse(job.bundle);
    if (!b.ok()) return finish(job, JobState::kFailed, "stored bundle unreadable: " + b.error().message);
    switch (b->proposal().action()) {
      case Action::kInstallModel:
        run_install(job, *b->manifest(), resumed);
        break;
      case Action::kRemoveModel:
        run_helper_step(job, {"model", "remove", proposal_hex(job)}, "removing");
        break;
      case Action::kRestoreSnapshot:
        run_helper_step(job, {"snapshot", "restore", proposal_hex(job)}, "restoring");
        break;
      case Action::kRotatePolicy:
        run_rotate(job);
        break;
      case Action::kInstallPackages:
        give_up(job, "install-packages is not supported", std::nullopt);
        break;
    }
    (void)sign_checkpoint_if_grown();
  }

  void worker_loop() {
    for (;;) {
      Digest id{};
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        id = queue.front();
        queue.pop_front();
        running = id;
      }
      run_job(id);
      {
        std::lock_guard lock(mu);
        running.reset();
      }
      cv.notify_all();
    }
  }

  json job_json(const JobView& v) const {
    json j = {{"job", hex_encode(v.record.proposal)},
              {"action", v.record.action},
              {"state", job_state_name(v.record.state)},
              {"phase", v.phase},
              {"received", format_rfc3339(v.record.received)}};
    if (v.record.finished) j["finished"] = format_rfc3339(*v.record.finished);
    if (v.record.error) j["error"] = *v.record.error;
    if (v.record.snapshot) j["snapshot"] = *v.record.snapshot;
    if (!v.record.result.is_null()) j["result"] = v.record.result;
    if (!v.files.empty()) {
      std::uint64_t total = 0, done = 0, verified = 0;
      json active = json::array();
      for (const auto& f : v.files) {
        total += f.total;
        done += f.done;
        verified += f.verified ? 1 : 0;
        if (!f.verified && f.done > 0 && active.size() < 64) {
          active.push_back({{"path", f.path}, {"done", f.done}, {"total", f.total}, {"source", f.source}});
        }
      }
      j["progress"] = {{"files_total", v.files.size()},
                       {"files_done", verified},
                       {"bytes_total", total},
                       {"bytes_done", done},
                       {"active", active}};
    }
    return j;
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
  auto chain = read_policy_chain(config, [&roots](const PolicyKey& k) { return attestation::check(k, *roots).verified; });
  if (!chain.ok()) return chain.error();
  CS_TRY(StateDir state, StateDir::open(config.daemon_dir()));
  const Policy in_force = chain->current;
  auto impl = std::make_unique<Impl>(config, clock, std::move(state), in_force);
  impl->attestation_roots = std::move(*roots);

  FetchSettings& fs_ = impl->fetch_settings;
  fs_.parallel = config.parallel;
  fs_.connect_timeout_seconds = config.connect_timeout_seconds;
  fs_.stall_timeout_seconds = config.stall_timeout_seconds;
  CS_TRY_VOID(load_fetch_credentials(config, fs_));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<void> Engine::start() {
  Impl& s = *impl_;
  {
    Policy p = s.current_policy();
    s.record(audit::event::kDaemonStarted, {{"box", s.config.box_id},
                                            {"domain", p.domain()},
                                            {"policy_version", p.version()},
                                            {"policy", digest_to_string(p.hash())}});
  }
  CS_TRY(auto records, s.state.load_jobs());
  std::set<std::string> keep;  // staging names that belong to an unfinished install
  {
    std::lock_guard lock(s.mu);
    for (auto& r : records) {
      bool unfinished = r.state == JobState::kQueued || r.state == JobState::kRunning;
      if (unfinished && r.action == "install-model") {
        auto b = Bundle::parse(r.bundle);
        if (b.ok() && b->manifest()) keep.insert(hex_encode(b->manifest()->hash()));
      }
      if (unfinished) s.queue.push_back(r.proposal);
      s.jobs[r.proposal] = JobView{r, {}, unfinished ? "queued" : std::string(job_state_name(r.state))};
    }
  }
  // Proposals the helper accepted but the daemon has no job for (a crash between the
  // helper's answer and the job file): their jobs are made from the helper's own records.
  auto accepted = read_proposal_records(s.system);
  if (!accepted.ok()) return accepted.error();
  for (const auto& r : *accepted) {
    if (r.state != ProposalState::kAccepted) continue;
    std::lock_guard lock(s.mu);
    if (s.jobs.count(r.id)) continue;
    auto b = Bundle::parse(r.bundle);
    if (!b.ok()) continue;
    JobRecord job;
    job.proposal = r.id;
    job.action = std::string(action_name(b->proposal().action()));
    job.bundle = r.bundle;
    job.received = r.accepted;
    job.snapshot = r.snapshot;
    (void)s.state.save_job(job);
    if (b->manifest() && b->proposal().action() == Action::kInstallModel) keep.insert(hex_encode(b->manifest()->hash()));
    s.queue.push_back(r.id);
    s.jobs[r.id] = JobView{job, {}, "queued"};
  }
  // Staging left by anything else (<hex> and <hex>.parts, a legacy <hex>.manifest.json).
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s.config.staging_dir(), ec)) {
    std::string name = e.path().filename().string();
    std::string hex = name.substr(0, 64);
    if (!is_lower_hex(hex, 64) || keep.count(hex)) continue;
    auto r = s.helper.run({"staging", "remove", hex});
    json fields = {{"manifest", "sha256:" + hex}};
    if (!r.ok()) fields["error"] = r.error().message;
    s.record(audit::event::kStagingCleaned, fields);
    keep.insert(hex);  // once per manifest (its directory and its parts)
  }
  CS_TRY_VOID(s.sign_checkpoint_if_grown());
  s.worker = std::thread([&s] { s.worker_loop(); });
  return {};
}

void Engine::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
    s.stopping = true;
  }
  s.cancel = true;
  s.cv.notify_all();
  if (s.worker.joinable()) s.worker.join();
  s.record(audit::event::kDaemonStopped, {{"box", s.config.box_id}});
  (void)s.sign_checkpoint_if_grown();
}

Reply Engine::submit_bundle(std::string_view body) {
  Impl& s = *impl_;
  auto doc = jcs::parse(body);
  if (!doc.ok()) return s.reject(std::nullopt, {"malformed bundle: " + doc.error().message}, kBadRequest);
  auto b = Bundle::parse(*doc);
  if (!b.ok()) return s.reject(std::nullopt, {"malformed bundle: " + b.error().message}, kBadRequest);
  std::lock_guard lock(s.submit_mu);
  return s.accept(*b, *doc);
}

Reply Engine::create_pending(std::string_view body) {
  Impl& s = *impl_;
  auto doc = jcs::parse(body);
  if (!doc.ok()) return error_reply(kBadRequest, "malformed", doc.error().message);
  if (!doc->is_object() || !doc->contains("proposal") || !doc->contains("manifest")) {
    return error_reply(kBadRequest, "malformed", "expected {\"proposal\": {...}, \"manifest\": {...}}");
  }
  json as_bundle = {{"schema", kBundleSchema},
                    {"proposal", (*doc)["proposal"]},
                    {"manifest", (*doc)["manifest"]},
                    {"signatures", json::array()}};
  if (doc->size() != 2)
    return error_reply(kBadRequest, "malformed", "only \"proposal\" and \"manifest\" are allowed");
  auto b = Bundle::parse(as_bundle);
  if (!b.ok()) return reply_for(b.error());
  std::lock_guard lock(s.submit_mu);
  const Digest id = b->proposal().id();
  if (auto why = s.box_specific_refusal(*b)) return error_reply(kUnprocessable, "rejected", *why);
  VerifyReport report = verify_bundle(*b, s.current_policy(), s.verify_options());
  // Everything but the signatures must already hold.
  std::vector<std::string> blocking;
  for (const auto& f : report.failures) {
    if (f.check != "threshold" && f.check != "roles") blocking.push_back(f.check + ": " + f.message);
  }
  if (!blocking.empty()) return error_reply(kForbidden, "rejected", blocking.front());
  auto existing = s.state.load_pending(id);
  if (existing.ok() && *existing) return pending(hex_encode(id));
  auto saved = s.state.save_pending(id, as_bundle);
  if (!saved.ok()) return reply_for(saved.error());
  s.record(audit::event::kProposalPending, {{"proposal", digest_to_string(id)},
                                            {"action", std::string(action_name(b->proposal().action()))},
                                            {"missing", report.missing}});
  return Reply{kCreated,
               json{{"proposal", hex_encode(id)}, {"state", "pending"}, {"report", report.to_json()}},
               std::nullopt};
}

Reply Engine::pending(std::string_view proposal_hex) {
  Impl& s = *impl_;
  auto id = parse_hex_id(proposal_hex);
  if (!id) return error_reply(kBadRequest, "malformed", "a proposal id is 64 lowercase hex digits");
  auto doc = s.state.load_pending(*id);
  if (!doc.ok()) return reply_for(doc.error());
  if (!*doc) {
    std::lock_guard lock(s.mu);
    if (s.jobs.count(*id))
      return Reply{kOk,
                   json{{"proposal", std::string(proposal_hex)},
                        {"state", "accepted"},
                        {"job", std::string(proposal_hex)}},
                   std::nullopt};
    return error_reply(kNotFound, "not-found", "no pending proposal " + std::string(proposal_hex));
  }
  auto b = Bundle::parse(**doc);
  if (!b.ok()) return reply_for(b.error());
  VerifyReport report = verify_bundle(*b, s.current_policy(), s.verify_options());
  return Reply{
      kOk, json{{"proposal", std::string(proposal_hex)}, {"state", "pending"}, {"report", report.to_json()}},
      std::nullopt};
}

Reply Engine::add_signature(std::string_view proposal_hex, std::string_view body) {
  Impl& s = *impl_;
  auto id = parse_hex_id(proposal_hex);
  if (!id) return error_reply(kBadRequest, "malformed", "a proposal id is 64 lowercase hex digits");
  auto sig = SignatureFile::parse_text(body);
  if (!sig.ok()) return reply_for(sig.error());
  std::lock_guard lock(s.submit_mu);
  auto doc = s.state.load_pending(*id);
  if (!doc.ok()) return reply_for(doc.error());
  if (!*doc) return error_reply(kNotFound, "not-found", "no pending proposal " + std::string(proposal_hex));
  json bundle = **doc;
  json sig_json = sig->to_json();
  for (const auto& existing : bundle["signatures"]) {
    if (existing == sig_json) return pending(proposal_hex);  // the same file twice: nothing new
  }
  bundle["signatures"].push_back(sig_json);
  auto b = Bundle::parse(bundle);
  if (!b.ok()) return reply_for(b.error());
  VerifyReport report = verify_bundle(*b, s.current_policy(), s.verify_options());
  const auto& verdict = report.signatures.back();
  if (verdict.status != SignatureVerdict::Status::kCounted) {
    std::string reason =
        std::string(verdict_name(verdict.status)) + (verdict.reason.empty() ? "" : ": " + verdict.reason);
    s.record(audit::event::kSignatureRejected,
             {{"proposal", digest_to_string(*id)}, {"key", verdict.key_id}, {"reason", reason}});
    return Reply{kUnprocessable,
                 json{{"error", "signature-rejected"}, {"reason", reason}, {"report", report.to_json()}},
                 std::nullopt};
  }
  s.record(
      audit::event::kSignatureAccepted,
      {{"proposal", digest_to_string(*id)}, {"key", verdict.key_id}, {"approver", verdict.approver_id}});
  if (report.approved) return s.accept(*b, bundle);
  auto saved = s.state.save_pending(*id, bundle);
  if (!saved.ok()) return reply_for(saved.error());
  return Reply{
      kOk, json{{"proposal", std::string(proposal_hex)}, {"state", "pending"}, {"report", report.to_json()}},
      std::nullopt};
}

Reply Engine::status() {
  Impl& s = *impl_;
  json j;
  {
    std::lock_guard lock(s.mu);
    j = {{"box", s.config.box_id},
         {"domain", s.policy.domain()},
         {"policy_version", s.policy.version()},
         {"policy", digest_to_string(s.policy.hash())},
         {"queued", s.queue.size()},
         {"snapshot_backend", s.config.snapshot.to_string()},
         {"executed", [&] {
            auto set = read_executed_set(s.system.executed());
            return set.ok() ? set->size() : std::size_t{0};
          }()},
         {"log_report_failures", s.report_failures.load()}};
    if (s.running) j["running"] = s.job_json(s.jobs[*s.running]);
  }
  {
    std::lock_guard lock(s.log_mu);
    auto log = s.read_log();
    if (log.ok()) j["log_size"] = log->size();
  }
  return Reply{kOk, j, std::nullopt};
}

Reply Engine::job(std::string_view proposal_hex) {
  Impl& s = *impl_;
  auto id = parse_hex_id(proposal_hex);
  if (!id)
    return error_reply(kBadRequest, "malformed", "a job id is the proposal id: 64 lowercase hex digits");
  std::lock_guard lock(s.mu);
  auto it = s.jobs.find(*id);
  if (it == s.jobs.end())
    return error_reply(kNotFound, "not-found", "no job for proposal " + std::string(proposal_hex));
  return Reply{kOk, s.job_json(it->second), std::nullopt};
}

Reply Engine::jobs() {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  std::vector<const JobView*> views;
  for (const auto& [id, v] : s.jobs) views.push_back(&v);
  std::sort(views.begin(), views.end(),
            [](const JobView* a, const JobView* b) { return a->record.received < b->record.received; });
  json out = json::array();
  for (const auto* v : views) {
    json j = s.job_json(*v);
    j.erase("progress");
    out.push_back(std::move(j));
  }
  return Reply{kOk, json{{"jobs", out}}, std::nullopt};
}

Reply Engine::models() {
  Impl& s = *impl_;
  json out = json::array();
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(s.config.models_dir(), ec)) {
    std::string name = e.path().filename().string();
    if (is_lower_hex(name, 64) && e.is_directory(ec) && !e.is_symlink(ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& hex : names) {
    json m = {{"hash", "sha256:" + hex}, {"path", s.config.models_dir() + "/" + hex}};
    auto rec = read_installed_record(s.system, hex);
    if (rec.ok() && *rec) {
      const json& r = **rec;
      if (r.contains("manifest")) {
        m["name"] = r["manifest"].value("name", "");
        m["version"] = r["manifest"].value("version", "");
        m["manifest"] = r["manifest"];
      }
      if (r.contains("proposal")) m["proposal"] = r["proposal"];
      if (r.contains("installed")) m["installed"] = r["installed"];
    }
    out.push_back(std::move(m));
  }
  return Reply{kOk, json{{"models", out}}, std::nullopt};
}

Reply Engine::policy() {
  Policy p = impl_->current_policy();
  return Reply{kOk,
               json{{"version", p.version()}, {"hash", digest_to_string(p.hash())}, {"policy", p.to_json()}},
               std::nullopt};
}

Reply Engine::snapshots() {
  Impl& s = *impl_;
  if (s.config.snapshot.kind == SnapshotSpec::Kind::kNone) {
    return Reply{kOk, json{{"backend", "none"}, {"snapshots", json::array()}}, std::nullopt};
  }
  auto r = s.helper.run({"snapshot", "list"}, {}, 60);
  if (!r.ok()) return error_reply(kInternalError, "helper", r.error().message);
  json out = json::array();
  for (const auto& e : *r) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("taken")) continue;
    auto taken = parse_rfc3339(e["taken"].get<std::string>());
    auto doc = SnapshotDoc::create(
        {s.config.box_id, e.value("backend", ""), e["id"].get<std::string>(), taken.ok() ? *taken : 0});
    if (doc.ok()) out.push_back({{"document", doc->to_json()}, {"hash", digest_to_string(doc->hash())}});
  }
  return Reply{kOk, json{{"backend", s.config.snapshot.to_string()}, {"snapshots", out}}, std::nullopt};
}

Reply Engine::log_checkpoint() {
  Impl& s = *impl_;
  auto signed_ = s.sign_checkpoint_if_grown();
  if (!signed_.ok()) return reply_for(signed_.error());
  std::lock_guard lock(s.log_mu);
  auto log = s.read_log();
  if (!log.ok()) return reply_for(log.error());
  auto cp = audit::find_checkpoint(*log, 0);
  if (!cp.ok()) return reply_for(cp.error());
  return Reply{kOk, nullptr, cp->first};
}

Reply Engine::log_entries(std::uint64_t start, std::optional<std::uint64_t> end) {
  Impl& s = *impl_;
  std::lock_guard lock(s.log_mu);
  auto log = s.read_log();
  if (!log.ok()) return reply_for(log.error());
  std::uint64_t size = log->size();
  std::uint64_t stop = std::min(end.value_or(size), size);
  if (start > stop) return error_reply(kBadRequest, "malformed", "start is past the end of the log");
  constexpr std::uint64_t kMaxPage = 10000;
  stop = std::min(stop, start + kMaxPage);
  std::string out;
  for (std::uint64_t i = start; i < stop; ++i) {
    auto bytes = log->entry(i);
    auto leaf = log->leaf_hash(i);
    if (!bytes.ok() || !leaf.ok()) return reply_for(!bytes.ok() ? bytes.error() : leaf.error());
    out += audit::export_line(i, *bytes, *leaf);
    out += '\n';
  }
  return Reply{kOk, nullptr, out};
}

Reply Engine::log_inclusion(std::uint64_t index, std::uint64_t tree_size) {
  Impl& s = *impl_;
  (void)s.sign_checkpoint_if_grown();
  std::lock_guard lock(s.log_mu);
  auto log = s.read_log();
  if (!log.ok()) return reply_for(log.error());
  auto doc = audit::inclusion_proof_doc(*log, index, tree_size);
  if (!doc.ok()) return reply_for(doc.error());
  return Reply{kOk, *doc, std::nullopt};
}

Reply Engine::log_consistency(std::uint64_t old_size, std::uint64_t new_size) {
  Impl& s = *impl_;
  std::lock_guard lock(s.log_mu);
  auto log = s.read_log();
  if (!log.ok()) return reply_for(log.error());
  auto doc = audit::consistency_proof_doc(*log, old_size, new_size);
  if (!doc.ok()) return reply_for(doc.error());
  return Reply{kOk, *doc, std::nullopt};
}

bool Engine::wait_idle(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  return s.cv.wait_for(lock, timeout, [&] { return s.queue.empty() && !s.running; });
}

}  // namespace countersign::daemon
