// countersignd's engine end to end, in process: real bundles signed with real keys, the real
// privileged helper binary, models fetched from a real nginx. The attack catalogue
// (docs/daemon.md): each attack gets its rejection (HTTP status + reason) and its audit log
// entry, and nothing is installed that should not be.
#include "daemon/engine.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/audit_entry.h"
#include "core/audit_verify.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/liveness.h"
#include "core/signature_file.h"
#include "daemon/api.h"
#include "daemon/state.h"
#include "smartcard/fido2_device.h"
#include "smartcard/fido2_signer.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/loop_btrfs.h"
#include "tests/daemon/nginx_fixture.h"
#include "tests/daemon/system_test_util.h"
#include "tests/smartcard/virtual_fido2.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::BoxFixture;
using test_util::contains;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(nginx_.running(), nginx_.skip_reason());
    CS_REQUIRE_OR_SKIP(fs::exists(COUNTERSIGN_SYSTEM_BIN), "countersign-system not built");
    files_ = {{"config.json", R"({"layers": 2})"},
              {"weights/model.bin", std::string(300000, 'w')},
              {"tokenizer.json", std::string(5000, 't')}};
    manifest_.emplace(BoxFixture::make_manifest(nginx_.root(), "good", files_,
                                                {BoxFixture::https_source(nginx_.base_url() + "good/")}));
  }
  void TearDown() override {
    if (engine_) engine_->stop();
  }

  Engine& engine() {
    if (!engine_) {
      box_.write_config();
      engine_ = test_util::must(Engine::open(box_.config()), "engine");
      auto s = engine_->start();
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
    return *engine_;
  }
  // The API over the engine (what the daemon answers on its socket), opening the engine first.
  Api api() { return Api(engine()); }
  void restart() {
    if (engine_) engine_->stop();
    engine_.reset();
    engine();
  }

  Reply submit(const json& bundle) { return api().submit_bundle(bundle.dump()); }
  json install_bundle(const Manifest& m, std::vector<std::string> signers = {"alice", "bob", "carol"},
                      BoxFixture::ProposalOptions o = {}) {
    return box_.bundle(BoxFixture::make_proposal(m.hash(), o), m.to_json(), signers);
  }

  json wait_job(const Reply& accepted) {
    EXPECT_TRUE(engine().wait_idle(std::chrono::seconds(60)));
    return api().job(accepted.body["job"].get<std::string>()).body;
  }

  // Every audit log entry, parsed.
  std::vector<json> log_entries() {
    Reply r = api().log_entries(0, std::nullopt);
    std::vector<json> out;
    std::string_view text = *r.text;
    while (!text.empty()) {
      auto nl = text.find('\n');
      auto line = audit::parse_export_line(text.substr(0, nl));
      EXPECT_TRUE(line.ok());
      if (line.ok()) out.push_back(*jcs::parse(line->entry));
      text.remove_prefix(nl + 1);
    }
    return out;
  }
  std::vector<json> events(std::string_view name) {
    std::vector<json> out;
    for (auto& e : log_entries()) {
      if (e["event"] == name) out.push_back(e);
    }
    return out;
  }
  // 1 MiB served at 2 KiB/s: just over the stall limit, minutes to finish.
  // Waits (bounded: 10 s) until the job `submitted` answered for has fetched its first bytes.
  bool wait_fetching(const Reply& submitted) {
    for (int i = 0; i < 400; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      json j = api().job(submitted.body["job"].get<std::string>()).body;
      if (j.contains("progress") && j["progress"]["bytes_done"].get<std::uint64_t>() > 0) return true;
    }
    return false;
  }

  Manifest crawl_manifest() {
    return BoxFixture::make_manifest(nginx_.root(), "crawl", {{"big.bin", std::string(1 << 20, 'c')}},
                                     {BoxFixture::https_source(nginx_.crawl_url() + "crawl/")});
  }
  std::string model_dir(const Manifest& m) const { return box_.models_dir() + "/" + hex_encode(m.hash()); }
  bool staging_empty() const {
    std::error_code ec;
    return fs::is_empty(box_.config().staging_dir(), ec);
  }

  // The rejection shape every attack must produce: status, a reason naming the check, a
  // bundle-rejected log entry with that reason, no job and no model.
  void expect_rejected(const json& bundle, int status, const std::string& reason_part) {
    Reply r = submit(bundle);
    EXPECT_EQ(r.status, status) << r.body.dump(2);
    ASSERT_TRUE(r.body.contains("reasons")) << r.body.dump(2);
    EXPECT_TRUE(contains(r.body["reasons"].dump(), reason_part)) << r.body["reasons"].dump(2);
    auto rejected = events(audit::event::kBundleRejected);
    ASSERT_FALSE(rejected.empty());
    EXPECT_TRUE(contains(rejected.back()["reasons"].dump(), reason_part)) << rejected.back().dump();
    EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
    EXPECT_TRUE(api().jobs().body["jobs"].empty());
  }

  test_util::NginxFixture nginx_;
  test_util::TempDir dir_{"engine"};
  BoxFixture box_{dir_.path()};
  std::map<std::string, std::string> files_;
  std::optional<Manifest> manifest_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, ApprovedBundleIsFetchedVerifiedAndInstalledReadOnly) {
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202) << r.body.dump(2);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "done") << job.dump(2);
  // Where the install's time went (docs/api.md): the fetch, the wait for the hashing ahead,
  // the helper's step; each a number of seconds, none longer than the whole.
  const json& t = job["result"]["timings"];
  for (const char* k : {"fetch_seconds", "seal_wait_seconds", "helper_seconds"}) {
    ASSERT_TRUE(t.contains(k) && t[k].is_number()) << k << " " << job.dump(2);
    EXPECT_GE(t[k].get<double>(), 0.0) << k;
    EXPECT_LT(t[k].get<double>(), 60.0) << k;
  }
  EXPECT_TRUE(job["result"]["check_seconds"].is_number()) << job.dump(2);
  const std::string dir = model_dir(*manifest_);
  for (const auto& [path, data] : files_) {
    EXPECT_EQ(test_util::slurp(dir + "/" + path), data) << path;
    struct stat st {};
    ASSERT_EQ(::lstat((dir + "/" + path).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0444u) << path;
    if (::geteuid() == 0) {
      EXPECT_EQ(st.st_uid, 0u);
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_TRUE(staging_empty());
  // What the box says it has.
  json models = api().models().body["models"];
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["hash"], digest_to_string(manifest_->hash()));
  EXPECT_EQ(models[0]["name"], "demo-model");
  EXPECT_EQ(models[0]["proposal"], "sha256:" + r.body["job"].get<std::string>());
  // The story in the log, in order, and the log verifies offline against a fresh checkpoint.
  std::vector<std::string> names;
  for (const auto& e : log_entries()) names.push_back(e["event"]);
  std::vector<std::string> expected = {"daemon-started",   "bundle-received", "bundle-verified",
                                       "snapshot-skipped", "fetch-started",   "fetch-progress",
                                       "fetch-progress",   "fetch-progress",  "install-complete"};
  EXPECT_EQ(names, expected);
  // The fetch milestones, as the helper wrote them: 25, 50 and 75 % of the bytes, once each.
  std::vector<int> percents;
  for (const auto& e : events(audit::event::kFetchProgress)) percents.push_back(e["percent"]);
  EXPECT_EQ(percents, (std::vector<int>{25, 50, 75}));
  Reply cp = api().log_checkpoint();
  ASSERT_TRUE(cp.text);
  engine_->stop();
  auto key = test_util::must(note::Verifier::parse(box_.log_verifier()), "verifier");
  auto report = audit::verify_log_dir(box_.config().log_dir(), key, {*cp.text});
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->entries, names.size() + 1);  // + daemon-stopped
}

