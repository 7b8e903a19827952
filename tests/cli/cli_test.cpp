// The countersign command line, run in process (cli::run) with injected streams and a fixed
// clock, through the whole approval flow of a user: manifest, keys, policy, proposal,
// signatures, bundle, verification; then the refusals a user must see, and the exit codes.
#include "cli/cli.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/software_key.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z
const std::string kPass = "correct horse battery staple 7f3a";
const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";

using test_util::CliRun;
using test_util::contains;

// SHA-256 with OpenSSL directly, independent of core's hashing.
std::string openssl_sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr), 1);
  return hex_encode(ByteView(md, len));
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                          crypto_pwhash_argon2id_MEMLIMIT_MIN);
  }

  void SetUp() override { write("pass.txt", kPass + "\n"); }

  void TearDown() override {
    // A passphrase must never be echoed, logged or written anywhere but its own file.
    EXPECT_FALSE(contains(all_output_, kPass)) << "the passphrase appeared in the output";
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file() || e.path().filename() == "pass.txt") continue;
      EXPECT_FALSE(contains(read(e.path().string()), kPass)) << "the passphrase appeared in " << e.path();
    }
  }

  std::string p(const std::string& name) const { return (dir_ / name).string(); }

  void write(const std::string& name, const std::string& data) const {
    fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    test_util::spit(path, data);
  }

  static std::string read(const std::string& path) { return test_util::slurp(path); }

  CliRun run(const std::vector<std::string>& args, UnixTime now = kNow, const std::string& input = "") {
    CliRun r = test_util::run_cli(
        args, [now] { return now; }, input);
    all_output_ += r.out + r.err;
    return r;
  }

  // A small model: nested directories, a few files.
  void make_model(const std::string& name) const {
    write(name + "/config.json", "{\"layers\": 2}\n");
    write(name + "/weights/part-1.bin", std::string(70000, 'w'));
    write(name + "/weights/part-2.bin", "tail");
    write(name + "/tokenizer/vocab.txt", "a\nb\nc\n");
  }

  std::string key_id_from_generate(const CliRun& r) const {
    auto pos = r.err.find("key id ");
    EXPECT_NE(pos, std::string::npos) << r;
    return pos == std::string::npos ? "" : r.err.substr(pos + 7, 64);
  }

  // The README's flow up to three signatures: manifest, 5 approvers (alice with two keys),
  // a 3-of-5 policy, a proposal, signatures by alice, bob and carol.
  void setup_flow() {
    make_model("model");
    CliRun m = run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "--source",
                    "hf:org/tiny@" + kRevision, "-o", p("manifest.json"), p("model")});
    ASSERT_EQ(m.rc, 0) << m;
    EXPECT_TRUE(contains(m.err, "4 files")) << m;

    for (const char* who : {"alice", "alice2", "bob", "carol", "dave", "erin"}) {
      std::vector<std::string> args{
          "key", "generate", "-o", p(std::string(who) + ".key"), "--passphrase-file", p("pass.txt")};
      if (std::string(who) == "bob" || std::string(who) == "dave") {
        args.push_back("--alg");
        args.push_back("ecdsa-p256");
      }
      CliRun k = run(args);
      ASSERT_EQ(k.rc, 0) << k;
      key_ids_[who] = key_id_from_generate(k);
      json entry = json::parse(k.out);
      EXPECT_EQ(entry["alg"],
                (std::string(who) == "bob" || std::string(who) == "dave") ? "ecdsa-p256" : "ed25519");
      auto spki = base64_decode(entry["public_key"].get<std::string>());
      ASSERT_TRUE(spki.ok());
      EXPECT_EQ(openssl_sha256_hex(std::string(as_chars(*spki))), key_ids_[who]);
    }

    CliRun pol = run({"policy",     "create",
                      "--domain",   "acme-prod",
                      "--approver", "alice:" + p("alice.key") + "+" + p("alice2.key") + ":engineering",
                      "--approver", "bob:" + p("bob.key") + ":compliance",
                      "--approver", "carol:" + p("carol.key"),
                      "--approver", "dave:" + p("dave.key"),
                      "--approver", "erin:" + p("erin.key"),
                      "--name",     "alice=Alice Chen, CTO",
                      "--rule",     "install-model=3",
                      "--rule",     "remove-model=2",
                      "-o",         p("policy.json")});
    ASSERT_EQ(pol.rc, 0) << pol;
    CliRun check = run({"policy", "check", p("policy.json")});
    ASSERT_EQ(check.rc, 0) << check;
    EXPECT_TRUE(contains(check.out, "Policy valid: acme-prod version 1")) << check;

    make_proposal("proposal.json", "acme-prod");
    for (const char* who : {"alice", "bob", "carol"}) sign(who, "proposal.json", std::string(who) + ".sig");
  }

  void make_proposal(const std::string& name, const std::string& domain) {
    CliRun r =
        run({"proposal", "create", "--domain", domain, "--action", "install-model", "--manifest",
             p("manifest.json"), "--expires", "7d", "--note", "Upgrade the support bot", "-o", p(name)});
    ASSERT_EQ(r.rc, 0) << r;
    EXPECT_TRUE(contains(r.err, "proposal sha256:")) << r;
  }

  void sign(const std::string& key, const std::string& proposal, const std::string& out) {
    CliRun r = run({"sign", "--key", p(key + ".key"), "--passphrase-file", p("pass.txt"), "--signer", key,
                    "-o", p(out), p(proposal)});
    ASSERT_EQ(r.rc, 0) << r;
    EXPECT_TRUE(contains(r.err, "Signing:")) << r;  // what is signed is shown first
  }

  CliRun assemble(const std::string& proposal, const std::vector<std::string>& sigs, const std::string& out) {
    std::vector<std::string> args{"bundle",     "assemble",         "--proposal", p(proposal),
                                  "--manifest", p("manifest.json"), "-o",         p(out)};
    for (const auto& s : sigs) args.push_back(p(s));
    return run(args);
  }

  CliRun verify(const std::string& bundle, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"bundle", "verify", "--policy", p("policy.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(p(bundle));
    return run(args);
  }

  test_util::TempDir tmp_{"cli"};
  fs::path dir_ = tmp_.path();
  std::string all_output_;
  std::map<std::string, std::string> key_ids_;
};

