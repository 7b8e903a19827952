#include "daemon/runners.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/audit_entry.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/human_size.h"
#include "daemon/staging.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Gives the proposal up with the helper, which logs it with the daemon's reason, and fails
// the job with `reason`. For an install (`staging`) the staging goes first.
RunOutcome give_up(const RunnerEnv& env, const JobRecord& job, const std::string& reason,
                   const std::optional<Digest>& staging) {
  std::string why = reason;
  if (staging) {
    auto removed = env.system.staging_remove(*staging);
    if (!removed.ok()) why += " (and the staging could not be removed: " + removed.error().message + ")";
  }
  auto abandoned = env.system.abandon(job.proposal, why);
  if (!abandoned.ok()) {
    // The proposal stays accepted in the helper's records; the job fails all the same.
    std::fprintf(stderr, "countersignd: cannot abandon %s: %s\n", hex_encode(job.proposal).c_str(),
                 abandoned.error().message.c_str());
  }
  return RunOutcome::failed(reason);
}

// Free space in models/ for what staging does not hold yet; nullopt when there is enough
// (or statvfs cannot tell), else why not.
std::optional<std::string> space_shortfall(const Config& config, const Manifest& m,
                                           const std::string& staging) {
  struct statvfs sv {};
  if (::statvfs(config.models_dir().c_str(), &sv) != 0) return std::nullopt;
  const std::uint64_t have = static_cast<std::uint64_t>(sv.f_bavail) * sv.f_frsize;
  const std::uint64_t staged = staged_bytes(staging) + staged_bytes(staging + ".parts");
  const std::uint64_t need = m.total_size() > staged ? m.total_size() - staged : 0;
  if (need <= have) return std::nullopt;
  return "not enough disk space in " + config.models_dir() + ": the model needs " + human_size(need) +
         " more, " + human_size(have) + " free";
}

// The helper's snapshot before this proposal's privileged step (it logs it; "none" when
// there is no backend). Asked once per job; the helper answers with the same one again.
Result<std::string> take_snapshot(const RunnerEnv& env, const JobRecord& job, JobSink& sink) {
  if (job.snapshot) return *job.snapshot;
  sink.phase(JobPhase::kSnapshot);
  CS_TRY(std::string id, env.system.snapshot_take(job.proposal));
  sink.snapshot_taken(id);
  return id;
}

// fetch-progress: reported once each as the bytes streamed and hashed (the job's
// bytes_done) first reach 25, 50 and 75 % of the manifest's size. Progress can go back (a
// source that gave wrong bytes is read again from byte 0); a milestone is never reported
// twice.
class FetchMilestones {
 public:
  FetchMilestones(const RunnerEnv& env, const Digest& proposal, const Manifest& m)
      : env_(env), proposal_(proposal), manifest_(m), done_(m.files().size(), 0) {}

  void progress(std::size_t file, std::uint64_t done) {
    std::lock_guard lock(mu_);
    if (file >= done_.size()) return;
    done_[file] = done;
    check();
  }
  void verified(const std::string& path) {
    std::lock_guard lock(mu_);
    const auto& files = manifest_.files();
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (files[i].path == path) done_[i] = files[i].size;
    }
    check();
  }

 private:
  static constexpr std::array<std::uint64_t, 3> kPercents = {25, 50, 75};

  // The least byte count b with b * 100 >= total * percent, computed without overflow for
  // any size a manifest can declare.
  static std::uint64_t threshold(std::uint64_t total, std::uint64_t percent) {
    return total / 100 * percent + (total % 100 * percent + 99) / 100;
  }

  void check() {
    const std::uint64_t total = manifest_.total_size();
    if (total == 0) return;
    std::uint64_t bytes = 0;
    for (auto d : done_) bytes += d;
    for (std::size_t i = 0; i < kPercents.size(); ++i) {
      if (reported_[i] || bytes < threshold(total, kPercents[i])) continue;
      reported_[i] = true;
      env_.audit.report(audit::event::kFetchProgress, {{"proposal", digest_to_string(proposal_)},
                                                       {"manifest", digest_to_string(manifest_.hash())},
                                                       {"percent", kPercents[i]},
                                                       {"bytes", bytes}});
    }
  }

  const RunnerEnv& env_;
  const Digest proposal_;
  const Manifest& manifest_;
  std::mutex mu_;
  std::vector<std::uint64_t> done_;  // per file
  std::array<bool, 3> reported_{};
};

