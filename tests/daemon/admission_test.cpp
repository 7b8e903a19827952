// Admission (daemon/admission.h) against a scripted System component: the daemon's own
// refusals, the helper's, replays, acceptance into the queue, and signatures one at a time.
#include "daemon/admission.h"

#include <fstream>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/jcs.h"
#include "core/sha256.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/fakes.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;
using test::FakeSystemClient;
using test_util::BoxFixture;
using test_util::contains;

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest()
      : manifest_(BoxFixture::make_manifest(dir_.path() / "src", "m", {{"a.bin", "aaaa"}},
                                            {BoxFixture::https_source("https://models.example/m/")})),
        proposal_(BoxFixture::make_proposal(manifest_.hash())),
        state_(test_util::must(StateDir::open(box_.config().daemon_dir()), "state dir")),
        policy_(test_util::must(Policy::parse(box_.policy_doc()), "policy")),
        queue_(state_, system_now,
               [](const JobRecord&, bool, JobSink&) { return RunOutcome::done(nullptr); }),
        admission_(
            box_.config(), [this] { return now_; }, state_, policy_, [](const PolicyKey&) { return false; },
            system_, audit_, refusals_, queue_) {
    std::filesystem::create_directories(box_.config().state_dir + "/system");
  }

  json bundle(const std::vector<std::string>& signers) {
    return box_.bundle(proposal_, manifest_.to_json(), signers);
  }
  AdmissionResult submit(const json& b) { return admission_.submit_bundle(b.dump()); }
  std::string id_hex() const { return hex_encode(proposal_.id()); }

  test_util::TempDir dir_{"admission"};
  BoxFixture box_{dir_.path()};
  Manifest manifest_;
  Proposal proposal_;
  StateDir state_;
  FakeSystemClient system_;
  AuditReporter audit_{system_};
  Refusals refusals_{audit_, std::chrono::seconds(0)};  // every refusal reported
  UnixTime now_ = system_now();                         // the admission's clock
  PolicyInForce policy_;
  JobQueue queue_;
  Admission admission_;
};

TEST_F(AdmissionTest, AnApprovedBundleTheHelperAcceptsIsQueued) {
  const json b = bundle({"alice", "bob", "carol"});
  AdmissionResult r = submit(b);
  ASSERT_EQ(r.outcome, AdmissionOutcome::kAccepted) << (r.reasons.empty() ? "" : r.reasons.front());
  EXPECT_EQ(r.proposal, proposal_.id());
  EXPECT_EQ(r.action, Action::kInstallModel);
  EXPECT_TRUE(r.report["approved"].get<bool>());
  // The helper got the bundle as JCS.
  ASSERT_EQ(system_.accepted_texts.size(), 1u);
  EXPECT_EQ(system_.accepted_texts[0], *jcs::serialize(b));
  // Queued, in memory and in its job file.
  auto job = queue_.find(proposal_.id());
  ASSERT_TRUE(job);
  EXPECT_EQ(job->record.state, JobState::kQueued);
  EXPECT_EQ(job->phase, JobPhase::kQueued);
  EXPECT_EQ(job->record.action, Action::kInstallModel);
  EXPECT_EQ(queue_.queued(), 1u);
  auto saved = state_.load_job(proposal_.id());
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->bundle, b);
  EXPECT_EQ(system_.events(), std::vector<std::string>{std::string(audit::event::kBundleReceived)});
}

TEST_F(AdmissionTest, UnderTheThresholdIsRejectedHereAndNeverReachesTheHelper) {
  AdmissionResult r = submit(bundle({"alice", "bob"}));
  ASSERT_EQ(r.outcome, AdmissionOutcome::kRejected);
  ASSERT_FALSE(r.reasons.empty());
  EXPECT_TRUE(contains(json(r.reasons).dump(), "threshold")) << json(r.reasons).dump();
  EXPECT_FALSE(r.report.is_null());
  EXPECT_TRUE(system_.accepted_texts.empty());
  EXPECT_FALSE(queue_.contains(proposal_.id()));
  auto rejected = system_.reports_of(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].fields["reasons"], json(r.reasons));
  EXPECT_EQ(rejected[0].fields["proposal"], digest_to_string(proposal_.id()));
}

