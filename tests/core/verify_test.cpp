// Bundles, approval verification and policy rotation (core/bundle.h, core/verify.h), with
// real keys: software Ed25519 and ECDSA P-256 keys, and synthetic FIDO2 assertions made
// with OpenSSL the way an authenticator makes them.
#include "core/verify.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/bundle.h"
#include "core/jcs.h"
#include "core/software_key.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::Contains;
using countersign::testing::FailsWith;
using nlohmann::json;

using countersign::testing::must;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z
constexpr std::int64_t kDay = 86400;

std::vector<std::string> checks(const VerifyReport& r) {
  std::vector<std::string> out;
  for (const auto& f : r.failures) out.push_back(f.check);
  return out;
}

const CheckFailure* failure(const VerifyReport& r, const std::string& check) {
  for (const auto& f : r.failures) {
    if (f.check == check) return &f;
  }
  return nullptr;
}

using Status = SignatureVerdict::Status;
using Ids = std::vector<std::string>;

// ---- FIDO2 test credential: an OpenSSL P-256 key acting as an authenticator ------------

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

class Fido2Authenticator {
 public:
  Fido2Authenticator() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key_.get(), &der);
    if (len <= 0) std::abort();
    spki_.assign(der, der + len);
    OPENSSL_free(der);
  }
  const Bytes& spki() const { return spki_; }
  std::string key_id() const { return hex_encode(sha256(spki_)); }

  // authenticatorData: rpIdHash || flags || signCount (big-endian).
  static Bytes auth_data(std::string_view rp_id, std::uint8_t flags, std::uint32_t counter = 1) {
    Digest rp = sha256(rp_id);
    Bytes ad(rp.begin(), rp.end());
    ad.push_back(flags);
    for (int shift = 24; shift >= 0; shift -= 8) ad.push_back(static_cast<std::uint8_t>(counter >> shift));
    return ad;
  }

  // The assertion signature: ECDSA P-256/SHA-256 over authData || SHA-256(signing input).
  SignatureFile sign(const Digest& proposal_id, const Bytes& auth_data) const {
    SigningInput input = signing_input(proposal_id);
    Digest cdh = sha256(ByteView(input));
    Bytes msg = auth_data;
    msg.insert(msg.end(), cdh.begin(), cdh.end());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) != 1) {
      std::abort();
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1) std::abort();
    sig.resize(len);
    SignatureFile::Fields f;
    f.proposal = proposal_id;
    f.key = key_id();
    f.alg = Alg::kFido2Es256;
    f.signature = std::move(sig);
    f.authenticator_data = auth_data;
    f.signer = "yuki";
    return must(SignatureFile::create(std::move(f)), "fido2 signature file");
  }

 private:
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;
  Bytes spki_;
};

constexpr std::uint8_t kUp = 0x01;
constexpr std::uint8_t kUv = 0x04;

// ---- the fleet: five approvers with real software keys ----------------------------------

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // alice has two keys (a laptop key and a second one); the others one each.
    add("alice", {Alg::kEd25519, Alg::kEcdsaP256}, {"engineering"});
    add("bob", {Alg::kEcdsaP256}, {"compliance"});
    add("carol", {Alg::kEd25519}, {});
    add("dave", {Alg::kEcdsaP256}, {});
    add("erin", {Alg::kEd25519}, {});
    add("frank", {Alg::kEd25519}, {});  // only in new policies (rotation)
    add("gina", {Alg::kEcdsaP256}, {});
    add("hank", {Alg::kEd25519}, {});
    outsider_ = std::make_unique<SoftwareKey>(must(SoftwareKey::generate(Alg::kEd25519), "outsider key"));
    manifest_ = make_manifest("gemma", "1");
  }

  void add(const std::string& id, std::vector<Alg> algs, std::vector<std::string> roles) {
    for (Alg a : algs) keys_[id].push_back(must(SoftwareKey::generate(a), "generate key"));
    roles_[id] = std::move(roles);
  }

  json approver(const std::string& id) const {
    json keys = json::array();
    for (const auto& k : keys_.at(id)) {
      keys.push_back(
          {{"alg", alg_name(k.public_key().alg())}, {"public_key", base64_encode(k.public_key().spki())}});
    }
    json a{{"id", id}, {"keys", keys}};
    if (!roles_.at(id).empty()) a["roles"] = roles_.at(id);
    return a;
  }

  json policy_doc(json rules, const Ids& ids = {"alice", "bob", "carol", "dave", "erin"},
                  std::uint64_t version = 1, const std::string& domain = "acme-prod") const {
    json approvers = json::array();
    for (const auto& id : ids) approvers.push_back(approver(id));
    return json{{"schema", "countersign/policy/v1"},
                {"domain", domain},
                {"version", version},
                {"approvers", approvers},
                {"rules", std::move(rules)}};
  }

  // A 3-of-5 policy: install-model and rotate-policy need 3 signatures, remove-model 2.
  Policy policy_3_of_5() const {
    return must(Policy::parse(policy_doc({{"install-model", {{"threshold", 3}}},
                                          {"remove-model", {{"threshold", 2}}},
                                          {"rotate-policy", {{"threshold", 3}}}})),
                "3-of-5 policy");
  }

  static Manifest make_manifest(const std::string& name, const std::string& version) {
    Manifest::Fields f;
    f.name = name;
    f.version = version;
    f.license.spdx = "Apache-2.0";
    f.files = {{"model.safetensors", 3, sha256(std::string_view("abc"))}};
    return must(Manifest::create(std::move(f)), "manifest");
  }

  static Proposal make_proposal(const Digest& subject, Action action = Action::kInstallModel,
                                const std::string& domain = "acme-prod",
                                std::optional<std::vector<std::string>> boxes = std::nullopt) {
    Proposal::Fields f;
    f.domain = domain;
    f.action = action;
    f.manifest = subject;
    f.boxes = std::move(boxes);
    f.created = kNow - 3600;
    f.expires = kNow + 7 * kDay;
    f.note = "Upgrade the support bot";
    return must(Proposal::create(std::move(f)), "proposal");
  }

  Proposal proposal() const { return make_proposal(manifest_.hash()); }

  SignatureFile sign(const std::string& id, const Proposal& p, std::size_t key = 0) {
    return must(sign_proposal(keys_.at(id).at(key), p.id(), id, kNow), "sign_proposal");
  }

  std::vector<SignatureFile> sign_all(const Ids& ids, const Proposal& p) {
    std::vector<SignatureFile> out;
    for (const auto& id : ids) out.push_back(sign(id, p));
    return out;
  }

  static Bundle bundle(const Proposal& p, const json& subject, std::vector<SignatureFile> sigs) {
    return must(Bundle::create(p, subject, std::move(sigs)), "Bundle::create");
  }

  Bundle bundle(const Proposal& p, std::vector<SignatureFile> sigs) const {
    return bundle(p, manifest_.to_json(), std::move(sigs));
  }

  static VerifyOptions at(UnixTime now) {
    VerifyOptions o;
    o.now = now;
    return o;
  }

  std::map<std::string, std::vector<SoftwareKey>> keys_;
  std::map<std::string, std::vector<std::string>> roles_;
  std::unique_ptr<SoftwareKey> outsider_;
  Manifest manifest_ = make_manifest("placeholder", "0");
};

