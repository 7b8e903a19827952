#include "daemon/job_queue.h"

#include <algorithm>
#include <cstdio>

#include "core/bundle.h"
#include "core/bytes.h"

namespace countersign::daemon {

// The running job's sink: every call lands in the job's view (and its file, for the snapshot).
class JobQueue::Sink final : public JobSink {
 public:
  Sink(JobQueue& queue, const Digest& id) : q_(queue), id_(id) {}

  void phase(JobPhase phase) override {
    std::lock_guard lock(q_.mu_);
    q_.jobs_[id_].phase = phase;
  }
  void snapshot_taken(const std::string& id) override {
    JobRecord copy;
    {
      std::lock_guard lock(q_.mu_);
      auto& record = q_.jobs_[id_].record;
      record.snapshot = id;
      copy = record;
    }
    q_.save(copy);
  }
  void fetch_started(const Manifest& manifest) override {
    std::lock_guard lock(q_.mu_);
    auto& v = q_.jobs_[id_];
    v.phase = JobPhase::kFetching;
    v.files.clear();
    for (const auto& f : manifest.files()) v.files.push_back(FileRow{f.path, f.size, 0, {}, false});
  }
  void file_progress(const FileProgress& p) override {
    std::lock_guard lock(q_.mu_);
    auto& files = q_.jobs_[id_].files;
    if (p.file < files.size()) {
      files[p.file].done = p.done;
      files[p.file].source = p.source;
    }
  }
  void file_verified(const std::string& path, const std::string& source) override {
    std::lock_guard lock(q_.mu_);
    for (auto& row : q_.jobs_[id_].files) {
      if (row.path == path) row.verified = true, row.done = row.total, row.source = source;
    }
  }
  bool cancelled() const override {
    if (q_.cancel_.load() || q_.preempt_.load()) return true;
    std::lock_guard lock(q_.mu_);
    return q_.vetoed_.count(id_) != 0;
  }

 private:
  JobQueue& q_;
  Digest id_;
};

JobQueue::JobQueue(StateDir& state, Clock clock, RunJob run, AfterJob after)
    : state_(state), clock_(std::move(clock)), run_(std::move(run)), after_(std::move(after)) {}

JobQueue::~JobQueue() { stop(); }

void JobQueue::save(const JobRecord& job) {
  auto saved = state_.save_job(job);
  if (!saved.ok()) {
    std::fprintf(stderr, "countersignd: cannot save job %s: %s\n", hex_encode(job.proposal).c_str(),
                 saved.error().message.c_str());
  }
}

Result<std::vector<JobRecord>> JobQueue::recover(const std::vector<ProposalRecord>& accepted) {
  CS_TRY(auto records, state_.load_jobs());
  std::vector<JobRecord> queued;
  std::lock_guard lock(mu_);
  for (auto& r : records) {
    const bool unfinished = r.state == JobState::kQueued || r.state == JobState::kRunning;
    JobPhase phase = unfinished                     ? JobPhase::kQueued
                     : r.state == JobState::kDone   ? JobPhase::kDone
                     : r.state == JobState::kVetoed ? JobPhase::kVetoed
                                                    : JobPhase::kFailed;
    if (unfinished) {
      queue_.push_back(r.proposal);
      queued.push_back(r);
    }
    jobs_[r.proposal] = JobView{r, {}, phase};
  }
  // Proposals the helper accepted with no job yet: their jobs are made from the helper's
  // own records.
  for (const auto& r : accepted) {
    if (r.state != ProposalState::kAccepted || jobs_.count(r.id)) continue;
    auto b = Bundle::parse(r.bundle);
    if (!b.ok()) continue;
    JobRecord job;
    job.proposal = r.id;
    job.action = b->proposal().action();
    job.bundle = r.bundle;
    job.received = r.accepted;
    job.snapshot = r.snapshot;
    save(job);
    queue_.push_back(r.id);
    queued.push_back(job);
    jobs_[r.id] = JobView{job, {}, JobPhase::kQueued};
  }
  // Rotations first, as enqueue() would have put them.
  std::stable_partition(queue_.begin(), queue_.end(),
                        [this](const Digest& d) { return jobs_[d].record.action == Action::kRotatePolicy; });
  std::stable_partition(queued.begin(), queued.end(),
                        [](const JobRecord& j) { return j.action == Action::kRotatePolicy; });
  return queued;
}

std::deque<Digest>::iterator JobQueue::after_rotations() {
  return std::find_if(queue_.begin(), queue_.end(),
                      [this](const Digest& d) { return jobs_[d].record.action != Action::kRotatePolicy; });
}

Result<void> JobQueue::enqueue(JobRecord job) {
  job.state = JobState::kQueued;
  CS_TRY_VOID(state_.save_job(job));
  {
    std::lock_guard lock(mu_);
    const Digest id = job.proposal;
    const bool rotation = job.action == Action::kRotatePolicy;
    jobs_[id] = JobView{std::move(job), {}, JobPhase::kQueued};
    if (rotation) {
      queue_.insert(after_rotations(), id);
      if (running_ && jobs_[*running_].record.action == Action::kInstallModel) preempt_ = true;
    } else {
      queue_.push_back(id);
    }
  }
  cv_.notify_all();
  return {};
}

void JobQueue::start() {
  worker_ = std::thread([this] { worker_loop(); });
}

void JobQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cancel_ = true;
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool JobQueue::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !running_; });
}

