// The job queue (daemon/job_queue.h): recovery at start, one worker running jobs in order,
// outcomes in memory and in the job files, and a stop that leaves an install running.
#include "daemon/job_queue.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/bytes.h"
#include "daemon/runners.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/fakes.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;
using test::FakeFetcher;
using test::FakeSystemClient;
using test_util::BoxFixture;

class JobQueueTest : public ::testing::Test {
 protected:
  JobQueueTest()
      : manifest_(BoxFixture::make_manifest(dir_.path() / "src", "m", {{"a.bin", std::string(2048, 'a')}},
                                            {BoxFixture::https_source("https://models.example/m/")})),
        state_(test_util::must(StateDir::open(box_.config().daemon_dir()), "state dir")) {}

  // A job for a new install proposal of the manifest, received at `received`.
  JobRecord install_job(UnixTime received) {
    BoxFixture::ProposalOptions o;
    o.created = system_now() - 60 - received % 1000;  // a distinct proposal id per call
    Proposal p = BoxFixture::make_proposal(manifest_.hash(), o);
    JobRecord job;
    job.proposal = p.id();
    job.action = Action::kInstallModel;
    job.bundle = box_.bundle(p, manifest_.to_json(), {"alice", "bob", "carol"});
    job.received = received;
    return job;
  }
  JobRecord saved(const Digest& id) {
    auto j = state_.load_job(id);
    EXPECT_TRUE(j.ok() && *j);
    return j.ok() && *j ? **j : JobRecord{};
  }

  test_util::TempDir dir_{"jobqueue"};
  BoxFixture box_{dir_.path()};
  Manifest manifest_;
  StateDir state_;
};

TEST_F(JobQueueTest, RecoveryQueuesUnfinishedJobsThenAcceptedProposalsWithoutAJob) {
  JobRecord done = install_job(100), running = install_job(200), queued = install_job(300);
  done.state = JobState::kDone;
  running.state = JobState::kRunning;
  for (const auto* j : {&done, &running, &queued}) ASSERT_TRUE(state_.save_job(*j).ok());
  // The helper's records: one accepted with no job (the daemon died before its job file),
  // one that has a job, one finished.
  JobRecord orphan = install_job(400);
  auto record = [](const JobRecord& j, ProposalState s) {
    ProposalRecord r;
    r.id = j.proposal;
    r.bundle = j.bundle;
    r.accepted = j.received;
    r.state = s;
    r.snapshot = "cs-20260601T120000Z-0000abcd";
    return r;
  };
  JobRecord finished = install_job(500);
  std::vector<ProposalRecord> accepted = {record(queued, ProposalState::kAccepted),
                                          record(orphan, ProposalState::kAccepted),
                                          record(finished, ProposalState::kDone)};
  JobQueue queue(state_, system_now,
                 [](const JobRecord&, bool, JobSink&) { return RunOutcome::done(nullptr); });
  auto recovered = queue.recover(accepted);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  std::vector<Digest> order;
  for (const auto& j : *recovered) order.push_back(j.proposal);
  EXPECT_EQ(order, (std::vector<Digest>{running.proposal, queued.proposal, orphan.proposal}));
  EXPECT_EQ(queue.queued(), 3u);
  EXPECT_EQ(queue.find(done.proposal)->phase, JobPhase::kDone);
  EXPECT_EQ(queue.find(running.proposal)->phase, JobPhase::kQueued);
  EXPECT_FALSE(queue.contains(finished.proposal));
  // The orphan's job is made from the helper's record, snapshot included, and saved.
  JobRecord made = saved(orphan.proposal);
  EXPECT_EQ(made.state, JobState::kQueued);
  EXPECT_EQ(made.received, 400);
  EXPECT_EQ(made.snapshot, "cs-20260601T120000Z-0000abcd");
  EXPECT_EQ(made.action, Action::kInstallModel);
}

TEST_F(JobQueueTest, TheWorkerRunsJobsInOrderAndKeepsEachOutcome) {
  JobRecord first = install_job(100), second = install_job(200);
  std::vector<std::pair<Digest, bool>> runs;  // proposal, resumed
  std::vector<Digest> after;
  JobQueue queue(
      state_, [] { return UnixTime{1000}; },
      [&](const JobRecord& job, bool resumed, JobSink& sink) {
        runs.emplace_back(job.proposal, resumed);
        EXPECT_EQ(job.state, JobState::kRunning);
        sink.phase(JobPhase::kInstalling);
        return job.proposal == first.proposal ? RunOutcome::done(json{{"path", "/models/x"}})
                                              : RunOutcome::failed("countersign-system: refused");
      },
      [&](const JobRecord& job) { after.push_back(job.proposal); });
  ASSERT_TRUE(queue.recover({}).ok());
  ASSERT_TRUE(queue.enqueue(first).ok());
  ASSERT_TRUE(queue.enqueue(second).ok());
  queue.start();
  ASSERT_TRUE(queue.wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(runs, (std::vector<std::pair<Digest, bool>>{{first.proposal, false}, {second.proposal, false}}));
  EXPECT_EQ(after, (std::vector<Digest>{first.proposal, second.proposal}));
  auto a = queue.find(first.proposal), b = queue.find(second.proposal);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->record.state, JobState::kDone);
  EXPECT_EQ(a->phase, JobPhase::kDone);
  EXPECT_EQ(a->record.result["path"], "/models/x");
  EXPECT_EQ(a->record.finished, UnixTime{1000});
  EXPECT_EQ(b->record.state, JobState::kFailed);
  EXPECT_EQ(b->phase, JobPhase::kFailed);
  EXPECT_EQ(b->record.error, "countersign-system: refused");
  EXPECT_EQ(saved(first.proposal).state, JobState::kDone);
  EXPECT_EQ(saved(second.proposal).error, "countersign-system: refused");
  auto listed = queue.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].record.proposal, first.proposal);  // oldest received first
  queue.stop();
}

