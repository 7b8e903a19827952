// countersignd's work queue: one job per proposal the helper accepted, run one at a time by
// one worker thread, each kept as state_dir/daemon/jobs/<hex>.json (daemon/state.h), with an
// in-memory view that adds the live phase and progress (daemon/job.h).
//
// The job files are the daemon's cache of what happened; the helper's records and its log
// entries are the record of every outcome. So a job file that cannot be rewritten while a
// job runs is written to stderr and the job goes on; only enqueue() fails when the first
// write fails (nothing is queued then).
//
// Order: jobs run in the order received, except that a rotate-policy goes ahead of every
// queued job that is not a rotation (a rotation that revokes a key must take effect before
// anything signed with that key runs), and an install that is fetching when a rotation is
// queued is paused at its next safe point (JobSink::cancelled(), the same as for a stop) and
// queued again right after the rotation. When it starts again it is re-checked under the
// policy then in force (run_job, daemon/runners.h).
//
// Every call is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/job.h"
#include "daemon/state.h"
#include "system/records.h"

namespace countersign::daemon {

class JobQueue {
 public:
  // Runs one job to its end (the runners, daemon/runners.h). `resumed`: the job was running
  // when the daemon last stopped.
  using RunJob = std::function<RunOutcome(const JobRecord& job, bool resumed, JobSink& sink)>;
  // Called after each run however it ended, before the queue counts as idle again.
  using AfterJob = std::function<void(const JobRecord& job)>;

  // `state` must outlive the queue.
  JobQueue(StateDir& state, Clock clock, RunJob run, AfterJob after = {});
  ~JobQueue();  // stop()
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Before start(). Loads the daemon's job files: unfinished jobs (queued or running) are
  // queued again in the order received, finished ones stay listed. Then makes a job for
  // every proposal in `accepted` (the helper's records, oldest first) that is still in state
  // kAccepted and has no job: the daemon died between the helper's answer and its job file.
  // Rotations are queued ahead of the rest. Returns the jobs queued, in queue order. Errors: the job files
  // cannot be listed or read.
  Result<std::vector<JobRecord>> recover(const std::vector<ProposalRecord>& accepted);

  // Writes the job file of a new job (state queued) and queues it: at the end, or for a
  // rotate-policy after the rotations already queued and ahead of everything else (pausing a
  // running install). Error: the file could not be written; nothing is queued.
  Result<void> enqueue(JobRecord job);

  // Starts the worker.
  void start();
  // Stops the worker: a job in progress sees JobSink::cancelled() and ends as its runner
  // leaves it (an interrupted install stays "running" and resumes at the next start).
  // Idempotent.
  void stop();
  // Blocks until nothing is queued and nothing runs, or `timeout` passes.
  bool wait_idle(std::chrono::milliseconds timeout);

  // The helper counted enough vetoes for `proposal` (its record says so): a queued job leaves
  // the queue and ends "vetoed" with `reason` (kDequeued); a running one sees
  // JobSink::cancelled() and ends "vetoed" however its runner leaves it (kStopping). kNone
  // when there is no unfinished job for it.
  enum class VetoEffect { kNone, kDequeued, kStopping };
  VetoEffect veto(const Digest& proposal, const std::string& reason);

  std::optional<JobView> find(const Digest& proposal) const;
  bool contains(const Digest& proposal) const;
  // Every job, oldest received first.
  std::vector<JobView> list() const;
  std::optional<JobView> running() const;
  std::size_t queued() const;

 private:
  class Sink;
  void worker_loop();
  void run_one(const Digest& id);
  void finish(const Digest& id, const RunOutcome& outcome);
  void save(const JobRecord& job);
  // Where a rotation goes: after the rotations at the front. Caller holds mu_.
  std::deque<Digest>::iterator after_rotations();

  StateDir& state_;
  Clock clock_;
  RunJob run_;
  AfterJob after_;

  mutable std::mutex mu_;  // everything below
  std::condition_variable cv_;
  std::deque<Digest> queue_;
  std::map<Digest, JobView> jobs_;
  std::optional<Digest> running_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};       // stopping: a running job leaves off
  std::atomic<bool> preempt_{false};      // a rotation is queued: a running install pauses
  std::map<Digest, std::string> vetoed_;  // running jobs vetoed, with the reason (under mu_)
  std::thread worker_;
};

}  // namespace countersign::daemon
