// The FIDO2 flow from the command line with no hardware: three virtual authenticators
// (tests/tools/virtual-fido2, each its own process on a Unix socket) reached through
// `--device unix:PATH`, the documented socket transport of smartcard/fido2_unix_socket.h.
// Enrol, build a 2-of-3 policy, sign, assemble, verify; tampering and PIN errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "core/bytes.h"
#include "core/liveness.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"
#include "tests/tools/virtual_key_process.h"

namespace countersign {
namespace {

using nlohmann::json;
using test_util::CliRun;
using test_util::contains;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z
const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";

using test_util::VirtualKeyProcess;

class Fido2CliTest : public ::testing::Test {
 protected:
  std::string p(const std::string& name) const { return tmp_.file(name); }
  std::string dev(const std::string& who) const { return "unix:" + p(who + ".sock"); }

  CliRun run(const std::vector<std::string>& args) {
    return test_util::run_cli(args, [] { return kNow; });
  }

  void start(const std::string& who, std::vector<std::string> extra = {}) {
    keys_.push_back(std::make_unique<VirtualKeyProcess>(p(who + ".sock"), extra));
    ASSERT_TRUE(keys_.back()->ready()) << "virtual-fido2 for " << who << " did not start";
  }

  void enroll(const std::string& who, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"key",    "enroll", "--fido2", "--device",      dev(who),
                                  "--name", who,      "-o",      p(who + ".json")};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun r = run(args);
    ASSERT_EQ(r.rc, 0) << r;
    EXPECT_TRUE(contains(r.err, "Touch your security key")) << r;
  }

  CliRun sign(const std::string& who, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"sign",           "--fido2",  "--device", dev(who), "--policy",
                                  p("policy.json"), "--signer", who,        "-o",     p(who + ".sig")};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(p("proposal.json"));
    return run(args);
  }

  CliRun assemble_and_verify(const std::vector<std::string>& sigs) {
    std::vector<std::string> args{"bundle",     "assemble",         "--proposal", p("proposal.json"),
                                  "--manifest", p("manifest.json"), "-o",         p("bundle.json")};
    for (const auto& s : sigs) args.push_back(p(s));
    std::filesystem::remove(p("bundle.json"));
    CliRun a = run(args);
    EXPECT_EQ(a.rc, 0) << a;
    return run({"bundle", "verify", "--policy", p("policy.json"), p("bundle.json")});
  }

  // alice (es256), bob (eddsa), carol (es256, PIN, uv) enrolled into a 2-of-3 policy, and a
  // proposal to sign.
  void setup() {
    start("alice", {"--ca-out", p("alice-ca.der")});
    start("bob", {"--ca-out", p("bob-ca.der")});
    start("carol", {"--pin", "271828", "--ca-out", p("carol-ca.der")});
    test_util::spit(p("carol.pin"), "271828\n");
    test_util::spit(p("wrong.pin"), "000000\n");
    enroll("alice");
    enroll("bob", {"--alg", "eddsa"});
    enroll("carol", {"--uv", "--pin-file", p("carol.pin")});

    std::filesystem::create_directories(p("model"));
    test_util::spit(p("model/weights.bin"), "weights");
    CliRun m = run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "--source",
                    "hf:org/tiny@" + kRevision, "-o", p("manifest.json"), p("model")});
    ASSERT_EQ(m.rc, 0) << m;
    CliRun pol = run({"policy", "create", "--domain", "acme-prod", "--approver", "alice:" + p("alice.json"),
                      "--approver", "bob:" + p("bob.json"), "--approver", "carol:" + p("carol.json"),
                      "--rule", "install-model=2", "-o", p("policy.json")});
    ASSERT_EQ(pol.rc, 0) << pol;
    CliRun prop = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model",
                       "--manifest", p("manifest.json"), "--expires", "7d", "-o", p("proposal.json")});
    ASSERT_EQ(prop.rc, 0) << prop;
  }

  test_util::TempDir tmp_{"fido2cli"};
  std::vector<std::unique_ptr<VirtualKeyProcess>> keys_;
};

