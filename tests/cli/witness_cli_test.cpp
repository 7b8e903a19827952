// countersign log witness (offline), log verify --witness --quorum, log prove --tlog-proof and
// log check-proof, run in process: two auditors' witnesses follow a growing log, a forked copy
// of the log directory and a rolled-back checkpoint are refused naming both sizes and roots,
// and a quorum is met or not.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "core/signed_note.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;

using test_util::CliRun;
using test_util::contains;
using test_util::slurp;

class WitnessCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("box.key")}).rc, 0);
    for (const char* w : {"w1", "w2"}) {
      ASSERT_EQ(run({"log", "keygen", "--cosigner", "--name", std::string("auditor.example/") + w, "--out",
                     p(std::string(w) + ".key")})
                    .rc,
                0);
    }
  }
  CliRun run(const std::vector<std::string>& args) {
    return test_util::run_cli(args, [this] { return now_++; });
  }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  void append(const std::string& log, int n, const std::string& event = "bundle-received") {
    for (int i = 0; i < n; ++i) {
      auto r = run({"log", "append", p(log), "--key", p("box.key"), "--event", event});
      ASSERT_EQ(r.rc, 0) << r;
    }
  }
  // The newest checkpoint of `log`, written to `out`.
  void checkpoint(const std::string& log, const std::string& out) {
    auto r = run({"log", "export", p(log), "--jsonl", "-o", p(out + ".jsonl"), "--checkpoint-out", p(out)});
    ASSERT_EQ(r.rc, 0) << r;
  }
  CliRun witness(const std::string& w, std::vector<std::string> args) {
    std::vector<std::string> a{"log",   "witness",     "--state",   p(w + "-state"),
                               "--key", p(w + ".key"), "--log-key", p("box.key.pub")};
    a.insert(a.end(), args.begin(), args.end());
    return run(a);
  }
  static std::string root_of(const std::string& note_text) {
    return base64_encode(Checkpoint::parse(note::Note::parse(note_text)->text())->root);
  }

  test_util::TempDir tmp_{"witnesscli"};
  fs::path dir_ = tmp_.path();
  UnixTime now_ = 1795341600;  // 2026-11-22T10:00:00Z
};