// ---- the happy path ---------------------------------------------------------------------

TEST_F(VerifyTest, ApprovedWithThreeValidSignaturesOfMixedAlgorithms) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));  // ed25519, ecdsa-p256, ed25519
  VerifyReport r = verify_bundle(b, policy, at(kNow));
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.proposal_id, p.id());
  EXPECT_EQ(r.action, Action::kInstallModel);
  EXPECT_EQ(r.policy_domain, "acme-prod");
  EXPECT_EQ(r.policy_version, 1u);
  ASSERT_TRUE(r.rule.has_value());
  EXPECT_EQ(r.rule->threshold, 3u);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob", "carol"}));
  EXPECT_EQ(r.missing, (Ids{"dave", "erin"}));
  EXPECT_TRUE(r.missing_roles.empty());
  ASSERT_EQ(r.signatures.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.signatures[i].index, i);
    EXPECT_EQ(r.signatures[i].status, Status::kCounted);
    EXPECT_TRUE(r.signatures[i].reason.empty());
  }
  EXPECT_EQ(r.signatures[1].approver_id, "bob");
  EXPECT_EQ(r.signatures[1].key_id, keys_["bob"][0].public_key().id());

  const std::string text = r.to_text(policy);
  EXPECT_TRUE(Contains(text, "APPROVED: 3 approvals counted, 3 required")) << text;
  EXPECT_FALSE(Contains(text, "NOT APPROVED")) << text;
  EXPECT_TRUE(Contains(text, "counted      alice")) << text;
  EXPECT_TRUE(Contains(text, digest_to_string(p.id()))) << text;
}

TEST_F(VerifyTest, TwoSignaturesAreNotEnoughForThree) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  VerifyReport r = verify_bundle(bundle(p, sign_all({"dave", "erin"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_TRUE(Contains(r.failures[0].message, "2 of 3")) << r.failures[0].message;
  EXPECT_EQ(r.missing, (Ids{"alice", "bob", "carol"}));
  const std::string text = r.to_text(policy);
  EXPECT_TRUE(Contains(text, "NOT APPROVED: 2 approvals counted, 3 required")) << text;
  EXPECT_TRUE(Contains(text, "Still missing: alice, bob, carol")) << text;
}

TEST_F(VerifyTest, BundleSurvivesATextRoundTrip) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));
  auto again = Bundle::parse_text(b.to_json().dump(2));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->proposal().id(), p.id());
  EXPECT_EQ(again->subject_hash(), manifest_.hash());
  ASSERT_TRUE(again->manifest().has_value());
  EXPECT_EQ(again->manifest()->hash(), manifest_.hash());
  EXPECT_EQ(again->signatures().size(), 3u);
  EXPECT_TRUE(verify_bundle(*again, policy, at(kNow)).approved);
}

// ---- invalid signatures: reported with a reason, never counted --------------------------