// -o that names an existing file (or a dangling link) is refused before the key is
// asked for a touch or makes a credential, and the file is left as it was.
TEST_F(Fido2CliTest, EnrollToAnExistingFileIsRefusedBeforeAnyTouch) {
  start("alice");
  test_util::spit(p("alice.json"), "keep\n");
  std::filesystem::create_symlink(p("nowhere"), p("link.json"));
  for (const char* out : {"alice.json", "link.json"}) {
    CliRun r = run({"key", "enroll", "--fido2", "--device", dev("alice"), "--name", "alice", "-o", p(out)});
    EXPECT_EQ(r.rc, 2) << r;
    EXPECT_TRUE(contains(r.err, "already exists; refusing to overwrite it")) << r;
    EXPECT_FALSE(contains(r.err, "Touch your security key")) << r;
  }
  EXPECT_EQ(test_util::slurp(p("alice.json")), "keep\n");
  EXPECT_FALSE(std::filesystem::exists(p("nowhere")));
  CliRun fresh =
      run({"key", "enroll", "--fido2", "--device", dev("alice"), "--name", "alice", "-o", p("new.json")});
  EXPECT_EQ(fresh.rc, 0) << fresh;
  EXPECT_TRUE(contains(fresh.err, "Touch your security key")) << fresh;
}

TEST_F(Fido2CliTest, KeyListShowsTheAuthenticatorAndItsPinState) {
  start("alice");
  start("carol", {"--pin", "271828"});
  CliRun a = run({"key", "list", "--device", dev("alice")});
  ASSERT_EQ(a.rc, 0) << a;
  EXPECT_TRUE(contains(a.out, "algorithms: es256 eddsa")) << a;
  EXPECT_TRUE(contains(a.out, "PIN:        not set")) << a;
  EXPECT_TRUE(contains(a.out, "firmware:   5.4.3")) << a;
  CliRun c = run({"key", "list", "--device", dev("carol"), "--json"});
  ASSERT_EQ(c.rc, 0) << c;
  json j = json::parse(c.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["pin_set"], true);
  EXPECT_EQ(j[0]["pin_retries"], 8);
  EXPECT_EQ(j[0]["aaguid"].get<std::string>().size(), 32u);
}

TEST_F(Fido2CliTest, KeyListWithoutAnyKeyIsNotAnError) {
  CliRun r = run({"key", "list"});
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_FALSE(r.out.empty()) << r;  // either the keys found or "No security keys found"
}

TEST_F(Fido2CliTest, TwoOfThreeVirtualKeysApproveAndTamperingIsRefused) {
  ASSERT_NO_FATAL_FAILURE(setup());
  json carol_entry = json::parse(test_util::slurp(p("carol.json")));
  EXPECT_EQ(carol_entry["uv"], true);
  EXPECT_EQ(carol_entry["attestation"]["format"], "fido2-packed");

  CliRun a = sign("alice");
  ASSERT_EQ(a.rc, 0) << a;
  EXPECT_TRUE(contains(a.err, "holds the credential of alice")) << a;
  CliRun c = sign("carol", {"--pin-file", p("carol.pin")});
  ASSERT_EQ(c.rc, 0) << c;
  json carol_sig = json::parse(test_util::slurp(p("carol.sig")));
  EXPECT_EQ(carol_sig["alg"], "fido2-es256");
  auto ad = base64_decode(carol_sig["authenticator_data"].get<std::string>());
  ASSERT_TRUE(ad.ok());
  ASSERT_EQ(ad->size(), 37u);
  EXPECT_EQ((*ad)[32], 0x05) << "UP | UV: carol's key entry demands uv";

  CliRun v = assemble_and_verify({"alice.sig", "carol.sig"});
  EXPECT_EQ(v.rc, 0) << v;

  // Only one valid vote when bob's authenticatorData is tampered with.
  CliRun b = sign("bob");
  ASSERT_EQ(b.rc, 0) << b;
  json bob_sig = json::parse(test_util::slurp(p("bob.sig")));
  const Bytes bob_ad = *base64_decode(bob_sig["authenticator_data"].get<std::string>());
  struct Tamper {
    std::size_t at;
    std::uint8_t mask;
    const char* reason;
  };
  for (const Tamper& t :
       {Tamper{32, 0x01, "user presence flag not set"}, Tamper{0, 0x80, "rpIdHash"}, Tamper{36, 0x01, ""}}) {
    Bytes ad2 = bob_ad;
    ad2[t.at] ^= t.mask;
    json s = bob_sig;
    s["authenticator_data"] = base64_encode(ad2);
    test_util::spit(p("bob-tampered.sig"), s.dump());
    CliRun tv = assemble_and_verify({"alice.sig", "bob-tampered.sig"});
    EXPECT_EQ(tv.rc, 1) << "byte " << t.at << "\n" << tv;
    EXPECT_TRUE(contains(tv.out + tv.err, t.reason)) << tv;
  }
  EXPECT_EQ(assemble_and_verify({"alice.sig", "bob.sig"}).rc, 0);
}

