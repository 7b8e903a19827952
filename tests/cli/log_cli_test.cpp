// countersign log ..., run in process with injected streams and clock: what an operator and
// an auditor type, the files they get, the messages and exit codes they see.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;

using test_util::CliRun;
using test_util::contains;
using test_util::slurp;
using test_util::spit;

class LogCliTest : public ::testing::Test {
 protected:
  CliRun run(const std::vector<std::string>& args) {
    return test_util::run_cli(args, [this] { return now_++; });
  }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }

  // A key and a log of `n` entries, each followed by a checkpoint.
  void make_log(int n) {
    ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("box.key")}).rc, 0);
    const char* events[] = {"daemon-started", "bundle-received", "bundle-verified", "signature-accepted",
                            "fetch-started",  "file-verified",   "install-complete"};
    for (int i = 0; i < n; ++i) {
      auto r = run({"log", "append", p("log"), "--key", p("box.key"), "--event", events[i % 7], "--proposal",
                    "sha256:" + std::string(64, 'c'), "--fields", "{\"step\":" + std::to_string(i) + "}"});
      ASSERT_EQ(r.rc, 0) << r;
    }
  }

  test_util::TempDir tmp_{"logcli"};
  fs::path dir_ = tmp_.path();
  UnixTime now_ = 1795341600;  // 2026-11-22T10:00:00Z
};