TEST_F(EngineTest, UnderThresholdIsRejected) {
  expect_rejected(install_bundle(*manifest_, {"alice", "bob"}), 403, "threshold");
}

// require_attestation on the box: two approvers hold FIDO2 keys made in (virtual)
// authenticators whose packed attestation chains to each one's test CA. The box counts a key
// only when it can verify that chain itself, against Yubico's built-in roots and the CAs
// named by attestation_root.
TEST_F(EngineTest, RequireAttestationCountsOnlyKeysTheBoxCanVerify) {
  testing::VirtualFido2 dev_a, dev_b;
  auto enroll = [](testing::VirtualFido2& v, const std::string& name) {
    auto d = test_util::must(fido2::Device::open(v.path(), testing::VirtualFido2::io(), 5000), "open");
    return test_util::must(d.make_credential({Alg::kFido2Es256, false, false, name}, nullptr), "enroll");
  };
  const PolicyKey ka = enroll(dev_a, "alice"), kb = enroll(dev_b, "bob");
  json policy = box_.policy_doc();
  policy["approvers"][0]["keys"] = json::array({policy_key_to_json(ka)});
  policy["approvers"][1]["keys"] = json::array({policy_key_to_json(kb)});
  policy["rules"]["install-model"] = {{"threshold", 2}, {"require_attestation", true}};
  test_util::spit(box_.config().policy, policy.dump());
  test_util::spit(dir_.file("a-ca.der"),
                  std::string(dev_a.ca_certificate().begin(), dev_a.ca_certificate().end()));
  test_util::spit(dir_.file("b-ca.der"),
                  std::string(dev_b.ca_certificate().begin(), dev_b.ca_certificate().end()));

  const Proposal p = BoxFixture::make_proposal(manifest_->hash());
  auto sign_with = [&](testing::VirtualFido2& v, const PolicyKey& k, const std::string& name) {
    auto d = test_util::must(fido2::Device::open(v.path(), testing::VirtualFido2::io(), 5000), "open");
    auto signer = test_util::must(fido2::Fido2Signer::create(std::move(d), k, nullptr), "signer");
    return test_util::must(sign_proposal(signer, p.id(), name, system_now()), "sign");
  };
  std::vector<SignatureFile> sigs{sign_with(dev_a, ka, "alice"), sign_with(dev_b, kb, "bob")};
  const json bundle = test_util::must(Bundle::create(p, manifest_->to_json(), sigs), "bundle").to_json();

  // Only alice's CA is trusted: bob's key does not count, and the reason says why.
  box_.config().attestation_roots = {dir_.file("a-ca.der")};
  expect_rejected(bundle, 403, "attestation does not verify against the pinned vendor roots");

  // Both CAs trusted: approved and installed.
  box_.config().attestation_roots = {dir_.file("a-ca.der"), dir_.file("b-ca.der")};
  restart();
  Reply r = submit(bundle);
  ASSERT_EQ(r.status, 202) << r.body.dump(2);
  EXPECT_EQ(wait_job(r)["state"], "done");
  EXPECT_TRUE(fs::exists(model_dir(*manifest_)));
}

TEST_F(EngineTest, AnUnreadableAttestationRootStopsTheDaemonFromStarting) {
  box_.config().attestation_roots = {dir_.file("missing-ca.pem")};
  box_.write_config();
  auto e = Engine::open(box_.config());
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(contains(e.error().message, "attestation_root")) << e.error().message;
  EXPECT_TRUE(contains(e.error().message, "missing-ca.pem")) << e.error().message;
}

TEST_F(EngineTest, SignatureByUnknownKeyDoesNotCount) {
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "outsider"}), 403,
                  "is not in policy version 1");
}

TEST_F(EngineTest, OneApproverTwiceCountsOnce) {
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "bob"}), 403, "duplicate");
}

TEST_F(EngineTest, BundleForAnotherDomainIsRejected) {
  BoxFixture::ProposalOptions o;
  o.domain = "acme-staging";
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "carol"}, o), 403, "domain");
}

TEST_F(EngineTest, BundleForAnotherBoxIsRejected) {
  BoxFixture::ProposalOptions o;
  o.boxes = std::vector<std::string>{"box-91c2"};
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "carol"}, o), 403, "box");
}

TEST_F(EngineTest, ExpiredBundleIsRejected) {
  BoxFixture::ProposalOptions o;
  o.created = system_now() - 10 * 86400;
  o.expires = system_now() - 86400;
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "carol"}, o), 403, "expired");
}

TEST_F(EngineTest, BundleCreatedInTheFutureIsRejected) {
  BoxFixture::ProposalOptions o;
  o.created = system_now() + 3600;
  o.expires = system_now() + 7200;
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "carol"}, o), 403, "not-yet-valid");
}

TEST_F(EngineTest, ReplayedProposalIsRefusedAlsoAfterRestart) {
  json b = install_bundle(*manifest_);
  Reply first = submit(b);
  ASSERT_EQ(first.status, 202);
  wait_job(first);
  Reply again = submit(b);
  EXPECT_EQ(again.status, 409) << again.body.dump(2);
  EXPECT_TRUE(contains(again.body["reasons"].dump(), "replayed"));
  restart();
  Reply after_restart = submit(b);
  EXPECT_EQ(after_restart.status, 409);
  EXPECT_EQ(events(audit::event::kBundleRejected).size(), 2u);
}

TEST_F(EngineTest, ManifestNotMatchingTheProposalIsRejected) {
  Manifest other = BoxFixture::make_manifest(nginx_.root(), "other", {{"x.bin", "other bytes"}}, {});
  json b =
      box_.bundle(BoxFixture::make_proposal(other.hash()), manifest_->to_json(), {"alice", "bob", "carol"});
  expect_rejected(b, 403, "manifest-hash");
}