TEST_F(Fido2CliTest, ClearErrorsForWrongPinAndForeignKey) {
  ASSERT_NO_FATAL_FAILURE(setup());
  CliRun w = sign("carol", {"--pin-file", p("wrong.pin")});
  EXPECT_EQ(w.rc, 1) << w;
  EXPECT_TRUE(contains(w.err, "wrong PIN (7 tries left)")) << w;
  EXPECT_FALSE(contains(w.out + w.err, "000000")) << "the PIN is never printed";

  start("mallory");
  CliRun m = sign("mallory");
  EXPECT_NE(m.rc, 0) << m;
  EXPECT_TRUE(contains(m.err, "holds none of the policy's FIDO2 credentials")) << m;
}

TEST_F(Fido2CliTest, AttestationIsShownAndRequireAttestationCountsOnlyAttestedKeys) {
  ASSERT_NO_FATAL_FAILURE(setup());
  // Without the virtual authenticators' CA, only Yubico's root is pinned: nothing verifies.
  CliRun plain = run({"policy", "check", p("policy.json")});
  ASSERT_EQ(plain.rc, 0) << plain;
  EXPECT_TRUE(contains(plain.out, "fido2-packed NOT verified")) << plain;
  EXPECT_FALSE(contains(plain.out, "fido2-packed verified")) << plain;

  // Trusting alice's and carol's CA (each virtual key has its own) verifies theirs, not bob's.
  CliRun c = run({"policy", "check", "--json", "--attestation-root", p("alice-ca.der"), "--attestation-root",
                  p("carol-ca.der"), p("policy.json")});
  ASSERT_EQ(c.rc, 0) << c;
  json j = json::parse(c.out);
  std::map<std::string, bool> verified;
  for (const auto& a : j["approvers"]) verified[a["id"]] = a["keys"][0]["attestation_verified"];
  EXPECT_EQ(verified, (std::map<std::string, bool>{{"alice", true}, {"bob", false}, {"carol", true}}));
  for (const auto& a : j["approvers"]) {
    if (a["id"] == "alice") {
      EXPECT_EQ(a["keys"][0]["aaguid"].get<std::string>().size(), 32u);
    }
  }

  // A policy whose install-model rule counts attested keys only.
  json pol = json::parse(test_util::slurp(p("policy.json")));
  pol["rules"]["install-model"]["require_attestation"] = true;
  test_util::spit(p("policy.json"), pol.dump());
  ASSERT_EQ(sign("alice").rc, 0);
  ASSERT_EQ(sign("bob").rc, 0);
  const std::vector<std::string> args{
      "bundle",          "verify",   "--attestation-root", p("alice-ca.der"), "--attestation-root",
      p("carol-ca.der"), "--policy", p("policy.json"),     p("bundle.json")};
  EXPECT_EQ(assemble_and_verify({"alice.sig", "bob.sig"}).rc, 1);
  CliRun v = run(args);
  EXPECT_EQ(v.rc, 1) << v;
  EXPECT_TRUE(contains(v.out, "attestation does not verify against the pinned vendor roots")) << v;
  ASSERT_EQ(sign("carol", {"--pin-file", p("carol.pin")}).rc, 0);
  EXPECT_EQ(assemble_and_verify({"alice.sig", "carol.sig"}).rc, 1)
      << "the CA is not trusted without the option";
  CliRun ok = run(args);
  EXPECT_EQ(ok.rc, 0) << ok;
}

