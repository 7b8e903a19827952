// `countersign attest verify`: what an approver sees when checking a box's AWS Nitro
// attestation offline. The two real documents (tests/data/nitro-attestation/SOURCE.txt) against
// the pinned AWS root at their own time and now; the debug-mode one; policies whose images match
// or not; tampered files. The binding to a box needs a document whose user_data is one, which
// AWS never signed for us: those tests sign their own with a test root made here with OpenSSL,
// given with --root (and the output must then say that AWS's root was not used).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/proposal.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "smartcard/nitro.h"
#include "tests/cli/cli_test_util.h"
#include "tests/nitro_test_box.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

using nlohmann::json;
using test_util::CliRun;
using test_util::contains;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z
const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/nitro-attestation/";
const std::string kReal = kData + "nitro_attestation.b64";
const std::string kDebug = kData + "nitro_attestation_debug.b64";
// The times the two documents say they were made (their leaf certificates are valid then).
const std::string kRealAt = "2024-09-07T14:37:39Z";
const std::string kDebugAt = "2024-09-07T14:38:06Z";
// The real document's PCRs 0, 1 and 2, as AWS signed them.
const std::string kPcr0 =
    "e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a";
const std::string kPcr1 =
    "0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa";
const std::string kPcr2 =
    "d5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c";
const std::string kZeroPcr(96, '0');

CliRun run(const std::vector<std::string>& args) {
  return test_util::run_cli(args, [] { return kNow; });
}

json image(const std::string& name, const std::vector<std::pair<std::string, std::string>>& pcrs) {
  json j{{"name", name}, {"platform", "aws-nitro"}, {"pcrs", json::object()}};
  for (const auto& [i, v] : pcrs) j["pcrs"][i] = v;
  return j;
}

// A policy file with one approver (RFC 8032 section 7.1 test 1 key) and `images`.
std::string write_policy(const test_util::TempDir& dir, const json& images) {
  const std::string spki = "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  json p{{"schema", "countersign/policy/v1"},
         {"domain", "acme-prod"},
         {"version", 1},
         {"approvers", {{{"id", "alice"}, {"keys", {{{"alg", "ed25519"}, {"public_key", spki}}}}}}},
         {"rules", {{"install-model", {{"threshold", 1}, {"attested_image", true}}}}},
         {"images", images}};
  const std::string path = dir.file("policy.json");
  test_util::spit(path, p.dump());
  return path;
}

