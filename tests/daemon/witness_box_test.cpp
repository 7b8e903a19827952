// The box's side of its witnesses (daemon/witnesses.h): countersignd's
// engine offering its checkpoints to two real `countersign log witness serve` processes on
// 127.0.0.1 (tlog-witness add-checkpoint), a witness that comes up late catching up with a
// consistency proof from the size it knows, one that saw another history refusing, and a
// sneakernet witness's offline cosignature handed in with `countersign box log cosign`.
// What is asserted is what an auditor sees: the checkpoint the box serves carries the
// cosignatures, and `countersign log verify --witness ... --quorum K` accepts or refuses it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/audit_log.h"
#include "daemon/api.h"
#include "daemon/engine.h"
#include "daemon/log_reader.h"
#include "tests/cli/cli_test_util.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/engine_holder.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/nginx_fixture.h"
#include "tests/daemon/system_test_util.h"
#include "tests/witness_process.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::BoxFixture;
using test_util::contains;
using test_util::WitnessProcess;

class WitnessBoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(fs::exists(COUNTERSIGN_SYSTEM_BIN), "countersign-system not built");
    // The test's long temp name does not fit a Unix socket path (sun_path): the engine opens
    // no socket here, but the configuration is checked all the same.
    box_.config().socket = "/run/countersign-test-" + std::to_string(::getpid()) + ".sock";
    test_util::spit(dir_.path() / "box-log.pub", box_.log_verifier());
    for (const char* w : {"w1", "w2", "w3"}) {
      auto k = cli({"log", "keygen", "--cosigner", "--name", std::string("auditor.example/") + w, "--out",
                    file(std::string(w) + ".key")});
      ASSERT_EQ(k.rc, 0) << k;
    }
    box_.config().ship_retry_seconds = 1;
    box_.config().stall_timeout_seconds = 5;
    box_.config().connect_timeout_seconds = 2;
  }
  std::string file(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string vkey(const std::string& w) const { return first_line(test_util::slurp(file(w + ".key.pub"))); }
  test_util::CliRun cli(const std::vector<std::string>& args) { return test_util::run_cli(args, system_now); }
  void add_witness(const std::string& w, std::optional<std::string> url) {
    box_.config().witnesses.push_back({vkey(w), std::move(url)});
  }
  static std::string url_of(const WitnessProcess& p) {
    return "http://127.0.0.1:" + std::to_string(p.port()) + "/add-checkpoint";
  }
  Engine& engine() { return engine_.get(); }
  void append(int n, const std::string& tag = "test") {
    test::append_reported_entries(box_.config_file(), n, "m", tag);
  }
  // The box's checkpoint as served (signed first when the log grew), written to `name`.
  std::string checkpoint(const std::string& name) {
    Reply r = Api(engine()).log_checkpoint();
    EXPECT_TRUE(r.text);
    test_util::spit(dir_.path() / name, r.text.value_or(""));
    return r.text.value_or("");
  }
  // Waits (bounded) until the served checkpoint of the current size carries `n` cosignatures.
  std::string wait_cosigned(std::size_t n) {
    std::string cp;
    for (int i = 0; i < 200; ++i) {
      cp = checkpoint("cp.txt");
      std::size_t lines = 0;
      for (std::size_t at = cp.find("\n— auditor.example/"); at != std::string::npos;
           at = cp.find("\n— auditor.example/", at + 1))
        ++lines;
      if (lines >= n) return cp;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cp;
  }
  test_util::CliRun verify_quorum(const std::vector<std::string>& witnesses, int k) {
    std::vector<std::string> args = {
        "log",          "verify",      box_.config().log_dir(), "--key", file("box-log.pub"),
        "--checkpoint", file("cp.txt")};
    for (const auto& w : witnesses) {
      args.push_back("--witness");
      args.push_back(file(w + ".key.pub"));
    }
    args.push_back("--quorum");
    args.push_back(std::to_string(k));
    return cli(args);
  }
  json status() { return Api(engine()).status().body; }
  // The status once the first witness reports an error (bounded: 5 s), or the last one seen.
  json status_once_failing() {
    json s;
    for (int i = 0; i < 100; ++i) {
      s = status();
      if (s["witnesses"][0].contains("error")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return s;
  }

  test_util::TempDir dir_{"witnessbox"};
  BoxFixture box_{dir_.path()};
  test_util::EngineHolder engine_{box_};
};

TEST_F(WitnessBoxTest, TwoReachableWitnessesCosignEveryNewCheckpointAndTheQuorumHolds) {
  WitnessProcess w1(dir_.path(), "w1", file("box-log.pub")), w2(dir_.path(), "w2", file("box-log.pub"));
  ASSERT_NE(w1.port(), 0);
  ASSERT_NE(w2.port(), 0);
  add_witness("w1", url_of(w1));
  add_witness("w2", url_of(w2));
  engine();
  append(3);
  checkpoint("cp.txt");  // a new checkpoint: the witnesses are offered it
  std::string cp = wait_cosigned(2);
  EXPECT_TRUE(contains(cp, "— auditor.example/w1 ")) << cp << test_util::slurp(w1.err());
  EXPECT_TRUE(contains(cp, "— auditor.example/w2 ")) << cp << test_util::slurp(w2.err());
  auto ok = verify_quorum({"w1", "w2"}, 2);
  EXPECT_EQ(ok.rc, 0) << ok;
  // The log grows: the next checkpoint is cosigned after a consistency proof from the last.
  append(4);
  checkpoint("cp.txt");
  cp = wait_cosigned(2);
  auto again = verify_quorum({"w1", "w2"}, 2);
  EXPECT_EQ(again.rc, 0) << again << cp;
  // A third witness the box never asked: the quorum of 3 is not met, naming it.
  auto three = verify_quorum({"w1", "w2", "w3"}, 3);
  EXPECT_EQ(three.rc, 1) << three;
  EXPECT_TRUE(contains(three.out + three.err, "auditor.example/w3")) << three;
  json s = status();
  ASSERT_EQ(s["witnesses"].size(), 2u) << s.dump(2);
  for (const auto& w : s["witnesses"]) {
    EXPECT_EQ(w["cosigned"], *engine().log().size()) << s.dump(2);
    EXPECT_FALSE(w.contains("error")) << s.dump(2);
  }
}

// A witness reachable over HTTPS only (here behind nginx as its TLS proxy, with a
// certificate of a private CA): without witness_ca the box refuses the certificate and says
// so; with it, the witness cosigns.
TEST_F(WitnessBoxTest, AWitnessBehindTlsCosignsOnceTheBoxTrustsItsCa) {
  WitnessProcess w1(dir_.path(), "w1", file("box-log.pub"));
  ASSERT_NE(w1.port(), 0);
  test_util::NginxFixture::Options tls;
  tls.tls = true;
  tls.tls_proxy = "http://127.0.0.1:" + std::to_string(w1.port());
  test_util::NginxFixture proxy(tls);
  CS_REQUIRE_OR_SKIP(proxy.running(), proxy.skip_reason());
  add_witness("w1", "https://127.0.0.1:" + std::to_string(proxy.tls_port()) + "/add-checkpoint");
  engine();
  append(2);
  checkpoint("cp.txt");
  json s = status_once_failing();
  ASSERT_TRUE(s["witnesses"][0].contains("error")) << s.dump(2);
  EXPECT_TRUE(contains(s["witnesses"][0]["error"].get<std::string>(), "certificate")) << s.dump(2);

  box_.config().witness_ca = proxy.ca_file();
  engine_.reset();
  engine();
  append(1);
  checkpoint("cp.txt");
  const std::string cp = wait_cosigned(1);
  EXPECT_TRUE(contains(cp, "— auditor.example/w1 ")) << cp << test_util::slurp(w1.err());
  EXPECT_EQ(verify_quorum({"w1"}, 1).rc, 0);
}

TEST_F(WitnessBoxTest, AWitnessThatComesUpLateCatchesUpFromTheSizeItKnows) {
  const std::uint16_t port = test_util::free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/add-checkpoint";
  add_witness("w1", url);
  engine();
  append(2);
  checkpoint("cp.txt");
  // Nobody listens yet: the box says so and keeps trying.
  json s = status_once_failing();
  ASSERT_TRUE(s["witnesses"][0].contains("error")) << s.dump(2);
  EXPECT_TRUE(contains(s["witnesses"][0]["error"].get<std::string>(), "cannot reach")) << s.dump(2);
  {
    WitnessProcess w1(dir_.path(), "w1", file("box-log.pub"), "127.0.0.1:" + std::to_string(port));
    ASSERT_EQ(w1.port(), port);
    wait_cosigned(1);
    // Stopped again while the log grows; back on the same state, it is offered the new
    // checkpoint with a consistency proof from the size it cosigned.
  }
  append(3);
  checkpoint("cp.txt");
  WitnessProcess w1(dir_.path(), "w1", file("box-log.pub"), "127.0.0.1:" + std::to_string(port));
  std::string cp = wait_cosigned(1);
  EXPECT_TRUE(contains(cp, "— auditor.example/w1 ")) << cp << test_util::slurp(w1.err());
  auto ok = verify_quorum({"w1"}, 1);
  EXPECT_EQ(ok.rc, 0) << ok;
}

TEST_F(WitnessBoxTest, AWitnessThatSawAnotherHistoryRefusesAndTheBoxSaysSo) {
  // Another box with the same log key showed the witness a longer, different history first.
  add_witness("w1", std::nullopt);
  engine();
  append(2);
  checkpoint("ours.txt");
  engine_.reset();
  // The fork: a copy of this state dir grown with other entries, cosigned offline by w1.
  const fs::path fork = dir_.path() / "fork-state";
  fs::copy(box_.config().state_dir, fork, fs::copy_options::recursive);
  const std::string real_state = box_.config().state_dir;
  box_.config().state_dir = fork.string();
  box_.write_config();
  append(5, "the fork's history");
  auto forked_cp = test::run_helper(box_.config_file(), {"log", "checkpoint"});
  ASSERT_EQ(forked_cp.status, 0) << forked_cp.err;
  auto log = audit::AuditLog::open(box_.config().log_dir(), audit::AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok());
  test_util::spit(dir_.path() / "fork-cp.txt", log->checkpoints()->back());
  auto first = cli({"log", "witness", file("fork-cp.txt"), "--state", file("w1-state"), "--key",
                    file("w1.key"), "--log-key", file("box-log.pub")});
  ASSERT_EQ(first.rc, 0) << first;
  // Back to the real box, which has grown differently (and further) and offers its checkpoint:
  // the witness answers 409 with the fork's size, and the proof from there does not verify.
  WitnessProcess w1(dir_.path(), "w1", file("box-log.pub"));
  box_.config().state_dir = real_state;
  box_.config().witnesses = {{vkey("w1"), url_of(w1)}};
  box_.write_config();
  append(12);
  engine();
  checkpoint("real-cp.txt");
  json s = status_once_failing();
  ASSERT_TRUE(s["witnesses"][0].contains("error")) << s.dump(2);
  EXPECT_TRUE(contains(s["witnesses"][0]["error"].get<std::string>(), "answered 422")) << s.dump(2);
  EXPECT_FALSE(contains(checkpoint("cp.txt"), "— auditor.example/w1 "));
  EXPECT_EQ(s["witnesses"][0]["cosigned"], 0);
}

TEST_F(WitnessBoxTest, AnOfflineWitnessCosignatureIsHandedInWithBoxLogCosign) {
  add_witness("w3", std::nullopt);
  engine();
  append(2);
  checkpoint("cp-plain.txt");
  // The auditor's laptop: the witness cosigns offline, -o writes the checkpoint with its line.
  auto w = cli({"log", "witness", file("cp-plain.txt"), "--state", file("w3-state"), "--key", file("w3.key"),
                "--log-key", file("box-log.pub"), "-o", file("cp-w3.txt")});
  ASSERT_EQ(w.rc, 0) << w;
  Reply added = Api(engine()).add_cosignatures(test_util::slurp(file("cp-w3.txt")));
  ASSERT_EQ(added.status, 200) << added.body.dump(2);
  EXPECT_EQ(added.body["cosigned_by"],
            json::array({vkey("w3").substr(0, vkey("w3").find('+', vkey("w3").find('+') + 1))}));
  std::string cp = checkpoint("cp.txt");
  EXPECT_TRUE(contains(cp, "— auditor.example/w3 ")) << cp;
  auto ok = verify_quorum({"w3"}, 1);
  EXPECT_EQ(ok.rc, 0) << ok;
  // A cosignature of a checkpoint this box never signed, and one by a key it does not list.
  Reply bad = Api(engine()).add_cosignatures("not a note\n");
  EXPECT_EQ(bad.status, 400) << bad.body.dump(2);
  auto other = cli({"log", "witness", file("cp-plain.txt"), "--state", file("w1-state"), "--key",
                    file("w1.key"), "--log-key", file("box-log.pub"), "-o", file("cp-w1.txt")});
  ASSERT_EQ(other.rc, 0) << other;
  Reply unlisted = Api(engine()).add_cosignatures(test_util::slurp(file("cp-w1.txt")));
  EXPECT_EQ(unlisted.status, 422) << unlisted.body.dump(2);
  EXPECT_TRUE(contains(unlisted.body.dump(), "not a configured witness")) << unlisted.body.dump(2);
}

}  // namespace
}  // namespace countersign::daemon
