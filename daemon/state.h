// What countersignd keeps in state_dir/daemon/ (Config::daemon_dir(), owned by the daemon's
// user): its work queue and the proposals it collects signatures for. Nothing here decides
// what the box does: the executed set, the accepted bundles, the policy chain, the installed
// models' records and the audit log are the System component's (system/records.h), and the
// daemon only reads them.
//
//   jobs/<hex>.json   one job per proposal the helper accepted: the bundle, state and outcome.
//   pending/<hex>.json  proposals waiting for signatures (proposal + document + signatures).
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

#include "core/proposal.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign::daemon {

// kVetoed: ended by the rule's count of vetoes before its privileged step (final).
enum class JobState { kQueued, kRunning, kDone, kFailed, kVetoed };
std::string_view job_state_name(JobState s);
Result<JobState> job_state_from_name(std::string_view name);

struct JobRecord {
  Digest proposal{};
  Action action = Action::kInstallModel;
  nlohmann::json bundle;  // the bundle as received
  JobState state = JobState::kQueued;
  UnixTime received = 0;
  std::optional<UnixTime> finished;
  std::optional<std::string> error;     // why it failed
  std::optional<std::string> snapshot;  // snapshot taken before acting
  nlohmann::json result;                // action-specific outcome (path, files, bytes, ...)
  nlohmann::json submitter;             // who submitted it (Peer::to_json()), null when unknown

  nlohmann::json to_json() const;
  static Result<JobRecord> from_json(const nlohmann::json& j);
};

class StateDir {
 public:
  // Creates the directories it needs under `dir` (0750).
  static Result<StateDir> open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  Result<void> save_job(const JobRecord& job);
  Result<std::optional<JobRecord>> load_job(const Digest& proposal) const;
  // Every job record, oldest first by `received`.
  Result<std::vector<JobRecord>> load_jobs() const;

  Result<void> save_pending(const Digest& proposal, const nlohmann::json& doc);
  Result<std::optional<nlohmann::json>> load_pending(const Digest& proposal) const;
  Result<void> remove_pending(const Digest& proposal);
  // Every pending proposal's id, with its file's size in bytes.
  struct PendingFile {
    Digest proposal{};
    std::uint64_t bytes = 0;
  };
  Result<std::vector<PendingFile>> list_pending() const;

 private:
  std::string path(const char* sub, const Digest& d) const;
  std::string dir_;
};

}  // namespace countersign::daemon
