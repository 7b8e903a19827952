// One runner per action: what the daemon does for a job the helper accepted (DESIGN.md
// "Box-side daemon"; docs/daemon.md "What happens to a bundle"). Each privileged step is the
// helper's (SystemClient), which checks the proposal against its own records, acts and logs;
// a runner only orders the steps, fetches, and reports what it sees (AuditReporter). Each
// reports its phase and progress to the JobSink and returns how the run ended.
//
// A runner that fails gives the proposal up with the helper (`proposal abandon`, which logs
// the reason; an install's staging is removed first), and returns kFailed with the reason.
// A stop during the fetch (JobSink::cancelled) returns kInterrupted and leaves the staging
// for the next start to resume (HTTP Range).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/bundle.h"
#include "core/manifest.h"
#include "daemon/audit_reporter.h"
#include "daemon/config.h"
#include "daemon/fetcher.h"
#include "daemon/job.h"
#include "daemon/state.h"
#include "daemon/system_client.h"

namespace countersign::daemon {

// Whether a job's bundle still meets its rule under the policy in force now, with expiry
// judged as of its acceptance (it is not re-checked): nullopt when it does, else why not.
using StillApproved = std::function<std::optional<std::string>(const Bundle& bundle, const JobRecord& job)>;

// What the runners work with. All references outlive every run.
struct RunnerEnv {
  const Config& config;
  SystemClient& system;
  Fetcher& fetcher;
  AuditReporter& audit;
  StillApproved still_approved;  // unset: not checked (the helper checks all the same)
};

// install-model:
// 1. models/<hash> already there by name: the helper seals and re-hashes it (install), and
//    when that succeeds, done. A damaged copy the helper removes (model-damaged) and the
//    runner goes on as if it were not there.
// 2. Reports install-resumed when `resumed`.
// 3. Free space in models/ for what staging does not hold yet; not enough: failed.
// 4. The helper's snapshot (once per job: JobRecord::snapshot when a run before took it).
// 5. Fetches into models/.staging/<hash> (fetch-started; source-failed or
//    hash-mismatch-alert for every bad source; fetch-progress as the bytes streamed and
//    hashed cross 25, 50 and 75 % of the manifest's size, once each per run).
//    Whenever files verified, the helper is asked (on another thread, one call at a time) to
//    seal and hash them ahead (`model seal`). The fetch has an overall deadline
//    (Config::install_deadline_seconds) and a minimum throughput over a window
//    (min_throughput, throughput_window): past either the install is given up with the reason,
//    as it is when every source failed.
// 6. The helper installs it (seal, re-hash what was not hashed ahead, one rename to
//    models/<hash>, read-only).
RunOutcome run_install(const RunnerEnv& env, const JobRecord& job, const Manifest& manifest, bool resumed,
                       JobSink& sink);
// install-packages: install-resumed when `resumed`, free space as step 3, the .debs fetched
// into models/.staging/<hash> as step 5 (no daemon snapshot and no sealing ahead: the helper
// seals and re-hashes them, snapshots the system root and runs dpkg in one step), then the
// helper's `packages install`. A refusal gives the proposal up with the helper's reason.
RunOutcome run_packages(const RunnerEnv& env, const JobRecord& job, const Manifest& manifest, bool resumed,
                        JobSink& sink);
// remove-model: the helper removes models/<hash> (it snapshots first).
RunOutcome run_remove(const RunnerEnv& env, const JobRecord& job, JobSink& sink);
// restore-snapshot: the helper restores the approved snapshot (safety snapshot first).
RunOutcome run_restore(const RunnerEnv& env, const JobRecord& job, JobSink& sink);
// rotate-policy: the helper appends the new policy to its chain. The caller reloads its copy
// of the policy in force when this returns kDone.
RunOutcome run_rotate(const RunnerEnv& env, const JobRecord& job, JobSink& sink);

// The runner for the action of `job`'s stored bundle, unless the helper's records say the
// proposal's step is over (done or given up: a crash before the job file said so), which
// then is the outcome. Before the runner, the bundle is checked again under the policy in
// force (RunnerEnv::still_approved): a rotation since that revoked its signers ends the job,
// given up with the reason (an install's staging removed). A bundle that no longer parses
// fails the job as it is (the helper keeps its own copy).
RunOutcome run_job(const RunnerEnv& env, const JobRecord& job, bool resumed, JobSink& sink);

}  // namespace countersign::daemon
