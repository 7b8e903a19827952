// `countersign key list`, `key enroll --piv` and `sign --piv` against the virtual card
// behind the real pcscd: what a user types and sees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/liveness.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "tests/cli/cli_test_util.h"
#include "tests/daemon/integration.h"
#include "tests/smartcard/piv/card_state.h"
#include "tests/smartcard/piv/pcsc_fixture.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

using test_util::CliRun;
using test_util::run_cli;

constexpr UnixTime kNow = 1795000000;  // inside the proposal's validity

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class PivCli : public ::testing::Test {
 protected:
  void SetUp() override {
    test_util::make_key_and_cert("P-256", dir_.file("9c.pem"), dir_.file("9c.der"));
    test_util::make_key_and_cert("P-256", dir_.file("f9.pem"), dir_.file("f9.der"));
    std::ofstream(dir_.file("card.state"))
        << "pin 123456\npin_retries 3\npin_max 3\nserial 7654321\nversion 5 7 1\n"
        << "slot 9c 11 " << dir_.file("9c.pem") << " " << dir_.file("9c.der") << "\n"
        << "attestation " << dir_.file("f9.pem") << " " << dir_.file("f9.der") << "\n"
        << "management_key 0A 00112233445566778899aabbccddeeff0011223344556677\n";
    std::string reason;
    fixture_ = test_util::PcscFixture::start(dir_.path().string(), dir_.file("card.state"), reason);
    CS_REQUIRE_OR_SKIP(fixture_ != nullptr, reason);
    const nlohmann::json proposal = {
        {"schema", "countersign/proposal/v1"}, {"domain", "acme-prod"},
        {"action", "install-model"},           {"manifest", "sha256:" + std::string(64, 'a')},
        {"nonce", "AAAAAAAAAAAAAAAAAAAAAA=="}, {"created", "2026-11-18T00:00:00Z"},
        {"expires", "2026-11-29T00:00:00Z"}};
    std::ofstream(dir_.file("proposal.json")) << proposal.dump();
    std::ofstream(dir_.file("pin.txt")) << "123456\n";
    std::ofstream(dir_.file("wrong-pin.txt")) << "111111\n";
  }

  CliRun run(const std::vector<std::string>& args) {
    return run_cli(args, [] { return kNow; });
  }

  test_util::TempDir dir_{"piv-cli"};
  std::unique_ptr<test_util::PcscFixture> fixture_;
};

TEST_F(PivCli, KeyListShowsTheYubiKeyItsSlotsAndPinTries) {
  CliRun r = run({"key", "list"});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(
      contains(r.out, fixture_->reader() + ": YubiKey PIV, firmware 5.7.1, serial 7654321, PIN tries left 3"))
      << r;
  EXPECT_TRUE(contains(r.out, "slot 9c: ecdsa-p256 key")) << r;
  EXPECT_TRUE(contains(r.out, "slot 9a: empty")) << r;
  CliRun j = run({"key", "list", "--json"});
  ASSERT_EQ(j.rc, 0) << j;
  const auto doc = nlohmann::json::parse(j.out);
  bool found = false;
  for (const auto& e : doc) {
    if (e.value("reader", std::string()) != fixture_->reader()) continue;
    found = true;
    EXPECT_EQ(e["type"], "yubikey-piv");
    EXPECT_EQ(e["serial"], 7654321);
    EXPECT_EQ(e["slots"]["9c"]["alg"], "ecdsa-p256");
  }
  EXPECT_TRUE(found) << j;
}