// Asks the helper to seal and hash what has verified so far (`model seal`), one call at a
// time on its own thread, again whenever more files verified meanwhile, so that the install
// after the last byte re-reads only what came since. Each call starts kSealDelay after the
// verification that asked for it: files fetched side by side finish moments apart, and a
// seal of the first alone would make the install wait for it before hashing the others,
// one after the other instead of in parallel; when the fetch ends within the delay, the
// install hashes them all at once. Best effort: a failed call only means the install hashes
// those files itself.
class AheadSealer {
 public:
  static constexpr auto kSealDelay = std::chrono::milliseconds(200);

  AheadSealer(const RunnerEnv& env, const Digest& proposal) : env_(env), proposal_(proposal) {
    thread_ = std::thread([this] { loop(); });
  }
  ~AheadSealer() { stop(); }
  AheadSealer(const AheadSealer&) = delete;
  AheadSealer& operator=(const AheadSealer&) = delete;

  void file_verified() {
    {
      std::lock_guard lock(mu_);
      pending_ = true;
    }
    cv_.notify_one();
  }
  // Waits for a call in progress; no new one starts.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || pending_; });
      if (stopping_) return;
      if (cv_.wait_for(lock, kSealDelay, [this] { return stopping_; })) return;
      pending_ = false;
      lock.unlock();
      auto sealed = env_.system.model_seal(proposal_);
      if (!sealed.ok() && !warned_) {
        warned_ = true;
        std::fprintf(stderr, "countersignd: model seal %s: %s (the install hashes those files itself)\n",
                     hex_encode(proposal_).c_str(), sealed.error().message.c_str());
      }
      lock.lock();
    }
  }

  const RunnerEnv& env_;
  const Digest proposal_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopping_ = false;
  bool warned_ = false;
  std::thread thread_;
};