TEST_F(WitnessCliTest, TwoWitnessesFollowAGrowingLogAndAQuorumIsMetOrNot) {
  append("log", 3);
  checkpoint("log", "cp3");
  // First sight: trust on first use, said so; the cosignature line on stdout.
  auto w1 = witness("w1", {p("cp3"), "-o", p("cp3.w1")});
  ASSERT_EQ(w1.rc, 0) << w1;
  EXPECT_TRUE(contains(w1.err, "TRUST ON FIRST USE")) << w1;
  EXPECT_TRUE(w1.out.rfind("\xe2\x80\x94 auditor.example/w1 ", 0) == 0) << w1.out;
  EXPECT_EQ(slurp(p("cp3.w1")), slurp(p("cp3")) + w1.out);  // the checkpoint with the line added
  struct stat st {};
  ASSERT_EQ(::stat(p("w1-state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(witness("w2", {p("cp3"), "-o", p("cp3.w2")}).rc, 0);

  // The log grows; each witness needs a consistency proof from what it saw.
  append("log", 4);
  checkpoint("log", "cp7");
  auto no_proof = witness("w1", {p("cp7")});
  EXPECT_EQ(no_proof.rc, 2) << no_proof;
  EXPECT_TRUE(contains(no_proof.err, "countersign box log prove --consistency 3 7")) << no_proof;
  ASSERT_EQ(run({"log", "prove", p("log"), "--consistency", "3", "7", "-o", p("c3-7")}).rc, 0);
  for (const char* w : {"w1", "w2"}) {
    auto r = witness(w, {"--proof", p("c3-7"), "-o", p(std::string("cp7.") + w)});
    ASSERT_EQ(r.rc, 0) << r;
    EXPECT_TRUE(contains(r.err, "extends the checkpoint of size 3")) << r;
  }
  auto js = witness("w1", {"--proof", p("c3-7"), "--json"});  // the same checkpoint again
  ASSERT_EQ(js.rc, 0) << js;
  auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["cosigned"], true);
  EXPECT_EQ(j["checkpoint"]["size"], 7);
  EXPECT_EQ(j["witness"].get<std::string>().rfind("auditor.example/w1+", 0), 0u);

  // Quorum met: both witnesses' files of the same checkpoint.
  auto ok =
      run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", p("cp7.w1"), "--checkpoint",
           p("cp7.w2"), "--witness", p("w1.key.pub"), "--witness", p("w2.key.pub"), "--quorum", "2"});
  ASSERT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "witnesses: 2 valid cosignature(s) on the checkpoint of size 7, 2 required"))
      << ok;
  EXPECT_TRUE(contains(ok.out, "cosigned by auditor.example/w1+")) << ok;
  EXPECT_TRUE(contains(ok.out, "cosigned by auditor.example/w2+")) << ok;
  // Not met: only w1's cosignature; says how many were valid and which key is missing.
  auto notmet = run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", p("cp7.w1"),
                     "--witness", p("w1.key.pub"), "--witness", p("w2.key.pub"), "--quorum", "2"});
  EXPECT_EQ(notmet.rc, 1) << notmet;
  EXPECT_TRUE(contains(notmet.err, "witness quorum not met: 1 valid cosignature(s) of the 2 required"))
      << notmet;
  EXPECT_TRUE(contains(notmet.err, "no cosignature by auditor.example/w2+")) << notmet;
  auto one = run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", p("cp7.w1"),
                  "--witness", p("w1.key.pub"), "--witness", p("w2.key.pub"), "--quorum", "1", "--json"});
  ASSERT_EQ(one.rc, 0) << one;
  EXPECT_EQ(nlohmann::json::parse(one.out)["witnesses"]["missing"].size(), 1u);
  // Usage: a quorum above the keys given, a witness without the cosigned checkpoint.
  EXPECT_EQ(run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", p("cp7.w1"),
                 "--witness", p("w1.key.pub"), "--quorum", "2"})
                .rc,
            2);
  EXPECT_EQ(run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--witness", p("w1.key.pub")}).rc, 2);

  // One entry's evidence as a C2SP tlog-proof with both cosignatures, checked offline.
  auto tp = run({"log", "prove", p("log"), "--entry", "5", "--tlog-proof", "--cosigned", p("cp7.w1"),
                 "--cosigned", p("cp7.w2"), "-o", p("e5.tlog-proof")});
  ASSERT_EQ(tp.rc, 0) << tp;
  std::string proof = slurp(p("e5.tlog-proof"));
  EXPECT_EQ(proof.rfind("c2sp.org/tlog-proof@v1\nextra ", 0), 0u) << proof;
  EXPECT_TRUE(contains(proof, "\nindex 5\n")) << proof;
  auto check = run({"log", "check-proof", p("e5.tlog-proof"), "--key", p("box.key.pub"), "--witness",
                    p("w1.key.pub"), "--witness", p("w2.key.pub"), "--quorum", "2"});
  ASSERT_EQ(check.rc, 0) << check;
  EXPECT_TRUE(contains(check.out, "entry 5 is in the log")) << check;
  EXPECT_TRUE(contains(check.out, "2 valid cosignature(s)")) << check;
  // The JSON proof file is still taken, with the same witness policy.
  ASSERT_EQ(run({"log", "prove", p("log"), "--entry", "5", "--cosigned", p("cp7.w1"), "-o", p("e5.json")}).rc,
            0);
  auto cj = run({"log", "check-proof", p("e5.json"), "--key", p("box.key.pub"), "--witness", p("w1.key.pub"),
                 "--witness", p("w2.key.pub"), "--quorum", "2"});
  EXPECT_EQ(cj.rc, 1) << cj;
  EXPECT_TRUE(contains(cj.err, "1 valid cosignature(s) of the 2 required")) << cj;
  // A changed entry in the tlog-proof's extra line no longer proves anything.
  std::string tampered = proof;
  std::size_t extra = tampered.find("extra ") + 10;
  tampered[extra] = tampered[extra] == 'A' ? 'B' : 'A';
  test_util::spit(p("bad.tlog-proof"), tampered);
  EXPECT_EQ(run({"log", "check-proof", p("bad.tlog-proof"), "--key", p("box.key.pub")}).rc, 1);
  // Cosignatures of another checkpoint are refused when the proof is written.
  auto other = run({"log", "prove", p("log"), "--entry", "1", "--size", "7", "--cosigned", p("cp3.w1")});
  EXPECT_EQ(other.rc, 2) << other;
  EXPECT_TRUE(contains(other.err, "is about another checkpoint (size 3, not 7)")) << other;
}