TEST_F(VerifyTest, InvalidSignaturesAreReportedWithReasons) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Proposal other = proposal();  // same content, fresh nonce: another proposal id
  ASSERT_NE(other.id(), p.id());

  std::vector<SignatureFile> sigs = sign_all({"alice", "bob"}, p);
  sigs.push_back(sign("carol", other));                                             // #2 another proposal
  sigs.push_back(must(sign_proposal(*outsider_, p.id(), "mallory", kNow), "out"));  // #3 unknown key
  {                                                                                 // #4 tampered
    SignatureFile::Fields f = sign("dave", p).fields();
    f.signature.back() ^= 0x01;
    sigs.push_back(must(SignatureFile::create(f), "tampered"));
  }
  {  // #5 erin's valid Ed25519 signature relabelled as ecdsa-p256
    SignatureFile::Fields f = sign("erin", p).fields();
    f.alg = Alg::kEcdsaP256;
    sigs.push_back(must(SignatureFile::create(f), "alg mismatch"));
  }
  VerifyReport r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_EQ(r.counted, (Ids{"alice", "bob"}));
  EXPECT_EQ(r.missing, (Ids{"carol", "dave", "erin"}));
  ASSERT_EQ(r.signatures.size(), 6u);

  const SignatureVerdict& another = r.signatures[2];
  EXPECT_EQ(another.status, Status::kInvalid);
  EXPECT_EQ(another.approver_id, "carol");
  EXPECT_TRUE(Contains(another.reason, digest_to_string(other.id()))) << another.reason;
  EXPECT_TRUE(Contains(another.reason, "not this one")) << another.reason;

  const SignatureVerdict& unknown = r.signatures[3];
  EXPECT_EQ(unknown.status, Status::kInvalid);
  EXPECT_EQ(unknown.approver_id, "");
  EXPECT_EQ(unknown.key_id, outsider_->public_key().id());
  EXPECT_TRUE(Contains(unknown.reason, outsider_->public_key().id().substr(0, 16))) << unknown.reason;
  EXPECT_TRUE(Contains(unknown.reason, "not in policy version 1")) << unknown.reason;

  const SignatureVerdict& tampered = r.signatures[4];
  EXPECT_EQ(tampered.status, Status::kInvalid);
  EXPECT_EQ(tampered.approver_id, "dave");
  EXPECT_FALSE(tampered.reason.empty());

  const SignatureVerdict& mismatch = r.signatures[5];
  EXPECT_EQ(mismatch.status, Status::kInvalid);
  EXPECT_EQ(mismatch.approver_id, "erin");
  EXPECT_TRUE(Contains(mismatch.reason, "ecdsa-p256")) << mismatch.reason;
  EXPECT_TRUE(Contains(mismatch.reason, "ed25519")) << mismatch.reason;

  const std::string text = r.to_text(policy);
  EXPECT_TRUE(Contains(text, "NOT APPROVED: 2 approvals counted, 3 required")) << text;
  EXPECT_TRUE(Contains(text, "signature #3 by carol: signature is for proposal")) << text;
  EXPECT_TRUE(Contains(text, "signature #4: key ")) << text;
  EXPECT_TRUE(Contains(text, "signature #5 by dave")) << text;
  EXPECT_TRUE(Contains(text, "Still missing: carol, dave, erin")) << text;
  EXPECT_TRUE(Contains(text, "- threshold: 2 of 3")) << text;
}

TEST_F(VerifyTest, SignatureOverAnotherProposalDoesNotVerifyEvenIfRelabelled) {
  // A signature made for proposal B, with its "proposal" field rewritten to A.
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Proposal other = proposal();
  SignatureFile::Fields f = sign("carol", other).fields();
  f.proposal = p.id();
  std::vector<SignatureFile> sigs = sign_all({"alice", "bob"}, p);
  sigs.push_back(must(SignatureFile::create(f), "relabelled"));
  VerifyReport r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.signatures[2].status, Status::kInvalid);
  EXPECT_TRUE(Contains(r.signatures[2].reason, "does not verify")) << r.signatures[2].reason;
}

TEST_F(VerifyTest, TwoKeysOfOneApproverCountOnce) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  std::vector<SignatureFile> sigs{sign("alice", p, 0), sign("alice", p, 1), sign("bob", p)};
  VerifyReport r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob"}));
  ASSERT_EQ(r.signatures.size(), 3u);
  EXPECT_EQ(r.signatures[1].status, Status::kDuplicate);
  EXPECT_EQ(r.signatures[1].approver_id, "alice");
  EXPECT_TRUE(Contains(r.signatures[1].reason, "already counted")) << r.signatures[1].reason;
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_TRUE(Contains(r.to_text(policy), "duplicate")) << r.to_text(policy);

  // The very same signature file twice is one vote too.
  sigs = {sign("carol", p), sign("carol", p), sign("dave", p)};
  r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.counted, (Ids{"carol", "dave"}));

  sigs = {sign("alice", p, 0), sign("alice", p, 1), sign("bob", p), sign("carol", p)};
  r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob", "carol"}));
}

// ---- proposal-level checks ----------------------------------------------------------------

TEST_F(VerifyTest, DomainMismatch) {
  Policy policy = policy_3_of_5();
  Proposal p = make_proposal(manifest_.hash(), Action::kInstallModel, "acme-staging");
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "bob", "carol"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"domain"});
  EXPECT_TRUE(Contains(r.failures[0].message, "\"acme-staging\"")) << r.failures[0].message;
  EXPECT_TRUE(Contains(r.failures[0].message, "\"acme-prod\"")) << r.failures[0].message;
}

TEST_F(VerifyTest, BoxList) {
  Policy policy = policy_3_of_5();
  Proposal p =
      make_proposal(manifest_.hash(), Action::kInstallModel, "acme-prod", Ids{"box-7f3a", "box-91c2"});
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));
  VerifyOptions o = at(kNow);
  o.box_id = "box-0000";
  VerifyReport r = verify_bundle(b, policy, o);
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"box"});
  EXPECT_TRUE(Contains(r.failures[0].message, "box-0000")) << r.failures[0].message;
  EXPECT_TRUE(Contains(r.failures[0].message, "box-7f3a")) << r.failures[0].message;

  o.box_id = "box-91c2";
  EXPECT_TRUE(verify_bundle(b, policy, o).approved);
  // Without a box id (an auditor's laptop) the box list is not checked.
  EXPECT_TRUE(verify_bundle(b, policy, at(kNow)).approved);
}

TEST_F(VerifyTest, ExpiredAndApprovedAsOfAnEarlierTime) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));
  VerifyReport r = verify_bundle(b, policy, at(p.expires() + kDay));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"expired"});
  EXPECT_TRUE(Contains(r.failures[0].message, format_rfc3339(p.expires()))) << r.failures[0].message;
  EXPECT_EQ(r.counted.size(), 3u);  // the signatures themselves are fine

  EXPECT_EQ(checks(verify_bundle(b, policy, at(p.expires()))), Ids{"expired"});  // expiry instant is expired
  EXPECT_TRUE(verify_bundle(b, policy, at(p.expires() - 1)).approved);
  EXPECT_TRUE(verify_bundle(b, policy, at(kNow)).approved);  // like --at before expiry
}