void JobQueue::worker_loop() {
  for (;;) {
    Digest id{};
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      running_ = id;
      // A rotation queued while nothing could be paused needs no pause now.
      if (jobs_[id].record.action == Action::kRotatePolicy) preempt_ = false;
    }
    run_one(id);
    {
      std::lock_guard lock(mu_);
      running_.reset();
    }
    cv_.notify_all();
  }
}

void JobQueue::run_one(const Digest& id) {
  JobRecord job;
  bool resumed = false;
  {
    std::lock_guard lock(mu_);
    auto& v = jobs_[id];
    job = v.record;
    resumed = job.state == JobState::kRunning;
    v.phase = JobPhase::kStarting;
  }
  job.state = JobState::kRunning;
  save(job);
  {
    std::lock_guard lock(mu_);
    jobs_[id].record = job;
  }
  Sink sink(*this, id);
  finish(id, run_(job, resumed, sink));
  if (after_) after_(job);
}

JobQueue::VetoEffect JobQueue::veto(const Digest& proposal, const std::string& reason) {
  JobRecord copy;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(proposal);
    if (it == jobs_.end()) return VetoEffect::kNone;
    JobView& v = it->second;
    if (running_ && *running_ == proposal) {
      vetoed_[proposal] = reason;
      return VetoEffect::kStopping;
    }
    auto queued = std::find(queue_.begin(), queue_.end(), proposal);
    if (queued == queue_.end()) return VetoEffect::kNone;
    queue_.erase(queued);
    v.record.state = JobState::kVetoed;
    v.record.finished = clock_();
    v.record.error = reason;
    v.phase = JobPhase::kVetoed;
    copy = v.record;
  }
  save(copy);
  cv_.notify_all();
  return VetoEffect::kDequeued;
}

void JobQueue::finish(const Digest& id, const RunOutcome& outcome) {
  std::optional<std::string> vetoed;
  {
    std::lock_guard lock(mu_);
    if (auto it = vetoed_.find(id); it != vetoed_.end()) {
      vetoed = it->second;
      vetoed_.erase(it);
    }
  }
  if (vetoed && outcome.kind != RunOutcome::Kind::kDone) {
    // The helper refuses the privileged step of a vetoed proposal, so a run it stopped can
    // only have ended short of it.
    JobRecord record;
    {
      std::lock_guard lock(mu_);
      preempt_ = false;
      record = jobs_[id].record;
    }
    record.state = JobState::kVetoed;
    record.finished = clock_();
    record.error = *vetoed;
    save(record);
    std::lock_guard lock(mu_);
    auto& v = jobs_[id];
    v.record = std::move(record);
    v.phase = JobPhase::kVetoed;
    return;
  }
  if (outcome.kind == RunOutcome::Kind::kInterrupted) {
    // Stays "running" (resumed at the next start); paused for a rotation, it runs again
    // right after the rotations now queued.
    std::lock_guard lock(mu_);
    if (preempt_.exchange(false) && !stopping_) {
      queue_.insert(after_rotations(), id);
      jobs_[id].phase = JobPhase::kQueued;
    }
    return;
  }
  const bool done = outcome.kind == RunOutcome::Kind::kDone;
  JobRecord record;
  {
    std::lock_guard lock(mu_);
    record = jobs_[id].record;
  }
  record.state = done ? JobState::kDone : JobState::kFailed;
  record.finished = clock_();
  record.error = done ? std::nullopt : std::optional<std::string>(outcome.error);
  if (done) record.result = outcome.result;
  save(record);
  std::lock_guard lock(mu_);
  auto& v = jobs_[id];
  v.record = std::move(record);
  v.phase = done ? JobPhase::kDone : JobPhase::kFailed;
}

std::optional<JobView> JobQueue::find(const Digest& proposal) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(proposal);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

bool JobQueue::contains(const Digest& proposal) const {
  std::lock_guard lock(mu_);
  return jobs_.count(proposal) != 0;
}

std::vector<JobView> JobQueue::list() const {
  std::vector<JobView> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, v] : jobs_) out.push_back(v);
  }
  std::sort(out.begin(), out.end(),
            [](const JobView& a, const JobView& b) { return a.record.received < b.record.received; });
  return out;
}

std::optional<JobView> JobQueue::running() const {
  std::lock_guard lock(mu_);
  if (!running_) return std::nullopt;
  auto it = jobs_.find(*running_);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::size_t JobQueue::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace countersign::daemon