TEST_F(AdmissionTest, ABundleTheHelperRefusesIsRejectedWithItsReasonAndNotQueued) {
  system_.accept_answer =
      Error(Errc::kRejected, "countersign-system accept: bundle refused: signature 2 (carol): revoked");
  AdmissionResult r = submit(bundle({"alice", "bob", "carol"}));
  ASSERT_EQ(r.outcome, AdmissionOutcome::kRejected);
  EXPECT_EQ(r.reasons, std::vector<std::string>{
                           "countersign-system accept: bundle refused: signature 2 (carol): revoked"});
  EXPECT_FALSE(r.report.is_null());  // the daemon's own check, which approved it
  EXPECT_FALSE(queue_.contains(proposal_.id()));
  EXPECT_TRUE(system_.reports_of(audit::event::kBundleRejected).empty());  // the helper logs its refusal
}

TEST_F(AdmissionTest, AReplayTheHelperCatchesIsReplayed) {
  system_.accept_answer = Error(
      Errc::kRejected, "bundle refused: replayed: proposal sha256:" + id_hex() + " was executed already");
  AdmissionResult r = submit(bundle({"alice", "bob", "carol"}));
  EXPECT_EQ(r.outcome, AdmissionOutcome::kReplayed);
  EXPECT_FALSE(queue_.contains(proposal_.id()));
}

TEST_F(AdmissionTest, AReplayOfAnIdInTheHelpersExecutedSetIsReplayedWithoutAskingIt) {
  std::ofstream(SystemPaths(box_.config()).executed()) << digest_to_string(proposal_.id()) << "\n";
  AdmissionResult r = submit(bundle({"alice", "bob", "carol"}));
  EXPECT_EQ(r.outcome, AdmissionOutcome::kReplayed);
  EXPECT_TRUE(contains(json(r.reasons).dump(), "replayed")) << json(r.reasons).dump();
  EXPECT_TRUE(system_.accepted_texts.empty());
}

TEST_F(AdmissionTest, AHelperThatCannotAnswerIsHelperFailed) {
  system_.accept_answer = Error(Errc::kIo, "cannot run sudo: No such file or directory");
  AdmissionResult r = submit(bundle({"alice", "bob", "carol"}));
  ASSERT_EQ(r.outcome, AdmissionOutcome::kHelperFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message, "cannot run sudo: No such file or directory");
  EXPECT_FALSE(queue_.contains(proposal_.id()));
}

TEST_F(AdmissionTest, AMalformedBundleIsRejectedAndLogged) {
  AdmissionResult r = admission_.submit_bundle("{\"schema\": ");
  ASSERT_EQ(r.outcome, AdmissionOutcome::kMalformed);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_TRUE(r.reasons[0].starts_with("malformed bundle: ")) << r.reasons[0];
  EXPECT_EQ(system_.reports_of(audit::event::kBundleRejected).size(), 1u);
  EXPECT_TRUE(system_.reports_of(audit::event::kBundleReceived).empty());
}

TEST_F(AdmissionTest, AnotherBoxsSnapshotIsUnsupportedBeforeAnySignatureCounts) {
  auto doc = test_util::must(
      SnapshotDoc::create({"box-91c2", "btrfs", "cs-20260601T120000Z-0000abcd", 1, ""}), "doc");
  BoxFixture::ProposalOptions o;
  o.action = Action::kRestoreSnapshot;
  AdmissionResult r = submit(box_.bundle(BoxFixture::make_proposal(doc.hash(), o), doc.to_json(), {"alice"}));
  ASSERT_EQ(r.outcome, AdmissionOutcome::kUnsupported);
  EXPECT_TRUE(contains(r.reasons.at(0), "belongs to box \"box-91c2\"")) << r.reasons.at(0);
  EXPECT_TRUE(r.report.is_null());
}

TEST_F(AdmissionTest, SignaturesOneAtATimeAreSubmittedWhenTheRuleIsMet) {
  json req = {{"proposal", proposal_.to_json()}, {"manifest", manifest_.to_json()}};
  AdmissionResult created = admission_.create_pending(req.dump());
  ASSERT_EQ(created.outcome, AdmissionOutcome::kPendingCreated);
  EXPECT_EQ(admission_.create_pending(req.dump()).outcome, AdmissionOutcome::kPending);
  auto sig = [&](const std::string& who) { return box_.sign(who, proposal_).to_json().dump(); };
  EXPECT_EQ(admission_.add_signature(id_hex(), sig("outsider")).outcome,
            AdmissionOutcome::kSignatureRejected);
  EXPECT_EQ(admission_.add_signature(id_hex(), sig("alice")).outcome, AdmissionOutcome::kPending);
  EXPECT_EQ(admission_.add_signature(id_hex(), sig("alice")).outcome,
            AdmissionOutcome::kPending);  // the same file
  EXPECT_EQ(admission_.add_signature(id_hex(), sig("bob")).outcome, AdmissionOutcome::kPending);
  EXPECT_TRUE(system_.accepted_texts.empty());
  AdmissionResult third = admission_.add_signature(id_hex(), sig("carol"));
  ASSERT_EQ(third.outcome, AdmissionOutcome::kAccepted);
  EXPECT_TRUE(queue_.contains(proposal_.id()));
  EXPECT_EQ(admission_.lookup(id_hex()).outcome, AdmissionOutcome::kAccepted);
  EXPECT_EQ(system_.reports_of(audit::event::kSignatureAccepted).size(), 3u);
  EXPECT_EQ(system_.reports_of(audit::event::kSignatureRejected).size(), 1u);
}