TEST_F(PivCli, EnrollPrintsAnAttestedPolicyKeyAndSignProducesASignatureItVerifies) {
  CliRun e = run({"key", "enroll", "--piv", "--slot", "9c", "--name", "alice"});
  ASSERT_EQ(e.rc, 0) << e;
  const auto entry = nlohmann::json::parse(e.out);
  EXPECT_EQ(entry["alg"], "ecdsa-p256");
  EXPECT_EQ(entry["attestation"]["format"], "yubikey-piv");
  EXPECT_EQ(entry["attestation"]["certificates"].size(), 2u);
  EXPECT_TRUE(contains(e.err, "approver \"alice\"")) << e;
  auto key = parse_policy_key(entry, e.out, "");
  ASSERT_TRUE(key) << key.error().message;

  CliRun s = run({"sign", "--piv", "--pin-file", dir_.file("pin.txt"), "--signer", "alice", "-o",
                  dir_.file("alice.sig"), dir_.file("proposal.json")});
  ASSERT_EQ(s.rc, 0) << s;
  EXPECT_TRUE(contains(s.err, "slot 9c of the card in " + fixture_->reader())) << s;
  std::ifstream in(dir_.file("alice.sig"));
  std::stringstream sig_text;
  sig_text << in.rdbuf();
  auto sig = SignatureFile::parse_text(sig_text.str());
  ASSERT_TRUE(sig) << sig.error().message;
  std::ifstream pin(dir_.file("proposal.json"));
  std::stringstream ptext;
  ptext << pin.rdbuf();
  auto proposal = Proposal::parse_text(ptext.str());
  ASSERT_TRUE(proposal) << proposal.error().message;
  EXPECT_EQ(sig->key(), key->key.id());
  EXPECT_EQ(sig->alg(), Alg::kEcdsaP256);
  EXPECT_TRUE(key->key.verify(signing_input(proposal->id()), sig->fields().signature));
}

// policy check shows what the YubiKey certified about the key, once its attestation root is
// trusted (the virtual card's attestation key is its own root; Yubico's is built in).
TEST_F(PivCli, PolicyCheckVerifiesTheYubikeyAttestationAndShowsItsFacts) {
  CliRun e = run({"key", "enroll", "--piv", "--slot", "9c", "--name", "alice"});
  ASSERT_EQ(e.rc, 0) << e;
  const nlohmann::json policy = {
      {"schema", "countersign/policy/v1"},
      {"domain", "acme-prod"},
      {"version", 1},
      {"approvers", {{{"id", "alice"}, {"keys", {nlohmann::json::parse(e.out)}}}}},
      {"rules", {{"install-model", {{"threshold", 1}, {"require_attestation", true}}}}}};
  std::ofstream(dir_.file("policy.json")) << policy.dump();

  CliRun pinned = run({"policy", "check", dir_.file("policy.json")});
  ASSERT_EQ(pinned.rc, 0) << pinned;
  EXPECT_TRUE(contains(pinned.out, "yubikey-piv NOT verified")) << pinned;
  EXPECT_TRUE(contains(pinned.out, "does not end at a pinned root")) << pinned;

  CliRun c = run({"policy", "check", "--attestation-root", dir_.file("f9.der"), dir_.file("policy.json")});
  ASSERT_EQ(c.rc, 0) << c;
  EXPECT_TRUE(contains(
      c.out, "yubikey-piv verified: YubiKey serial 7654321, firmware 5.7.1, PIN always, touch never"))
      << c;
  CliRun j =
      run({"policy", "check", "--json", "--attestation-root", dir_.file("f9.der"), dir_.file("policy.json")});
  ASSERT_EQ(j.rc, 0) << j;
  const auto facts = nlohmann::json::parse(j.out)["approvers"][0]["keys"][0]["attestation_facts"];
  EXPECT_EQ(facts["verified"], true);
  EXPECT_EQ(facts["serial"], 7654321);
  EXPECT_EQ(facts["firmware"], "5.7.1");
  EXPECT_EQ(facts["pin_policy"], "always");
  EXPECT_EQ(facts["touch_policy"], "never");
}

