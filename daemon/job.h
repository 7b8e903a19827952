// A job while it runs: its phase, the per-file progress of an install, how a runner reports
// both (JobSink, implemented by the queue, daemon/job_queue.h), and how a run ends
// (RunOutcome). The job's persisted record is JobRecord (daemon/state.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/manifest.h"
#include "daemon/fetch.h"
#include "daemon/state.h"

namespace countersign::daemon {

// Where a job is. kQueued until the worker takes it, kStarting while the runner begins, then
// the runner's steps; kDone and kFailed once it finished (JobRecord::state says the same).
enum class JobPhase {
  kQueued,
  kStarting,
  kSnapshot,    // the helper takes the snapshot (install-model)
  kFetching,    // into staging (install-model)
  kInstalling,  // the helper seals, re-hashes and moves the model (install-model)
  kRemoving,    // remove-model
  kRestoring,   // restore-snapshot
  kRotating,    // rotate-policy
  kDone,
  kFailed,
  kVetoed,  // ended by vetoes before its privileged step
};
// "queued", "starting", "snapshot", "fetching", "installing", "removing", "restoring",
// "rotating", "done", "failed", "vetoed": the job's "phase" in the API.
std::string_view job_phase_name(JobPhase phase);

// One file of an install being fetched.
struct FileRow {
  std::string path;
  std::uint64_t total = 0;  // declared size
  std::uint64_t done = 0;   // bytes streamed and hashed so far
  std::string source;       // the source in use (Source::describe()), or the one that delivered it
  bool verified = false;
};

// A job as the API shows it: its record plus live progress.
struct JobView {
  JobRecord record;
  std::vector<FileRow> files;  // install-model only, filled when the fetch starts
  JobPhase phase = JobPhase::kQueued;
};

// What a runner tells the queue about the job it runs. Called on the worker thread (the
// fetch callbacks on the fetching thread); the queue makes each call visible to the API.
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void phase(JobPhase phase) = 0;
  // The helper's snapshot for this job: kept in the job file, so a resumed job does not
  // ask again.
  virtual void snapshot_taken(const std::string& id) = 0;
  // The fetch of `manifest` begins: phase kFetching, one row per file.
  virtual void fetch_started(const Manifest& manifest) = 0;
  virtual void file_progress(const FileProgress& progress) = 0;
  virtual void file_verified(const std::string& path, const std::string& source) = 0;
  // True once the daemon is stopping: the runner leaves the job as it is (kInterrupted).
  virtual bool cancelled() const = 0;
};

// How a run ended.
struct RunOutcome {
  enum class Kind {
    kDone,         // `result`: what the helper did
    kFailed,       // `error`: why; the runner has given the proposal up with the helper
    kInterrupted,  // stopped by cancel: the job stays "running" and resumes at the next start
  };
  Kind kind = Kind::kFailed;
  nlohmann::json result;
  std::string error;

  static RunOutcome done(nlohmann::json result) { return {Kind::kDone, std::move(result), {}}; }
  static RunOutcome failed(std::string error) { return {Kind::kFailed, nullptr, std::move(error)}; }
  static RunOutcome interrupted() { return {Kind::kInterrupted, nullptr, {}}; }
};

}  // namespace countersign::daemon