Bytes real_bytes() {
  std::string b64;
  for (char c : test_util::slurp(kReal)) {
    if (c != '\n') b64 += c;
  }
  auto raw = base64_decode(b64);
  EXPECT_TRUE(raw.ok());
  return raw.ok() ? *raw : Bytes{};
}

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(AttestVerify, TheRealDocumentVerifiesAtItsOwnTimeAndNowFailsForAnExpiredCertificate) {
  test_util::TempDir dir("cs-attest");
  const std::string policy = write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}})}));

  CliRun then = run({"attest", "verify", kReal, "--policy", policy, "--at", kRealAt});
  ASSERT_EQ(then.rc, 0) << then;
  EXPECT_TRUE(contains(then.out,
                       "Document      valid: ES384 signature by /C=US/ST=Washington/L=Seattle/O=Amazon/"
                       "OU=AWS/CN=i-0a22e5c5f24d22174-enc0191cceb4289903f.us-east-1.aws,\n"
                       "              its certificate chain verified to the pinned AWS Nitro Enclaves "
                       "root at 2024-09-07T14:37:39Z\n"))
      << then;
  EXPECT_TRUE(contains(then.out, "Module        i-0a22e5c5f24d22174-enc0191cceb4289903f\n")) << then;
  EXPECT_TRUE(contains(then.out, "Attested      2024-09-07T14:37:39Z (")) << then;
  EXPECT_TRUE(contains(then.out, "Mode          production (not debug mode)\n")) << then;
  EXPECT_TRUE(contains(then.out, "   0  " + kPcr0 + "\n   1  " + kPcr1 + "\n   2  " + kPcr2 + "\n")) << then;
  EXPECT_TRUE(contains(then.out,
                       "User data     0101010101010101010101010101010101010101010101010101010101010101"
                       "... (1024 bytes)\n"))
      << then;

  CliRun now = run({"attest", "verify", kReal, "--policy", policy});
  EXPECT_EQ(now.rc, 1) << now;
  EXPECT_TRUE(contains(now.out,
                       "NOT VALID: this attestation document does not verify; nothing in it can be "
                       "believed.\n"))
      << now;
  EXPECT_TRUE(contains(now.out,
                       "certificate chain does not verify at 2026-11-22T10:00:00Z: certificate has "
                       "expired"))
      << now;
  EXPECT_TRUE(contains(now.out, "add --at 2024-09-07T14:37:39Z.")) << now;
  EXPECT_FALSE(contains(now.out, "APPROVED")) << now;
  EXPECT_FALSE(contains(now.out, "Module ")) << "nothing unverified is shown as a fact\n" << now;

  // The raw CBOR form is read as well as the base64 one.
  test_util::spit(dir.file("att.cbor"), as_string(real_bytes()));
  CliRun raw = run({"attest", "verify", dir.file("att.cbor"), "--policy", policy, "--at", kRealAt});
  EXPECT_EQ(raw.rc, 0) << raw;
  EXPECT_EQ(raw.out, then.out);
}

TEST(AttestVerify, AnImageWhosePcrsAllMatchIsNamedAndTheOthersSayWhichPcrsDiffer) {
  test_util::TempDir dir("cs-attest");
  const std::string other(96, 'b');
  const std::string policy =
      write_policy(dir, json::array({image("safebox-2026.10", {{"0", kPcr0}, {"1", other}, {"2", other}}),
                                     image("safebox-2026.11", {{"0", kPcr0}, {"1", kPcr1}, {"2", kPcr2}}),
                                     image("safebox-2026.12", {{"0", kPcr0}, {"20", other}})}));
  CliRun r = run({"attest", "verify", kReal, "--policy", policy, "--at", kRealAt});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_EQ(
      r.out.rfind("APPROVED: the enclave runs approved image safebox-2026.11, attested 805d 19h ago\n", 0),
      0u)
      << r;
  EXPECT_TRUE(contains(r.out, "Image         approved image safebox-2026.11 (PCRs 0, 1, 2 equal)\n")) << r;
  EXPECT_TRUE(contains(r.out, "  safebox-2026.10: PCR 1 differs (document " + kPcr1 + ", image " + other +
                                  "); PCR 2 differs (document " + kPcr2 + ", image " + other + ")\n"))
      << r;
  EXPECT_TRUE(contains(r.out, "  safebox-2026.12: PCR 20 missing from the document\n")) << r;

  // Without the matching image: refused, naming for each image the PCRs that differ.
  const std::string none =
      write_policy(dir, json::array({image("safebox-2026.10", {{"0", kPcr0}, {"1", other}, {"2", other}})}));
  CliRun n = run({"attest", "verify", kReal, "--policy", none, "--at", kRealAt});
  EXPECT_EQ(n.rc, 1) << n;
  EXPECT_EQ(n.out.rfind("NOT APPROVED: the document matches no approved image (safebox-2026.10: PCR 1 is " +
                            kPcr1 + ", not " + other + ")\n",
                        0),
            0u)
      << n;
  EXPECT_TRUE(contains(n.out, "Image         matches no approved image\n")) << n;
  EXPECT_TRUE(contains(n.out, "  safebox-2026.10: PCR 1 differs")) << n;
}

