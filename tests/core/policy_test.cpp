#include "core/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/jcs.h"
#include "core/software_key.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::FailsWith;
using nlohmann::json;

// Public key entries of freshly generated software keys (the private halves are dropped).
json key_entry(Alg alg) {
  auto k = SoftwareKey::generate(alg);
  EXPECT_TRUE(k.ok());
  return json{{"alg", alg_name(alg)}, {"public_key", base64_encode(k->public_key().spki())}};
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) keys_.push_back(key_entry(i % 2 == 0 ? Alg::kEd25519 : Alg::kEcdsaP256));
  }

  // 5 approvers; alice engineering, bob compliance; install 3, remove 2, rotate 4 + compliance.
  json doc() const {
    const char* ids[] = {"alice", "bob", "carol", "dave", "erin"};
    json approvers = json::array();
    for (int i = 0; i < 5; ++i) {
      json a{{"id", ids[i]}, {"keys", json::array({keys_[static_cast<std::size_t>(i)]})}};
      if (i == 0) a["roles"] = json::array({"engineering"});
      if (i == 1) a["roles"] = json::array({"compliance"});
      if (i == 0) a["name"] = "Alice Chen, CTO";
      approvers.push_back(a);
    }
    return json{{"schema", "countersign/policy/v1"},
                {"domain", "acme-prod"},
                {"version", 3},
                {"approvers", approvers},
                {"rules",
                 {{"install-model", {{"threshold", 3}}},
                  {"remove-model", {{"threshold", 2}, {"of", {"alice", "bob", "carol"}}}},
                  {"rotate-policy", {{"threshold", 4}, {"require_roles", json::array({"compliance"})}}}}}};
  }

  std::vector<json> keys_;
};

TEST_F(PolicyTest, ParsesValidPolicy) {
  auto p = Policy::parse(doc());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->domain(), "acme-prod");
  EXPECT_EQ(p->version(), 3u);
  ASSERT_EQ(p->approvers().size(), 5u);
  EXPECT_EQ(p->approvers()[0].name, "Alice Chen, CTO");
  EXPECT_EQ(p->approvers()[1].name, "bob");  // defaults to the id
  EXPECT_TRUE(p->approvers()[1].has_role("compliance"));
  EXPECT_FALSE(p->approvers()[2].has_role("compliance"));

  const Rule* install = p->rule_for(Action::kInstallModel);
  ASSERT_NE(install, nullptr);
  EXPECT_EQ(install->threshold, 3u);
  EXPECT_TRUE(install->allows("erin"));
  const Rule* remove = p->rule_for(Action::kRemoveModel);
  ASSERT_NE(remove, nullptr);
  EXPECT_TRUE(remove->allows("carol"));
  EXPECT_FALSE(remove->allows("dave"));
  EXPECT_EQ(p->rule_for(Action::kRestoreSnapshot), nullptr);
  EXPECT_EQ(p->rule_for(Action::kRotatePolicy)->require_roles, std::vector<std::string>{"compliance"});

  auto spki = base64_decode(keys_[3]["public_key"].get<std::string>());
  const std::string id = hex_encode(sha256(*spki));
  auto ref = p->find_key(id);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->approver->id, "dave");
  EXPECT_EQ(ref->key->key.alg(), Alg::kEcdsaP256);
  EXPECT_FALSE(p->find_key(std::string(64, '0')).has_value());
  EXPECT_EQ(p->find_approver("erin")->id, "erin");
  EXPECT_EQ(p->find_approver("mallory"), nullptr);
}

TEST_F(PolicyTest, HashIsJcsHashAndStable) {
  auto p = Policy::parse(doc());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->hash(), sha256(*jcs::serialize(doc())));
  auto pretty = Policy::parse_text(doc().dump(4));
  ASSERT_TRUE(pretty.ok()) << pretty.error().message;
  EXPECT_EQ(pretty->hash(), p->hash());
  auto again = Policy::parse(p->to_json());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->hash(), p->hash());
}

TEST_F(PolicyTest, KeyEntryRoundTrips) {
  auto p = Policy::parse(doc());
  ASSERT_TRUE(p.ok());
  json back = policy_key_to_json(p->approvers()[1].keys[0]);
  EXPECT_EQ(back, keys_[1]);
}

// ---- rejections ---------------------------------------------------------------------------

