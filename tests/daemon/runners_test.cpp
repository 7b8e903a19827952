// The runners (daemon/runners.h) against a scripted System component and fetcher
// (tests/daemon/fakes.h): which helper steps each action asks for and in what order, what
// a failure gives up, what is reported to the audit log, and what the queue is told.
#include "daemon/runners.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/sha256.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/fakes.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::FakeFetcher;
using test::FakeSink;
using test::FakeSystemClient;
using test_util::BoxFixture;
using test_util::contains;

class RunnersTest : public ::testing::Test {
 protected:
  RunnersTest()
      : manifest_(BoxFixture::make_manifest(
            dir_.path() / "src", "m",
            {{"a.bin", std::string(3000, 'a')}, {"b/c.txt", std::string(1000, 'c')}},
            {BoxFixture::https_source("https://models.example/m/")})) {}

  JobRecord job_for(Action action, const Digest& subject, const json& subject_doc) {
    BoxFixture::ProposalOptions o;
    o.action = action;
    Proposal p = BoxFixture::make_proposal(subject, o);
    JobRecord job;
    job.proposal = p.id();
    job.action = action;
    job.bundle = box_.bundle(p, subject_doc, {"alice", "bob", "carol"});
    job.state = JobState::kRunning;
    return job;
  }
  JobRecord install_job() { return job_for(Action::kInstallModel, manifest_.hash(), manifest_.to_json()); }

  RunOutcome run(const JobRecord& job, bool resumed = false) { return run_job(env_, job, resumed, sink_); }

  std::string hex(const Digest& d) const { return hex_encode(d); }
  std::string staging() const { return box_.config().staging_dir() + "/" + hex(manifest_.hash()); }
  std::string model_dir() const { return box_.models_dir() + "/" + hex(manifest_.hash()); }

  test_util::TempDir dir_{"runners"};
  BoxFixture box_{dir_.path()};
  Manifest manifest_;
  FakeSystemClient system_;
  FakeFetcher fetcher_;
  FakeSink sink_;
  AuditReporter audit_{system_};
  RunnerEnv env_{box_.config(), system_, fetcher_, audit_, {}};
};

TEST_F(RunnersTest, InstallTakesTheSnapshotFetchesIntoStagingAndHasTheHelperInstall) {
  system_.install_answer = json{{"path", model_dir()}, {"files", 2}};
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(out.result["files"], 2);
  EXPECT_EQ(system_.calls, (std::vector<std::string>{"snapshot take " + hex(job.proposal),
                                                     "model install " + hex(job.proposal)}));
  EXPECT_EQ(fetcher_.calls, 1);
  EXPECT_EQ(fetcher_.staging_dir, staging());
  EXPECT_TRUE(fs::is_directory(staging()));
  EXPECT_EQ(sink_.phases,
            (std::vector<JobPhase>{JobPhase::kSnapshot, JobPhase::kFetching, JobPhase::kInstalling}));
  EXPECT_EQ(sink_.snapshot, "none");
  EXPECT_EQ(sink_.verified, (std::vector<std::string>{"a.bin", "b/c.txt"}));
  EXPECT_FALSE(sink_.progress.empty());
  auto started = system_.reports_of(audit::event::kFetchStarted);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].fields["manifest"], digest_to_string(manifest_.hash()));
  EXPECT_EQ(started[0].fields["bytes"], 4000);
  EXPECT_EQ(started[0].fields["sources"], json::array({"https://models.example/m/"}));
  EXPECT_TRUE(system_.abandon_reasons.empty());
}

// A plan of one upgrade (cs-hello 1.0-1 -> 1.1-1, its .deb by pool path) from a mirror.
Manifest packages_plan() {
  Manifest::Fields f;
  f.kind = "packages";
  f.name = "box-7f3a-upgrade";
  f.version = "1";
  PackageChange c;
  c.name = "cs-hello";
  c.version = "1.1-1";
  c.architecture = "all";
  c.file = "pool/main/c/cs-hello/cs-hello_1.1-1_all.deb";
  c.replaces = "1.0-1";
  f.packages.push_back(c);
  const std::string deb(2000, 'd');
  f.files.push_back({c.file, deb.size(), sha256(std::string_view(deb))});
  f.sources.push_back(BoxFixture::https_source("https://deb.example/debian/"));
  return test_util::must(Manifest::create(std::move(f)), "packages manifest");
}