TEST_F(VerifyTest, CreatedInTheFutureBeyondSkew) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));
  VerifyReport r = verify_bundle(b, policy, at(p.created() - 301));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"not-yet-valid"});
  EXPECT_TRUE(Contains(r.failures[0].message, format_rfc3339(p.created()))) << r.failures[0].message;
  EXPECT_TRUE(verify_bundle(b, policy, at(p.created() - 300)).approved);  // within the default 300 s
  VerifyOptions strict = at(p.created() - 1);
  strict.skew_seconds = 0;
  EXPECT_EQ(checks(verify_bundle(b, policy, strict)), Ids{"not-yet-valid"});
}

TEST_F(VerifyTest, Replayed) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "carol"}, p));
  std::vector<Digest> asked;
  VerifyOptions o = at(kNow);
  o.already_executed = [&](const Digest& id) {
    asked.push_back(id);
    return id == p.id();
  };
  VerifyReport r = verify_bundle(b, policy, o);
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"replayed"});
  EXPECT_TRUE(Contains(r.failures[0].message, digest_to_string(p.id()))) << r.failures[0].message;
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked[0], p.id());

  o.already_executed = [](const Digest&) { return false; };
  EXPECT_TRUE(verify_bundle(b, policy, o).approved);
}

TEST_F(VerifyTest, ManifestHashMismatch) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  Manifest swapped = make_manifest("gemma-backdoored", "1");
  Bundle b = bundle(p, swapped.to_json(), sign_all({"alice", "bob", "carol"}, p));
  VerifyReport r = verify_bundle(b, policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"manifest-hash"});
  EXPECT_TRUE(Contains(r.failures[0].message, digest_to_string(swapped.hash()))) << r.failures[0].message;
  EXPECT_TRUE(Contains(r.failures[0].message, digest_to_string(manifest_.hash()))) << r.failures[0].message;
}

TEST_F(VerifyTest, NoRuleForTheAction) {
  Policy policy = must(Policy::parse(policy_doc({{"install-model", {{"threshold", 3}}}})), "policy");
  Proposal p = make_proposal(manifest_.hash(), Action::kRemoveModel);
  VerifyReport r =
      verify_bundle(bundle(p, sign_all({"alice", "bob", "carol", "dave", "erin"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"no-rule"});
  EXPECT_TRUE(Contains(r.failures[0].message, "remove-model")) << r.failures[0].message;
  EXPECT_FALSE(r.rule.has_value());
  EXPECT_TRUE(r.to_json()["rule"].is_null());
}

TEST_F(VerifyTest, FailuresComeInDesignOrder) {
  Policy policy = policy_3_of_5();
  Proposal p = make_proposal(manifest_.hash(), Action::kInstallModel, "acme-staging", Ids{"box-1"});
  Bundle b = bundle(p, make_manifest("other", "2").to_json(), sign_all({"alice"}, p));
  VerifyOptions o = at(p.expires() + 1);
  o.box_id = "box-2";
  o.already_executed = [](const Digest&) { return true; };
  VerifyReport r = verify_bundle(b, policy, o);
  EXPECT_EQ(checks(r), (Ids{"manifest-hash", "domain", "box", "expired", "replayed", "threshold"}));
}

// ---- rules: of, require_roles, require_attestation ----------------------------------------

TEST_F(VerifyTest, OfRestriction) {
  Policy policy = must(
      Policy::parse(policy_doc({{"install-model", {{"threshold", 2}, {"of", {"alice", "bob", "carol"}}}}})),
      "policy");
  Proposal p = proposal();
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "dave", "erin"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_EQ(r.counted, Ids{"alice"});
  EXPECT_EQ(r.missing, (Ids{"bob", "carol"}));
  ASSERT_EQ(r.signatures.size(), 3u);
  EXPECT_EQ(r.signatures[1].status, Status::kNotAllowed);
  EXPECT_EQ(r.signatures[1].approver_id, "dave");
  EXPECT_TRUE(Contains(r.signatures[1].reason, "\"dave\"")) << r.signatures[1].reason;
  EXPECT_EQ(r.signatures[2].status, Status::kNotAllowed);
  EXPECT_TRUE(Contains(r.to_text(policy), "not-allowed")) << r.to_text(policy);
  EXPECT_EQ(r.to_json()["signatures"][1]["status"], "not-allowed");
  EXPECT_EQ(r.to_json()["rule"]["of"], json({"alice", "bob", "carol"}));

  r = verify_bundle(bundle(p, sign_all({"alice", "dave", "carol"}, p)), policy, at(kNow));
  EXPECT_TRUE(r.approved) << r.to_text(policy);
}

TEST_F(VerifyTest, RequireRolesMissing) {
  Policy policy =
      must(Policy::parse(policy_doc(
               {{"install-model", {{"threshold", 2}, {"require_roles", json::array({"compliance"})}}}})),
           "policy");
  Proposal p = proposal();
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "carol", "dave"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"roles"});  // the threshold itself is met
  EXPECT_EQ(r.missing_roles, Ids{"compliance"});
  EXPECT_TRUE(Contains(r.failures[0].message, "compliance")) << r.failures[0].message;
  EXPECT_EQ(r.to_json()["missing_roles"], json::array({"compliance"}));

  r = verify_bundle(bundle(p, sign_all({"alice", "bob"}, p)), policy, at(kNow));
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  EXPECT_TRUE(r.missing_roles.empty());
}