TEST_F(PolicyTest, RejectsUnknownSchemaAndFields) {
  json d = doc();
  d["schema"] = "countersign/policy/v2";
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kUnknownSchema, {"countersign/policy/v2"}));
  d = doc();
  d["expires"] = "never";
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"policy /expires", "unknown field"}));
  d = doc();
  d["approvers"][2]["email"] = "carol@example.com";
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/2/email", "unknown field"}));
  d = doc();
  d["approvers"][0]["keys"][0]["slot"] = "9c";
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/0/keys/0/slot", "unknown field"}));
  d = doc();
  d["rules"]["install-model"]["quorum"] = 2;
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/install-model/quorum", "unknown field"}));
}

TEST_F(PolicyTest, RejectsThresholdZero) {
  json d = doc();
  d["rules"]["install-model"]["threshold"] = 0;
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/install-model/threshold", "at least 1"}));
}

TEST_F(PolicyTest, RejectsUnreachableThreshold) {
  json d = doc();
  d["rules"]["install-model"]["threshold"] = 6;
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/install-model/threshold", "never be reached"}));
  // `of` limits who may count: 3 of {alice, bob} can never happen.
  d = doc();
  d["rules"]["remove-model"] = {{"threshold", 3}, {"of", {"alice", "bob"}}};
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/remove-model/threshold", "never be reached"}));
  // require_attestation with no attested key: nobody can count.
  d = doc();
  d["rules"]["install-model"]["require_attestation"] = true;
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/install-model/threshold", "never be reached"}));
}

TEST_F(PolicyTest, RejectsOfNamingUnknownApprover) {
  json d = doc();
  d["rules"]["remove-model"]["of"] = {"alice", "mallory"};
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/remove-model/of/1", "mallory"}));
}

TEST_F(PolicyTest, RejectsRequiredRoleNoEligibleApproverHolds) {
  json d = doc();
  d["rules"]["rotate-policy"]["require_roles"] = {"compliance", "security"};
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/rotate-policy/require_roles/1", "security"}));
  // bob holds compliance but may not count under this rule.
  d = doc();
  d["rules"]["remove-model"]["require_roles"] = json::array({"compliance"});
  d["rules"]["remove-model"]["of"] = {"alice", "carol"};
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/remove-model/require_roles/0", "compliance"}));
}

TEST_F(PolicyTest, RejectsKeySharedBetweenApprovers) {
  json d = doc();
  d["approvers"][3]["keys"][0] = keys_[1];  // dave lists bob's key
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/approvers/3/keys/0", "shared", "\"bob\"", "\"dave\""}));
  d = doc();
  d["approvers"][0]["keys"].push_back(keys_[0]);  // the same key twice for one approver
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/0/keys/1", "twice"}));
}

TEST_F(PolicyTest, RejectsRepeatedApproverId) {
  json d = doc();
  d["approvers"][4]["id"] = "bob";
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/4/id", "bob", "twice"}));
}

TEST_F(PolicyTest, RejectsApproverWithoutKeys) {
  json d = doc();
  d["approvers"][2]["keys"] = json::array();
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/2/keys", "carol", "no keys"}));
  d["approvers"][2].erase("keys");
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/2/keys", "missing"}));
}

TEST_F(PolicyTest, RejectsRuleForUnknownAction) {
  json d = doc();
  d["rules"]["launch-missiles"] = {{"threshold", 1}};
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/launch-missiles", "launch-missiles"}));
}

TEST_F(PolicyTest, RejectsBadVersionAndKeys) {
  json d = doc();
  d["version"] = 0;
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/version"}));
  d = doc();
  d["approvers"][0]["keys"][0]["alg"] = "ecdsa-p256";  // an Ed25519 key claimed as P-256
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/0/keys/0/public_key"}));
  d = doc();
  d["approvers"][0]["keys"][0]["uv"] = true;  // uv is for FIDO2 keys only
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/0/keys/0/uv"}));
  d = doc();
  d["approvers"] = json::array();
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers"}));
}

TEST_F(PolicyTest, Fido2KeyNeedsCredentialId) {
  auto k = SoftwareKey::generate(Alg::kEcdsaP256);
  ASSERT_TRUE(k.ok());
  json d = doc();
  json entry{{"alg", "fido2-es256"}, {"public_key", base64_encode(k->public_key().spki())}, {"uv", true}};
  d["approvers"][4]["keys"].push_back(entry);
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/4/keys/1/credential_id", "missing"}));
  d["approvers"][4]["keys"][1]["credential_id"] = base64_encode(Bytes{1, 2, 3});
  auto p = Policy::parse(d);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->approvers()[4].keys[1].uv);
  EXPECT_EQ(p->approvers()[4].keys[1].credential_id, (Bytes{1, 2, 3}));
}