// ---- the whole flow -------------------------------------------------------------------------

TEST_F(CliTest, ThreeOfFiveFlowIsApproved) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun a = assemble("proposal.json", {"alice.sig", "bob.sig", "carol.sig"}, "bundle.json");
  ASSERT_EQ(a.rc, 0) << a;
  EXPECT_TRUE(contains(a.err, "3 signature(s)")) << a;

  CliRun v = verify("bundle.json");
  EXPECT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(v.out, "APPROVED: 3 approvals counted, 3 required")) << v;
  EXPECT_FALSE(contains(v.out, "NOT APPROVED")) << v;
  EXPECT_TRUE(contains(
      v.out, "counted      alice (Alice Chen, CTO) [engineering], key " + key_ids_["alice"].substr(0, 16)))
      << v;
  EXPECT_TRUE(contains(v.out, "counted      bob [compliance]")) << v;

  // The proposal id shown on verification is the hash of the proposal file.
  CliRun h = run({"hash", p("proposal.json")});
  ASSERT_EQ(h.rc, 0) << h;
  EXPECT_TRUE(contains(v.out, "Proposal " + h.out.substr(0, h.out.size() - 1))) << v << h;

  CliRun vj = verify("bundle.json", {"--json"});
  EXPECT_EQ(vj.rc, 0) << vj;
  json j = json::parse(vj.out);
  EXPECT_EQ(j["approved"], true);
  EXPECT_EQ(j["counted"], json({"alice", "bob", "carol"}));
  EXPECT_EQ(j["missing"], json({"dave", "erin"}));
}

TEST_F(CliTest, ProposalShowAndManifestShowForReview) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun ps = run({"proposal", "show", p("proposal.json")});
  EXPECT_EQ(ps.rc, 0) << ps;
  EXPECT_TRUE(contains(ps.out, "install-model")) << ps;
  EXPECT_TRUE(contains(ps.out, "acme-prod")) << ps;
  EXPECT_TRUE(contains(ps.out, "2026-11-29T10:00:00Z (in 7d 0h)")) << ps;
  EXPECT_TRUE(contains(ps.out, "Upgrade the support bot")) << ps;

  CliRun ms = run({"manifest", "show", p("manifest.json")});
  EXPECT_EQ(ms.rc, 0) << ms;
  EXPECT_TRUE(contains(ms.out, "tiny 1 (model)")) << ms;
  EXPECT_TRUE(contains(ms.out, "weights/part-1.bin")) << ms;
  EXPECT_TRUE(contains(ms.out, "https://huggingface.co/org/tiny/resolve/" + kRevision + "/config.json"))
      << ms;
  CliRun mj = run({"manifest", "show", "--json", p("manifest.json")});
  ASSERT_EQ(mj.rc, 0) << mj;
  json j = json::parse(mj.out);
  EXPECT_EQ(j["manifest"]["files"].size(), 4u);
  EXPECT_EQ(j["manifest"]["files"][0]["path"], "config.json");
  EXPECT_EQ(j["manifest"]["files"][3]["path"], "weights/part-2.bin");
  EXPECT_EQ(j["manifest"]["files"][3]["sha256"], openssl_sha256_hex("tail"));
  EXPECT_EQ(j["manifest"]["files"][1]["size"], 6);
  CliRun h = run({"hash", p("manifest.json")});
  EXPECT_EQ(j["hash"].get<std::string>() + "\n", h.out);
}