TEST_F(JobQueueTest, AStopDuringAFetchLeavesTheInstallRunningForTheNextStart) {
  FakeSystemClient system;
  system.snapshot_answer = std::string("cs-20260601T120000Z-0000abcd");
  FakeFetcher fetcher;
  std::atomic<bool> fetching{false};
  fetcher.script = [&](const Manifest&, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_progress({0, 1024, 2048, "https://models.example/m/"});
    fetching = true;
    while (!obs.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Error(Errc::kInternal, "cancelled");
  };
  AuditReporter audit(system);
  RunnerEnv env{box_.config(), system, fetcher, audit, {}};
  JobQueue queue(state_, system_now, [&](const JobRecord& job, bool resumed, JobSink& sink) {
    return run_job(env, job, resumed, sink);
  });
  ASSERT_TRUE(queue.recover({}).ok());
  const JobRecord job = install_job(100);
  ASSERT_TRUE(queue.enqueue(job).ok());
  queue.start();
  for (int i = 0; i < 1000 && !fetching; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fetching);
  // While it fetches: the phase and the file rows are what the API shows.
  auto live = queue.find(job.proposal);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->phase, JobPhase::kFetching);
  ASSERT_EQ(live->files.size(), 1u);
  EXPECT_EQ(live->files[0].done, 1024u);
  EXPECT_EQ(live->files[0].total, 2048u);
  EXPECT_EQ(queue.running()->record.proposal, job.proposal);
  queue.stop();
  auto after = queue.find(job.proposal);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->record.state, JobState::kRunning);
  EXPECT_FALSE(after->record.finished);
  JobRecord on_disk = saved(job.proposal);
  EXPECT_EQ(on_disk.state, JobState::kRunning);
  EXPECT_EQ(on_disk.snapshot, "cs-20260601T120000Z-0000abcd");  // the resumed run will not ask again
  EXPECT_TRUE(system.abandon_reasons.empty());
}

// A rotation queued while an install fetches goes first: the install pauses at its next safe
// point (JobSink::cancelled()), the rotation runs, then the install again (resumed), then the
// job that was queued behind it.
TEST_F(JobQueueTest, ARotationGoesAheadAndPausesTheRunningInstall) {
  JobRecord install = install_job(100), behind = install_job(200);
  JobRecord rotation = install_job(300);
  rotation.action = Action::kRotatePolicy;
  std::mutex mu;
  std::vector<std::pair<Digest, bool>> runs;
  std::atomic<bool> fetching{false};
  JobQueue queue(state_, system_now, [&](const JobRecord& job, bool resumed, JobSink& sink) {
    {
      std::lock_guard lock(mu);
      runs.emplace_back(job.proposal, resumed);
    }
    if (job.proposal == install.proposal && !resumed) {
      fetching = true;
      for (int i = 0; i < 2000 && !sink.cancelled(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return sink.cancelled() ? RunOutcome::interrupted() : RunOutcome::failed("never paused");
    }
    return RunOutcome::done(nullptr);
  });
  ASSERT_TRUE(queue.recover({}).ok());
  ASSERT_TRUE(queue.enqueue(install).ok());
  ASSERT_TRUE(queue.enqueue(behind).ok());
  queue.start();
  for (int i = 0; i < 1000 && !fetching; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fetching);
  ASSERT_TRUE(queue.enqueue(rotation).ok());
  ASSERT_TRUE(queue.wait_idle(std::chrono::seconds(20)));
  queue.stop();
  EXPECT_EQ(runs, (std::vector<std::pair<Digest, bool>>{{install.proposal, false},
                                                        {rotation.proposal, false},
                                                        {install.proposal, true},
                                                        {behind.proposal, false}}));
  for (const auto* j : {&install, &behind, &rotation})
    EXPECT_EQ(queue.find(j->proposal)->record.state, JobState::kDone);
}

// At start, rotations the daemon had queued run before the other jobs it had queued.
TEST_F(JobQueueTest, RecoveryQueuesRotationsFirst) {
  JobRecord a = install_job(100), rotation = install_job(200), b = install_job(300);
  rotation.action = Action::kRotatePolicy;
  for (const auto* j : {&a, &rotation, &b}) ASSERT_TRUE(state_.save_job(*j).ok());
  std::vector<Digest> order;
  JobQueue queue(state_, system_now, [&](const JobRecord& job, bool, JobSink&) {
    order.push_back(job.proposal);
    return RunOutcome::done(nullptr);
  });
  auto queued = queue.recover({});
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 3u);
  EXPECT_EQ((*queued)[0].proposal, rotation.proposal);
  queue.start();
  ASSERT_TRUE(queue.wait_idle(std::chrono::seconds(10)));
  queue.stop();
  EXPECT_EQ(order, (std::vector<Digest>{rotation.proposal, a.proposal, b.proposal}));
}

}  // namespace
}  // namespace countersign::daemon