TEST(AttestVerify, TheDebugDocumentIsRecognisedAndMatchesNoImageEvenOneListingItsPcrs) {
  test_util::TempDir dir("cs-attest");
  const std::string policy = write_policy(
      dir, json::array({image("debug-image", {{"0", kZeroPcr}, {"1", kZeroPcr}, {"2", kZeroPcr}})}));
  CliRun r = run({"attest", "verify", kDebug, "--policy", policy, "--at", kDebugAt});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_EQ(r.out.rfind("NOT APPROVED: the enclave ran in debug mode (PCRs 0, 1 and 2 are zero)", 0), 0u)
      << r;
  EXPECT_TRUE(contains(r.out,
                       "Mode          DEBUG MODE (PCRs 0, 1 and 2 are zero): the parent instance could "
                       "read and change the enclave's memory; never an approved image\n"))
      << r;
  EXPECT_TRUE(contains(r.out, "Image         none: a debug-mode enclave matches no image\n")) << r;
  EXPECT_TRUE(contains(r.out, "  debug-image: PCRs 0, 1, 2 equal\n")) << r;  // equal, and still refused

  CliRun j = run({"attest", "verify", kDebug, "--policy", policy, "--at", kDebugAt, "--json"});
  EXPECT_EQ(j.rc, 1) << j;
  const json out = json::parse(j.out);
  EXPECT_EQ(out["valid"], true);
  EXPECT_EQ(out["debug"], true);
  EXPECT_EQ(out["approved"], false);
  EXPECT_TRUE(out["image"]["name"].is_null());
  EXPECT_TRUE(contains(out["image"]["reason"].get<std::string>(), "debug mode")) << j;
}

TEST(AttestVerify, ATamperedDocumentIsRefusedNamingTheReason) {
  test_util::TempDir dir("cs-attest");
  const std::string policy = write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}})}));
  const Bytes good = real_bytes();
  const Bytes pcr0 = *hex_decode(kPcr0);

  // One bit of PCR 0 changed: it still parses, the chain still verifies, the signature does not.
  Bytes changed = good;
  auto at = std::search(changed.begin(), changed.end(), pcr0.begin(), pcr0.end());
  ASSERT_NE(at, changed.end());
  *at ^= 0x01;
  test_util::spit(dir.file("changed.cbor"), as_string(changed));
  CliRun c = run({"attest", "verify", dir.file("changed.cbor"), "--policy", policy, "--at", kRealAt});
  EXPECT_EQ(c.rc, 1) << c;
  EXPECT_TRUE(contains(c.out, "NOT VALID")) << c;
  EXPECT_TRUE(contains(c.out,
                       "Reason        nitro attestation: the ES384 signature does not verify with the "
                       "key of /C=US/ST=Washington"))
      << c;

  // A byte after the document: malformed input, exit 2, saying where.
  Bytes trailing = good;
  trailing.push_back(0);
  test_util::spit(dir.file("trailing.cbor"), as_string(trailing));
  CliRun t = run({"attest", "verify", dir.file("trailing.cbor"), "--policy", policy, "--at", kRealAt});
  EXPECT_EQ(t.rc, 2) << t;
  EXPECT_TRUE(contains(t.err, "countersign: error: " + dir.file("trailing.cbor") +
                                  ": nitro attestation: 1 bytes after the COSE_Sign1 at byte " +
                                  std::to_string(good.size())))
      << t;

  // Not a document at all.
  test_util::spit(dir.file("text.txt"), "hello, world\n");
  CliRun x = run({"attest", "verify", dir.file("text.txt"), "--policy", policy});
  EXPECT_EQ(x.rc, 2) << x;
  EXPECT_TRUE(
      contains(x.err, "is neither a CBOR COSE_Sign1 (it starts with byte 0x68) nor the base64 of one"))
      << x;
}