// The install's fetch against its deadline and minimum throughput (Config), from the
// progress the fetcher reports: expired() once either is missed, with why(). The clock is
// steady (a wall-clock jump is no reason to give up). Thread-safe: progress comes from the
// fetching thread, expired() is asked by the fetch loop.
class FetchWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  FetchWatchdog(const Config& config, const Manifest& m)
      : deadline_(std::chrono::seconds(config.install_deadline_seconds)),
        window_(std::chrono::seconds(config.throughput_window_seconds)),
        min_rate_(config.min_throughput),
        total_(m.total_size()),
        done_(m.files().size(), 0),
        start_(Clock::now()) {
    samples_.push_back({start_, 0});
  }

  void progress(std::size_t file, std::uint64_t done) {
    std::lock_guard lock(mu_);
    if (file < done_.size()) done_[file] = done;
    sample();
  }
  bool expired() {
    std::lock_guard lock(mu_);
    if (!why_.empty()) return true;
    const auto now = Clock::now();
    const std::uint64_t bytes = sum();
    if (deadline_.count() > 0 && now - start_ >= deadline_) {
      why_ = "the install did not finish within install_deadline (" + format_duration(deadline_) +
             "): " + human_size(bytes) + " of " + human_size(total_) + " fetched";
      return true;
    }
    if (min_rate_ == 0 || window_.count() <= 0 || now - start_ < window_) return false;
    sample();
    // Bytes over the last window: from the newest sample at least one window old.
    std::uint64_t then = 0;
    for (const auto& s : samples_) {
      if (now - s.at >= window_) then = s.bytes;
    }
    const std::uint64_t in_window = bytes >= then ? bytes - then : 0;
    const auto window_s =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(window_).count());
    if (in_window < min_rate_ * window_s) {
      why_ = "the fetch is slower than min_throughput (" + human_size(min_rate_) +
             "/s) over throughput_window (" + format_duration(window_) + "): " + human_size(in_window) +
             " in the last " + format_duration(window_) + ", " + human_size(bytes) + " of " +
             human_size(total_) + " fetched";
      return true;
    }
    return false;
  }
  std::string why() {
    std::lock_guard lock(mu_);
    return why_;
  }

 private:
  struct Sample {
    Clock::time_point at;
    std::uint64_t bytes;
  };
  static std::string format_duration(Clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
  }
  std::uint64_t sum() const {
    std::uint64_t b = 0;
    for (auto d : done_) b += d;
    return b;
  }
  // One sample a second at most; those older than two windows are dropped.
  void sample() {
    const auto now = Clock::now();
    if (!samples_.empty() && now - samples_.back().at < std::chrono::seconds(1)) {
      samples_.back().bytes = std::max(samples_.back().bytes, sum());
      return;
    }
    samples_.push_back({now, sum()});
    while (samples_.size() > 2 && now - samples_[1].at >= 2 * window_) samples_.pop_front();
  }

  const Clock::duration deadline_;
  const Clock::duration window_;
  const std::uint64_t min_rate_;
  const std::uint64_t total_;
  std::mutex mu_;
  std::vector<std::uint64_t> done_;
  std::deque<Sample> samples_;
  const Clock::time_point start_;
  std::string why_;
};

// remove-model, restore-snapshot, rotate-policy: one helper step each, which checks, acts and
// logs; the daemon only reports the outcome.
RunOutcome helper_step(const RunnerEnv& env, const JobRecord& job, Result<json> answer) {
  if (!answer.ok()) {
    // The helper's errors name it and the command (daemon/privileged.cpp); others are named here.
    const std::string& m = answer.error().message;
    return give_up(env, job, m.starts_with("countersign-system") ? m : "countersign-system: " + m,
                   std::nullopt);
  }
  return RunOutcome::done(std::move(*answer));
}

// Where an install's time went, in the job's result ("timings"): the fetch (every file on
// disk, verified by the daemon, durable), the wait after it for the helper's hashing ahead
// (`model seal`: for a model of one large file, its whole re-hash), and the helper's install
// step (snapshot, the re-hash of what was not sealed ahead, the rename, the log). Seconds.
struct InstallTimings {
  double fetch = 0;
  double seal_wait = 0;
  double helper = 0;

