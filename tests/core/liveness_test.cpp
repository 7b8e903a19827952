// Approver liveness (core/liveness.h): challenges, proofs checked as the box checks them, and
// the warnings a team gets before a lost key costs it the quorum.
#include "core/liveness.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/software_key.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::Contains;
using countersign::testing::must;
using nlohmann::json;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z
constexpr std::int64_t kDay = 86400;

class LivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"alice", "bob", "carol", "dave", "erin"}) {
      keys_.emplace(id, must(SoftwareKey::generate(Alg::kEd25519), "key"));
    }
  }

  json policy_doc(std::optional<std::uint64_t> days) const {
    json approvers = json::array();
    for (const auto& [id, key] : keys_) {
      json a{{"id", id},
             {"keys", {{{"alg", "ed25519"}, {"public_key", base64_encode(key.public_key().spki())}}}}};
      if (id == "bob") a["roles"] = {"compliance"};
      approvers.push_back(std::move(a));
    }
    json p{{"schema", "countersign/policy/v1"},
           {"domain", "acme-prod"},
           {"version", 1},
           {"approvers", approvers},
           {"rules",
            {{"install-model", {{"threshold", 3}}},
             {"rotate-policy", {{"threshold", 2}, {"require_roles", {"compliance"}}}}}}};
    if (days) p["liveness_days"] = *days;
    return p;
  }
  Policy policy(std::optional<std::uint64_t> days = 90) const {
    return must(Policy::parse(policy_doc(days)), "policy");
  }

  static Challenge challenge(std::string box = "box-7f3a", UnixTime issued = kNow - 3600,
                             std::string domain = "acme-prod") {
    return must(Challenge::create({std::move(domain), std::move(box), {}, issued}), "challenge");
  }
  SignatureFile prove(const std::string& id, const Challenge& c) {
    return must(sign_statement(keys_.at(id), Statement::kLiveness, c.hash(), id, kNow), "liveness proof");
  }
  static LivenessCheck here() {
    LivenessCheck c;
    c.now = kNow;
    c.box_id = "box-7f3a";
    return c;
  }

  std::map<std::string, SoftwareKey> keys_;
};

TEST_F(LivenessTest, AProofOfThisBoxsFreshChallengeNamesTheApprover) {
  const Challenge c = challenge();
  const SignatureFile proof = prove("carol", c);
  EXPECT_EQ(proof.to_json()["schema"], "countersign/liveness/v1");
  EXPECT_EQ(proof.to_json()["challenge"], digest_to_string(c.hash()));
  EXPECT_FALSE(proof.to_json().contains("proposal"));
  auto r = verify_liveness(proof, c, policy(), here());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->approver_id, "carol");
  EXPECT_EQ(r->key_id, keys_.at("carol").public_key().id());
  // The file round-trips through its text form.
  auto again = SignatureFile::parse_text(proof.to_json().dump());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->statement(), Statement::kLiveness);
}

TEST_F(LivenessTest, AProofForAnotherBoxAnOldChallengeOrAnotherDomainIsRefused) {
  const Challenge other_box = challenge("box-91c2");
  auto r = verify_liveness(prove("alice", other_box), other_box, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "issued by box \"box-91c2\", not \"box-7f3a\""))
      << r.error().message;

  const Challenge old = challenge("box-7f3a", kNow - 8 * kDay);
  r = verify_liveness(prove("alice", old), old, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "ask the box for a new one")) << r.error().message;

  const Challenge elsewhere = challenge("box-7f3a", kNow - 60, "acme-staging");
  r = verify_liveness(prove("alice", elsewhere), elsewhere, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "domain \"acme-staging\"")) << r.error().message;
}