TEST_F(RunnersTest, PackagesAreFetchedIntoStagingAndInstalledByTheHelperInOneStep) {
  const Manifest plan = packages_plan();
  system_.packages_answer = json{{"packages", json::array({{{"name", "cs-hello"}}})}, {"snapshot", "s1"}};
  const JobRecord job = job_for(Action::kInstallPackages, plan.hash(), plan.to_json());
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(out.result["snapshot"], "s1");
  // The helper snapshots the system root itself: no daemon snapshot, no model seal.
  EXPECT_EQ(system_.calls, std::vector<std::string>{"packages install " + hex(job.proposal)});
  EXPECT_EQ(system_.seal_count(), 0);
  EXPECT_EQ(fetcher_.staging_dir, box_.config().staging_dir() + "/" + hex(plan.hash()));
  EXPECT_EQ(sink_.phases, (std::vector<JobPhase>{JobPhase::kFetching, JobPhase::kInstalling}));
  EXPECT_EQ(sink_.verified, std::vector<std::string>{"pool/main/c/cs-hello/cs-hello_1.1-1_all.deb"});
  auto started = system_.reports_of(audit::event::kFetchStarted);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].fields["sources"], json::array({"https://deb.example/debian/"}));
}

TEST_F(RunnersTest, PackagesTheHelperRefusesAreGivenUpWithItsReasonAndTheStagingRemoved) {
  const Manifest plan = packages_plan();
  system_.packages_answer = Error(
      Errc::kRejected, "countersign-system packages install: the plan does not apply: cs-hello is 1.2-1");
  const JobRecord job = job_for(Action::kInstallPackages, plan.hash(), plan.to_json());
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error,
            "countersign-system refused the packages: countersign-system packages install: the plan does not "
            "apply: cs-hello is 1.2-1");
  EXPECT_EQ(system_.calls, (std::vector<std::string>{"packages install " + hex(job.proposal),
                                                     "staging remove " + hex(plan.hash()),
                                                     "proposal abandon " + hex(job.proposal)}));
}

TEST_F(RunnersTest, AnInstallTheHelperRefusesIsGivenUpAndItsStagingRemoved) {
  system_.install_answer =
      Error(Errc::kHashMismatch, "countersign-system model install: a.bin does not match");
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error,
            "countersign-system refused the install: countersign-system model install: a.bin does not match");
  ASSERT_GE(system_.calls.size(), 2u);
  EXPECT_EQ(system_.calls[system_.calls.size() - 2], "staging remove " + hex(manifest_.hash()));
  EXPECT_EQ(system_.calls.back(), "proposal abandon " + hex(job.proposal));
  EXPECT_EQ(system_.abandon_reasons, std::vector<std::string>{out.error});
}

TEST_F(RunnersTest, AStagingTheHelperCannotRemoveIsNamedInTheAbandonReason) {
  system_.install_answer = Error(Errc::kRejected, "refused");
  system_.staging_answer = Error(Errc::kIo, "staging is busy");
  RunOutcome out = run(install_job());
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error, "countersign-system refused the install: refused");  // the job says why it failed
  ASSERT_EQ(system_.abandon_reasons.size(), 1u);
  EXPECT_EQ(system_.abandon_reasons[0],
            out.error + " (and the staging could not be removed: staging is busy)");
}