TEST_F(EngineTest, PathTraversalInAManifestIsRefusedAsMalformed) {
  json m = manifest_->to_json();
  m["files"][0]["path"] = "../../etc/cron.d/evil";
  Digest h = test_util::must(jcs::hash(m), "hash");
  Proposal p = BoxFixture::make_proposal(h);
  json b = {
      {"schema", "countersign/bundle/v1"},
      {"proposal", p.to_json()},
      {"manifest", m},
      {"signatures",
       {box_.sign("alice", p).to_json(), box_.sign("bob", p).to_json(), box_.sign("carol", p).to_json()}}};
  Reply r = submit(b);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(contains(r.body["reasons"].dump(), "/files/0/path")) << r.body.dump(2);
  EXPECT_TRUE(contains(events(audit::event::kBundleRejected).back()["reasons"].dump(), "malformed bundle"));
  EXPECT_FALSE(fs::exists(dir_.path() / "etc/cron.d"));
}

TEST_F(EngineTest, MaliciousFirstMirrorIsSkippedWithAnAlert) {
  // The box's own mirror serves tampered bytes for one file; the manifest's source is good.
  for (const auto& [path, data] : files_) {
    fs::create_directories((nginx_.root() / "evil" / path).parent_path());
    test_util::spit(nginx_.root() / "evil" / path,
                    path == "weights/model.bin" ? std::string(300000, 'X') : data);
  }
  box_.config().mirrors = {BoxFixture::https_source(nginx_.base_url() + "evil/")};
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(wait_job(r)["state"], "done");
  EXPECT_EQ(test_util::slurp(model_dir(*manifest_) + "/weights/model.bin"), files_["weights/model.bin"]);
  auto alerts = events(audit::event::kHashMismatchAlert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["path"], "weights/model.bin");
  EXPECT_TRUE(contains(alerts[0]["source"].get<std::string>(), "/evil/")) << alerts[0].dump();
}

TEST_F(EngineTest, EverySourceBadInstallsNothingAndRemovesStaging) {
  test_util::spit(nginx_.root() / "good/weights/model.bin", std::string(300000, 'X'));
  box_.config().mirrors = {BoxFixture::https_source(nginx_.base_url() + "missing/")};
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(contains(job["error"].get<std::string>(), "weights/model.bin")) << job.dump(2);
  EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
  EXPECT_TRUE(staging_empty());
  EXPECT_FALSE(events(audit::event::kSourceFailed).empty());  // the 404s
  EXPECT_FALSE(events(audit::event::kHashMismatchAlert).empty());
  auto aborted = events(audit::event::kInstallAborted);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_TRUE(contains(aborted[0]["reason"].get<std::string>(), "no source gave the right bytes"))
      << aborted[0].dump();
}

TEST_F(EngineTest, EndlessAndStalledSourcesAreCutAndSkipped) {
  box_.config().mirrors = {BoxFixture::https_source(nginx_.endless_url() + "good/"),
                           BoxFixture::https_source(nginx_.stall_url() + "good/")};
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(wait_job(r)["state"], "done");
  EXPECT_EQ(test_util::slurp(model_dir(*manifest_) + "/weights/model.bin"), files_["weights/model.bin"]);
  bool cut = false, stalled = false;
  for (const auto& e : events(audit::event::kHashMismatchAlert))
    cut = cut || contains(e["reason"].get<std::string>(), "more bytes");
  for (const auto& e : events(audit::event::kSourceFailed))
    stalled = stalled || contains(e["source"].get<std::string>(), "/stall/");
  EXPECT_TRUE(cut);
  EXPECT_TRUE(stalled);
}

TEST_F(EngineTest, SymlinkPlantedInStagingAbortsTheInstall) {
  // Someone with access to the staging dir plants a link where a model file will be written
  // (after the daemon started: leftovers from before a start are cleaned away).
  engine();
  const std::string hex = hex_encode(manifest_->hash());
  const std::string staging = box_.config().staging_dir() + "/" + hex;
  fs::create_directories(staging);
  test_util::spit(dir_.path() / "victim", "precious");
  fs::create_symlink(dir_.path() / "victim", staging + "/config.json");
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(contains(job["error"].get<std::string>(), "symlink")) << job.dump(2);
  EXPECT_EQ(test_util::slurp(dir_.path() / "victim"), "precious");
  EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_EQ(events(audit::event::kInstallAborted).size(), 1u);
}

TEST_F(EngineTest, SignaturesOneAtATimeActWhenTheRuleIsMet) {
  Proposal p = BoxFixture::make_proposal(manifest_->hash());
  json req = {{"proposal", p.to_json()}, {"manifest", manifest_->to_json()}};
  Reply created = api().create_pending(req.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump(2);
  EXPECT_EQ(created.body["report"]["missing"].size(), 5u);
  const std::string id = hex_encode(p.id());
  Reply outsider = api().add_signature(id, box_.sign("outsider", p).to_json().dump());
  EXPECT_EQ(outsider.status, 422);
  EXPECT_EQ(events(audit::event::kSignatureRejected).size(), 1u);
  Reply one = api().add_signature(id, box_.sign("alice", p).to_json().dump());
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body["state"], "pending");
  Reply two = api().add_signature(id, box_.sign("dave", p).to_json().dump());
  EXPECT_EQ(two.body["report"]["missing"], json({"bob", "carol", "erin"}));
  EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
  Reply three = api().add_signature(id, box_.sign("erin", p).to_json().dump());
  ASSERT_EQ(three.status, 202) << three.body.dump(2);
  EXPECT_EQ(wait_job(three)["state"], "done");
  EXPECT_TRUE(fs::exists(model_dir(*manifest_)));
  EXPECT_EQ(api().pending(id).body["state"], "accepted");
}

TEST_F(EngineTest, PolicyRollbackIsRefused) {
  json same_version = box_.make_policy_doc(1, box_.policy_doc()["rules"]);
  Digest h = test_util::must(jcs::hash(same_version), "hash");
  BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  json b = box_.bundle(BoxFixture::make_proposal(h, o), same_version, {"alice", "bob", "carol"});
  expect_rejected(b, 403, "rotation-version");
}