  json to_json() const {
    auto ms = [](double s) { return std::floor(s * 1000) / 1000; };
    return {
        {"fetch_seconds", ms(fetch)}, {"seal_wait_seconds", ms(seal_wait)}, {"helper_seconds", ms(helper)}};
  }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Step 5 of run_install, for install-packages too: models/.staging/<hash> made, the fetch
// reported and watched, `seal_ahead`: the helper seals verified files meanwhile (models
// only). nullopt when every file verified; otherwise how the run ended.
std::optional<RunOutcome> fetch_to_staging(const RunnerEnv& env, const JobRecord& job, const Manifest& m,
                                           bool seal_ahead, JobSink& sink, InstallTimings& timings) {
  const Digest manifest = m.hash();
  const std::string staging = env.config.staging_dir() + "/" + hex_encode(manifest);
  // Staging: the daemon's own directory inside models/ (same file system: one rename). The
  // first mkdir may fail because it exists; the second one says whether staging is usable.
  ::mkdir(env.config.staging_dir().c_str(), 0750);
  if (::mkdir(staging.c_str(), 0750) != 0 && errno != EEXIST) {
    return give_up(env, job, "cannot create " + staging + ": " + std::strerror(errno), manifest);
  }
  sink.fetch_started(m);
  json sources = json::array();
  for (const auto& s : env.config.mirrors) sources.push_back("mirror " + s.describe());
  for (const auto& s : m.sources()) sources.push_back(s.describe());
  env.audit.report(audit::event::kFetchStarted, {{"proposal", digest_to_string(job.proposal)},
                                                 {"manifest", digest_to_string(manifest)},
                                                 {"files", m.files().size()},
                                                 {"bytes", m.total_size()},
                                                 {"sources", sources}});
  FetchMilestones milestones(env, job.proposal, m);
  FetchWatchdog watchdog(env.config, m);
  std::optional<AheadSealer> sealer;
  if (seal_ahead) sealer.emplace(env, job.proposal);
  FetchObserver obs;
  const Digest id = job.proposal;
  obs.on_event = [&env, &sink, &milestones, &sealer, id](const FetchEvent& e) {
    if (e.kind == FetchEvent::Kind::kFileVerified) {
      sink.file_verified(e.path, e.source);
      milestones.verified(e.path);
      if (sealer) sealer->file_verified();
      return;
    }
    auto event = e.kind == FetchEvent::Kind::kHashMismatch ? audit::event::kHashMismatchAlert
                                                           : audit::event::kSourceFailed;
    env.audit.report(
        event,
        {{"proposal", digest_to_string(id)}, {"path", e.path}, {"source", e.source}, {"reason", e.reason}});
  };
  obs.on_progress = [&sink, &milestones, &watchdog](const FileProgress& p) {
    sink.file_progress(p);
    milestones.progress(p.file, p.done);
    watchdog.progress(p.file, p.done);
  };
  obs.cancelled = [&sink, &watchdog] { return sink.cancelled() || watchdog.expired(); };
  const auto fetch_started = std::chrono::steady_clock::now();
  auto fetched = env.fetcher.fetch(m, staging, obs);
  timings.fetch = seconds_since(fetch_started);
  const auto fetch_ended = std::chrono::steady_clock::now();
  if (sealer) sealer->stop();
  timings.seal_wait = seconds_since(fetch_ended);
  if (!fetched.ok()) {
    // Paused (a stop, or a rotation to go first): resumed later from the staging.
    if (sink.cancelled()) return RunOutcome::interrupted();
    if (std::string why = watchdog.why(); !why.empty()) return give_up(env, job, why, manifest);
    return give_up(env, job, fetched.error().message, manifest);
  }
  return std::nullopt;
}

// Step 6 of an install: the helper's step, timed, after the fetch; its answer carries the
// timings (docs/api.md), or the job is given up naming what the helper refused (`what`).
RunOutcome helper_install(const RunnerEnv& env, const JobRecord& job, const Digest& manifest, JobSink& sink,
                          InstallTimings& timings, const char* what,
                          const std::function<Result<json>()>& step) {
  sink.phase(JobPhase::kInstalling);
  const auto helper_started = std::chrono::steady_clock::now();
  auto installed = step();
  timings.helper = seconds_since(helper_started);
  if (!installed.ok()) {
    return give_up(env, job,
                   std::string("countersign-system refused the ") + what + ": " + installed.error().message,
                   manifest);
  }
  if (installed->is_object()) (*installed)["timings"] = timings.to_json();
  return RunOutcome::done(std::move(*installed));
}

}  // namespace