TEST_F(VerifyTest, RequireAttestationWithoutVerifierFailsClosed) {
  json doc = policy_doc({{"install-model", {{"threshold", 2}, {"require_attestation", true}}}});
  json att{{"format", "yubikey-piv"},
           {"certificates", json::array({base64_encode(Bytes{0x30, 0x03, 0x02, 0x01, 0x01})})}};
  for (std::size_t i : {0u, 1u, 2u})
    doc["approvers"][i]["keys"][0]["attestation"] = att;  // alice, bob, carol
  Policy policy = must(Policy::parse(doc), "policy");
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice", "bob", "dave"}, p));

  VerifyReport r = verify_bundle(b, policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_TRUE(r.counted.empty());
  ASSERT_EQ(r.signatures.size(), 3u);
  for (const auto& v : r.signatures) {
    EXPECT_EQ(v.status, Status::kNotAttested) << v.approver_id;
    EXPECT_TRUE(Contains(v.reason, "attestation")) << v.reason;
  }
  EXPECT_TRUE(Contains(r.signatures[2].reason, "carries no attestation")) << r.signatures[2].reason;
  EXPECT_EQ(r.to_json()["signatures"][0]["status"], "not-attested");

  VerifyOptions o = at(kNow);
  o.attestation_verified = [](const PolicyKey& k) { return k.attestation.has_value(); };
  r = verify_bundle(b, policy, o);
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob"}));
  EXPECT_EQ(r.signatures[2].status, Status::kNotAttested);
  EXPECT_EQ(r.missing, Ids{"carol"});  // dave could never count
}

// ---- report JSON --------------------------------------------------------------------------

TEST_F(VerifyTest, ReportJsonHasTheDocumentedFields) {
  Policy policy = policy_3_of_5();
  Proposal p = proposal();
  std::vector<SignatureFile> sigs = sign_all({"alice", "bob"}, p);
  sigs.push_back(must(sign_proposal(*outsider_, p.id(), std::nullopt, kNow), "outsider"));
  json j = verify_bundle(bundle(p, sigs), policy, at(kNow)).to_json();
  EXPECT_EQ(j["approved"], false);
  EXPECT_EQ(j["proposal"], digest_to_string(p.id()));
  EXPECT_EQ(j["action"], "install-model");
  EXPECT_EQ(j["policy"], json({{"domain", "acme-prod"}, {"version", 1}}));
  EXPECT_EQ(j["rule"]["threshold"], 3);
  EXPECT_EQ(j["rule"]["require_attestation"], false);
  ASSERT_EQ(j["failures"].size(), 1u);
  EXPECT_EQ(j["failures"][0]["check"], "threshold");
  EXPECT_TRUE(j["failures"][0]["message"].is_string());
  ASSERT_EQ(j["signatures"].size(), 3u);
  EXPECT_EQ(j["signatures"][0]["index"], 0);
  EXPECT_EQ(j["signatures"][0]["key"], keys_["alice"][0].public_key().id());
  EXPECT_EQ(j["signatures"][0]["approver"], "alice");
  EXPECT_EQ(j["signatures"][0]["status"], "counted");
  EXPECT_FALSE(j["signatures"][0].contains("reason"));
  EXPECT_TRUE(j["signatures"][2]["approver"].is_null());
  EXPECT_EQ(j["signatures"][2]["status"], "invalid");
  EXPECT_TRUE(j["signatures"][2]["reason"].is_string());
  EXPECT_EQ(j["counted"], json({"alice", "bob"}));
  EXPECT_EQ(j["missing"], json({"carol", "dave", "erin"}));
  EXPECT_EQ(j["missing_roles"], json::array());
  EXPECT_FALSE(j.contains("under_new_policy"));
}

// ---- FIDO2 ----------------------------------------------------------------------------------

class VerifyFido2Test : public VerifyTest {
 protected:
  Policy policy_with_yuki(bool uv) const {
    json doc = policy_doc({{"install-model", {{"threshold", 3}}}});
    json key{{"alg", "fido2-es256"},
             {"public_key", base64_encode(yuki_.spki())},
             {"credential_id", base64_encode(Bytes{0xca, 0xfe, 0x01})},
             {"uv", uv}};
    json yuki;
    yuki["id"] = "yuki";
    yuki["keys"] = json::array({key});
    doc["approvers"].push_back(yuki);
    return must(Policy::parse(doc), "policy with a FIDO2 key");
  }
  VerifyReport verify_with(const Policy& policy, const Proposal& p, const Bytes& auth_data) {
    std::vector<SignatureFile> sigs = sign_all({"alice", "bob"}, p);
    sigs.push_back(yuki_.sign(p.id(), auth_data));
    return verify_bundle(bundle(p, sigs), policy, at(kNow));
  }
  Fido2Authenticator yuki_;
};

TEST_F(VerifyFido2Test, AssertionWithUserVerificationCounts) {
  Policy policy = policy_with_yuki(true);
  Proposal p = proposal();
  VerifyReport r = verify_with(policy, p, Fido2Authenticator::auth_data("countersign", kUp | kUv));
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob", "yuki"}));
  EXPECT_EQ(r.signatures[2].key_id, yuki_.key_id());
}

TEST_F(VerifyFido2Test, UvRequiredRejectsAssertionWithoutUv) {
  Policy policy = policy_with_yuki(true);
  Proposal p = proposal();
  VerifyReport r = verify_with(policy, p, Fido2Authenticator::auth_data("countersign", kUp));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.counted, (Ids{"alice", "bob"}));
  EXPECT_EQ(r.signatures[2].status, Status::kInvalid);
  EXPECT_EQ(r.signatures[2].approver_id, "yuki");
  EXPECT_TRUE(Contains(r.signatures[2].reason, "UV")) << r.signatures[2].reason;

  // The same touch-only assertion is fine where the policy key does not ask for uv.
  Policy lenient = policy_with_yuki(false);
  EXPECT_TRUE(verify_with(lenient, p, Fido2Authenticator::auth_data("countersign", kUp)).approved);
}