// The attack on the review: a file name followed by a carriage return and "erase line, cursor
// up" hides itself in a terminal review; a bidi override shows invoice_<RLO>exe.pdf as
// "invoice_fdp.exe". Such names are refused at parse, naming the character and its offset;
// free text (a note, a description) may hold them but is shown escaped, never interpreted.
TEST_F(CliTest, EscapeSequencesAndBidiOverridesCannotHideInTheReview) {
  auto manifest_with = test_util::manifest_text;
  write("erase.json", manifest_with("zz_backdoor.py\r\x1b[2K\x1b[1A", "ok"));
  CliRun erase = run({"manifest", "show", p("erase.json")});
  EXPECT_EQ(erase.rc, 2) << erase;
  EXPECT_TRUE(contains(erase.err, "/files/0/path")) << erase;
  EXPECT_TRUE(contains(erase.err, "zz_backdoor.py\\x0d\\x1b[2K\\x1b[1A")) << erase;
  EXPECT_TRUE(contains(erase.err, "U+000D (a control character) at byte 14")) << erase;
  write("bidi.json", manifest_with("invoice_\xe2\x80\xae"
                                   "exe.pdf",
                                   "ok"));
  CliRun bidi = run({"manifest", "show", p("bidi.json")});
  EXPECT_EQ(bidi.rc, 2) << bidi;
  EXPECT_TRUE(contains(bidi.err, "invoice_<U+202E>exe.pdf")) << bidi;
  EXPECT_TRUE(contains(bidi.err, "U+202E (a bidi formatting character) at byte 8")) << bidi;
  // Free text: accepted, shown escaped; no raw ESC, CR or RLO reaches the terminal.
  write("described.json", manifest_with("a.bin",
                                        "fine\r\x1b[2K\x1b[1Ahidden \xe2\x80\xae"
                                        "txt"));
  CliRun shown = run({"manifest", "show", p("described.json")});
  EXPECT_EQ(shown.rc, 0) << shown;
  EXPECT_TRUE(contains(shown.out, "About     fine\\x0d\\x1b[2K\\x1b[1Ahidden <U+202E>txt")) << shown;
  // manifest diff: the same names are refused there too, and the same free text escaped.
  CliRun diff = run({"manifest", "diff", p("described.json"), p("erase.json")});
  EXPECT_EQ(diff.rc, 2) << diff;
  EXPECT_TRUE(contains(diff.err, "zz_backdoor.py\\x0d\\x1b[2K\\x1b[1A")) << diff;
  CliRun diff_bidi = run({"manifest", "diff", p("bidi.json"), p("described.json")});
  EXPECT_EQ(diff_bidi.rc, 2) << diff_bidi;
  EXPECT_TRUE(contains(diff_bidi.err, "invoice_<U+202E>exe.pdf")) << diff_bidi;
  for (const CliRun* r : {&erase, &bidi, &shown, &diff, &diff_bidi}) {
    EXPECT_FALSE(contains(r->out + r->err, "\x1b")) << "a raw ESC reached the terminal";
    EXPECT_FALSE(contains(r->out + r->err, "\r")) << "a raw CR reached the terminal";
    EXPECT_FALSE(contains(r->out + r->err, "\xe2\x80\xae")) << "a raw RLO reached the terminal";
  }
}

TEST_F(CliTest, AProposalNoteIsShownEscaped) {
  make_model("model");
  CliRun m = run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "--source",
                  "https://example.com/m/", "-o", p("manifest.json"), p("model")});
  ASSERT_EQ(m.rc, 0) << m;
  CliRun c = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                  p("manifest.json"), "--expires", "7d", "--note", "ship it\r\x1b[2K\x1b[1A\xe2\x80\xae",
                  "-o", p("proposal.json")});
  ASSERT_EQ(c.rc, 0) << c;
  CliRun show = run({"proposal", "show", p("proposal.json")});
  EXPECT_EQ(show.rc, 0) << show;
  EXPECT_TRUE(contains(show.out, "Note          ship it\\x0d\\x1b[2K\\x1b[1A<U+202E>\n")) << show;
  EXPECT_FALSE(contains(show.out, "\x1b")) << show;
}

// ---- refusals: exit 1 with the reason -------------------------------------------------------

TEST_F(CliTest, SignatureForAnotherProposal) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  make_proposal("proposal2.json", "acme-prod");
  sign("carol", "proposal2.json", "carol-other.sig");

  // assemble refuses it outright ...
  CliRun a = assemble("proposal.json", {"alice.sig", "bob.sig", "carol-other.sig"}, "bad.json");
  EXPECT_EQ(a.rc, 2) << a;
  EXPECT_TRUE(contains(a.err, p("carol-other.sig") + " signs proposal")) << a;
  EXPECT_FALSE(fs::exists(p("bad.json")));

  // ... and a bundle that carries it anyway is not approved, and says why.
  ASSERT_EQ(assemble("proposal.json", {"alice.sig", "bob.sig", "carol.sig"}, "bundle.json").rc, 0);
  json b = json::parse(read(p("bundle.json")));
  b["signatures"][2] = json::parse(read(p("carol-other.sig")));
  write("bundle-other.json", b.dump(2));
  CliRun v = verify("bundle-other.json");
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "NOT APPROVED: 2 approvals counted, 3 required")) << v;
  EXPECT_TRUE(contains(v.out, "signature #3 by carol: signature is for proposal")) << v;
  EXPECT_TRUE(contains(v.out, "not this one")) << v;
  EXPECT_TRUE(contains(v.out, "Still missing: carol, dave, erin")) << v;

  CliRun vj = verify("bundle-other.json", {"--json"});
  EXPECT_EQ(vj.rc, 1) << vj;
  json j = json::parse(vj.out);
  EXPECT_EQ(j["approved"], false);
  EXPECT_EQ(j["failures"][0]["check"], "threshold");
  EXPECT_EQ(j["signatures"][2]["status"], "invalid");
  EXPECT_EQ(j["signatures"][2]["approver"], "carol");
}

