// What countersignd keeps in state_dir/daemon/ (Config::daemon_dir(), owned by the daemon's
// user), besides the audit log (state_dir/log/) and the models (state_dir/models/, owned by
// root through the privileged helper):
//
//   executed          proposal ids the box has accepted for execution, one "sha256:<hex>\n"
//                     per line, appended and fsynced before the job starts. A proposal id is
//                     executed at most once (DESIGN.md "Proposal"), also when its job fails.
//   jobs/<hex>.json   one job per accepted proposal: the bundle, state and outcome.
//   pending/<hex>.json  proposals waiting for signatures (proposal + document + signatures).
//   installed/<hex>.json  manifest and proposal of each model the box installed.
//   policy.json       the policy in force after a rotation (the configured file is the
//                     starting point; the higher version of the two is in force).
//
// Every file is replaced atomically (temp file, fsync, rename, fsync the directory).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign::daemon {

enum class JobState { kQueued, kRunning, kDone, kFailed };
std::string_view job_state_name(JobState s);
Result<JobState> job_state_from_name(std::string_view name);

struct JobRecord {
  Digest proposal{};
  std::string action;
  nlohmann::json bundle;     // the bundle as received
  JobState state = JobState::kQueued;
  UnixTime received = 0;
  std::optional<UnixTime> finished;
  std::optional<std::string> error;     // why it failed
  std::optional<std::string> snapshot;  // snapshot taken before acting
  nlohmann::json result;                // action-specific outcome (path, files, bytes, ...)

  nlohmann::json to_json() const;
  static Result<JobRecord> from_json(const nlohmann::json& j);
};

class StateDir {
 public:
  // Creates the directories it needs under `dir` (0750) and loads the executed set. A torn
  // last line of `executed` (crash during an append) is cut off.
  static Result<StateDir> open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  bool executed(const Digest& proposal) const;
  // Appends and fsyncs. Idempotent.
  Result<void> mark_executed(const Digest& proposal);
  std::size_t executed_count() const;

  Result<void> save_job(const JobRecord& job);
  Result<std::optional<JobRecord>> load_job(const Digest& proposal) const;
  // Every job record, oldest first by `received`.
  Result<std::vector<JobRecord>> load_jobs() const;

  Result<void> save_pending(const Digest& proposal, const nlohmann::json& doc);
  Result<std::optional<nlohmann::json>> load_pending(const Digest& proposal) const;
  Result<void> remove_pending(const Digest& proposal);

  Result<void> save_installed(const Digest& manifest, const nlohmann::json& record);
  Result<std::optional<nlohmann::json>> load_installed(const Digest& manifest) const;

  std::string policy_path() const { return dir_ + "/policy.json"; }

 private:
  std::string path(const char* sub, const Digest& d) const;
  std::string dir_;
  mutable std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::set<Digest> executed_;
};

}  // namespace countersign::daemon