TEST_F(VerifyFido2Test, WrongRelyingPartyOrNoUserPresenceIsInvalid) {
  Policy policy = policy_with_yuki(false);
  Proposal p = proposal();
  VerifyReport r = verify_with(policy, p, Fido2Authenticator::auth_data("example.com", kUp | kUv));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.signatures[2].status, Status::kInvalid);
  EXPECT_TRUE(Contains(r.signatures[2].reason, "relying party")) << r.signatures[2].reason;

  r = verify_with(policy, p, Fido2Authenticator::auth_data("countersign", kUv));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.signatures[2].status, Status::kInvalid);
  EXPECT_TRUE(Contains(r.signatures[2].reason, "presence")) << r.signatures[2].reason;
}

TEST_F(VerifyFido2Test, TamperedAuthenticatorDataIsInvalid) {
  Policy policy = policy_with_yuki(false);
  Proposal p = proposal();
  SignatureFile::Fields f = yuki_.sign(p.id(), Fido2Authenticator::auth_data("countersign", kUp)).fields();
  f.authenticator_data[f.authenticator_data.size() - 1] ^= 0x01;  // change the signature counter
  std::vector<SignatureFile> sigs = sign_all({"alice", "bob"}, p);
  sigs.push_back(must(SignatureFile::create(f), "tampered"));
  VerifyReport r = verify_bundle(bundle(p, sigs), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(r.signatures[2].status, Status::kInvalid);
}

// ---- bundle shape -------------------------------------------------------------------------

TEST_F(VerifyTest, BundleRejectsBadShape) {
  Proposal p = proposal();
  Bundle b = bundle(p, sign_all({"alice"}, p));
  json j = b.to_json();
  j["schema"] = "countersign/bundle/v9";
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kUnknownSchema, {"countersign/bundle/v9"}));
  j = b.to_json();
  j["policy"] = json::object();
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kInvalidDocument, {"bundle /policy", "unknown field"}));
  j = b.to_json();
  j["signatures"].push_back(j["signatures"][0]);
  j["signatures"][1]["key"] = "ABC";
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kInvalidDocument, {"/signatures/1", "/key"}));
  j = b.to_json();
  j["proposal"]["nonce"] = "AA==";
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kInvalidDocument, {"/proposal", "/nonce"}));
  j = b.to_json();
  j["manifest"]["files"][0]["path"] = "../x";
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kInvalidDocument, {"/manifest", "/files/0/path"}));
  j = b.to_json();
  j.erase("signatures");
  EXPECT_TRUE(FailsWith(Bundle::parse(j), Errc::kInvalidDocument, {"/signatures", "missing"}));
}

TEST_F(VerifyTest, BundleSubjectMustFitTheAction) {
  Policy policy = policy_3_of_5();
  Proposal rotate = make_proposal(policy.hash(), Action::kRotatePolicy);
  EXPECT_TRUE(FailsWith(Bundle::create(rotate, manifest_.to_json(), {}), Errc::kInvalidDocument,
                        {"/manifest", "countersign/policy/v1"}));
  Proposal install = proposal();
  EXPECT_TRUE(FailsWith(Bundle::create(install, policy.to_json(), {}), Errc::kUnknownSchema, {"manifest"}));
}

// ---- rotation -------------------------------------------------------------------------------

class RotationTest : public VerifyTest {
 protected:
  Policy current() const { return policy_3_of_5(); }
  json next(const Ids& ids, std::uint64_t version = 2, const std::string& domain = "acme-prod") const {
    return policy_doc({{"install-model", {{"threshold", 3}}}, {"rotate-policy", {{"threshold", 3}}}}, ids,
                      version, domain);
  }
  VerifyReport rotate(const json& new_policy, const Ids& signers) {
    Digest h = must(jcs::hash(new_policy), "hash of the new policy");
    Proposal p = make_proposal(h, Action::kRotatePolicy);
    return verify_bundle(bundle(p, new_policy, sign_all(signers, p)), current(), at(kNow));
  }
};

TEST_F(RotationTest, NextVersionApprovedUnderBothPolicies) {
  json np = next({"alice", "bob", "carol", "dave", "frank"});
  VerifyReport r = rotate(np, {"alice", "bob", "carol"});
  EXPECT_TRUE(r.approved) << r.to_text(current());
  EXPECT_EQ(r.action, Action::kRotatePolicy);
  ASSERT_EQ(r.under_new_policy.size(), 1u);
  EXPECT_TRUE(r.under_new_policy[0].approved);
  EXPECT_EQ(r.under_new_policy[0].policy_version, 2u);
  EXPECT_EQ(r.under_new_policy[0].counted, (Ids{"alice", "bob", "carol"}));
  json j = r.to_json();
  ASSERT_TRUE(j.contains("under_new_policy"));
  EXPECT_EQ(j["under_new_policy"]["approved"], true);
  EXPECT_EQ(j["under_new_policy"]["policy"]["version"], 2);
}

TEST_F(RotationTest, VersionMustGoUpByExactlyOne) {
  VerifyReport r = rotate(next({"alice", "bob", "carol", "dave", "erin"}, 3), {"alice", "bob", "carol"});
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"rotation-version"});
  EXPECT_TRUE(Contains(r.failures[0].message, "only version 2")) << r.failures[0].message;

  r = rotate(next({"alice", "bob", "carol", "dave", "erin"}, 1), {"alice", "bob", "carol"});
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"rotation-version"});
  EXPECT_TRUE(Contains(r.failures[0].message, "older or equal")) << r.failures[0].message;
}