TEST_F(CliTest, TwoSignaturesBySameApproverCountOnce) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  sign("alice2", "proposal.json", "alice2.sig");
  CliRun a = assemble("proposal.json", {"alice.sig", "alice2.sig", "bob.sig"}, "bundle.json");
  ASSERT_EQ(a.rc, 0) << a;  // assemble accepts both
  EXPECT_TRUE(contains(a.err, "3 signature(s)")) << a;
  CliRun v = verify("bundle.json");
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "NOT APPROVED: 2 approvals counted, 3 required")) << v;
  EXPECT_TRUE(contains(v.out, "duplicate    signature #2 by alice")) << v;
  EXPECT_TRUE(contains(v.out, "one vote per approver")) << v;

  CliRun vj = verify("bundle.json", {"--json"});
  EXPECT_EQ(vj.rc, 1) << vj;
  json j = json::parse(vj.out);
  EXPECT_EQ(j["approved"], false);
  EXPECT_EQ(j["counted"], json({"alice", "bob"}));
  EXPECT_EQ(j["signatures"][1]["status"], "duplicate");
  EXPECT_EQ(j["signatures"][1]["key"], key_ids_["alice2"]);

  // A third approver makes it; alice still counts once.
  CliRun a2 = assemble("proposal.json", {"alice.sig", "alice2.sig", "bob.sig", "carol.sig"}, "bundle4.json");
  ASSERT_EQ(a2.rc, 0) << a2;
  EXPECT_EQ(verify("bundle4.json").rc, 0);
}

TEST_F(CliTest, DomainDiffers) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  make_proposal("staging.json", "acme-staging");
  for (const char* who : {"alice", "bob", "carol"})
    sign(who, "staging.json", std::string(who) + "-staging.sig");
  CliRun a =
      assemble("staging.json", {"alice-staging.sig", "bob-staging.sig", "carol-staging.sig"}, "bundle.json");
  ASSERT_EQ(a.rc, 0) << a;
  CliRun v = verify("bundle.json");
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "NOT APPROVED")) << v;
  EXPECT_TRUE(contains(v.out, "- domain: the proposal is for domain \"acme-staging\"")) << v;
  CliRun vj = verify("bundle.json", {"--json"});
  EXPECT_EQ(vj.rc, 1);
  json j = json::parse(vj.out);
  EXPECT_EQ(j["approved"], false);
  EXPECT_EQ(j["failures"][0]["check"], "domain");
}

TEST_F(CliTest, ExpiredAtAPastTimeAndApprovedBefore) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  ASSERT_EQ(assemble("proposal.json", {"alice.sig", "bob.sig", "carol.sig"}, "bundle.json").rc, 0);
  CliRun v = verify("bundle.json", {"--at", "2026-11-29T10:00:01Z"});
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "NOT APPROVED")) << v;
  EXPECT_TRUE(contains(v.out, "- expired: the proposal expired at 2026-11-29T10:00:00Z")) << v;

  CliRun vj = verify("bundle.json", {"--json", "--at", "2026-11-29T10:00:01Z"});
  EXPECT_EQ(vj.rc, 1) << vj;
  json j = json::parse(vj.out);
  EXPECT_EQ(j["approved"], false);
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["check"], "expired");
  for (const auto& s : j["signatures"]) EXPECT_EQ(s["status"], "counted");

  // The box's own clock past expiry gives the same answer; --at before expiry approves.
  EXPECT_EQ(run({"bundle", "verify", "--policy", p("policy.json"), p("bundle.json")}, kNow + 8 * 86400).rc,
            1);
  EXPECT_EQ(verify("bundle.json", {"--at", "2026-11-29T09:59:59Z"}).rc, 0);
  // Signing an expired proposal is refused too.
  CliRun s = run({"sign", "--key", p("dave.key"), "--passphrase-file", p("pass.txt"), "-o", p("late.sig"),
                  p("proposal.json")},
                 kNow + 8 * 86400);
  EXPECT_EQ(s.rc, 1) << s;
  EXPECT_TRUE(contains(s.err, "expired")) << s;
  EXPECT_FALSE(fs::exists(p("late.sig")));
}

TEST_F(CliTest, WrongPassphraseIsRefused) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  write("wrong.txt", "not the passphrase\n");
  CliRun s = run({"sign", "--key", p("dave.key"), "--passphrase-file", p("wrong.txt"), "-o", p("dave.sig"),
                  p("proposal.json")});
  EXPECT_EQ(s.rc, 1) << s;
  EXPECT_TRUE(contains(s.err, p("dave.key"))) << s;
  EXPECT_FALSE(contains(s.out + s.err, "not the passphrase")) << s;
  EXPECT_FALSE(fs::exists(p("dave.sig")));
}