TEST(AttestVerify, JsonReportsTheFieldsScriptsNeed) {
  test_util::TempDir dir("cs-attest");
  const std::string policy =
      write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}, {"1", kPcr1}, {"2", kPcr2}})}));
  CliRun r = run({"attest", "verify", kReal, "--policy", policy, "--at", kRealAt, "--json"});
  ASSERT_EQ(r.rc, 0) << r;
  const json out = json::parse(r.out);
  EXPECT_EQ(out["valid"], true);
  EXPECT_EQ(out["approved"], true);
  EXPECT_EQ(out["debug"], false);
  EXPECT_EQ(out["root"], "pinned");
  EXPECT_EQ(out["checked_at"], kRealAt);
  EXPECT_EQ(out["timestamp"], kRealAt);
  EXPECT_EQ(out["timestamp_ms"], 1725719859545);
  EXPECT_EQ(out["module_id"], "i-0a22e5c5f24d22174-enc0191cceb4289903f");
  EXPECT_EQ(out["pcrs"]["0"], kPcr0);
  EXPECT_EQ(out["pcrs"].size(), 16u);
  EXPECT_EQ(out["image"]["name"], "safebox-2026.11");
  EXPECT_TRUE(out["image"]["reason"].is_null());
  EXPECT_EQ(out["image"]["candidates"],
            json::array({{{"name", "safebox-2026.11"}, {"differs", json::array()}}}));
  std::string ones;
  for (int i = 0; i < 1024; ++i) ones += "01";
  EXPECT_EQ(out["user_data"], ones);
  EXPECT_TRUE(out["box"].is_null());
  EXPECT_TRUE(out["nonce_matches"].is_null());

  CliRun now = run({"attest", "verify", kReal, "--policy", policy, "--json"});
  EXPECT_EQ(now.rc, 1) << now;
  const json bad = json::parse(now.out);
  EXPECT_EQ(bad["valid"], false);
  EXPECT_EQ(bad["approved"], false);
  EXPECT_EQ(bad["error"]["code"], "rejected");
  EXPECT_TRUE(contains(bad["error"]["message"].get<std::string>(), "certificate has expired")) << now;
  EXPECT_EQ(bad["claimed_timestamp"], kRealAt);
}

TEST(AttestVerify, TheRealDocumentBindsNoBox) {
  test_util::TempDir dir("cs-attest");
  const std::string policy =
      write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}, {"1", kPcr1}, {"2", kPcr2}})}));
  auto log = note::Signer::generate("box-7f3a-log");
  ASSERT_TRUE(log.ok());
  test_util::spit(dir.file("log.pub"), log->verifier().vkey() + "\n");
  CliRun r = run({"attest", "verify", kReal, "--policy", policy, "--at", kRealAt, "--box-id", "box-7f3a",
                  "--log-key", dir.file("log.pub")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_EQ(r.out.rfind(
                "NOT APPROVED: the document's user_data is 1024 bytes, not a 32-byte binding to a box\n", 0),
            0u)
      << r;
  EXPECT_TRUE(contains(r.out, "Image         approved image safebox-2026.11 (PCRs 0, 1, 2 equal)\n")) << r;
}

TEST(AttestVerify, UsageErrorsAreExit2BeforeAnythingIsRead) {
  test_util::TempDir dir("cs-attest");
  const std::string policy = write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}})}));
  CliRun a = run({"attest", "verify", kReal, "--policy", policy, "--box-id", "box-7f3a"});
  EXPECT_EQ(a.rc, 2) << a;
  EXPECT_TRUE(contains(a.err, "--box-id needs --log-key")) << a;
  CliRun b = run({"attest", "verify", kReal, "--policy", policy, "--nonce", "xyz"});
  EXPECT_EQ(b.rc, 2) << b;
  EXPECT_TRUE(contains(b.err, "--nonce: ")) << b;
  CliRun c = run({"attest", "verify", kReal, "--policy", policy, "--at", "yesterday"});
  EXPECT_EQ(c.rc, 2) << c;
  CliRun d = run({"attest", "verify", kReal, "--policy", dir.file("missing.json")});
  EXPECT_EQ(d.rc, 2) << d;
  CliRun h = run({"attest", "verify", "--help"});
  EXPECT_EQ(h.rc, 0) << h;
  EXPECT_TRUE(
      contains(h.out, "  countersign attest verify att.cbor --policy policy.json --box-id box-7f3a \\\n"))
      << h;
  EXPECT_TRUE(contains(h.out, "Exit 0: valid, an approved image")) << h;
}