RunOutcome run_install(const RunnerEnv& env, const JobRecord& job, const Manifest& m, bool resumed,
                       JobSink& sink) {
  const Digest manifest = m.hash();
  const std::string hex = hex_encode(manifest);
  const std::string target = env.config.models_dir() + "/" + hex;
  const std::string staging = env.config.staging_dir() + "/" + hex;
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec))) {
    // Already there by name; the helper seals and re-hashes it before it counts. When it is
    // damaged the helper removes it (model-damaged) and the model is fetched again.
    sink.phase(JobPhase::kInstalling);
    auto installed = env.system.model_install(job.proposal);
    if (installed.ok()) return RunOutcome::done(std::move(*installed));
  }
  if (resumed) {
    env.audit.report(audit::event::kInstallResumed, {{"proposal", digest_to_string(job.proposal)},
                                                     {"manifest", digest_to_string(manifest)}});
  }
  if (auto short_by = space_shortfall(env.config, m, staging)) return give_up(env, job, *short_by, manifest);
  if (auto snap = take_snapshot(env, job, sink); !snap.ok())
    return give_up(env, job, snap.error().message, manifest);
  InstallTimings timings;
  if (auto ended = fetch_to_staging(env, job, m, true, sink, timings)) return std::move(*ended);
  return helper_install(env, job, manifest, sink, timings, "install",
                        [&] { return env.system.model_install(job.proposal); });
}

RunOutcome run_packages(const RunnerEnv& env, const JobRecord& job, const Manifest& m, bool resumed,
                        JobSink& sink) {
  const Digest manifest = m.hash();
  if (resumed) {
    env.audit.report(audit::event::kInstallResumed, {{"proposal", digest_to_string(job.proposal)},
                                                     {"manifest", digest_to_string(manifest)}});
  }
  const std::string staging = env.config.staging_dir() + "/" + hex_encode(manifest);
  if (auto short_by = space_shortfall(env.config, m, staging)) return give_up(env, job, *short_by, manifest);
  InstallTimings timings;
  if (auto ended = fetch_to_staging(env, job, m, false, sink, timings)) return std::move(*ended);
  return helper_install(env, job, manifest, sink, timings, "packages",
                        [&] { return env.system.packages_install(job.proposal); });
}

RunOutcome run_remove(const RunnerEnv& env, const JobRecord& job, JobSink& sink) {
  sink.phase(JobPhase::kRemoving);
  return helper_step(env, job, env.system.model_remove(job.proposal));
}

RunOutcome run_restore(const RunnerEnv& env, const JobRecord& job, JobSink& sink) {
  sink.phase(JobPhase::kRestoring);
  return helper_step(env, job, env.system.snapshot_restore(job.proposal));
}

RunOutcome run_rotate(const RunnerEnv& env, const JobRecord& job, JobSink& sink) {
  sink.phase(JobPhase::kRotating);
  return helper_step(env, job, env.system.policy_rotate(job.proposal));
}

RunOutcome run_job(const RunnerEnv& env, const JobRecord& job, bool resumed, JobSink& sink) {
  // The helper's record decides: a crash after its step and before the job file said so
  // leaves a job that is done (or given up) already; nothing is asked of the helper again.
  if (auto finished = env.system.finished(job.proposal); finished.ok() && *finished) {
    if ((*finished)->done) return RunOutcome::done((*finished)->result);
    return RunOutcome::failed((*finished)->error);
  }
  auto b = Bundle::parse(job.bundle);
  if (!b.ok()) return RunOutcome::failed("stored bundle unreadable: " + b.error().message);
  if (env.still_approved) {
    if (auto why = env.still_approved(*b, job)) {
      std::optional<Digest> staging;
      const Action a = b->proposal().action();
      if ((a == Action::kInstallModel || a == Action::kInstallPackages) && b->manifest())
        staging = b->manifest()->hash();
      return give_up(env, job, *why, staging);
    }
  }
  switch (b->proposal().action()) {
    case Action::kInstallModel:
      return run_install(env, job, *b->manifest(), resumed, sink);
    case Action::kRemoveModel:
      return run_remove(env, job, sink);
    case Action::kRestoreSnapshot:
      return run_restore(env, job, sink);
    case Action::kRotatePolicy:
      return run_rotate(env, job, sink);
    case Action::kInstallPackages:
      return run_packages(env, job, *b->manifest(), resumed, sink);
  }
  return RunOutcome::failed("stored bundle has an action this daemon does not know");
}

}  // namespace countersign::daemon