TEST_F(CliTest, BoxListIsCheckedWithBox) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun r = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                  p("manifest.json"), "--box", "box-7f3a", "--box", "box-91c2", "--expires",
                  "2026-11-30T00:00:00Z", "-o", p("boxed.json")});
  ASSERT_EQ(r.rc, 0) << r;
  for (const char* who : {"alice", "bob", "carol"}) sign(who, "boxed.json", std::string(who) + "-boxed.sig");
  ASSERT_EQ(assemble("boxed.json", {"alice-boxed.sig", "bob-boxed.sig", "carol-boxed.sig"}, "bundle.json").rc,
            0);
  CliRun other = verify("bundle.json", {"--box", "box-0000"});
  EXPECT_EQ(other.rc, 1) << other;
  EXPECT_TRUE(contains(other.out, "- box: ")) << other;
  EXPECT_TRUE(contains(other.out, "box-0000")) << other;
  CliRun listed = verify("bundle.json", {"--box", "box-91c2"});
  EXPECT_EQ(listed.rc, 0) << listed;
  CliRun unchecked = verify("bundle.json");
  EXPECT_EQ(unchecked.rc, 0) << unchecked;
  EXPECT_TRUE(contains(unchecked.out, "pass --box ID")) << unchecked;
}

TEST_F(CliTest, AssembleRefusesAManifestTheProposalDoesNotApprove) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  make_model("other");
  write("other/extra.bin", "x");
  ASSERT_EQ(run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "-o",
                 p("other.json"), p("other")})
                .rc,
            0);
  CliRun a = run({"bundle", "assemble", "--proposal", p("proposal.json"), "--manifest", p("other.json"), "-o",
                  p("bundle.json"), p("alice.sig"), p("bob.sig"), p("carol.sig")});
  EXPECT_EQ(a.rc, 2) << a;
  EXPECT_TRUE(contains(a.err, p("other.json") + " hashes to sha256:")) << a;
  EXPECT_FALSE(fs::exists(p("bundle.json")));
}

TEST_F(CliTest, ProposalExpiryMustBeSensible) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  for (const char* bad : {"2020-01-01T00:00:00Z", "0d", "soon", "999999999w"}) {
    CliRun r = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                    p("manifest.json"), "--expires", bad, "-o", p("late.json")});
    EXPECT_EQ(r.rc, 2) << bad << "\n" << r;
    EXPECT_FALSE(fs::exists(p("late.json"))) << bad;
    fs::remove(p("late.json"));
  }
}

TEST_F(CliTest, EmptyPassphraseIsRefused) {
  write("empty.txt", "\n");
  CliRun r = run({"key", "generate", "-o", p("k.key"), "--passphrase-file", p("empty.txt")});
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_FALSE(fs::exists(p("k.key")));
}

TEST_F(CliTest, PolicyCreateRefusesUnreachableThreshold) {
  ASSERT_EQ(run({"key", "generate", "-o", p("a.key"), "--passphrase-file", p("pass.txt")}).rc, 0);
  CliRun r = run({"policy", "create", "--domain", "d", "--approver", "a:" + p("a.key"), "--rule",
                  "install-model=2", "-o", p("policy.json")});
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_TRUE(contains(r.err, "/rules/install-model/threshold")) << r;
  EXPECT_FALSE(fs::exists(p("policy.json")));
}

TEST_F(CliTest, JsonErrorForMissingPolicy) {
  CliRun r = run({"bundle", "verify", "--json", "--policy", p("none.json"), p("bundle.json")});
  EXPECT_EQ(r.rc, 2) << r;
  json j = json::parse(r.out);
  EXPECT_EQ(j["error"]["code"], "io");
  EXPECT_TRUE(contains(j["error"]["message"].get<std::string>(), p("none.json"))) << r;
}

// ---- exit 2: usage and malformed input --------------------------------------------------

TEST_F(CliTest, MalformedManifestNamesFileAndPointer) {
  const std::string hex(64, 'a');
  write("bad-manifest.json",
        R"({"schema": "countersign/manifest/v1", "kind": "model", "name": "x", "version": "1",
            "license": {"spdx": "MIT"}, "sources": [],
            "files": [{"path": "b", "size": 1, "sha256": ")" +
            hex + R"("},
                      {"path": "a", "size": 1, "sha256": ")" +
            hex + R"("}]})");
  CliRun r = run({"manifest", "show", p("bad-manifest.json")});
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_TRUE(contains(r.err, p("bad-manifest.json"))) << r;
  EXPECT_TRUE(contains(r.err, "/files/1/path")) << r;
  EXPECT_TRUE(contains(r.err, "sorted")) << r;

  CliRun j = run({"manifest", "show", "--json", p("bad-manifest.json")});
  EXPECT_EQ(j.rc, 2) << j;
  json e = json::parse(j.out);
  EXPECT_TRUE(contains(e["error"]["message"].get<std::string>(), "/files/1/path")) << j;

  write("syntax.json", "{\"schema\": \"countersign/manifest/v1\",\n  \"name\": }");
  CliRun s = run({"manifest", "show", p("syntax.json")});
  EXPECT_EQ(s.rc, 2) << s;
  EXPECT_TRUE(contains(s.err, p("syntax.json"))) << s;
}