// --- Documents signed here, under a test root -----------------------------------------------

using test_util::NitroTestBox;
using TestBox = NitroTestBox;

std::string test_policy(const test_util::TempDir& dir) {
  return write_policy(
      dir,
      json::array({image("safebox-2026.11", {{"0", std::string(96, '1')}, {"1", std::string(96, '2')}})}));
}

TEST(AttestBinding, TheBoxItBindsIsApprovedAndAnotherBoxIdOrLogKeyIsRefused) {
  test_util::TempDir dir("cs-attest");
  TestBox box(dir);
  const std::string policy = test_policy(dir);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), *hex_decode("8f1c2a"));
  const std::vector<std::string> base{
      "attest", "verify", doc, "--policy", policy, "--root", box.file("root.pem")};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };

  CliRun ok = with({"--box-id", "box-7f3a", "--log-key", box.file("log.pub"), "--tls-key",
                    box.file("tls.pem"), "--nonce", "8f1c2a"});
  ASSERT_EQ(ok.rc, 0) << ok;
  EXPECT_EQ(ok.out.rfind("APPROVED: box-7f3a runs approved image safebox-2026.11, attested 12m ago\n", 0), 0u)
      << ok;
  EXPECT_TRUE(contains(ok.out, "WARNING: the chain was checked against " + box.file("root.pem") +
                                   " (--root), not the pinned AWS Nitro Enclaves root: this proves nothing "
                                   "about AWS hardware\n"))
      << ok;
  EXPECT_TRUE(contains(ok.out, "Box           user_data binds box box-7f3a, this log key and this TLS key\n"))
      << ok;
  EXPECT_TRUE(contains(ok.out, "Nonce         matches 8f1c2a\n")) << ok;

  CliRun other_box =
      with({"--box-id", "box-91c2", "--log-key", box.file("log.pub"), "--tls-key", box.file("tls.pem")});
  EXPECT_EQ(other_box.rc, 1) << other_box;
  EXPECT_EQ(other_box.out.rfind("NOT APPROVED: the document's user_data does not bind box box-91c2 with this "
                                "log key and TLS key (it was made for another box or another key)\n",
                                0),
            0u)
      << other_box;
  EXPECT_TRUE(contains(other_box.out, "Box           NOT BOUND: ")) << other_box;

  CliRun other_log = with(
      {"--box-id", "box-7f3a", "--log-key", box.file("other-log.pub"), "--tls-key", box.file("tls.pem")});
  EXPECT_EQ(other_log.rc, 1) << other_log;
  EXPECT_TRUE(contains(other_log.out, "does not bind box box-7f3a with this log key and TLS key"))
      << other_log;

  CliRun no_tls = with({"--box-id", "box-7f3a", "--log-key", box.file("log.pub")});
  EXPECT_EQ(no_tls.rc, 1) << no_tls;
  EXPECT_TRUE(contains(no_tls.out, "does not bind box box-7f3a with this log key (")) << no_tls;

  CliRun wrong_nonce = with({"--box-id", "box-7f3a", "--log-key", box.file("log.pub"), "--tls-key",
                             box.file("tls.pem"), "--nonce", "00"});
  EXPECT_EQ(wrong_nonce.rc, 1) << wrong_nonce;
  EXPECT_TRUE(contains(wrong_nonce.out, "NOT APPROVED: the document's nonce is not the one asked for"))
      << wrong_nonce;
  EXPECT_TRUE(contains(wrong_nonce.out, "Nonce         DIFFERS: the document's is 8f1c2a, not 00\n"))
      << wrong_nonce;

  CliRun j = with({"--box-id", "box-91c2", "--log-key", box.file("log.pub"), "--tls-key", box.file("tls.pem"),
                   "--nonce", "8f1c2a", "--json"});
  EXPECT_EQ(j.rc, 1) << j;
  const json out = json::parse(j.out);
  EXPECT_EQ(out["approved"], false);
  EXPECT_EQ(out["root"], box.file("root.pem"));
  EXPECT_EQ(out["image"]["name"], "safebox-2026.11");
  EXPECT_EQ(out["box"]["id"], "box-91c2");
  EXPECT_EQ(out["box"]["bound"], false);
  EXPECT_EQ(out["box"]["tls_key"], true);
  EXPECT_TRUE(contains(out["box"]["reason"].get<std::string>(), "does not bind box box-91c2")) << j;
  EXPECT_EQ(out["nonce_matches"], true);
  EXPECT_EQ(out["nonce"], "8f1c2a");
}