TEST_F(WitnessCliTest, AForkedCopyOfTheLogAndARollbackAreRefusedNamingSizesAndRoots) {
  append("log", 5);
  checkpoint("log", "cp5");
  ASSERT_EQ(witness("w1", {p("cp5")}).rc, 0);
  // Someone copies the box's state directory and lets the copy diverge.
  fs::copy(dir_ / "log", dir_ / "fork", fs::copy_options::recursive);
  append("log", 3, "install-complete");
  append("fork", 3, "model-removed");
  checkpoint("log", "cp8");
  checkpoint("fork", "fork8");
  ASSERT_EQ(run({"log", "prove", p("log"), "--consistency", "5", "8", "-o", p("c5-8")}).rc, 0);
  ASSERT_EQ(witness("w1", {"--proof", p("c5-8")}).rc, 0);
  const std::string state_before = slurp(fs::directory_iterator(dir_ / "w1-state" / "logs")->path());
  const std::string root8 = root_of(slurp(p("cp8"))), fork_root8 = root_of(slurp(p("fork8")));
  ASSERT_NE(root8, fork_root8);

  // The fork's checkpoint of the same size: same size, another root.
  auto same = witness("w1", {p("fork8")});
  EXPECT_EQ(same.rc, 1) << same;
  EXPECT_TRUE(contains(same.err, "FORK")) << same;
  EXPECT_TRUE(contains(same.err, "size 8 (root " + fork_root8 + ")")) << same;
  EXPECT_TRUE(contains(same.err, "size 8 (root " + root8 + ")")) << same;
  EXPECT_EQ(same.out, "");  // no cosignature line

  // The fork grows and offers a proof from its own size 8: it starts from another root.
  append("fork", 2, "model-removed");
  ASSERT_EQ(run({"log", "prove", p("fork"), "--consistency", "8", "10", "-o", p("fork8-10")}).rc, 0);
  auto grown = witness("w1", {"--proof", p("fork8-10"), "--json"});
  EXPECT_EQ(grown.rc, 1) << grown;
  auto j = nlohmann::json::parse(grown.out);
  EXPECT_EQ(j["cosigned"], false);
  EXPECT_EQ(j["status"], "bad-proof");
  EXPECT_EQ(j["previous"]["root"], root8);
  EXPECT_TRUE(contains(grown.err, "size 8 (root " + fork_root8 + ")")) << grown;
  EXPECT_TRUE(contains(grown.err, "size 8 (root " + root8 + ")")) << grown;
  EXPECT_TRUE(contains(grown.err, "size 10")) << grown;

  // A witness that saw only size 5 is shown the fork's proof 5 -> 10 whose old root is genuine
  // but whose path leads to the fork: the proof is checked against its own root, and passes
  // only if the history extends what it saw. Here it does (the fork shares entries 0-4), so
  // w2 cosigns; w1 and w2 then disagree, which is why a quorum must hold on one checkpoint.
  ASSERT_EQ(witness("w2", {p("cp5")}).rc, 0);
  ASSERT_EQ(run({"log", "prove", p("fork"), "--consistency", "5", "10", "-o", p("fork5-10")}).rc, 0);
  ASSERT_EQ(witness("w2", {"--proof", p("fork5-10")}).rc, 0);

  // A proof file that was tampered with: the consistency proof does not verify.
  std::string c = slurp(p("c5-8"));
  auto doc = nlohmann::json::parse(c);
  doc["proof"][0] = base64_encode(Digest{});
  test_util::spit(p("bad-proof"), doc.dump());
  // (w1 is at 8 now: present it to a fresh witness state at 5.)
  auto fresh = run({"log", "witness", p("cp5"), "--state", p("w3-state"), "--key", p("w1.key"), "--log-key",
                    p("box.key.pub")});
  ASSERT_EQ(fresh.rc, 0) << fresh;
  auto badp = run({"log", "witness", "--proof", p("bad-proof"), "--state", p("w3-state"), "--key",
                   p("w1.key"), "--log-key", p("box.key.pub")});
  EXPECT_EQ(badp.rc, 1) << badp;
  EXPECT_TRUE(contains(badp.err, "FORK: the log's checkpoint of size 8 (root " + root8 + ")")) << badp;
  EXPECT_TRUE(contains(badp.err, "is not consistent with the checkpoint of size 5")) << badp;

  // Rollback: the older checkpoint of size 5 after 8.
  auto back = witness("w1", {p("cp5")});
  EXPECT_EQ(back.rc, 1) << back;
  EXPECT_TRUE(contains(back.err, "ROLLBACK")) << back;
  EXPECT_TRUE(contains(back.err, "size 5 (root " + root_of(slurp(p("cp5"))) + ")")) << back;
  EXPECT_TRUE(contains(back.err, "size 8 (root " + root8 + ")")) << back;

  // Nothing recorded by the refusals; the refused checkpoints are kept as evidence.
  EXPECT_EQ(slurp(fs::directory_iterator(dir_ / "w1-state" / "logs")->path()), state_before);
  std::size_t evidence = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "w1-state" / "evidence"))
    evidence += e.is_regular_file();
  EXPECT_EQ(evidence, 3u);  // fork of size 8, fork of size 10, rollback to 5
}