TEST_F(LogCliTest, KeygenWritesPrivateKey0600AndPrintsVkey) {
  auto r = run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("box.key")});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(r.out.rfind("box17.example.org/audit+", 0) == 0) << r.out;
  EXPECT_EQ(slurp(p("box.key.pub")), r.out);
  struct stat st {};
  ASSERT_EQ(::stat(p("box.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(slurp(p("box.key")).rfind("PRIVATE+KEY+box17.example.org/audit+", 0) == 0);
  EXPECT_FALSE(contains(r.out + r.err, "PRIVATE"));  // the secret is never printed
  auto again = run({"log", "keygen", "--name", "x", "--out", p("box.key")});
  EXPECT_EQ(again.rc, 2);
  EXPECT_TRUE(contains(again.err, "already exists")) << again;
}

TEST_F(LogCliTest, ShowVerifyProveCheckExport) {
  make_log(7);
  auto show = run({"log", "show", p("log")});
  ASSERT_EQ(show.rc, 0) << show;
  EXPECT_TRUE(contains(show.out, "#0  2026-11-22T10:00:")) << show.out;
  EXPECT_TRUE(contains(show.out, "install-complete")) << show.out;
  EXPECT_TRUE(contains(show.out, "step=6")) << show.out;
  auto from = run({"log", "show", p("log"), "--from", "5", "--json"});
  ASSERT_EQ(from.rc, 0) << from;
  auto j = nlohmann::json::parse(from.out);
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][0]["index"], 5);
  EXPECT_EQ(j["entries"][1]["entry"]["event"], "install-complete");

  auto v = run({"log", "verify", p("log"), "--key", p("box.key.pub")});
  ASSERT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(v.out, "OK: 7 entries")) << v.out;
  EXPECT_TRUE(contains(v.out, "7 checkpoint(s) signed by box17.example.org/audit+")) << v.out;

  ASSERT_EQ(run({"log", "prove", p("log"), "--entry", "3", "-o", p("inc.json")}).rc, 0);
  auto ok = run({"log", "check-proof", p("inc.json"), "--key", p("box.key.pub")});
  ASSERT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "entry 3 is in the log")) << ok.out;
  EXPECT_TRUE(contains(ok.out, "signature-accepted")) << ok.out;

  ASSERT_EQ(run({"log", "prove", p("log"), "--consistency", "3", "7", "-o", p("cons.json")}).rc, 0);
  auto cons = run({"log", "check-proof", p("cons.json"), "--key", p("box.key.pub")});
  ASSERT_EQ(cons.rc, 0) << cons;
  EXPECT_TRUE(contains(cons.out, "extends the one of 3 entries")) << cons.out;
  auto nosize = run({"log", "prove", p("log"), "--consistency", "3", "9"});
  EXPECT_EQ(nosize.rc, 2) << nosize;

  auto ex =
      run({"log", "export", p("log"), "--jsonl", "-o", p("log.jsonl"), "--checkpoint-out", p("cp.txt")});
  ASSERT_EQ(ex.rc, 0) << ex;
  std::string lines = slurp(p("log.jsonl"));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 7);
  auto vx = run({"log", "verify", p("log.jsonl"), "--key", p("box.key.pub"), "--checkpoint", p("cp.txt")});
  ASSERT_EQ(vx.rc, 0) << vx;
  EXPECT_TRUE(contains(vx.out, "OK: 7 entries")) << vx.out;
  auto sx = run({"log", "show", p("log.jsonl"), "--from", "6"});
  ASSERT_EQ(sx.rc, 0) << sx;
  EXPECT_TRUE(contains(sx.out, "#6  ")) << sx.out;
  EXPECT_FALSE(contains(sx.out, "#5  ")) << sx.out;
  auto stdout_export = run({"log", "export", p("log"), "--jsonl"});
  EXPECT_EQ(stdout_export.out, lines);

  // An auditor working as root exports to a device (here a null device made in the
  // test's directory): it is written into, and stays a device, checkpoint output too.
  if (::geteuid() == 0) {
    const std::string null = p("null");
    ASSERT_EQ(::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    auto dev = run({"log", "export", p("log"), "--jsonl", "-o", null, "--checkpoint-out", null});
    ASSERT_EQ(dev.rc, 0) << dev;
    struct stat st {};
    ASSERT_EQ(::lstat(null.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device was replaced";
  }
}

// A SIEM's copy, as a compliance officer has it from the collector: the box's RFC 5424
// messages one a line (made here from an export as the box formats them), one batch sent
// twice. `log verify` tells the file apart by its first line.
TEST_F(LogCliTest, VerifyReadsASiemsCopyCountsRepeatsAndNamesAMissingEntry) {
  make_log(6);
  ASSERT_EQ(
      run({"log", "export", p("log"), "--jsonl", "-o", p("log.jsonl"), "--checkpoint-out", p("cp.txt")}).rc,
      0);
  std::vector<std::string> messages;
  std::istringstream in(slurp(p("log.jsonl")));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string entry = j["entry"].dump();  // nlohmann sorts members: the JCS bytes here
    messages.push_back("<110>1 " + j["entry"]["time"].get<std::string>() + " box17 countersign - " +
                       j["entry"]["event"].get<std::string>() + " [countersign@32473 seq=\"" +
                       std::to_string(j["index"].get<int>()) + "\"] " + entry);
  }
  ASSERT_EQ(messages.size(), 6u);
  auto write = [&](std::vector<std::string> lines) {
    std::string body;
    for (const auto& l : lines) body += l + "\n";
    spit(p("siem.log"), body);
  };
  auto copy = messages;
  copy.insert(copy.begin() + 4, {messages[2], messages[3]});  // resent after a reconnect
  write(copy);
  auto ok = run({"log", "verify", p("siem.log"), "--key", p("box.key.pub"), "--checkpoint", p("cp.txt")});
  ASSERT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "OK: 6 entries")) << ok.out;
  EXPECT_TRUE(contains(ok.out, "from 8 syslog messages, 2 of them sent again after a reconnect")) << ok.out;
  auto js =
      run({"log", "verify", p("siem.log"), "--key", p("box.key.pub"), "--checkpoint", p("cp.txt"), "--json"});
  ASSERT_EQ(js.rc, 0) << js;
  EXPECT_EQ(nlohmann::json::parse(js.out)["syslog"], (nlohmann::json{{"lines", 8}, {"repeated", 2}}));

  copy.erase(copy.begin() + 1);
  write(copy);
  auto gap = run({"log", "verify", p("siem.log"), "--key", p("box.key.pub"), "--checkpoint", p("cp.txt")});
  EXPECT_EQ(gap.rc, 1) << gap;
  EXPECT_TRUE(contains(gap.err, "siem.log line 2: entry 1 missing (the copy goes on at seq 2)")) << gap.err;
}

TEST_F(LogCliTest, TamperedProofsFailWithExit1) {
  make_log(5);
  ASSERT_EQ(run({"log", "prove", p("log"), "--entry", "1", "-o", p("inc.json")}).rc, 0);
  std::string proof = slurp(p("inc.json"));
  std::string changed = proof;
  changed.replace(changed.find("bundle-received"), 15, "bundle-rejected");
  spit(p("bad.json"), changed);
  auto r = run({"log", "check-proof", p("bad.json"), "--key", p("box.key.pub")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "leaf_hash")) << r;

  // Another key cannot vouch for the checkpoint.
  ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("other.key")}).rc, 0);
  auto wrong = run({"log", "check-proof", p("inc.json"), "--key", p("other.key.pub")});
  EXPECT_EQ(wrong.rc, 1) << wrong;
  EXPECT_TRUE(contains(wrong.err, "no signature by box17.example.org/audit+")) << wrong;
}