TEST(AttestBinding, WithoutTheTestRootTheSameDocumentIsRefusedForItsChain) {
  test_util::TempDir dir("cs-attest");
  TestBox box(dir);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), *hex_decode("8f1c2a"));
  CliRun r = run({"attest", "verify", doc, "--policy", test_policy(dir)});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.out, "NOT VALID")) << r;
  EXPECT_TRUE(
      contains(r.out,
               "certificate chain does not verify at 2026-11-22T10:00:00Z: self-signed certificate in "
               "certificate chain (/CN=test-nitro-root, depth 1)"))
      << r;
}

TEST(AttestBinding, AModuleIdWithControlCharactersIsShownEscaped) {
  test_util::TempDir dir("cs-attest");
  TestBox box(dir);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), {}, "enc\x1b[2J\nAPPROVED");
  CliRun r = run({"attest", "verify", doc, "--policy", test_policy(dir), "--root", box.file("root.pem")});
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(contains(r.out, "Module        enc\\x1b[2J\\x0aAPPROVED\n")) << r;
  EXPECT_FALSE(contains(r.out, "\x1b")) << r;
  CliRun j =
      run({"attest", "verify", doc, "--policy", test_policy(dir), "--root", box.file("root.pem"), "--json"});
  EXPECT_EQ(json::parse(j.out)["module_id"], "enc\\x1b[2J\\x0aAPPROVED");
}

// --- proposal show --attestation: the verdict beside the proposal ------------------------------

// An install-model proposal for box-7f3a (or `boxes`), written to proposal.json.
std::string write_proposal(const test_util::TempDir& dir,
                           std::optional<std::vector<std::string>> boxes = std::vector<std::string>{
                               "box-7f3a"}) {
  Proposal::Fields f;
  f.domain = "acme-prod";
  f.action = Action::kInstallModel;
  f.manifest = sha256(std::string_view("a manifest"));
  f.boxes = std::move(boxes);
  f.created = kNow - 3600;
  f.expires = kNow + 7 * 86400;
  f.note = "Upgrade the support bot";
  auto p = Proposal::create(std::move(f));
  EXPECT_TRUE(p.ok()) << p.error().message;
  const std::string path = dir.file("proposal.json");
  test_util::spit(path, p->to_json().dump());
  return path;
}