TEST_F(LivenessTest, AProofIsNeitherAnApprovalNorForAnotherChallenge) {
  const Challenge c = challenge();
  // An approval of a "proposal" whose id happens to be the challenge's hash is not a proof.
  SignatureFile approval = must(sign_proposal(keys_.at("bob"), c.hash(), "bob", kNow), "approval");
  auto r = verify_liveness(approval, c, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "not a liveness proof")) << r.error().message;
  // Relabelled as a proof, its signature is over the approval's input: refused.
  json forged = approval.to_json();
  forged["schema"] = "countersign/liveness/v1";
  forged["challenge"] = forged["proposal"];
  forged.erase("proposal");
  r = verify_liveness(must(SignatureFile::parse(forged), "forged"), c, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "does not verify")) << r.error().message;
  // A proof of another challenge.
  r = verify_liveness(prove("bob", challenge()), c, policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "answers challenge")) << r.error().message;
  // A key that is not in the policy.
  SoftwareKey stranger = must(SoftwareKey::generate(Alg::kEd25519), "stranger");
  r = verify_liveness(must(sign_statement(stranger, Statement::kLiveness, c.hash(), "eve", kNow), "proof"), c,
                      policy(), here());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "is not in policy version 1")) << r.error().message;
}

TEST_F(LivenessTest, StaleProofsWarnWhereARuleCouldNoLongerBeMet) {
  // alice and carol proved recently, bob 100 days ago, dave never, erin 89 days ago.
  const std::map<std::string, UnixTime, std::less<>> last{{"alice", kNow - 2 * kDay},
                                                          {"carol", kNow - 10 * kDay},
                                                          {"bob", kNow - 100 * kDay},
                                                          {"erin", kNow - 89 * kDay}};
  LivenessReport r = liveness_report(policy(), last, kNow);
  ASSERT_EQ(r.approvers.size(), 5u);
  EXPECT_TRUE(r.approvers[0].live);   // alice
  EXPECT_FALSE(r.approvers[1].live);  // bob: stale
  EXPECT_FALSE(r.approvers[3].live);  // dave: never
  EXPECT_FALSE(r.approvers[3].last_proof.has_value());
  // install-model needs 3: alice, carol, erin are live. rotate-policy needs compliance: only bob holds it.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].message,
            "rotate-policy needs a signer with role compliance; none has proven their keys in 90 days");
  const std::string text = r.to_text(kNow);
  EXPECT_TRUE(Contains(text, "STALE")) << text;
  EXPECT_TRUE(Contains(text, "never proven")) << text;

  // erin's proof ages past 90 days: install-model falls to 2 live approvers.
  LivenessReport later = liveness_report(policy(), last, kNow + 2 * kDay);
  ASSERT_EQ(later.warnings.size(), 2u);
  EXPECT_EQ(later.warnings[0].message,
            "install-model needs 3; only 2 approvers have proven their keys in 90 days");
  EXPECT_EQ(later.to_json(kNow + 2 * kDay)["warnings"][0]["live"], 2);
}

TEST_F(LivenessTest, WithoutLivenessDaysNothingIsStale) {
  LivenessReport r = liveness_report(policy(std::nullopt), {{"alice", kNow - 400 * kDay}}, kNow);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_TRUE(r.approvers[0].live);
  EXPECT_TRUE(Contains(r.to_text(kNow), "sets no liveness_days")) << r.to_text(kNow);
}

TEST_F(LivenessTest, TheLatestProofOfEachApproverIsReadFromTheLog) {
  LastProofs last;
  note_proof_entry(last,
                   {{"event", "approver-proved"}, {"approver", "bob"}, {"time", "2026-11-20T10:00:00Z"}});
  note_proof_entry(last,
                   {{"event", "approver-proved"}, {"approver", "bob"}, {"time", "2026-11-01T10:00:00Z"}});
  note_proof_entry(
      last, {{"event", "signature-accepted"}, {"approver", "carol"}, {"time", "2026-11-21T10:00:00Z"}});
  note_proof_entry(last, {{"event", "approver-proved"}, {"approver", "dave"}, {"time", "not a time"}});
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(format_rfc3339(last.at("bob")), "2026-11-20T10:00:00Z");  // the later one stays
}

TEST_F(LivenessTest, AChallengeIsADocumentWithItsOwnSchema) {
  json c = challenge().to_json();
  c["extra"] = 1;
  auto r = Challenge::parse(c);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.error().message, "extra")) << r.error().message;
  EXPECT_FALSE(Challenge::parse(json{{"schema", "countersign/proposal/v1"}}).ok());
}

}  // namespace
}  // namespace countersign