TEST_F(RunnersTest, AFetchThatFailsGivesTheProposalUpWithTheFetchersReason) {
  fetcher_.script = [](const Manifest&, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_event({FetchEvent::Kind::kHashMismatch, "a.bin", "https://evil.example/", "wrong SHA-256"});
    obs.on_event({FetchEvent::Kind::kSourceFailed, "a.bin", "https://models.example/m/", "HTTP 404"});
    return Error(Errc::kNotFound, "no source gave the right bytes for a.bin");
  };
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error, "no source gave the right bytes for a.bin");
  EXPECT_EQ(system_.calls, (std::vector<std::string>{"snapshot take " + hex(job.proposal),
                                                     "staging remove " + hex(manifest_.hash()),
                                                     "proposal abandon " + hex(job.proposal)}));
  EXPECT_EQ(system_.abandon_reasons, std::vector<std::string>{out.error});
  auto alerts = system_.reports_of(audit::event::kHashMismatchAlert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].fields["source"], "https://evil.example/");
  EXPECT_EQ(alerts[0].fields["proposal"], digest_to_string(job.proposal));
  auto failed = system_.reports_of(audit::event::kSourceFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].fields["reason"], "HTTP 404");
}

TEST_F(RunnersTest, ACancelledFetchLeavesTheJobAndItsStagingForTheNextStart) {
  fetcher_.script = [this](const Manifest&, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_progress({0, 1000, 3000, "https://models.example/m/"});
    sink_.cancel = true;  // the daemon stops
    EXPECT_TRUE(obs.cancelled());
    return Error(Errc::kInternal, "cancelled");
  };
  RunOutcome out = run(install_job());
  EXPECT_EQ(out.kind, RunOutcome::Kind::kInterrupted);
  EXPECT_TRUE(system_.abandon_reasons.empty());
  for (const auto& c : system_.calls) {
    EXPECT_FALSE(contains(c, "staging remove")) << c;
    EXPECT_FALSE(contains(c, "model install")) << c;
  }
}

TEST_F(RunnersTest, AModelAlreadyInPlaceThatVerifiesIsNotFetchedAgain) {
  fs::create_directories(model_dir());
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(fetcher_.calls, 0);
  EXPECT_EQ(system_.calls, std::vector<std::string>{"model install " + hex(job.proposal)});
  EXPECT_EQ(sink_.phases, std::vector<JobPhase>{JobPhase::kInstalling});
}

TEST_F(RunnersTest, ADamagedModelInPlaceIsFetchedAndInstalledAgain) {
  fs::create_directories(model_dir());
  system_.install_errors.push_back(Error(Errc::kHashMismatch, "model-damaged: a.bin does not match"));
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(fetcher_.calls, 1);
  EXPECT_EQ(system_.calls, (std::vector<std::string>{"model install " + hex(job.proposal),
                                                     "snapshot take " + hex(job.proposal),
                                                     "model install " + hex(job.proposal)}));
  EXPECT_TRUE(system_.abandon_reasons.empty());
}

TEST_F(RunnersTest, AResumedInstallSaysSoAndDoesNotAskForASecondSnapshot) {
  JobRecord job = install_job();
  job.snapshot = "cs-20260601T120000Z-0000abcd";
  RunOutcome out = run(job, /*resumed=*/true);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(system_.calls, std::vector<std::string>{"model install " + hex(job.proposal)});
  auto resumed = system_.reports_of(audit::event::kInstallResumed);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].fields["manifest"], digest_to_string(manifest_.hash()));
  EXPECT_EQ(system_.events().front(), audit::event::kInstallResumed);
}

TEST_F(RunnersTest, ASnapshotThatFailsStopsTheInstallBeforeAnyFetch) {
  system_.snapshot_answer = Error(Errc::kIo, "snapshot failed: btrfs: no space");
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error, "snapshot failed: btrfs: no space");
  EXPECT_EQ(fetcher_.calls, 0);
  EXPECT_EQ(system_.calls.back(), "proposal abandon " + hex(job.proposal));
}

