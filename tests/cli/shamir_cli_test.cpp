// countersign shamir split / combine / check and key backup / restore, run in process with
// string streams: what a custodian types and sees.
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/keys.h"
#include "core/software_key.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;

using test_util::CliRun;
using test_util::contains;

class ShamirCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                          crypto_pwhash_argon2id_MEMLIMIT_MIN);
  }
  std::string file(const std::string& name, const std::string& content) {
    const auto p = dir_ / name;
    test_util::spit(p, content);
    return p.string();
  }

  static CliRun run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return test_util::run_cli(
        args, [] { return UnixTime{1795341600}; }, stdin_text);
  }

  // The mnemonics of `split` text output, per group.
  static std::vector<std::vector<std::string>> groups_of(const std::string& text) {
    std::vector<std::vector<std::string>> groups;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Group ", 0) == 0) groups.emplace_back();
      const auto dot = line.find(". ");
      if (line.rfind("  ", 0) == 0 && dot != std::string::npos && !groups.empty()) {
        groups.back().push_back(line.substr(dot + 2));
      }
    }
    return groups;
  }

  test_util::TempDir tmp_{"cs-shamir-cli"};
  fs::path dir_ = tmp_.path();
};

TEST_F(ShamirCliTest, SplitCombineRoundTrip) {
  const std::string secret = "00112233445566778899aabbccddeeff";
  const auto secret_file = file("secret.hex", secret + "\n");
  const auto pass = file("pass", "TREZOR\n");
  CliRun split =
      run({"shamir", "split", "--group-threshold", "2", "--group", "2/3", "--group", "3/5", "--group", "1/1",
           "--secret-file", secret_file, "--passphrase-file", pass, "--iteration-exponent", "0"});
  ASSERT_EQ(split.rc, 0) << split;
  EXPECT_TRUE(contains(split.out, "Group 1 of 3 (2 of 3 shares needed)\n  1. ")) << split;
  EXPECT_TRUE(contains(split.out, "Group 2 of 3 (3 of 5 shares needed)")) << split;
  EXPECT_FALSE(contains(split.out, secret));
  const auto groups = groups_of(split.out);
  ASSERT_EQ(groups.size(), 3u);
  ASSERT_EQ(groups[1].size(), 5u);

  // Any order, blank lines, an extra share.
  const std::string input = groups[1][4] + "\n\n" + groups[0][2] + "\n" + groups[1][0] + "\n" + groups[0][0] +
                            "\n" + groups[1][2] + "\n" + groups[1][1] + "\n";
  CliRun combined = run({"shamir", "combine", "--passphrase-file", pass}, input);
  ASSERT_EQ(combined.rc, 0) << combined;
  EXPECT_EQ(combined.out, secret + "\n");

  // Lines pasted as `split` printed them, numbering and indentation included.
  std::string printed;
  for (const std::string& line : {groups[0][0], groups[0][1], groups[2][0]}) {
    printed += "  " + std::to_string(printed.size() % 7 + 1) + ". " + line + "\n";
  }
  CliRun pasted = run({"shamir", "combine", "--passphrase-file", pass}, printed);
  ASSERT_EQ(pasted.rc, 0) << pasted;
  EXPECT_EQ(pasted.out, secret + "\n");

  // --out writes a new file with mode 0600.
  const auto out_path = (dir_ / "recovered.hex").string();
  CliRun to_file = run({"shamir", "combine", "--passphrase-file", pass, "--out", out_path}, input);
  ASSERT_EQ(to_file.rc, 0) << to_file;
  EXPECT_EQ(to_file.out, "");
  std::ifstream recovered(out_path);
  std::string content((std::istreambuf_iterator<char>(recovered)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, secret + "\n");
  EXPECT_EQ(fs::status(out_path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  // Not enough shares: exit 1 and how many more.
  CliRun short_run = run({"shamir", "combine"}, groups[0][0] + "\n" + groups[2][0] + "\n");
  EXPECT_EQ(short_run.rc, 1) << short_run;
  EXPECT_TRUE(contains(short_run.err, "group 1: 1 of 2 shares, 1 more needed")) << short_run;

  // A typo: exit 2, the line and the closest words.
  std::string typo = groups[0][0];
  typo.replace(0, typo.find(' '), "xyzzy");
  CliRun bad = run({"shamir", "combine"}, groups[2][0] + "\n" + typo + "\n");
  EXPECT_EQ(bad.rc, 2) << bad;
  EXPECT_TRUE(contains(bad.err, "line 2: word 1 \"xyzzy\" is not in the SLIP-39 word list; closest:")) << bad;
}

TEST_F(ShamirCliTest, SplitJsonAndGenerate) {
  CliRun split = run({"shamir", "split", "--group-threshold", "1", "--group", "2/3", "--generate", "256",
                      "--json", "--extendable", "--iteration-exponent", "0"});
  ASSERT_EQ(split.rc, 0) << split;
  const auto doc = nlohmann::json::parse(split.out);
  EXPECT_EQ(doc["secret_bits"], 256);
  EXPECT_EQ(doc["extendable"], true);
  ASSERT_EQ(doc["groups"][0]["mnemonics"].size(), 3u);
  EXPECT_EQ(doc["groups"][0]["mnemonics"][0].get<std::string>().size() > 0, true);
  const std::string input = doc["groups"][0]["mnemonics"][0].get<std::string>() + "\n" +
                            doc["groups"][0]["mnemonics"][2].get<std::string>() + "\n";
  CliRun combined = run({"shamir", "combine"}, input);
  ASSERT_EQ(combined.rc, 0) << combined;
  EXPECT_EQ(combined.out.size(), 65u);  // 64 hex digits and a newline

  CliRun neither = run({"shamir", "split", "--group-threshold", "1", "--group", "1/1"});
  EXPECT_EQ(neither.rc, 2) << neither;
  CliRun bad_group =
      run({"shamir", "split", "--group-threshold", "1", "--group", "1/3", "--generate", "128"});
  EXPECT_EQ(bad_group.rc, 2) << bad_group;
  EXPECT_TRUE(contains(bad_group.err, "use 1/1")) << bad_group;
}

TEST_F(ShamirCliTest, CheckValidatesAFullSet) {
  const auto secret_file = file("secret.hex", "000102030405060708090a0b0c0d0e0f");
  CliRun split = run({"shamir", "split", "--group-threshold", "2", "--group", "2/3", "--group", "2/2",
                      "--secret-file", secret_file, "--iteration-exponent", "0"});
  ASSERT_EQ(split.rc, 0) << split;
  const auto groups = groups_of(split.out);
  std::string all;
  for (const auto& g : groups) {
    for (const auto& m : g) all += m + "\n";
  }
  CliRun ok = run({"shamir", "check"}, all);
  EXPECT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "OK")) << ok;
  EXPECT_TRUE(contains(ok.out, "all 3 threshold subsets")) << ok;
  EXPECT_FALSE(contains(ok.out, "000102030405060708090a0b0c0d0e0f"));

  // Group 2 lacks a share: it cannot be reached.
  CliRun missing =
      run({"shamir", "check", "--json"}, groups[0][0] + "\n" + groups[0][1] + "\n" + groups[1][0] + "\n");
  EXPECT_EQ(missing.rc, 1) << missing;
  const auto doc = nlohmann::json::parse(missing.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["problems"][0], "group 2 cannot be reached: 1 of 2 shares, 1 more needed");
}

TEST_F(ShamirCliTest, KeyBackupRestoreSignsWithTheSameKey) {
  for (const std::string alg : {"ed25519", "ecdsa-p256"}) {
    SCOPED_TRACE(alg);
    const auto pass = file("pass-" + alg, "correct horse battery staple\n");
    const auto key_path = (dir_ / (alg + ".key")).string();
    CliRun gen = run({"key", "generate", "--alg", alg, "--out", key_path, "--passphrase-file", pass});
    ASSERT_EQ(gen.rc, 0) << gen;
    auto public_key = SoftwareKey::read_public(key_path);
    ASSERT_TRUE(public_key.ok());

    CliRun backup = run({"key", "backup", key_path, "--group-threshold", "2", "--group", "1/1", "--group",
                         "2/3", "--passphrase-file", pass, "--iteration-exponent", "0"});
    ASSERT_EQ(backup.rc, 0) << backup;
    EXPECT_TRUE(contains(backup.out, "Restore with: countersign key restore --alg " + alg +
                                         " --expect-key-id " + public_key->id()))
        << backup;
    const auto groups = groups_of(backup.out);
    ASSERT_EQ(groups.size(), 2u);
    const std::string shares = groups[1][2] + "\n" + groups[0][0] + "\n" + groups[1][0] + "\n";

    const auto restored_path = (dir_ / (alg + "-restored.key")).string();
    CliRun restore = run({"key", "restore", "--alg", alg, "--expect-key-id", public_key->id(), "--out",
                          restored_path, "--passphrase-file", pass},
                         shares);
    ASSERT_EQ(restore.rc, 0) << restore;
    EXPECT_TRUE(contains(restore.err, public_key->id())) << restore;

    auto restored =
        SoftwareKey::load(restored_path, SecretBytes::copy_of(as_bytes("correct horse battery staple")));
    ASSERT_TRUE(restored.ok()) << restored.error().message;
    EXPECT_EQ(restored->public_key().id(), public_key->id());
    const SigningInput input = signing_input(Digest{});
    auto sig = restored->sign(input);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(public_key->verify(input, sig->signature).ok());

    // The wrong --alg gives another key id: refused, nothing written.
    const std::string other = alg == "ed25519" ? "ecdsa-p256" : "ed25519";
    const auto wrong_path = (dir_ / (alg + "-wrong.key")).string();
    CliRun wrong = run({"key", "restore", "--alg", other, "--expect-key-id", public_key->id(), "--out",
                        wrong_path, "--passphrase-file", pass},
                       shares);
    EXPECT_EQ(wrong.rc, 1) << wrong;
    EXPECT_FALSE(fs::exists(wrong_path));
  }
}

}  // namespace
}  // namespace countersign::cli