TEST_F(AdmissionTest, LookupsOfUnknownOrBadIdsSaySo) {
  AdmissionResult bad = admission_.lookup("nothex");
  ASSERT_EQ(bad.outcome, AdmissionOutcome::kMalformed);
  EXPECT_EQ(bad.error->code, Errc::kMalformed);
  AdmissionResult none = admission_.lookup(std::string(64, 'a'));
  ASSERT_EQ(none.outcome, AdmissionOutcome::kNotFound);
  EXPECT_EQ(none.error->message, "no pending proposal " + std::string(64, 'a'));
  EXPECT_EQ(
      admission_.add_signature(std::string(64, 'a'), box_.sign("alice", proposal_).to_json().dump()).outcome,
      AdmissionOutcome::kNotFound);
}

// A bundle with more signatures than the policy has keys costs no signature check: refused
// at once, with a bounded log entry that names the peer and the body's hash, not the body.
TEST_F(AdmissionTest, MoreSignaturesThanKeysAreRefusedBeforeAnyIsChecked) {
  json b = bundle({"alice", "bob", "carol", "dave", "erin", "outsider"});
  Peer peer;
  peer.transport = Peer::Transport::kUnix;
  peer.uid = 1234;
  peer.pid = 99;
  const std::string body = b.dump();
  AdmissionResult r = admission_.submit_bundle(body, peer);
  ASSERT_EQ(r.outcome, AdmissionOutcome::kRejected);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_EQ(
      r.reasons[0],
      "too-many-signatures: the bundle carries 6 signatures; policy version 1 has 5 keys that could count");
  EXPECT_TRUE(r.report.is_null());  // no verification ran
  auto rejected = system_.reports_of(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 1u);
  const json& f = rejected[0].fields;
  EXPECT_EQ(f["code"], "too-many-signatures");
  EXPECT_EQ(f["peer"], json({{"transport", "unix"}, {"uid", 1234}, {"pid", 99}}));
  EXPECT_EQ(f["bundle"], digest_to_string(sha256(body)));
  EXPECT_EQ(f["bytes"], body.size());
  EXPECT_TRUE(system_.accepted_texts.empty());
}

// Whatever is sent, the entry stays small: reasons are cut and counted, the input never copied.
TEST_F(AdmissionTest, ARefusalOfAHugeBodyLogsABoundedEntry) {
  const std::string garbage = "{\"schema\": \"" + std::string(200000, 'x');
  AdmissionResult r = admission_.submit_bundle(garbage);
  ASSERT_EQ(r.outcome, AdmissionOutcome::kMalformed);
  auto rejected = system_.reports_of(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_LT(rejected[0].fields.dump().size(), 2048u) << rejected[0].fields.dump().size();
  EXPECT_EQ(rejected[0].fields["code"], "malformed");
  EXPECT_EQ(rejected[0].fields["bytes"], garbage.size());
  EXPECT_EQ(system_.reports_of(audit::event::kBundleReceived).size(), 0u);
}

TEST_F(AdmissionTest, TheSubmitterIsLoggedAndKeptWithTheJob) {
  Peer peer;
  peer.transport = Peer::Transport::kTcp;
  peer.address = "127.0.0.1";
  peer.port = 40000;
  ASSERT_EQ(admission_.submit_bundle(bundle({"alice", "bob", "carol"}).dump(), peer).outcome,
            AdmissionOutcome::kAccepted);
  auto received = system_.reports_of(audit::event::kBundleReceived);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].fields["peer"]["address"], "127.0.0.1");
  EXPECT_EQ(queue_.find(proposal_.id())->record.submitter, peer.to_json());
  auto saved = state_.load_job(proposal_.id());
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->submitter["transport"], "tcp");
}

