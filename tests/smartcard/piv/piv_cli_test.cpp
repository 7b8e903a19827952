// `countersign key list`, `key enroll --piv` and `sign --piv` against the virtual card
// behind the real pcscd: what a user types and sees.
#include <gtest/gtest.h>

#include <fstream>

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
        << "attestation " << dir_.file("f9.pem") << " " << dir_.file("f9.der") << "\n";
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

TEST_F(PivCli, SignWithAWrongPinSaysHowManyTriesAreLeft) {
  CliRun s = run({"sign", "--piv", "--pin-file", dir_.file("wrong-pin.txt"), dir_.file("proposal.json")});
  EXPECT_EQ(s.rc, 1) << s;
  EXPECT_TRUE(contains(s.err, "wrong PIN, 2 tries left")) << s;
  EXPECT_TRUE(s.out.empty()) << s;
}

TEST_F(PivCli, SignWithAnEmptySlotSaysSo) {
  CliRun s =
      run({"sign", "--piv", "--slot", "9d", "--pin-file", dir_.file("pin.txt"), dir_.file("proposal.json")});
  EXPECT_NE(s.rc, 0) << s;
  EXPECT_TRUE(contains(s.err, "slot 9d certificate")) << s;
}

}  // namespace
}  // namespace countersign