TEST_F(RotationTest, DomainMustStayTheSame) {
  VerifyReport r =
      rotate(next({"alice", "bob", "carol", "dave", "erin"}, 2, "acme-staging"), {"alice", "bob", "carol"});
  EXPECT_FALSE(r.approved);
  ASSERT_NE(failure(r, "rotation-domain"), nullptr) << ::testing::PrintToString(checks(r));
  EXPECT_TRUE(Contains(failure(r, "rotation-domain")->message, "acme-staging"));
}

TEST_F(RotationTest, NewPolicysOwnThresholdMustBeMet) {
  // The new policy keeps alice and bob and brings frank, gina and hank: carol and dave,
  // enough under version 1, are strangers to version 2.
  json np = next({"alice", "bob", "frank", "gina", "hank"});
  VerifyReport r = rotate(np, {"alice", "bob", "carol", "dave"});
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"rotation-new-policy"});
  EXPECT_EQ(r.counted.size(), 4u);
  ASSERT_EQ(r.under_new_policy.size(), 1u);
  EXPECT_FALSE(r.under_new_policy[0].approved);
  EXPECT_EQ(r.under_new_policy[0].counted, (Ids{"alice", "bob"}));
  EXPECT_TRUE(Contains(failure(r, "rotation-new-policy")->message, "2 of 3"))
      << failure(r, "rotation-new-policy")->message;

  // frank's signature counts only under the new policy; with it both are met.
  r = rotate(np, {"alice", "bob", "carol", "frank"});
  EXPECT_TRUE(r.approved) << r.to_text(current());
}

TEST_F(RotationTest, OldPolicysThresholdMustBeMetToo) {
  json np = next({"alice", "frank", "gina", "hank", "bob"});
  VerifyReport r = rotate(np, {"frank", "gina", "hank"});
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  EXPECT_TRUE(r.under_new_policy[0].approved);
}

// ---- governance: veto and no self-approval (DESIGN.md "Policy") ---------------------------

class GovernanceTest : public VerifyTest {
 protected:
  // install-model: 3 of 5, two vetoes end it; rotate-policy: 3 of 5.
  Policy veto_policy(json install_rule = {{"threshold", 3}, {"veto", 2}}) const {
    return must(Policy::parse(policy_doc(
                    {{"install-model", std::move(install_rule)}, {"rotate-policy", {{"threshold", 3}}}})),
                "veto policy");
  }
  SignatureFile veto(const std::string& id, const Proposal& p) {
    return must(sign_statement(keys_.at(id).at(0), Statement::kVeto, p.id(), id, kNow), "veto");
  }
  Proposal proposed_by(const std::string& proposer) const {
    Proposal::Fields f = proposal().fields();
    f.nonce.clear();
    f.proposer = proposer;
    return must(Proposal::create(std::move(f)), "proposal with proposer");
  }
};

TEST_F(GovernanceTest, TwoVetoesEndAProposalEvenWithTheThresholdMet) {
  Policy policy = veto_policy();
  Proposal p = proposal();
  VerifyOptions o = at(kNow);
  o.vetoes = {veto("dave", p)};
  // One veto of two: still approved, and the veto is reported.
  VerifyReport one = verify_bundle(bundle(p, sign_all({"alice", "bob", "carol"}, p)), policy, o);
  EXPECT_TRUE(one.approved) << one.to_text(policy);
  EXPECT_EQ(one.vetoed_by, Ids{"dave"});
  EXPECT_FALSE(one.vetoed);
  // The second veto, carried in the bundle itself this time: dead.
  VerifyReport two = verify_bundle(
      bundle(p, {sign("alice", p), sign("bob", p), sign("carol", p), veto("erin", p)}), policy, o);
  EXPECT_FALSE(two.approved);
  EXPECT_TRUE(two.vetoed);
  EXPECT_EQ(checks(two), Ids{"vetoed"});
  EXPECT_EQ(two.vetoed_by, (Ids{"erin", "dave"}));
  EXPECT_EQ(two.counted, (Ids{"alice", "bob", "carol"}));  // the approvals are valid, and dead
  const std::string text = two.to_text(policy);
  EXPECT_TRUE(Contains(text, "VETOED: 2 of 2 vetoes (erin, dave): this proposal is dead")) << text;
  EXPECT_EQ(two.to_json()["vetoed"], true);
  EXPECT_EQ(two.to_json()["rule"]["veto"], 2);
}

TEST_F(GovernanceTest, AVetoBeforeTheThresholdIsReachedAlsoEndsIt) {
  Policy policy = veto_policy({{"threshold", 3}, {"veto", 1}});
  Proposal p = proposal();
  VerifyOptions o = at(kNow);
  o.vetoes = {veto("bob", p)};
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice"}, p)), policy, o);
  EXPECT_TRUE(r.vetoed);
  EXPECT_EQ(checks(r), (Ids{"vetoed", "threshold"}));
}

TEST_F(GovernanceTest, AVetoByAKeyNotInThePolicyDoesNotCount) {
  Policy policy = veto_policy({{"threshold", 3}, {"veto", 1}});
  Proposal p = proposal();
  VerifyOptions o = at(kNow);
  o.vetoes = {must(sign_statement(*outsider_, Statement::kVeto, p.id(), "mallory", kNow), "outsider veto")};
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "bob", "carol"}, p)), policy, o);
  EXPECT_TRUE(r.approved) << r.to_text(policy);
  ASSERT_EQ(r.vetoes.size(), 1u);
  EXPECT_EQ(r.vetoes[0].status, Status::kInvalid);
  EXPECT_TRUE(Contains(r.vetoes[0].reason, "is not in policy version 1")) << r.vetoes[0].reason;
  EXPECT_TRUE(Contains(r.to_text(policy), "veto invalid")) << r.to_text(policy);
}