TEST_F(EngineTest, RotationNeedsTheNewPolicysThresholdToo) {
  json rules = box_.policy_doc()["rules"];
  rules["rotate-policy"] = {{"threshold", 4}};
  json next = box_.make_policy_doc(2, rules);
  Digest h = test_util::must(jcs::hash(next), "hash");
  BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  Proposal p = BoxFixture::make_proposal(h, o);
  expect_rejected(box_.bundle(p, next, {"alice", "bob", "carol"}), 403, "under the new policy");
  // With a fourth signature the box rotates, logs it, and keeps the new policy across restarts.
  Reply r = submit(box_.bundle(BoxFixture::make_proposal(h, o), next, {"alice", "bob", "carol", "dave"}));
  ASSERT_EQ(r.status, 202) << r.body.dump(2);
  EXPECT_EQ(wait_job(r)["state"], "done");
  EXPECT_EQ(api().status().body["policy_version"], 2);
  auto rotated = events(audit::event::kPolicyRotated);
  ASSERT_EQ(rotated.size(), 1u);
  EXPECT_EQ(rotated[0]["to_version"], 2);
  restart();
  EXPECT_EQ(api().status().body["policy_version"], 2);
  EXPECT_EQ(api().policy().body["hash"], digest_to_string(h));
}

TEST_F(EngineTest, InterruptedInstallResumesAfterRestart) {
  // A big file from a slow location: stop the daemon mid-transfer, start it again.
  std::map<std::string, std::string> big = {{"big.bin", std::string(768 << 10, 'b')}};
  Manifest m = BoxFixture::make_manifest(nginx_.root(), "big", big,
                                         {BoxFixture::https_source(nginx_.slow_url() + "big/")});
  Reply r = submit(install_bundle(m));
  ASSERT_EQ(r.status, 202);
  const std::string job = r.body["job"];
  bool some_progress = false;
  for (int i = 0; i < 200 && !some_progress; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    json j = api().job(job).body;
    some_progress = j.contains("progress") && j["progress"]["bytes_done"].get<double>() > 0;
  }
  ASSERT_TRUE(some_progress);
  restart();
  json done = wait_job(r);
  EXPECT_EQ(done["state"], "done") << done.dump(2);
  EXPECT_EQ(test_util::slurp(model_dir(m) + "/big.bin"), big["big.bin"]);
  EXPECT_EQ(events(audit::event::kInstallResumed).size(), 1u);
  bool ranged = false;
  for (const auto& a : nginx_.access_log())
    ranged = ranged || (contains(a.uri, "big.bin") && !a.range.empty());
  EXPECT_TRUE(ranged) << "the second run did not resume with a Range request";
}

// A slow mirror holds no rotation back: an install crawls from a mirror at 2 KiB/s (just over
// the stall limit, so it would run for minutes), a second one of alice's waits behind it, and
// a rotation that drops alice is accepted. The rotation goes first and pauses the running install; then both
// of alice's installs are checked again under the new policy and given up, with the reason
// in the log after the rotation. Nothing of alice's is installed.
TEST_F(EngineTest, ARotationThatDropsAliceEndsHerRunningAndQueuedInstalls) {
  json rules = box_.policy_doc()["rules"];
  rules["install-model"] = {{"threshold", 1}};  // any one approver may install
  test_util::spit(box_.config().policy, box_.make_policy_doc(1, rules).dump());
  Manifest crawling = crawl_manifest();
  Manifest waiting = BoxFixture::make_manifest(nginx_.root(), "waiting", {{"w.bin", "www"}},
                                               {BoxFixture::https_source(nginx_.base_url() + "waiting/")});
  Reply running = submit(install_bundle(crawling, {"alice"}));
  ASSERT_EQ(running.status, 202) << running.body.dump(2);
  ASSERT_TRUE(wait_fetching(running));
  Reply queued = submit(install_bundle(waiting, {"alice"}));
  ASSERT_EQ(queued.status, 202) << queued.body.dump(2);

  const json v2 = box_.make_policy_doc(2, rules, {"bob", "carol", "dave", "erin"});
  BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  Proposal rotation = BoxFixture::make_proposal(test_util::must(jcs::hash(v2), "hash"), o);
  Reply rotated = submit(box_.bundle(rotation, v2, {"bob", "carol", "dave"}));
  ASSERT_EQ(rotated.status, 202) << rotated.body.dump(2);
  // Well before the crawl could have finished (512 s at 2 KiB/s).
  ASSERT_TRUE(engine().wait_idle(std::chrono::seconds(60)));

  EXPECT_EQ(api().job(rotated.body["job"].get<std::string>()).body["state"], "done");
  EXPECT_EQ(api().status().body["policy_version"], 2);
  for (const Reply* r : {&running, &queued}) {
    json job = api().job(r->body["job"].get<std::string>()).body;
    EXPECT_EQ(job["state"], "failed") << job.dump(2);
    EXPECT_TRUE(contains(job.value("error", ""), "no longer approved under policy version 2")) << job.dump(2);
  }
  EXPECT_FALSE(fs::exists(model_dir(crawling)));
  EXPECT_FALSE(fs::exists(model_dir(waiting)));
  EXPECT_TRUE(api().models().body["models"].empty());
  EXPECT_TRUE(staging_empty());
  // The log: the rotation, then both installs aborted with the reason.
  std::optional<std::uint64_t> rotated_at;
  std::vector<std::string> aborted;
  for (const auto& e : log_entries()) {
    if (e["event"] == audit::event::kPolicyRotated) rotated_at = e["seq"].get<std::uint64_t>();
    if (e["event"] == audit::event::kInstallAborted) {
      ASSERT_TRUE(rotated_at) << "aborted before the rotation: " << e.dump();
      EXPECT_TRUE(contains(e["reason"].get<std::string>(), "no longer approved under policy version 2"))
          << e.dump();
      aborted.push_back(e["proposal"]);
    }
  }
  EXPECT_EQ(aborted, (std::vector<std::string>{"sha256:" + running.body["job"].get<std::string>(),
                                               "sha256:" + queued.body["job"].get<std::string>()}));
}

// A source that keeps just over the stall limit cannot hold the queue: the install is given
// up once it fetches less than min_throughput over the window, or at its deadline.
TEST_F(EngineTest, AnInstallBelowTheMinimumThroughputIsGivenUp) {
  box_.config().min_throughput = 8 << 10;
  box_.config().throughput_window_seconds = 2;
  Manifest m = crawl_manifest();
  Reply r = submit(install_bundle(m));
  ASSERT_EQ(r.status, 202);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(
      contains(job.value("error", ""), "slower than min_throughput (8.0 KiB/s) over throughput_window (2 s)"))
      << job.dump(2);
  EXPECT_FALSE(fs::exists(model_dir(m)));
  EXPECT_TRUE(staging_empty());
  auto aborted = events(audit::event::kInstallAborted);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_TRUE(contains(aborted[0]["reason"].get<std::string>(), "min_throughput")) << aborted[0].dump();
}