TEST_F(CliTest, UnknownOptionAndMissingFile) {
  CliRun u = run({"manifest", "show", "--frobnicate", p("x.json")});
  EXPECT_EQ(u.rc, 2) << u;
  CliRun none = run({});
  EXPECT_EQ(none.rc, 2) << none;
  CliRun bogus = run({"launch"});
  EXPECT_EQ(bogus.rc, 2) << bogus;

  CliRun m = run({"manifest", "show", p("missing.json")});
  EXPECT_EQ(m.rc, 2) << m;
  EXPECT_TRUE(contains(m.err, p("missing.json"))) << m;
  CliRun v = run({"bundle", "verify", "--policy", p("no-policy.json"), p("no-bundle.json")});
  EXPECT_EQ(v.rc, 2) << v;
  EXPECT_TRUE(contains(v.err, p("no-policy.json"))) << v;
  CliRun k = run({"key", "public", p("no.key")});
  EXPECT_EQ(k.rc, 2) << k;
  EXPECT_TRUE(contains(k.err, p("no.key"))) << k;
}

// ---- canon, hash, diff, key public, sign -o --------------------------------------------------

TEST_F(CliTest, CanonAndHashOfAKnownDocument) {
  const std::string doc =
      "{\n  \"b\": 2, \"a\": [1, \"x\"],\n  \"c\": {\"z\": null, \"y\": true}, \"e\": \"\\u00e9\", \"d\": "
      "1.0E2\n}\n";
  const std::string canonical =
      "{\"a\":[1,\"x\"],\"b\":2,\"c\":{\"y\":true,\"z\":null},\"d\":100,\"e\":\"\xc3\xa9\"}";
  write("doc.json", doc);

  CliRun c = run({"canon", p("doc.json")});
  EXPECT_EQ(c.rc, 0) << c;
  EXPECT_EQ(c.out, canonical);
  CliRun cin = run({"canon", "-"}, kNow, doc);
  EXPECT_EQ(cin.rc, 0) << cin;
  EXPECT_EQ(cin.out, canonical);

  CliRun h = run({"hash", p("doc.json")});
  EXPECT_EQ(h.rc, 0) << h;
  EXPECT_EQ(h.out, "sha256:" + openssl_sha256_hex(canonical) + "\n");
  CliRun hin = run({"hash"}, kNow, doc);
  EXPECT_EQ(hin.out, h.out);

  CliRun dup = run({"canon", "-"}, kNow, "{\"a\": 1, \"a\": 2}");
  EXPECT_EQ(dup.rc, 2) << dup;
  EXPECT_TRUE(contains(dup.err, "standard input")) << dup;
}

TEST_F(CliTest, ManifestDiffTextAndJson) {
  make_model("v1");
  make_model("v2");
  write("v2/config.json", "{\"layers\": 3}\n");  // changed
  write("v2/weights/part-3.bin", "more");        // added
  fs::remove(dir_ / "v2/tokenizer/vocab.txt");   // removed
  ASSERT_EQ(run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "-o",
                 p("m1.json"), p("v1")})
                .rc,
            0);
  ASSERT_EQ(run({"manifest", "create", "--name", "tiny", "--version", "2", "--license", "MIT", "-o",
                 p("m2.json"), p("v2")})
                .rc,
            0);
  CliRun d = run({"manifest", "diff", p("m1.json"), p("m2.json")});
  EXPECT_EQ(d.rc, 0) << d;
  EXPECT_TRUE(contains(d.out, "1 added, 1 removed, 1 changed, 2 unchanged")) << d;
  EXPECT_TRUE(contains(d.out, "version: 1 -> 2")) << d;
  EXPECT_TRUE(contains(d.out, "+ added    weights/part-3.bin  4 B")) << d;
  EXPECT_TRUE(contains(d.out, "- removed  tokenizer/vocab.txt  6 B")) << d;
  EXPECT_TRUE(contains(d.out, "~ changed  config.json  sha256 ")) << d;

  CliRun dj = run({"manifest", "diff", "--json", p("m1.json"), p("m2.json")});
  EXPECT_EQ(dj.rc, 0) << dj;
  json j = json::parse(dj.out);
  EXPECT_EQ(j["summary"], json({{"added", 1}, {"removed", 1}, {"changed", 1}, {"unchanged", 2}}));
  EXPECT_EQ(j["added"][0]["path"], "weights/part-3.bin");
  EXPECT_EQ(j["changed"][0]["after"]["sha256"], openssl_sha256_hex("{\"layers\": 3}\n"));
  CliRun h1 = run({"hash", p("m1.json")});
  EXPECT_EQ(j["old"].get<std::string>() + "\n", h1.out);

  CliRun same = run({"manifest", "diff", p("m1.json"), p("m1.json")});
  EXPECT_EQ(same.rc, 0);
  EXPECT_TRUE(contains(same.out, "0 added, 0 removed, 0 changed, 4 unchanged")) << same;
}