TEST(ProposalShowAttestation, AnApprovedImageIsSaidBesideTheProposal) {
  test_util::TempDir dir("cs-attest");
  TestBox box(dir);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), *hex_decode("8f1c2a"));
  CliRun r = run({"proposal", "show", write_proposal(dir), "--policy", test_policy(dir), "--attestation", doc,
                  "--log-key", box.file("log.pub"), "--tls-key", box.file("tls.pem"), "--nonce", "8f1c2a",
                  "--root", box.file("root.pem")});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(contains(r.out, "Upgrade the support bot")) << r;
  EXPECT_TRUE(
      contains(r.out, "Box attestation  box-7f3a runs approved image safebox-2026.11, attested 12m ago\n"))
      << r;
  EXPECT_TRUE(contains(r.out, "WARNING: checked against " + box.file("root.pem") + " (--root)")) << r;

  CliRun j = run({"proposal", "show", write_proposal(dir), "--policy", test_policy(dir), "--attestation", doc,
                  "--root", box.file("root.pem"), "--json"});
  ASSERT_EQ(j.rc, 0) << j;
  const json out = json::parse(j.out);
  EXPECT_EQ(out["attestation"]["approved"], true);
  EXPECT_EQ(out["attestation"]["required"], true);
  EXPECT_TRUE(contains(out["attestation"]["line"].get<std::string>(),
                       "(binding to the box not checked: give --log-key)"))
      << j.out;
}

TEST(ProposalShowAttestation, AnotherBoxsDocumentOrAnExpiredOneIsNotApprovedExit1) {
  test_util::TempDir dir("cs-attest");
  TestBox box(dir);
  const std::string theirs = box.document("theirs.cbor", box.binding("box-91c2"), *hex_decode("8f1c2a"));
  CliRun other = run({"proposal", "show", write_proposal(dir), "--policy", test_policy(dir), "--attestation",
                      theirs, "--log-key", box.file("log.pub"), "--tls-key", box.file("tls.pem"), "--root",
                      box.file("root.pem")});
  EXPECT_EQ(other.rc, 1) << other;
  EXPECT_TRUE(contains(other.out,
                       "Box attestation  NOT APPROVED: the document's user_data does not bind box "
                       "box-7f3a"))
      << other;
  // AWS's real document, against the pinned root now: its leaf expired long ago.
  CliRun real = run({"proposal", "show", write_proposal(dir), "--policy",
                     write_policy(dir, json::array({image("safebox-2026.11", {{"0", kPcr0}})})),
                     "--attestation", kReal});
  EXPECT_EQ(real.rc, 1) << real;
  EXPECT_TRUE(contains(real.out, "Box attestation  NOT APPROVED: the attestation document does not verify: "))
      << real;
  EXPECT_TRUE(contains(real.out, "certificate has expired")) << real;
}

TEST(ProposalShowAttestation, ARuleThatRequiresOneIsFlaggedWhenNoneIsGiven) {
  test_util::TempDir dir("cs-attest");
  CliRun r = run({"proposal", "show", write_proposal(dir), "--policy", test_policy(dir)});
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(contains(r.out,
                       "Box attestation  NOT CHECKED: the rule for install-model requires an attested "
                       "image; give --attestation FILE (countersign box attest -o FILE)"))
      << r;
  CliRun plain = run({"proposal", "show", write_proposal(dir)});
  EXPECT_EQ(plain.rc, 0) << plain;
  EXPECT_FALSE(contains(plain.out, "Box attestation")) << plain;
  CliRun usage = run({"proposal", "show", write_proposal(dir), "--attestation", kReal});
  EXPECT_EQ(usage.rc, 2) << usage;
  EXPECT_TRUE(contains(usage.err, "--attestation needs --policy")) << usage;
  TestBox box(dir);
  const std::string doc = box.document("att.cbor", box.binding("box-7f3a"), {});
  CliRun no_box =
      run({"proposal", "show", write_proposal(dir, std::nullopt), "--policy", test_policy(dir),
           "--attestation", doc, "--log-key", box.file("log.pub"), "--root", box.file("root.pem")});
  EXPECT_EQ(no_box.rc, 2) << no_box;
  EXPECT_TRUE(contains(no_box.err, "the proposal names no box, so give --box-id")) << no_box;
}

}  // namespace
}  // namespace countersign::cli