TEST_F(EngineTest, AnInstallPastItsDeadlineIsGivenUp) {
  box_.config().install_deadline_seconds = 2;
  box_.config().min_throughput = 0;
  Manifest m = crawl_manifest();
  Reply r = submit(install_bundle(m));
  ASSERT_EQ(r.status, 202);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(contains(job.value("error", ""), "did not finish within install_deadline (2 s)"))
      << job.dump(2);
  EXPECT_FALSE(fs::exists(model_dir(m)));
  EXPECT_EQ(events(audit::event::kInstallAborted).size(), 1u);
}

// More signatures than the policy has keys: refused before any signature is checked.
TEST_F(EngineTest, ABundleWithMoreSignaturesThanKeysIsRefusedBeforeAnyCheck) {
  expect_rejected(install_bundle(*manifest_, {"alice", "bob", "carol", "dave", "erin", "outsider"}), 403,
                  "too-many-signatures");
  auto rejected = events(audit::event::kBundleRejected);
  EXPECT_EQ(rejected.back()["code"], "too-many-signatures");
  EXPECT_TRUE(events(audit::event::kBundleReceived).empty());
}

// A flood of refusals from one peer for one reason is one entry, then one with the count.
TEST_F(EngineTest, RepeatedRefusalsAreOneEntryAndACount) {
  const std::uint64_t before = api().status().body["log_size"].get<std::uint64_t>();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(submit(install_bundle(*manifest_, {"alice"})).status, 403);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(api().submit_bundle("{\"schema\"").status, 400);
  auto rejected = events(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 2u);  // one per reason code
  EXPECT_EQ(rejected[0]["code"], "threshold");
  EXPECT_EQ(rejected[1]["code"], "malformed");
  EXPECT_LE(api().status().body["log_size"].get<std::uint64_t>(), before + 2);
  restart();  // the stop logs the counts of the open intervals
  rejected = events(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 4u);
  std::map<std::string, std::uint64_t> repeated;
  for (std::size_t i = 2; i < 4; ++i) repeated[rejected[i]["code"]] = rejected[i]["repeated"];
  EXPECT_EQ(repeated, (std::map<std::string, std::uint64_t>{{"threshold", 49}, {"malformed", 19}}));
}

// A rotation collected one signature at a time: approvers only in the new policy count toward
// the new policy's rule, approvers only in the old one toward the old rule.
TEST_F(EngineTest, APendingRotationTakesSignaturesOfApproversOnlyInTheNewPolicy) {
  json rules = box_.policy_doc()["rules"];
  test_util::spit(box_.config().policy,
                  box_.make_policy_doc(1, rules, {"alice", "bob", "carol", "dave"}).dump());
  const json next = box_.make_policy_doc(2, rules, {"bob", "carol", "dave", "erin"});
  BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  Proposal p = BoxFixture::make_proposal(test_util::must(jcs::hash(next), "hash"), o);
  const std::string id = hex_encode(p.id());
  Reply created = api().create_pending(json{{"proposal", p.to_json()}, {"manifest", next}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump(2);
  for (const char* who : {"erin", "alice", "bob"}) {
    Reply r = api().add_signature(id, box_.sign(who, p).to_json().dump());
    ASSERT_EQ(r.status, 200) << who << ": " << r.body.dump(2);
  }
  Reply last = api().add_signature(id, box_.sign("carol", p).to_json().dump());
  ASSERT_EQ(last.status, 202) << last.body.dump(2);
  EXPECT_EQ(wait_job(last)["state"], "done");
  EXPECT_EQ(api().status().body["policy_version"], 2);
  EXPECT_EQ(events(audit::event::kSignatureAccepted).size(), 4u);
}

TEST_F(EngineTest, RemoveModelTakesItAway) {
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(wait_job(r)["state"], "done");
  BoxFixture::ProposalOptions o;
  o.action = Action::kRemoveModel;
  Reply rm = submit(
      box_.bundle(BoxFixture::make_proposal(manifest_->hash(), o), manifest_->to_json(), {"bob", "erin"}));
  ASSERT_EQ(rm.status, 202) << rm.body.dump(2);
  EXPECT_EQ(wait_job(rm)["state"], "done");
  EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
  EXPECT_EQ(events(audit::event::kModelRemoved).size(), 1u);
  EXPECT_TRUE(api().models().body["models"].empty());
}

TEST_F(EngineTest, LeftoverStagingFromACrashIsCleanedAndLogged) {
  fs::create_directories(box_.config().staging_dir() + "/" + std::string(64, 'a') + "/sub");
  test_util::spit(box_.config().staging_dir() + "/" + std::string(64, 'a') + "/sub/part", "half");
  engine();
  EXPECT_TRUE(staging_empty());
  EXPECT_EQ(events(audit::event::kStagingCleaned).size(), 1u);
}

TEST_F(EngineTest, AProposalTheHelperAcceptedBeforeACrashIsInstalledAtStart) {
  // The helper's answer came, the daemon died before it wrote its job: the helper's record
  // of the accepted proposal is enough for the next start to run it.
  const json b = install_bundle(*manifest_);
  auto accepted = test::run_helper(box_.config_file(), {"accept"}, {}, b.dump());
  ASSERT_EQ(accepted.status, 0) << accepted.err;
  const std::string id = hex_encode(Bundle::parse(b)->proposal().id());
  json done = [&] {
    engine();
    EXPECT_TRUE(engine().wait_idle(std::chrono::seconds(60)));
    return api().job(id).body;
  }();
  EXPECT_EQ(done["state"], "done") << done.dump(2);
  EXPECT_EQ(test_util::slurp(model_dir(*manifest_) + "/config.json"), files_["config.json"]);
  EXPECT_EQ(events(audit::event::kBundleVerified).size(), 1u);
}

TEST_F(EngineTest, AJobTheHelperFinishedBeforeACrashEndsDoneWithoutAnotherStep) {
  // The helper installed the model, then the daemon died before it wrote that down: its job
  // file still says "running". The next start takes the helper's word for it.
  const json b = install_bundle(*manifest_);
  const Digest id = Bundle::parse(b)->proposal().id();
  ASSERT_EQ(test::run_helper(box_.config_file(), {"accept"}, {}, b.dump()).status, 0);
  test::write_tree(box_.config().staging_dir() + "/" + hex_encode(manifest_->hash()),
                   test::Files(files_.begin(), files_.end()));
  auto installed = test::run_helper(box_.config_file(), {"model", "install", hex_encode(id)});
  ASSERT_EQ(installed.status, 0) << installed.err;
  JobRecord job;
  job.proposal = id;
  job.action = Action::kInstallModel;
  job.bundle = b;
  job.state = JobState::kRunning;
  job.received = system_now();
  auto state = StateDir::open(box_.config().daemon_dir());
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->save_job(job).ok());
  EXPECT_TRUE(engine().wait_idle(std::chrono::seconds(30)));
  json done = api().job(hex_encode(id)).body;
  EXPECT_EQ(done["state"], "done") << done.dump(2);
  EXPECT_EQ(done["result"]["manifest"], digest_to_string(manifest_->hash()));
  EXPECT_EQ(events(audit::event::kInstallComplete).size(), 1u);
  EXPECT_TRUE(events(audit::event::kInstallAborted).empty());
  EXPECT_TRUE(nginx_.access_log().empty());  // nothing fetched again
}

TEST_F(EngineTest, EmptyingTheDaemonsRecordsDoesNotLetAReplayThrough) {
  json b = install_bundle(*manifest_);
  Reply first = submit(b);
  ASSERT_EQ(first.status, 202);
  wait_job(first);
  engine_->stop();
  engine_.reset();
  fs::remove_all(box_.config().daemon_dir());
  fs::remove_all(model_dir(*manifest_));  // as root could; the point is that nothing reinstalls it
  Reply again = submit(b);
  EXPECT_EQ(again.status, 409) << again.body.dump(2);
  EXPECT_TRUE(contains(again.body["reasons"].dump(), "replayed")) << again.body.dump(2);
  EXPECT_TRUE(engine().wait_idle(std::chrono::seconds(10)));
  EXPECT_FALSE(fs::exists(model_dir(*manifest_)));
  EXPECT_EQ(events(audit::event::kInstallComplete).size(), 1u);
}

TEST_F(EngineTest, TheDaemonsReportsAreMarkedAndItsPrivilegedStepsAreTheHelpers) {
  Reply r = submit(install_bundle(*manifest_));
  ASSERT_EQ(r.status, 202);
  ASSERT_EQ(wait_job(r)["state"], "done");
  for (const auto& e : log_entries()) {
    const std::string ev = e["event"];
    const bool privileged = ev == audit::event::kBundleVerified || ev == audit::event::kInstallComplete ||
                            ev == audit::event::kSnapshotSkipped;
    EXPECT_EQ(e.contains("reported_by"), !privileged) << e.dump();
  }
  EXPECT_EQ(api().status().body["log_report_failures"], 0);
}

TEST_F(EngineTest, NotEnoughDiskSpaceIsRefusedBeforeAnyByteIsFetched) {
  CS_REQUIRE_OR_SKIP(::geteuid() == 0, "mounting a small tmpfs for models/ needs root");
  const std::string models = box_.models_dir();
  auto mounted = test::run_tool({"mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", models});
  CS_REQUIRE_OR_SKIP(mounted.ok() && mounted->status == 0, "cannot mount a tmpfs here");
  struct Unmount {
    std::string path;
    ~Unmount() { (void)test::run_tool({"umount", path}); }
  } unmount{models};
  fs::create_directory(box_.config().staging_dir());
  Manifest big = BoxFixture::make_manifest(nginx_.root(), "huge", {{"huge.bin", std::string(3 << 20, 'h')}},
                                           {BoxFixture::https_source(nginx_.base_url() + "huge/")});
  Reply r = submit(install_bundle(big));
  ASSERT_EQ(r.status, 202);
  json job = wait_job(r);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(contains(job["error"].get<std::string>(), "not enough disk space")) << job.dump(2);
  for (const auto& a : nginx_.access_log()) EXPECT_FALSE(contains(a.uri, "huge.bin")) << a.uri;
  EXPECT_EQ(events(audit::event::kInstallAborted).size(), 1u);
  engine_->stop();
  engine_.reset();  // nothing of ours may keep the mount busy
}

TEST_F(EngineTest, MalformedRequestsGetAReasonAndChangeNothing) {
  Reply garbage = api().submit_bundle("{\"schema\": ");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_FALSE(garbage.body["reasons"][0].get<std::string>().empty());
  EXPECT_EQ(api().job("nothex").status, 400);
  EXPECT_EQ(api().job(std::string(64, 'b')).status, 404);
  EXPECT_EQ(api().add_signature(std::string(64, 'c'), "{}").status, 400);
  EXPECT_EQ(api().create_pending("[]").status, 400);
  EXPECT_TRUE(api().jobs().body["jobs"].empty());
}

}  // namespace
}  // namespace countersign::daemon