// PIV end to end: two PIV cards (in two readers of the same pcscd) and one software
// key in a 3-of-3 policy. Each approver signs with their own, `bundle assemble` collects the
// three signatures and `bundle verify` approves; two of three is not enough.
TEST_F(PivCli, TwoCardsAndASoftwareKeyApproveThreeOfThree) {
  test_util::make_key_and_cert("P-384", dir_.file("bob-9c.pem"), dir_.file("bob-9c.der"));
  std::ofstream(dir_.file("bob-card.state"))
      << "pin 654321\npin_retries 3\npin_max 3\nserial 1234567\nversion 5 4 3\n"
      << "slot 9c 14 " << dir_.file("bob-9c.pem") << " " << dir_.file("bob-9c.der") << "\n";
  std::ofstream(dir_.file("bob-pin.txt")) << "654321\n";
  std::ofstream(dir_.file("pass.txt")) << "correct horse battery staple\n";
  std::string reason;
  const std::string bob_reader = fixture_->insert_second_card(dir_.file("bob-card.state"), reason);
  ASSERT_FALSE(bob_reader.empty()) << reason;
  ASSERT_NE(bob_reader, fixture_->reader());

  CliRun list = run({"key", "list", "--piv"});
  ASSERT_EQ(list.rc, 0) << list;
  EXPECT_TRUE(contains(list.out, fixture_->reader() + ": YubiKey PIV, firmware 5.7.1, serial 7654321"))
      << list;
  EXPECT_TRUE(contains(list.out, bob_reader + ": YubiKey PIV, firmware 5.4.3, serial 1234567")) << list;

  // Enrol: alice's card, bob's card (chosen by reader), carol's software key.
  CliRun ea = run({"key", "enroll", "--piv", "--reader", fixture_->reader(), "--name", "alice", "-o",
                   dir_.file("alice.json")});
  ASSERT_EQ(ea.rc, 0) << ea;
  CliRun eb =
      run({"key", "enroll", "--piv", "--reader", bob_reader, "--name", "bob", "-o", dir_.file("bob.json")});
  ASSERT_EQ(eb.rc, 0) << eb;
  EXPECT_EQ(nlohmann::json::parse(test_util::slurp(dir_.file("bob.json")))["alg"], "ecdsa-p384");
  CliRun ec =
      run({"key", "generate", "-o", dir_.file("carol.key"), "--passphrase-file", dir_.file("pass.txt")});
  ASSERT_EQ(ec.rc, 0) << ec;

  std::filesystem::create_directories(dir_.file("model"));
  std::ofstream(dir_.file("model/weights.bin")) << "weights";
  ASSERT_EQ(run({"manifest", "create", "--name", "tiny", "--version", "1", "--license", "MIT", "--source",
                 "https://mirror.example/tiny/", "-o", dir_.file("manifest.json"), dir_.file("model")})
                .rc,
            0);
  CliRun pol =
      run({"policy", "create", "--domain", "acme-prod", "--approver", "alice:" + dir_.file("alice.json"),
           "--approver", "bob:" + dir_.file("bob.json"), "--approver", "carol:" + dir_.file("carol.key"),
           "--rule", "install-model=3", "-o", dir_.file("policy.json")});
  ASSERT_EQ(pol.rc, 0) << pol;
  CliRun prop = run({"proposal", "create", "--domain", "acme-prod", "--action", "install-model", "--manifest",
                     dir_.file("manifest.json"), "--expires", "7d", "-o", dir_.file("proposal3.json")});
  ASSERT_EQ(prop.rc, 0) << prop;

  CliRun sa = run({"sign", "--piv", "--reader", fixture_->reader(), "--pin-file", dir_.file("pin.txt"),
                   "--signer", "alice", "-o", dir_.file("alice.sig"), dir_.file("proposal3.json")});
  ASSERT_EQ(sa.rc, 0) << sa;
  CliRun sb = run({"sign", "--piv", "--reader", bob_reader, "--pin-file", dir_.file("bob-pin.txt"),
                   "--signer", "bob", "-o", dir_.file("bob.sig"), dir_.file("proposal3.json")});
  ASSERT_EQ(sb.rc, 0) << sb;
  CliRun sc = run({"sign", "--key", dir_.file("carol.key"), "--passphrase-file", dir_.file("pass.txt"),
                   "--signer", "carol", "-o", dir_.file("carol.sig"), dir_.file("proposal3.json")});
  ASSERT_EQ(sc.rc, 0) << sc;

  auto assemble = [&](const std::vector<std::string>& sigs) {
    std::vector<std::string> args{"bundle",     "assemble",
                                  "--proposal", dir_.file("proposal3.json"),
                                  "--manifest", dir_.file("manifest.json"),
                                  "-o",         dir_.file("bundle.json")};
    for (const auto& s : sigs) args.push_back(dir_.file(s));
    std::filesystem::remove(dir_.file("bundle.json"));
    CliRun a = run(args);
    EXPECT_EQ(a.rc, 0) << a;
    return run({"bundle", "verify", "--policy", dir_.file("policy.json"), dir_.file("bundle.json")});
  };
  CliRun two = assemble({"alice.sig", "bob.sig"});
  EXPECT_EQ(two.rc, 1) << two;
  EXPECT_TRUE(contains(two.out, "carol")) << two;
  CliRun three = assemble({"alice.sig", "bob.sig", "carol.sig"});
  EXPECT_EQ(three.rc, 0) << three;
  EXPECT_TRUE(contains(three.out, "APPROVED")) << three;
}