TEST_F(LogCliTest, VerifyNamesTheFirstBadEntryAndRewrittenHistory) {
  make_log(6);
  std::string saved = p("saved.checkpoint");
  ASSERT_EQ(run({"log", "export", p("log"), "--jsonl", "-o", p("x.jsonl"), "--checkpoint-out", saved}).rc, 0);
  ASSERT_EQ(run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", saved}).rc, 0);

  // Change one byte of entry 2 in the directory: the record checksum names it.
  std::string entries = slurp(dir_ / "log" / "entries");
  std::size_t at = entries.find("bundle-verified");
  ASSERT_NE(at, std::string::npos);
  entries[at] = 'B';
  spit(dir_ / "log" / "entries", entries);
  auto r = run({"log", "verify", p("log"), "--key", p("box.key.pub")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "entries record 2")) << r;
  auto js = run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--json"});
  EXPECT_EQ(js.rc, 1);
  EXPECT_EQ(nlohmann::json::parse(js.out)["error"]["code"], "hash-mismatch");

  // The box rebuilds its log with the same key but another history: a saved checkpoint shows it.
  fs::remove_all(dir_ / "log");
  now_ += 3600;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(run({"log", "append", p("log"), "--key", p("box.key"), "--event", "model-removed"}).rc, 0);
  }
  EXPECT_EQ(run({"log", "verify", p("log"), "--key", p("box.key.pub")}).rc, 0);
  auto rewritten = run({"log", "verify", p("log"), "--key", p("box.key.pub"), "--checkpoint", saved});
  EXPECT_EQ(rewritten.rc, 1) << rewritten;
  EXPECT_TRUE(contains(rewritten.err, "given checkpoint 1 (size 6) does not match the entries")) << rewritten;
}

TEST_F(LogCliTest, AuditorCosignsACheckpoint) {
  make_log(3);
  ASSERT_EQ(
      run({"log", "export", p("log"), "--jsonl", "-o", p("x.jsonl"), "--checkpoint-out", p("cp.txt")}).rc, 0);
  ASSERT_EQ(run({"log", "keygen", "--cosigner", "--name", "auditor.example/w1", "--out", p("w1.key")}).rc, 0);
  auto c = run({"log", "cosign", p("cp.txt"), "--key", p("w1.key"), "--log-key", p("box.key.pub"), "-o",
                p("cp2.txt")});
  ASSERT_EQ(c.rc, 0) << c;
  std::string cosigned = slurp(p("cp2.txt"));
  EXPECT_TRUE(contains(cosigned, "\xe2\x80\x94 auditor.example/w1 ")) << cosigned;
  auto ok = run(
      {"log", "check-cosignature", p("cp2.txt"), "--key", p("box.key.pub"), "--cosigner", p("w1.key.pub")});
  ASSERT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "cosigned by auditor.example/w1+")) << ok.out;
  // The log still verifies against the cosigned checkpoint (other signatures are ignored).
  EXPECT_EQ(run({"log", "verify", p("x.jsonl"), "--key", p("box.key.pub"), "--checkpoint", p("cp2.txt")}).rc,
            0);
  // Not cosigned by this auditor: exit 1.
  auto none = run(
      {"log", "check-cosignature", p("cp.txt"), "--key", p("box.key.pub"), "--cosigner", p("w1.key.pub")});
  EXPECT_EQ(none.rc, 1) << none;
  // A cosigner refuses a checkpoint the log key did not sign.
  ASSERT_EQ(run({"log", "keygen", "--name", "box17.example.org/audit", "--out", p("evil.key")}).rc, 0);
  auto refused = run({"log", "cosign", p("cp.txt"), "--key", p("w1.key"), "--log-key", p("evil.key.pub")});
  EXPECT_EQ(refused.rc, 1) << refused;
  // The auditor's key readable by others: refused before anything is signed, naming the fix.
  ASSERT_EQ(::chmod(p("w1.key").c_str(), 0644), 0);
  auto open_key = run({"log", "cosign", p("cp.txt"), "--key", p("w1.key"), "--log-key", p("box.key.pub"),
                       "-o", p("cp3.txt")});
  EXPECT_NE(open_key.rc, 0) << open_key;
  EXPECT_TRUE(contains(open_key.err, "mode 0644")) << open_key;
  EXPECT_TRUE(contains(open_key.err, "chmod 600")) << open_key;
  EXPECT_FALSE(fs::exists(p("cp3.txt")));
}

TEST_F(LogCliTest, UsageErrorsExit2) {
  EXPECT_EQ(run({"log", "verify", p("nope"), "--key", p("nope.pub")}).rc, 2);
  EXPECT_EQ(run({"log", "append", p("log"), "--event", "made-up", "--no-checkpoint"}).rc, 2);
  EXPECT_EQ(run({"log", "prove", p("log")}).rc, 2);
  EXPECT_EQ(run({"log", "export", p("log")}).rc, 2);  // --jsonl is required
}

}  // namespace
}  // namespace countersign::cli