TEST_F(CliTest, KeyPublicPrintsTheSameKeyId) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun k = run({"key", "public", p("bob.key")});
  ASSERT_EQ(k.rc, 0) << k;
  json entry = json::parse(k.out);
  EXPECT_EQ(entry["alg"], "ecdsa-p256");
  auto spki = base64_decode(entry["public_key"].get<std::string>());
  ASSERT_TRUE(spki.ok());
  EXPECT_EQ(openssl_sha256_hex(std::string(as_chars(*spki))), key_ids_["bob"]);
  EXPECT_TRUE(contains(k.err, key_ids_["bob"])) << k;
  // The same entry as in the policy.
  json policy = json::parse(read(p("policy.json")));
  EXPECT_EQ(policy["approvers"][1]["keys"][0]["public_key"], entry["public_key"]);
  // And the key file's public part works as --approver input by way of that entry.
  write("bob-entry.json", k.out);
  CliRun pc = run({"policy", "create", "--domain", "d", "--approver", "bob:" + p("bob-entry.json"), "--rule",
                   "install-model=1"});
  EXPECT_EQ(pc.rc, 0) << pc;
}

TEST_F(CliTest, SignRefusesToOverwrite) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  const std::string before = read(p("alice.sig"));
  CliRun s = run({"sign", "--key", p("alice.key"), "--passphrase-file", p("pass.txt"), "-o", p("alice.sig"),
                  p("proposal.json")});
  EXPECT_EQ(s.rc, 2) << s;
  EXPECT_TRUE(contains(s.err, "already exists")) << s;
  EXPECT_EQ(read(p("alice.sig")), before);
}

TEST_F(CliTest, KeyGenerateRefusesToOverwrite) {
  ASSERT_EQ(run({"key", "generate", "-o", p("k.key"), "--passphrase-file", p("pass.txt")}).rc, 0);
  const std::string before = read(p("k.key"));
  CliRun again = run({"key", "generate", "-o", p("k.key"), "--passphrase-file", p("pass.txt")});
  EXPECT_EQ(again.rc, 2) << again;
  EXPECT_TRUE(contains(again.err, "already exists")) << again;
  EXPECT_EQ(read(p("k.key")), before);
}

// ---- governance: veto, no self-approval, liveness proofs ------------------------------------

TEST_F(CliTest, TwoVetoesEndAProposalAndAVetoNeverCountsAsAnApproval) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun pol = run({"policy",     "create",
                    "--domain",   "acme-prod",
                    "--approver", "alice:" + p("alice.key"),
                    "--approver", "bob:" + p("bob.key"),
                    "--approver", "carol:" + p("carol.key"),
                    "--approver", "dave:" + p("dave.key"),
                    "--approver", "erin:" + p("erin.key"),
                    "--rule",     "install-model=3",
                    "--veto",     "install-model=2",
                    "-o",         p("veto-policy.json")});
  ASSERT_EQ(pol.rc, 0) << pol;
  CliRun check = run({"policy", "check", p("veto-policy.json")});
  EXPECT_TRUE(contains(check.out, "install-model: 3 of 5; 2 vetoes end it")) << check;

  CliRun v1 = run({"veto", "--key", p("dave.key"), "--passphrase-file", p("pass.txt"), "--signer", "dave",
                   "-o", p("dave.veto"), p("proposal.json")});
  ASSERT_EQ(v1.rc, 0) << v1;
  EXPECT_TRUE(contains(v1.err, "Vetoing:")) << v1;  // what is vetoed is shown first
  EXPECT_TRUE(contains(v1.err, "vetoed proposal sha256:")) << v1;
  EXPECT_EQ(json::parse(read(p("dave.veto")))["schema"], "countersign/veto/v1");

  // One veto: the three approvals still make it.
  ASSERT_EQ(assemble("proposal.json", {"alice.sig", "bob.sig", "carol.sig", "dave.veto"}, "one.json").rc, 0);
  CliRun ok = run({"bundle", "verify", "--policy", p("veto-policy.json"), p("one.json")});
  EXPECT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "vetoed       veto #1 by dave")) << ok;

  // A second one: dead, whatever the approvals.
  ASSERT_EQ(run({"veto", "--key", p("erin.key"), "--passphrase-file", p("pass.txt"), "-o", p("erin.veto"),
                 p("proposal.json")})
                .rc,
            0);
  CliRun a =
      assemble("proposal.json", {"alice.sig", "bob.sig", "carol.sig", "dave.veto", "erin.veto"}, "dead.json");
  ASSERT_EQ(a.rc, 0) << a;
  EXPECT_TRUE(contains(a.err, "3 signature(s) and 2 veto(es)")) << a;
  CliRun dead = run({"bundle", "verify", "--policy", p("veto-policy.json"), p("dead.json")});
  EXPECT_EQ(dead.rc, 1) << dead;
  EXPECT_TRUE(contains(dead.out, "VETOED: 2 of 2 vetoes (dave, erin): this proposal is dead")) << dead;
  EXPECT_TRUE(contains(dead.out, "vetoed: vetoed by dave, erin")) << dead;

  // A veto relabelled as an approval does not verify: the signing inputs differ.
  json forged = json::parse(read(p("dave.veto")));
  forged["schema"] = "countersign/signature/v1";
  write("forged.sig", forged.dump());
  ASSERT_EQ(assemble("proposal.json", {"alice.sig", "bob.sig", "forged.sig"}, "forged.json").rc, 0);
  CliRun f = run({"bundle", "verify", "--policy", p("veto-policy.json"), "--json", p("forged.json")});
  EXPECT_EQ(f.rc, 1) << f;
  json fj = json::parse(f.out);
  EXPECT_EQ(fj["signatures"][2]["status"], "invalid") << fj.dump(2);
  EXPECT_EQ(fj["counted"], json({"alice", "bob"}));
}