// key enroll --piv --generate: a key made inside the (virtual) YubiKey with the PIN and touch
// policies asked for, certified by the card itself, attested, and usable by sign --piv.
TEST_F(PivCli, GenerateMakesAnAttestedKeyInTheCardThatSigns) {
  const std::string mk = "00112233445566778899aabbccddeeff0011223344556677";
  std::ofstream(dir_.file("mgmt.key")) << mk << "\n";
  std::ofstream(dir_.file("wrong-mgmt.key")) << "010203040506070801020304050607080102030405060708\n";

  // This card (firmware 5.7.1) was given an AES-192 management key in its state file.
  CliRun wrong =
      run({"key", "enroll", "--piv", "--generate", "--slot", "9a", "--name", "alice", "--management-key-file",
           dir_.file("wrong-mgmt.key"), "--pin-file", dir_.file("pin.txt")});
  EXPECT_EQ(wrong.rc, 1) << wrong;
  EXPECT_TRUE(contains(wrong.err, "refused the management key")) << wrong;

  CliRun taken = run({"key", "enroll", "--piv", "--generate", "--slot", "9c", "--name", "alice",
                      "--management-key-file", dir_.file("mgmt.key"), "--pin-file", dir_.file("pin.txt")});
  EXPECT_NE(taken.rc, 0) << taken;
  EXPECT_TRUE(contains(taken.err, "--overwrite")) << taken;

  CliRun g = run({"key",
                  "enroll",
                  "--piv",
                  "--generate",
                  "--slot",
                  "9a",
                  "--alg",
                  "ecdsa-p384",
                  "--pin-policy",
                  "once",
                  "--touch-policy",
                  "cached",
                  "--name",
                  "alice",
                  "--management-key-file",
                  dir_.file("mgmt.key"),
                  "--pin-file",
                  dir_.file("pin.txt"),
                  "-o",
                  dir_.file("alice.json")});
  ASSERT_EQ(g.rc, 0) << g;
  EXPECT_TRUE(contains(g.err, "generated an ecdsa-p384 key in slot 9a")) << g;
  const auto entry = nlohmann::json::parse(test_util::slurp(dir_.file("alice.json")));
  EXPECT_EQ(entry["alg"], "ecdsa-p384");
  EXPECT_EQ(entry["attestation"]["format"], "yubikey-piv");

  const nlohmann::json policy = {{"schema", "countersign/policy/v1"},
                                 {"domain", "acme-prod"},
                                 {"version", 1},
                                 {"approvers", {{{"id", "alice"}, {"keys", {entry}}}}},
                                 {"rules", {{"install-model", {{"threshold", 1}}}}}};
  std::ofstream(dir_.file("policy.json")) << policy.dump();
  CliRun c = run({"policy", "check", "--attestation-root", dir_.file("f9.der"), dir_.file("policy.json")});
  ASSERT_EQ(c.rc, 0) << c;
  EXPECT_TRUE(
      contains(c.out, "yubikey-piv verified: YubiKey serial 7654321, firmware 5.7.1, PIN once, touch cached"))
      << c;

  // The key now in slot 9a signs, and its signature verifies with the enrolled entry.
  CliRun s = run({"sign", "--piv", "--slot", "9a", "--pin-file", dir_.file("pin.txt"), "-o",
                  dir_.file("alice.sig"), dir_.file("proposal.json")});
  ASSERT_EQ(s.rc, 0) << s;
  auto sig = SignatureFile::parse_text(test_util::slurp(dir_.file("alice.sig")));
  ASSERT_TRUE(sig) << sig.error().message;
  auto key = parse_policy_key(entry, "alice.json", "");
  ASSERT_TRUE(key) << key.error().message;
  auto proposal = Proposal::parse_text(test_util::slurp(dir_.file("proposal.json")));
  ASSERT_TRUE(proposal) << proposal.error().message;
  EXPECT_EQ(sig->key(), key->key.id());
  EXPECT_TRUE(key->key.verify(signing_input(proposal->id()), sig->fields().signature));

  // The slot's new certificate carries the generated key: enrolling it again finds the same.
  CliRun again = run({"key", "enroll", "--piv", "--slot", "9a", "--name", "alice"});
  ASSERT_EQ(again.rc, 0) << again;
  EXPECT_EQ(nlohmann::json::parse(again.out)["public_key"], entry["public_key"]);
}