TEST_F(GovernanceTest, AVetoByAnApproverTheRuleDoesNotAllowDoesNotCount) {
  Policy policy = veto_policy({{"threshold", 2}, {"veto", 1}, {"of", {"alice", "bob", "carol"}}});
  Proposal p = proposal();
  VerifyOptions o = at(kNow);
  o.vetoes = {veto("erin", p), veto("erin", p)};
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "bob"}, p)), policy, o);
  EXPECT_TRUE(r.approved);
  ASSERT_EQ(r.vetoes.size(), 2u);
  EXPECT_EQ(r.vetoes[0].status, Status::kNotAllowed);
  EXPECT_TRUE(Contains(r.vetoes[0].reason, "may veto install-model")) << r.vetoes[0].reason;
}

TEST_F(GovernanceTest, AVetoIsNeverAnApprovalNorTheReverse) {
  Policy policy = veto_policy({{"threshold", 1}, {"veto", 1}});
  Proposal p = proposal();
  // A veto whose schema was edited to pass for an approval: its signature is over the veto's
  // signing input, so as an approval it does not verify, and nothing is vetoed either.
  json forged = veto("alice", p).to_json();
  forged["schema"] = "countersign/signature/v1";
  SignatureFile as_approval = must(SignatureFile::parse(forged), "edited veto");
  VerifyReport r = verify_bundle(bundle(p, {as_approval}), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  ASSERT_EQ(r.signatures.size(), 1u);
  EXPECT_EQ(r.signatures[0].status, Status::kInvalid);
  EXPECT_TRUE(r.vetoes.empty());
  // And an approval edited into a veto kills nothing.
  json approval = sign("bob", p).to_json();
  approval["schema"] = "countersign/veto/v1";
  VerifyOptions o = at(kNow);
  o.vetoes = {must(SignatureFile::parse(approval), "edited approval")};
  VerifyReport v = verify_bundle(bundle(p, {sign("alice", p)}), policy, o);
  EXPECT_TRUE(v.approved) << v.to_text(policy);
  ASSERT_EQ(v.vetoes.size(), 1u);
  EXPECT_EQ(v.vetoes[0].status, Status::kInvalid);
  EXPECT_FALSE(v.vetoed);
}

TEST_F(GovernanceTest, TheSigningInputsOfTheThreeStatementsDiffer) {
  const Digest d = sha256(std::string_view("p"));
  const SigningInput veto_input = signing_input(Statement::kVeto, d);
  EXPECT_EQ(veto_input.size(), 52u);  // "countersign/veto/v1" || 0x00 || digest
  EXPECT_EQ(std::string(as_chars(ByteView(veto_input).first(20))), std::string("countersign/veto/v1\0", 20));
  EXPECT_EQ(std::string(as_chars(ByteView(signing_input(Statement::kLiveness, d)).first(23))),
            "countersign/liveness/v1");
  EXPECT_NE(signing_input(Statement::kApproval, d), veto_input);
}

TEST_F(GovernanceTest, VetoesInAPolicyMustBeReachable) {
  auto r = Policy::parse(
      policy_doc({{"install-model", {{"threshold", 1}, {"veto", 3}, {"of", {"alice", "bob"}}}}}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "/rules/install-model/veto")) << r.error().message;
  EXPECT_TRUE(Contains(r.error().message, "veto 3 can never be reached")) << r.error().message;
  auto zero = Policy::parse(policy_doc({{"install-model", {{"threshold", 1}, {"veto", 0}}}}));
  ASSERT_FALSE(zero.ok());
  EXPECT_TRUE(Contains(zero.error().message, "must be at least 1")) << zero.error().message;
}

TEST_F(GovernanceTest, TheProposersOwnSignatureDoesNotCountWhereTheRuleSaysSo) {
  Policy policy = veto_policy({{"threshold", 3}, {"exclude_proposer", true}});
  Proposal p = proposed_by("alice");
  EXPECT_EQ(p.to_json()["proposer"], "alice");
  VerifyReport r = verify_bundle(bundle(p, sign_all({"alice", "bob", "carol"}, p)), policy, at(kNow));
  EXPECT_FALSE(r.approved);
  EXPECT_EQ(checks(r), Ids{"threshold"});
  ASSERT_EQ(r.signatures.size(), 3u);
  EXPECT_EQ(r.signatures[0].status, Status::kProposer);  // reported as such, not as invalid
  EXPECT_TRUE(Contains(r.signatures[0].reason, "proposed this")) << r.signatures[0].reason;
  EXPECT_EQ(r.missing, (Ids{"dave", "erin"}));  // alice is not "missing": she cannot count
  EXPECT_TRUE(Contains(r.to_text(policy), "proposer     signature #1 by alice")) << r.to_text(policy);
  // A third approver besides her makes it.
  VerifyReport ok =
      verify_bundle(bundle(p, sign_all({"alice", "bob", "carol", "dave"}, p)), policy, at(kNow));
  EXPECT_TRUE(ok.approved) << ok.to_text(policy);
  // Without exclude_proposer her signature counts as any other.
  VerifyReport plain =
      verify_bundle(bundle(p, sign_all({"alice", "bob", "carol"}, p)), veto_policy(), at(kNow));
  EXPECT_TRUE(plain.approved);
}

TEST_F(GovernanceTest, ExcludingTheProposerMustLeaveTheThresholdReachable) {
  auto r = Policy::parse(policy_doc({{"install-model", {{"threshold", 5}, {"exclude_proposer", true}}}}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "not the proposer among them")) << r.error().message;
}

TEST_F(GovernanceTest, AProposerMustBeAName) {
  Proposal::Fields f = proposal().fields();
  f.nonce.clear();
  f.proposer = "alice\x1b[2K";
  auto r = Proposal::create(std::move(f));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "/proposer")) << r.error().message;
}

}  // namespace
}  // namespace countersign