TEST_F(WitnessCliTest, KeysAndInputsThatAreRefused) {
  append("log", 2);
  checkpoint("log", "cp2");
  // A cosigner key others can read is refused, naming the fix; nothing is written.
  ASSERT_EQ(::chmod(p("w1.key").c_str(), 0640), 0);
  auto open = witness("w1", {p("cp2")});
  EXPECT_EQ(open.rc, 1) << open;
  EXPECT_TRUE(contains(open.err, "chmod 600")) << open;
  EXPECT_FALSE(fs::exists(p("w1-state")));
  ASSERT_EQ(::chmod(p("w1.key").c_str(), 0600), 0);
  // A log key as cosigner key, a cosigner key as log key.
  EXPECT_EQ(run({"log", "witness", p("cp2"), "--state", p("s"), "--key", p("box.key"), "--log-key",
                 p("box.key.pub")})
                .rc,
            2);
  // A checkpoint not signed by the log key: 403's offline twin, exit 1.
  ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("evil.key")}).rc, 0);
  auto evil = run(
      {"log", "witness", p("cp2"), "--state", p("s2"), "--key", p("w1.key"), "--log-key", p("evil.key.pub")});
  EXPECT_EQ(evil.rc, 1) << evil;
  EXPECT_TRUE(contains(evil.err, "no signature by box17.example.org/audit+")) << evil;
  // Nothing to witness.
  EXPECT_EQ(witness("w1", {}).rc, 2);
  // The help teaches the workflow.
  auto help = run({"log", "witness", "--help"});
  EXPECT_TRUE(contains(help.out, "box log prove --consistency OLD NEW")) << help;
  EXPECT_TRUE(contains(help.out, "ROLLBACK")) << help;
}

}  // namespace
}  // namespace countersign::cli