// Pending proposals are capped in number and dropped at their expiry.
TEST_F(AdmissionTest, PendingProposalsAreCappedAndExpire) {
  box_.config().max_pending = 2;
  auto pending_of = [&](int i, UnixTime expires) {
    BoxFixture::ProposalOptions o;
    o.created = now_ - 60 - i;
    o.expires = expires;
    Proposal p = BoxFixture::make_proposal(manifest_.hash(), o);
    return std::make_pair(p, json{{"proposal", p.to_json()}, {"manifest", manifest_.to_json()}}.dump());
  };
  auto [p1, r1] = pending_of(1, now_ + 100);
  auto [p2, r2] = pending_of(2, now_ + 100000);
  auto [p3, r3] = pending_of(3, now_ + 100000);
  ASSERT_EQ(admission_.create_pending(r1).outcome, AdmissionOutcome::kPendingCreated);
  ASSERT_EQ(admission_.create_pending(r2).outcome, AdmissionOutcome::kPendingCreated);
  AdmissionResult full = admission_.create_pending(r3);
  ASSERT_EQ(full.outcome, AdmissionOutcome::kBusy);
  EXPECT_TRUE(contains(full.error->message, "2 of 2 (max_pending)")) << full.error->message;
  // The first expires: it is gone (lookup says so), and there is room again.
  now_ += 101;
  AdmissionResult gone = admission_.lookup(hex_encode(p1.id()));
  ASSERT_EQ(gone.outcome, AdmissionOutcome::kNotFound);
  EXPECT_TRUE(contains(gone.error->message, "expired")) << gone.error->message;
  EXPECT_EQ(admission_.create_pending(r3).outcome, AdmissionOutcome::kPendingCreated);
  auto files = state_.list_pending();
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 2u);
  // ... and by bytes: a cap smaller than one more proposal refuses it.
  box_.config().max_pending = 64;
  box_.config().max_pending_bytes = 1;
  auto [p4, r4] = pending_of(4, now_ + 100000);
  AdmissionResult bytes = admission_.create_pending(r4);
  ASSERT_EQ(bytes.outcome, AdmissionOutcome::kBusy);
  EXPECT_TRUE(contains(bytes.error->message, "max_pending_bytes")) << bytes.error->message;
}

// A rotation needs the old policy's rule and the new policy's own: a signature of an approver
// who is only in the new policy counts toward it when added one at a time.
TEST_F(AdmissionTest, PendingRotationCountsSignaturesUnderEitherPolicy) {
  json rules = box_.policy_doc()["rules"];
  policy_.set(test_util::must(
      Policy::parse(box_.make_policy_doc(1, rules, {"alice", "bob", "carol", "dave"})), "v1"));
  const json next = box_.make_policy_doc(2, rules, {"bob", "carol", "dave", "erin"});
  BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  Proposal p = BoxFixture::make_proposal(test_util::must(jcs::hash(next), "hash"), o);
  const std::string id = hex_encode(p.id());
  ASSERT_EQ(admission_.create_pending(json{{"proposal", p.to_json()}, {"manifest", next}}.dump()).outcome,
            AdmissionOutcome::kPendingCreated);
  auto sig = [&](const std::string& who) { return box_.sign(who, p).to_json().dump(); };
  AdmissionResult erin = admission_.add_signature(id, sig("erin"));  // new policy only
  ASSERT_EQ(erin.outcome, AdmissionOutcome::kPending) << (erin.reasons.empty() ? "" : erin.reasons[0]);
  ASSERT_EQ(admission_.add_signature(id, sig("alice")).outcome, AdmissionOutcome::kPending);  // old only
  AdmissionResult outsider = admission_.add_signature(id, sig("outsider"));
  ASSERT_EQ(outsider.outcome, AdmissionOutcome::kSignatureRejected);
  EXPECT_TRUE(contains(outsider.reasons[0], "under the new policy")) << outsider.reasons[0];
  ASSERT_EQ(admission_.add_signature(id, sig("bob")).outcome, AdmissionOutcome::kPending);
  // alice, bob, carol under the old policy; erin, bob, carol under the new one.
  AdmissionResult done = admission_.add_signature(id, sig("carol"));
  ASSERT_EQ(done.outcome, AdmissionOutcome::kAccepted) << (done.reasons.empty() ? "" : done.reasons[0]);
  EXPECT_EQ(system_.reports_of(audit::event::kSignatureAccepted).size(), 4u);
}

}  // namespace
}  // namespace countersign::daemon