namespace countersign::daemon {
namespace {

// The whole path for snapshots: installs on a loop-mounted btrfs whose models/ is a
// subvolume, then a restore-snapshot bundle (approved like any other) brings the tree back.
// ---- vetoes and liveness: the real helper behind the engine ------------------------------

class GovEngineTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    json rules = box_.policy_doc()["rules"];
    rules["install-model"] = {{"threshold", 1}, {"veto", 2}};
    json doc = box_.make_policy_doc(1, rules);
    doc["liveness_days"] = 90;
    box_.set_policy_doc(doc);
  }
  Reply veto(const Proposal& p, const std::string& who) {
    return api().add_veto(hex_encode(p.id()),
                          box_.sign_statement(who, Statement::kVeto, p.id()).to_json().dump());
  }
};

TEST_F(GovEngineTest, VetoesEndJobs) {
  Manifest crawling = crawl_manifest();
  Manifest waiting = BoxFixture::make_manifest(nginx_.root(), "waiting", {{"w.bin", "www"}},
                                               {BoxFixture::https_source(nginx_.base_url() + "waiting/")});
  const Proposal running_p = BoxFixture::make_proposal(crawling.hash());
  const Proposal queued_p = BoxFixture::make_proposal(waiting.hash());
  Reply running = submit(box_.bundle(running_p, crawling.to_json(), {"alice"}));
  ASSERT_EQ(running.status, 202) << running.body.dump(2);
  ASSERT_TRUE(wait_fetching(running));
  Reply queued = submit(box_.bundle(queued_p, waiting.to_json(), {"alice"}));
  ASSERT_EQ(queued.status, 202) << queued.body.dump(2);

  // Each endpoint says which one a file of the other kind belongs to.
  Reply approval_as_veto =
      api().add_veto(hex_encode(queued_p.id()), box_.sign("bob", queued_p).to_json().dump());
  EXPECT_EQ(approval_as_veto.status, 422);
  EXPECT_TRUE(contains(approval_as_veto.body["reason"].get<std::string>(), "box add-signature"));
  Reply veto_as_approval =
      api().add_signature(hex_encode(queued_p.id()),
                          box_.sign_statement("bob", Statement::kVeto, queued_p.id()).to_json().dump());
  EXPECT_EQ(veto_as_approval.status, 422);
  EXPECT_TRUE(contains(veto_as_approval.body["reason"].get<std::string>(), "box veto"));
  Reply outsider = veto(queued_p, "outsider");
  EXPECT_EQ(outsider.status, 422) << outsider.body.dump(2);
  EXPECT_EQ(outsider.body["error"], "veto-rejected");

  for (const Proposal* p : {&running_p, &queued_p}) {
    Reply one = veto(*p, "dave");
    ASSERT_EQ(one.status, 200) << one.body.dump(2);
    EXPECT_EQ(one.body["vetoed"], false);
    EXPECT_EQ(one.body["vetoes"], 1);
    EXPECT_EQ(one.body["veto"], 2);
    Reply two = veto(*p, "erin");
    ASSERT_EQ(two.status, 200) << two.body.dump(2);
    EXPECT_EQ(two.body["vetoed"], true);
    EXPECT_EQ(two.body["vetoed_by"], json({"dave", "erin"}));
  }
  // Long before the crawl could have finished (512 s at 2 KiB/s).
  ASSERT_TRUE(engine().wait_idle(std::chrono::seconds(60)));
  for (const Reply* r : {&running, &queued}) {
    json job = api().job(r->body["job"].get<std::string>()).body;
    EXPECT_EQ(job["state"], "vetoed") << job.dump(2);
    EXPECT_EQ(job.value("error", ""), "vetoed by dave, erin") << job.dump(2);
  }
  EXPECT_FALSE(fs::exists(model_dir(crawling)));
  EXPECT_FALSE(fs::exists(model_dir(waiting)));
  EXPECT_TRUE(staging_empty());
  auto vetoed = events(audit::event::kProposalVetoed);
  ASSERT_EQ(vetoed.size(), 2u);
  EXPECT_EQ(vetoed[0]["vetoed_by"], json({"dave", "erin"}));
  EXPECT_EQ(events(audit::event::kVetoReceived).size(), 4u);
  EXPECT_TRUE(events(audit::event::kInstallComplete).empty());
}