TEST_F(RunnersTest, FetchProgressIsReportedAt25And50And75PercentOnceEach) {
  // 4000 bytes: the milestones are 1000, 2000 and 3000. Progress goes back once (a source
  // gave wrong bytes and the file is read again from 0) and crosses 50 % twice.
  fetcher_.script = [](const Manifest& m, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_progress({0, 500, 3000, "s"});
    obs.on_progress({0, 999, 3000, "s"});
    obs.on_progress({0, 1000, 3000, "s"});                              // 25 %
    obs.on_progress({0, 2100, 3000, "s"});                              // 50 %
    obs.on_progress({0, 0, 3000, "t"});                                 // back to 0
    obs.on_progress({0, 2500, 3000, "t"});                              // 50 % again: not reported again
    obs.on_event({FetchEvent::Kind::kFileVerified, "a.bin", "t", ""});  // 3000 bytes: 75 %
    obs.on_progress({1, 10, 1000, "t"});
    obs.on_event({FetchEvent::Kind::kFileVerified, "b/c.txt", "t", ""});
    EXPECT_EQ(m.total_size(), 4000u);
    return {};
  };
  RunOutcome out = run(install_job());
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  auto progress = system_.reports_of(audit::event::kFetchProgress);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[0].fields["percent"], 25);
  EXPECT_EQ(progress[0].fields["bytes"], 1000);
  EXPECT_EQ(progress[1].fields["percent"], 50);
  EXPECT_EQ(progress[1].fields["bytes"], 2100);
  EXPECT_EQ(progress[2].fields["percent"], 75);
  EXPECT_EQ(progress[2].fields["bytes"], 3000);
  for (const auto& p : progress) EXPECT_EQ(p.fields["manifest"], digest_to_string(manifest_.hash()));
}

TEST_F(RunnersTest, MilestonesCrossedAtOnceAreEachReportedOnceInOrder) {
  fetcher_.script = [](const Manifest&, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_event({FetchEvent::Kind::kFileVerified, "a.bin", "", ""});  // 3000 of 4000 at once
    obs.on_event({FetchEvent::Kind::kFileVerified, "a.bin", "", ""});
    obs.on_event({FetchEvent::Kind::kFileVerified, "b/c.txt", "", ""});
    return {};
  };
  ASSERT_EQ(run(install_job()).kind, RunOutcome::Kind::kDone);
  auto progress = system_.reports_of(audit::event::kFetchProgress);
  ASSERT_EQ(progress.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(progress[i].fields["percent"], 25 * (i + 1));
    EXPECT_EQ(progress[i].fields["bytes"], 3000);
  }
}

TEST_F(RunnersTest, AReportTheHelperCannotTakeIsCountedAndTheInstallGoesOn) {
  system_.log_answer = Error(Errc::kIo, "cannot run sudo");
  RunOutcome out = run(install_job());
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(audit_.failures(), 4u);  // fetch-started and three milestones
}

TEST_F(RunnersTest, RemoveRestoreAndRotateAreOneHelperStepEach) {
  const Digest h = manifest_.hash();
  struct Case {
    Action action;
    std::string call;
    JobPhase phase;
  };
  for (const auto& c : {Case{Action::kRemoveModel, "model remove ", JobPhase::kRemoving},
                        Case{Action::kRestoreSnapshot, "snapshot restore ", JobPhase::kRestoring},
                        Case{Action::kRotatePolicy, "policy rotate ", JobPhase::kRotating}}) {
    SCOPED_TRACE(std::string(action_name(c.action)));
    system_.calls.clear();
    sink_.phases.clear();
    json subject = manifest_.to_json();
    Digest subject_hash = h;
    if (c.action == Action::kRestoreSnapshot) {
      auto doc = test_util::must(
          SnapshotDoc::create({BoxFixture::kBox, "btrfs", "cs-20260601T120000Z-0000abcd", 1, ""}),
          "snapshot doc");
      subject = doc.to_json();
      subject_hash = doc.hash();
    } else if (c.action == Action::kRotatePolicy) {
      subject = box_.make_policy_doc(2, box_.policy_doc()["rules"]);
      subject_hash = test_util::must(jcs::hash(subject), "hash");
    }
    const JobRecord job = job_for(c.action, subject_hash, subject);
    RunOutcome out = run(job);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
    EXPECT_EQ(system_.calls, std::vector<std::string>{c.call + hex(job.proposal)});
    EXPECT_EQ(sink_.phases, std::vector<JobPhase>{c.phase});
    EXPECT_EQ(fetcher_.calls, 0);
  }
}