TEST_F(PivCli, SignWithAWrongPinSaysHowManyTriesAreLeft) {
  CliRun s = run({"sign", "--piv", "--pin-file", dir_.file("wrong-pin.txt"), dir_.file("proposal.json")});
  EXPECT_EQ(s.rc, 1) << s;
  EXPECT_TRUE(contains(s.err, "wrong PIN, 2 tries left")) << s;
  EXPECT_TRUE(s.out.empty()) << s;
}

// A key whose touch policy is "always" on a YubiKey nobody touches: the card refuses, and the
// error says that touch (or the PIN) was missing rather than something vague.
TEST_F(PivCli, SignWithoutTheRequiredTouchSaysSo) {
  fixture_.reset();
  std::ofstream(dir_.file("card.state"), std::ios::app) << "slot_policy 9c 03 02\ntouch absent\n";
  std::string reason;
  fixture_ = test_util::PcscFixture::start(dir_.path().string(), dir_.file("card.state"), reason);
  ASSERT_NE(fixture_, nullptr) << reason;
  CliRun s = run({"sign", "--piv", "--pin-file", dir_.file("pin.txt"), dir_.file("proposal.json")});
  EXPECT_EQ(s.rc, 1) << s;
  EXPECT_TRUE(contains(s.err, "touch required and not given")) << s;
  EXPECT_TRUE(s.out.empty()) << s;
}

TEST_F(PivCli, SignWithAnEmptySlotSaysSo) {
  CliRun s =
      run({"sign", "--piv", "--slot", "9d", "--pin-file", dir_.file("pin.txt"), dir_.file("proposal.json")});
  EXPECT_NE(s.rc, 0) << s;
  EXPECT_TRUE(contains(s.err, "slot 9d certificate")) << s;
}

// Governance: the card proves its key is alive by signing the box's challenge, and vetoes with
// the same slot; each statement verifies only over its own signing input.
TEST_F(PivCli, TheCardProvesLivenessAndVetoesOverTheirOwnSigningInputs) {
  CliRun e = run({"key", "enroll", "--piv", "--slot", "9c", "--name", "alice"});
  ASSERT_EQ(e.rc, 0) << e;
  auto key = parse_policy_key(nlohmann::json::parse(e.out), e.out, "");
  ASSERT_TRUE(key) << key.error().message;
  const nlohmann::json challenge = {{"schema", "countersign/challenge/v1"},
                                    {"domain", "acme-prod"},
                                    {"box", "box-7f3a"},
                                    {"nonce", "AAECAwQFBgcICQoLDA0ODw=="},
                                    {"issued", "2026-11-19T09:00:00Z"}};
  std::ofstream(dir_.file("challenge.json")) << challenge.dump();
  CliRun pr = run({"key", "prove", "--piv", "--pin-file", dir_.file("pin.txt"), "--challenge",
                   dir_.file("challenge.json"), "-o", dir_.file("alice.proof")});
  ASSERT_EQ(pr.rc, 0) << pr;
  EXPECT_TRUE(contains(pr.err, "answered challenge sha256:")) << pr;
  auto proof = SignatureFile::parse_text(test_util::slurp(dir_.file("alice.proof")));
  ASSERT_TRUE(proof) << proof.error().message;
  EXPECT_EQ(proof->statement(), Statement::kLiveness);
  auto c = Challenge::parse(challenge);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(proof->proposal(), c->hash());
  EXPECT_TRUE(key->key.verify(signing_input(Statement::kLiveness, c->hash()), proof->fields().signature));
  EXPECT_FALSE(key->key.verify(signing_input(Statement::kApproval, c->hash()), proof->fields().signature));

  CliRun v = run({"veto", "--piv", "--pin-file", dir_.file("pin.txt"), "-o", dir_.file("alice.veto"),
                  dir_.file("proposal.json")});
  ASSERT_EQ(v.rc, 0) << v;
  auto veto = SignatureFile::parse_text(test_util::slurp(dir_.file("alice.veto")));
  ASSERT_TRUE(veto) << veto.error().message;
  EXPECT_EQ(veto->statement(), Statement::kVeto);
  EXPECT_TRUE(key->key.verify(signing_input(Statement::kVeto, veto->proposal()), veto->fields().signature));
  EXPECT_FALSE(
      key->key.verify(signing_input(Statement::kApproval, veto->proposal()), veto->fields().signature));
}

}  // namespace
}  // namespace countersign