TEST_F(CliTest, TheProposersOwnSignatureIsReportedNotCounted) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun pol = run({"policy", "create", "--domain", "acme-prod", "--approver", "alice:" + p("alice.key"),
                    "--approver", "bob:" + p("bob.key"), "--approver", "carol:" + p("carol.key"),
                    "--approver", "dave:" + p("dave.key"), "--rule", "install-model=3", "--exclude-proposer",
                    "install-model", "-o", p("own-policy.json")});
  ASSERT_EQ(pol.rc, 0) << pol;
  CliRun c = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                  p("manifest.json"), "--expires", "7d", "--proposer", "alice", "-o", p("mine.json")});
  ASSERT_EQ(c.rc, 0) << c;
  CliRun show = run({"proposal", "show", p("mine.json")});
  EXPECT_TRUE(contains(show.out, "Proposer      alice\n")) << show;
  for (const char* who : {"alice", "bob", "carol"}) sign(who, "mine.json", std::string(who) + "-mine.sig");
  ASSERT_EQ(
      assemble("mine.json", {"alice-mine.sig", "bob-mine.sig", "carol-mine.sig"}, "mine-bundle.json").rc, 0);
  CliRun v = run({"bundle", "verify", "--policy", p("own-policy.json"), p("mine-bundle.json")});
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "NOT APPROVED: 2 approvals counted, 3 required")) << v;
  EXPECT_TRUE(contains(v.out, "proposer     signature #1 by alice: approver \"alice\" proposed this")) << v;
  EXPECT_TRUE(contains(v.out, "Proposer alice\n")) << v;
  EXPECT_FALSE(contains(v.out, "invalid")) << v;
  // A name with controls cannot be a proposer.
  CliRun bad =
      run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
           p("manifest.json"), "--expires", "7d", "--proposer", "alice\x1b[2K", "-o", p("bad.json")});
  EXPECT_EQ(bad.rc, 2) << bad;
  EXPECT_TRUE(contains(bad.err, "/proposer")) << bad;
  EXPECT_FALSE(contains(bad.err, "\x1b")) << bad;
}

TEST_F(CliTest, BundleVerifyShowsTheNoteAndManifestEscaped) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  CliRun c = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                  p("manifest.json"), "--expires", "7d", "--note",
                  "ok\r\x1b[2K\x1b[1A\xe2\x80\xae"
                  "cod",
                  "-o", p("noted.json")});
  ASSERT_EQ(c.rc, 0) << c;
  for (const char* who : {"alice", "bob", "carol"}) sign(who, "noted.json", std::string(who) + "-noted.sig");
  ASSERT_EQ(
      assemble("noted.json", {"alice-noted.sig", "bob-noted.sig", "carol-noted.sig"}, "noted-bundle.json").rc,
      0);
  CliRun v = verify("noted-bundle.json");
  EXPECT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(v.out, "Note     ok\\x0d\\x1b[2K\\x1b[1A<U+202E>cod\n")) << v;
  EXPECT_TRUE(contains(v.out, "Manifest tiny 1, 4 files\n")) << v;
  EXPECT_FALSE(contains(v.out, "\x1b")) << v;
  EXPECT_FALSE(contains(v.out, "\r")) << v;
}

TEST_F(CliTest, KeyProveAnswersAChallengeAndNothingElse) {
  ASSERT_NO_FATAL_FAILURE(setup_flow());
  write("challenge.json", json{{"schema", "countersign/challenge/v1"},
                               {"domain", "acme-prod"},
                               {"box", "box-7f3a"},
                               {"nonce", "AAECAwQFBgcICQoLDA0ODw=="},
                               {"issued", "2026-11-22T09:00:00Z"}}
                              .dump());
  CliRun r = run({"key", "prove", "--key", p("carol.key"), "--passphrase-file", p("pass.txt"), "--challenge",
                  p("challenge.json"), "-o", p("carol.proof")});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(contains(r.err, "Proving your key to box box-7f3a (domain acme-prod)")) << r;
  json proof = json::parse(read(p("carol.proof")));
  EXPECT_EQ(proof["schema"], "countersign/liveness/v1");
  EXPECT_EQ(proof["key"], key_ids_["carol"]);
  EXPECT_TRUE(proof.contains("challenge"));
  // A proof is no approval: the bundle refuses to carry it.
  CliRun a = assemble("proposal.json", {"alice.sig", "carol.proof"}, "b.json");
  EXPECT_EQ(a.rc, 2) << a;
  EXPECT_TRUE(contains(a.err, "liveness proof")) << a;
  // A proposal is no challenge.
  CliRun wrong = run({"key", "prove", "--key", p("carol.key"), "--passphrase-file", p("pass.txt"),
                      "--challenge", p("proposal.json")});
  EXPECT_EQ(wrong.rc, 2) << wrong;
  EXPECT_TRUE(contains(wrong.err, "countersign/challenge/v1")) << wrong;
}

}  // namespace
}  // namespace countersign::cli