// Governance: the same authenticators veto and prove liveness, each over its own signing input.
TEST_F(Fido2CliTest, AVirtualKeyVetoesAndProvesItsLivenessToTheBox) {
  ASSERT_NO_FATAL_FAILURE(setup());
  // A veto with carol's key (PIN, uv): counted as a veto, never as an approval.
  CliRun v = run({"veto", "--fido2", "--device", dev("carol"), "--policy", p("policy.json"), "--pin-file",
                  p("carol.pin"), "-o", p("carol.veto"), p("proposal.json")});
  ASSERT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(v.err, "vetoed proposal sha256:")) << v;
  json veto = json::parse(test_util::slurp(p("carol.veto")));
  EXPECT_EQ(veto["schema"], "countersign/veto/v1");
  EXPECT_EQ(veto["alg"], "fido2-es256");
  ASSERT_EQ(sign("alice").rc, 0);
  CliRun one = assemble_and_verify({"alice.sig", "carol.veto"});
  EXPECT_EQ(one.rc, 1) << one;  // 1 of 2 approvals: the veto did not count as one
  EXPECT_TRUE(contains(one.out, "NOT APPROVED: 1 approval counted, 2 required")) << one;
  EXPECT_TRUE(contains(one.out, "vetoed       veto #1 by carol")) << one;

  // A liveness proof with bob's key over a box's challenge.
  test_util::spit(p("challenge.json"), json{{"schema", "countersign/challenge/v1"},
                                            {"domain", "acme-prod"},
                                            {"box", "box-7f3a"},
                                            {"nonce", "AAECAwQFBgcICQoLDA0ODw=="},
                                            {"issued", "2026-11-22T09:30:00Z"}}
                                           .dump());
  CliRun proof = run({"key", "prove", "--fido2", "--device", dev("bob"), "--policy", p("policy.json"),
                      "--challenge", p("challenge.json"), "-o", p("bob.proof")});
  ASSERT_EQ(proof.rc, 0) << proof;
  EXPECT_TRUE(contains(proof.err, "holds the credential of bob")) << proof;
  json pj = json::parse(test_util::slurp(p("bob.proof")));
  EXPECT_EQ(pj["schema"], "countersign/liveness/v1");
  EXPECT_EQ(pj["alg"], "fido2-eddsa");
  // The box's check of it: bob's key, this box, this challenge.
  auto policy = Policy::parse_text(test_util::slurp(p("policy.json")));
  auto challenge = Challenge::parse_text(test_util::slurp(p("challenge.json")));
  auto proof_file = SignatureFile::parse(pj);
  ASSERT_TRUE(policy.ok() && challenge.ok() && proof_file.ok());
  LivenessCheck here;
  here.now = kNow;
  here.box_id = "box-7f3a";
  auto proven = verify_liveness(*proof_file, *challenge, *policy, here);
  ASSERT_TRUE(proven.ok()) << proven.error().message;
  EXPECT_EQ(proven->approver_id, "bob");
  here.box_id = "box-91c2";
  EXPECT_FALSE(verify_liveness(*proof_file, *challenge, *policy, here).ok());
  // A challenge for another domain is refused before the key is touched.
  test_util::spit(p("other.json"), json{{"schema", "countersign/challenge/v1"},
                                        {"domain", "acme-staging"},
                                        {"box", "box-7f3a"},
                                        {"nonce", "AAECAwQFBgcICQoLDA0ODw=="},
                                        {"issued", "2026-11-22T09:30:00Z"}}
                                       .dump());
  CliRun other = run({"key", "prove", "--fido2", "--device", dev("bob"), "--policy", p("policy.json"),
                      "--challenge", p("other.json")});
  EXPECT_EQ(other.rc, 1) << other;
  EXPECT_TRUE(contains(other.err, "the challenge is for domain \"acme-staging\"")) << other;
}

}  // namespace
}  // namespace countersign