TEST_F(PolicyTest, AttestedKeysMakeAttestationRulesReachable) {
  json d = doc();
  json att{{"format", "fido2-packed"}, {"certificates", json::array({base64_encode(Bytes{0x30, 0x00})})}};
  d["approvers"][0]["keys"][0]["attestation"] = att;
  d["approvers"][1]["keys"][0]["attestation"] = att;
  d["rules"]["remove-model"] = {{"threshold", 2}, {"require_attestation", true}};
  auto p = Policy::parse(d);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->rule_for(Action::kRemoveModel)->require_attestation);
  d["rules"]["remove-model"]["threshold"] = 3;
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/remove-model/threshold", "attested"}));
  d = doc();
  d["approvers"][0]["keys"][0]["attestation"] = {{"format", "tpm"}, {"certificates", json::array({"MAA="})}};
  EXPECT_TRUE(
      FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/approvers/0/keys/0/attestation/format", "tpm"}));
}

// Approved box images (DESIGN.md "Policy", `images`) and the rule flag attested_image.
TEST_F(PolicyTest, ParsesImagesAndAttestedImageAndKeepsThemInToJson) {
  json d = doc();
  const std::string pcr0(96, 'a');
  d["images"] = json::array({{{"name", "safebox-2026.11"},
                              {"platform", "aws-nitro"},
                              {"pcrs", {{"0", pcr0}, {"31", std::string(96, '0')}}}}});
  d["rules"]["install-model"]["attested_image"] = true;
  auto p = Policy::parse(d);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->images().size(), 1u);
  EXPECT_EQ(p->images()[0].name, "safebox-2026.11");
  EXPECT_EQ(p->images()[0].platform, "aws-nitro");
  ASSERT_EQ(p->images()[0].pcrs.size(), 2u);
  EXPECT_EQ(hex_encode(p->images()[0].pcrs.at(0)), pcr0);
  EXPECT_EQ(p->images()[0].pcrs.at(31).size(), 48u);
  EXPECT_TRUE(p->rule_for(Action::kInstallModel)->attested_image);
  EXPECT_FALSE(p->rule_for(Action::kRemoveModel)->attested_image);
  auto again = Policy::parse(p->to_json());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->images()[0].pcrs, p->images()[0].pcrs);
  EXPECT_EQ(again->hash(), p->hash());
}

TEST_F(PolicyTest, RejectsBadImagesNamingThePointer) {
  auto with_image = [this](json image) {
    json d = doc();
    d["images"] = json::array({std::move(image)});
    return Policy::parse(d);
  };
  const std::string pcr(96, 'a');
  json good{{"name", "safebox"}, {"platform", "aws-nitro"}, {"pcrs", {{"0", pcr}}}};
  json bad = good;
  bad["platform"] = "intel-tdx";
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/platform", "aws-nitro"}));
  bad = good;
  bad["pcrs"] = {{"32", pcr}};
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/pcrs/32", "0 to 31"}));
  bad["pcrs"] = {{"01", pcr}};
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/pcrs/01"}));
  bad["pcrs"] = {{"0", std::string(96, 'A')}};
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/pcrs/0", "96 lowercase hex"}));
  bad["pcrs"] = {{"0", std::string(64, 'a')}};
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/pcrs/0", "96 lowercase hex"}));
  bad["pcrs"] = json::object();
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/pcrs", "at least one PCR"}));
  bad = good;
  bad["note"] = "x";
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/note"}));
  bad = good;
  bad["name"] = "safe\u202ebox";
  EXPECT_TRUE(FailsWith(with_image(bad), Errc::kInvalidDocument, {"/images/0/name"}));
  json d = doc();
  d["images"] = json::array({good, good});
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/images/1/name", "used twice"}));
  d = doc();
  d["rules"]["install-model"]["attested_image"] = true;
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument,
                        {"/rules/install-model/attested_image", "lists no images"}));
  d["images"] = json::array({good});
  d["rules"]["install-model"]["attested_image"] = "yes";
  EXPECT_TRUE(FailsWith(Policy::parse(d), Errc::kInvalidDocument, {"/rules/install-model/attested_image"}));
}

}  // namespace
}  // namespace countersign