TEST_F(GovEngineTest, PendingDroppedLateRefused) {
  Proposal p = BoxFixture::make_proposal(manifest_->hash());
  Reply created =
      api().create_pending(json{{"proposal", p.to_json()}, {"manifest", manifest_->to_json()}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump(2);
  EXPECT_EQ(veto(p, "dave").status, 200);
  EXPECT_EQ(veto(p, "erin").body["vetoed"], true);
  EXPECT_EQ(api().pending(hex_encode(p.id())).status, 404);
  Reply late_bundle = submit(box_.bundle(p, manifest_->to_json(), {"alice"}));
  EXPECT_EQ(late_bundle.status, 403) << late_bundle.body.dump(2);
  EXPECT_TRUE(contains(late_bundle.body.dump(), "vetoed")) << late_bundle.body.dump(2);

  BoxFixture::ProposalOptions later;
  later.created = system_now() - 30;  // another proposal of the same manifest
  const Proposal q = BoxFixture::make_proposal(manifest_->hash(), later);
  Reply installed = submit(box_.bundle(q, manifest_->to_json(), {"alice"}));
  ASSERT_EQ(installed.status, 202) << installed.body.dump(2);
  ASSERT_EQ(wait_job(installed)["state"], "done");
  Reply late = veto(q, "dave");
  EXPECT_EQ(late.status, 409) << late.body.dump(2);
  EXPECT_EQ(late.body["error"], "too-late");
  EXPECT_TRUE(contains(late.body["reason"].get<std::string>(),
                       "too late: proposal sha256:" + hex_encode(q.id()) + " was executed at"))
      << late.body.dump(2);
}

TEST_F(GovEngineTest, ProofsAndStaleness) {
  Reply c = api().challenge();
  ASSERT_EQ(c.status, 201) << c.body.dump(2);
  const Challenge challenge = test_util::must(Challenge::parse(c.body), "challenge");
  EXPECT_EQ(challenge.box(), BoxFixture::kBox);
  Reply proved =
      api().prove(box_.sign_statement("carol", Statement::kLiveness, challenge.hash()).to_json().dump());
  ASSERT_EQ(proved.status, 200) << proved.body.dump(2);
  EXPECT_EQ(proved.body["approver"], "carol");
  auto entries = events(audit::event::kApproverProved);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].contains("reported_by"));

  // A challenge this box never issued, and a veto handed in as a proof.
  const Challenge other = *Challenge::create({BoxFixture::kDomain, BoxFixture::kBox, {}, system_now()});
  Reply unknown =
      api().prove(box_.sign_statement("carol", Statement::kLiveness, other.hash()).to_json().dump());
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(contains(unknown.body["reason"].get<std::string>(), "no such challenge"))
      << unknown.body.dump(2);
  Reply wrong =
      api().prove(box_.sign_statement("carol", Statement::kVeto, challenge.hash()).to_json().dump());
  EXPECT_EQ(wrong.status, 400);
  EXPECT_TRUE(contains(wrong.body["reason"].get<std::string>(), "box veto")) << wrong.body.dump(2);

  json report = api().approvers().body;
  ASSERT_EQ(report["approvers"].size(), 5u) << report.dump(2);
  for (const auto& a : report["approvers"]) {
    EXPECT_EQ(a["live"], a["id"] == "carol") << a.dump();
    if (a["id"] == "carol") {
      EXPECT_TRUE(a["last_proof"].is_string());
    }
  }
  ASSERT_FALSE(report["warnings"].empty());
  EXPECT_TRUE(contains(report["warnings"].dump(),
                       "remove-model needs 2; only 1 approver has proven their keys in 90 days"))
      << report.dump(2);

  // 100 days on (the daemon's clock), carol's proof is stale.
  engine_->stop();
  engine_ = test_util::must(Engine::open(box_.config(), [] { return system_now() + 100 * 86400; }), "engine");
  ASSERT_TRUE(engine_->start().ok());
  json later = api().approvers().body;
  for (const auto& a : later["approvers"]) {
    if (a["id"] != "carol") continue;
    EXPECT_EQ(a["live"], false) << a.dump();
    EXPECT_GE(a["age_seconds"].get<std::int64_t>(), 100 * 86400);
  }
  EXPECT_TRUE(contains(later["warnings"].dump(), "only 0 approvers have proven their keys in 90 days"))
      << later.dump(2);
}

class EngineBtrfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(nginx_.running(), nginx_.skip_reason());
    CS_REQUIRE_OR_SKIP(::geteuid() == 0, "loop-mounting a btrfs image needs root");
    CS_REQUIRE_OR_SKIP(find_program("mkfs.btrfs").ok() && find_program("btrfs").ok(),
                       "btrfs-progs (mkfs.btrfs, btrfs) is not installed");
    const fs::path image = tmp_.path() / "btrfs.img";
    const fs::path mnt = tmp_.path() / "mnt";
    fs::create_directory(mnt);
    test_util::spit(image, "");
    fs::resize_file(image, std::uintmax_t{256} << 20);
    auto mkfs = test::run_tool({"mkfs.btrfs", "-q", "-f", image.string()});
    CS_REQUIRE_OR_SKIP(mkfs.ok() && mkfs->status == 0, "mkfs.btrfs failed");
    mount_ = std::make_unique<test::LoopMount>(image, mnt);
    const std::string why = mount_->mount();
    CS_REQUIRE_OR_SKIP(why.empty(), "cannot loop-mount a btrfs image here: " + why);
    box_ = std::make_unique<BoxFixture>(mnt);
    // models/ as a subvolume (what packaging's tmpfiles `v` line makes on a btrfs /var/lib).
    fs::remove_all(box_->models_dir());
    auto sub = test::run_tool({"btrfs", "subvolume", "create", box_->models_dir()});
    ASSERT_TRUE(sub.ok() && sub->status == 0);
    fs::create_directory(box_->config().staging_dir());
    box_->config().snapshot = *SnapshotSpec::parse("btrfs:" + box_->models_dir());
    box_->write_config();
    engine_ = test_util::must(Engine::open(box_->config()), "engine");
    ASSERT_TRUE(engine_->start().ok());
  }
  void TearDown() override {
    if (engine_) engine_->stop();
    engine_.reset();
    box_.reset();
    mount_.reset();
  }

  Api api() { return Api(*engine_); }
  json run(const json& bundle) {
    Reply r = api().submit_bundle(bundle.dump());
    EXPECT_EQ(r.status, 202) << r.body.dump(2);
    EXPECT_TRUE(engine_->wait_idle(std::chrono::seconds(60)));
    return api().job(r.body.value("job", std::string(64, '0'))).body;
  }
  struct Installed {
    Manifest manifest;
    json job;
  };
  Installed install(const std::string& sub, const std::map<std::string, std::string>& files) {
    Manifest m = BoxFixture::make_manifest(nginx_.root(), sub, files,
                                           {BoxFixture::https_source(nginx_.base_url() + sub + "/")}, sub);
    json job = run(box_->bundle(BoxFixture::make_proposal(m.hash()), m.to_json(), {"alice", "bob", "carol"}));
    return {m, job};
  }

  test_util::NginxFixture nginx_;
  test_util::TempDir tmp_{"engine-btrfs"};
  std::unique_ptr<test::LoopMount> mount_;
  std::unique_ptr<BoxFixture> box_;
  std::unique_ptr<Engine> engine_;
};

// GET /v1/snapshots does not start the helper for every request: its answer is kept until a
// job finishes (jobs are what take and restore snapshots). The helper is run through a
// wrapper that counts its runs.
TEST_F(EngineBtrfsTest, SnapshotListingsAreKeptUntilAJobChangesThem) {
  const std::string runs = (tmp_.path() / "helper-runs").string();
  const std::string wrapper = (tmp_.path() / "helper.sh").string();
  test_util::spit(wrapper,
                  "#!/bin/sh\necho \"$*\" >> '" + runs + "'\nexec '" COUNTERSIGN_SYSTEM_BIN "' \"$@\"\n");
  ::chmod(wrapper.c_str(), 0755);
  engine_->stop();
  engine_.reset();
  box_->config().helper = {wrapper};
  engine_ = test_util::must(Engine::open(box_->config()), "engine");
  ASSERT_TRUE(engine_->start().ok());
  auto listings = [&] {
    int n = 0;
    std::istringstream lines(test_util::slurp(runs));
    for (std::string line; std::getline(lines, line);) n += line.rfind("snapshot list", 0) == 0 ? 1 : 0;
    return n;
  };
  for (int i = 0; i < 20; ++i) {
    Reply r = api().snapshots();
    ASSERT_EQ(r.status, 200) << r.body.dump(2);
    EXPECT_TRUE(r.body["snapshots"].empty());
  }
  EXPECT_EQ(listings(), 1);
  Installed a = install("cached", {{"a.bin", "aaaa"}});
  ASSERT_EQ(a.job["state"], "done") << a.job.dump(2);
  Reply after = api().snapshots();  // the install took a snapshot: asked again
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["snapshots"].size(), 1u) << after.body.dump(2);
  EXPECT_EQ(listings(), 2);
}

TEST_F(EngineBtrfsTest, RestoreSnapshotBundleBringsTheModelsBack) {
  const std::map<std::string, std::string> a = {{"a.bin", std::string(200000, 'a')}, {"cfg/a.json", "{}"}};
  Installed first = install("model-a", a);
  ASSERT_EQ(first.job["state"], "done") << first.job.dump(2);
  Installed second = install("model-b", {{"b.bin", std::string(1000, 'b')}});
  ASSERT_EQ(second.job["state"], "done");
  const std::string dir_a = box_->models_dir() + "/" + hex_encode(first.manifest.hash());
  const std::string dir_b = box_->models_dir() + "/" + hex_encode(second.manifest.hash());
  ASSERT_TRUE(fs::exists(dir_a) && fs::exists(dir_b));
  // The snapshot taken before model B went in: it holds model A only.
  const std::string snap_before_b = second.job["snapshot"];
  json listed = api().snapshots().body;
  ASSERT_EQ(listed["snapshots"].size(), 2u) << listed.dump(2);
  json doc;
  for (const auto& s : listed["snapshots"]) {
    if (s["document"]["id"] == snap_before_b) doc = s["document"];
  }
  ASSERT_FALSE(doc.is_null());
  EXPECT_EQ(doc["box"], BoxFixture::kBox);
  Digest h = test_util::must(jcs::hash(doc), "hash");
  BoxFixture::ProposalOptions o;
  o.action = Action::kRestoreSnapshot;
  json restored = run(box_->bundle(BoxFixture::make_proposal(h, o), doc, {"alice", "bob", "carol"}));
  ASSERT_EQ(restored["state"], "done") << restored.dump(2);
  EXPECT_TRUE(fs::exists(dir_a));
  EXPECT_FALSE(fs::exists(dir_b));
  for (const auto& [path, data] : a) EXPECT_EQ(test_util::slurp(dir_a + "/" + path), data);
  Reply entries = api().log_entries(0, std::nullopt);
  EXPECT_TRUE(contains(*entries.text, "\"event\":\"snapshot-restored\"")) << *entries.text;
  EXPECT_TRUE(contains(*entries.text, snap_before_b));
  // A snapshot of another box is refused before anyone's signatures are even counted.
  json foreign = doc;
  foreign["box"] = "box-91c2";
  Digest hf = test_util::must(jcs::hash(foreign), "hash");
  Reply r = api().submit_bundle(
      box_->bundle(BoxFixture::make_proposal(hf, o), foreign, {"alice", "bob", "carol"}).dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_TRUE(contains(r.body["reasons"].dump(), "belongs to box \\\"box-91c2\\\"")) << r.body.dump();
}

}  // namespace
}  // namespace countersign::daemon