TEST_F(RunnersTest, RemoveRestoreAndRotateTheHelperRefusesAreGivenUp) {
  system_.remove_answer = Error(Errc::kRejected, "no model sha256:aa");
  system_.restore_answer = Error(Errc::kIo, "btrfs failed");
  system_.rotate_answer = Error(Errc::kRejected, "version is not 2");
  auto snap = test_util::must(
      SnapshotDoc::create({BoxFixture::kBox, "btrfs", "cs-20260601T120000Z-0000abcd", 1, ""}), "doc");
  json next = box_.make_policy_doc(2, box_.policy_doc()["rules"]);
  struct Case {
    JobRecord job;
    std::string reason;
  };
  for (const auto& c :
       {Case{job_for(Action::kRemoveModel, manifest_.hash(), manifest_.to_json()), "no model sha256:aa"},
        Case{job_for(Action::kRestoreSnapshot, snap.hash(), snap.to_json()), "btrfs failed"},
        Case{job_for(Action::kRotatePolicy, test_util::must(jcs::hash(next), "hash"), next),
             "version is not 2"}}) {
    system_.calls.clear();
    system_.abandon_reasons.clear();
    RunOutcome out = run(c.job);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
    EXPECT_EQ(out.error, "countersign-system: " + c.reason);
    ASSERT_EQ(system_.calls.size(), 2u);
    EXPECT_EQ(system_.calls[1], "proposal abandon " + hex(c.job.proposal));  // no staging to remove
    EXPECT_EQ(system_.abandon_reasons, std::vector<std::string>{out.error});
  }
}

TEST_F(RunnersTest, AStoredBundleThatNoLongerParsesFailsTheJobAsItIs) {
  JobRecord job = install_job();
  job.bundle = json{{"schema", "countersign/bundle/v9"}};
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_TRUE(contains(out.error, "stored bundle unreadable")) << out.error;
  EXPECT_TRUE(system_.calls.empty());  // the helper keeps its own copy of the bundle
}

}  // namespace
}  // namespace countersign::daemon

namespace countersign::daemon {
namespace {

class RunnersAheadTest : public RunnersTest {};

TEST_F(RunnersAheadTest, VerifiedFilesAreSealedAheadWhileTheFetchGoesOn) {
  // The fetch verifies the first file, then waits (bounded) until the helper was asked to
  // seal ahead before it streams the rest.
  fetcher_.script = [this](const Manifest& m, const std::string&, const FetchObserver& obs) -> Result<void> {
    obs.on_event({FetchEvent::Kind::kFileVerified, m.files()[0].path, "https://models.example/", ""});
    for (int i = 0; i < 500 && system_.seal_count() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    obs.on_event({FetchEvent::Kind::kFileVerified, m.files()[1].path, "https://models.example/", ""});
    return {};
  };
  const JobRecord job = install_job();
  RunOutcome out = run(job);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_GE(system_.seal_count(), 1);
  // The install is still the one that counts, after the fetch.
  EXPECT_EQ(system_.calls.back(), "model install " + hex(job.proposal));
}

TEST_F(RunnersAheadTest, AJobTheHelperFinishedIsDoneWithoutAnotherStep) {
  system_.finished_answer =
      std::optional<HelperOutcome>(HelperOutcome{true, json{{"path", model_dir()}}, ""});
  RunOutcome out = run(install_job(), true);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDone) << out.error;
  EXPECT_EQ(out.result["path"], model_dir());
  EXPECT_TRUE(system_.calls.empty());
  EXPECT_EQ(fetcher_.calls, 0);
}

TEST_F(RunnersAheadTest, AJobTheHelperGaveUpFailsWithItsReasonAndIsNotAbandonedAgain) {
  system_.finished_answer =
      std::optional<HelperOutcome>(HelperOutcome{false, nullptr, "no source gave the right bytes"});
  const JobRecord job = job_for(Action::kRemoveModel, manifest_.hash(), manifest_.to_json());
  RunOutcome out = run(job, true);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kFailed);
  EXPECT_EQ(out.error, "no source gave the right bytes");
  EXPECT_TRUE(system_.calls.empty());
}

}  // namespace
}  // namespace countersign::daemon
