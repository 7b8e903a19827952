#include "core/proposal.h"

#include <gtest/gtest.h>

#include <string>

#include "core/jcs.h"
#include "core/sha256.h"
#include "core/snapshot_doc.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::FailsWith;
using nlohmann::json;

const std::string kManifestHash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kNonce = "AAECAwQFBgcICQoLDA0ODw==";  // bytes 0x00..0x0f

const std::string kPretty = R"({
  "note": "Upgrade",
  "schema": "countersign/proposal/v1",
  "expires": "2026-11-29T10:00:00Z",
  "domain": "acme-prod",
  "action": "install-model",
  "created": "2026-11-22T10:00:00Z",
  "manifest": ")" + kManifestHash +
                            R"(",
  "boxes": ["box-7f3a", "box-91c2"],
  "nonce": ")" + kNonce + R"("
})";

const std::string kCanonical = R"({"action":"install-model","boxes":["box-7f3a","box-91c2"],)"
                               R"("created":"2026-11-22T10:00:00Z","domain":"acme-prod",)"
                               R"("expires":"2026-11-29T10:00:00Z","manifest":")" +
                               kManifestHash + R"(","nonce":")" + kNonce +
                               R"(","note":"Upgrade","schema":"countersign/proposal/v1"})";

json base_doc() {
  auto doc = jcs::parse(kPretty);
  EXPECT_TRUE(doc.ok()) << doc.error().message;
  return *doc;
}

TEST(Proposal, ParsesValidDocument) {
  auto p = Proposal::parse_text(kPretty);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->domain(), "acme-prod");
  EXPECT_EQ(p->action(), Action::kInstallModel);
  EXPECT_EQ(digest_to_string(p->manifest()), kManifestHash);
  EXPECT_FALSE(p->previous().has_value());
  ASSERT_TRUE(p->boxes().has_value());
  EXPECT_EQ(*p->boxes(), (std::vector<std::string>{"box-7f3a", "box-91c2"}));
  EXPECT_EQ(p->created(), *parse_rfc3339("2026-11-22T10:00:00Z"));
  EXPECT_EQ(p->expires(), *parse_rfc3339("2026-11-29T10:00:00Z"));
  EXPECT_EQ(p->fields().nonce.size(), 16u);
  EXPECT_EQ(p->note(), std::optional<std::string>("Upgrade"));
  EXPECT_TRUE(p->allows_box("box-91c2"));
  EXPECT_FALSE(p->allows_box("box-0000"));
  EXPECT_FALSE(p->allows_box(""));
}

TEST(Proposal, WithoutBoxesAllowsEveryBox) {
  json doc = base_doc();
  doc.erase("boxes");
  auto p = Proposal::parse(doc);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->allows_box("anything"));
}

TEST(Proposal, SigningIsRefusedFromTheExpiryOn) {
  auto p = Proposal::parse_text(kPretty);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const UnixTime expires = *parse_rfc3339("2026-11-29T10:00:00Z");
  EXPECT_TRUE(p->refuse_if_expired(expires - 1).ok());
  for (UnixTime now : {expires, expires + 86400}) {
    auto r = p->refuse_if_expired(now);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kRejected);
    EXPECT_EQ(r.error().message,
              "the proposal expired at 2026-11-29T10:00:00Z; ask for a new one rather than signing this");
  }
}

TEST(ProposalId, IsSha256OfHandWrittenCanonicalForm) {
  auto p = Proposal::parse_text(kPretty);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->id(), sha256(kCanonical));
  EXPECT_EQ(*jcs::serialize(base_doc()), kCanonical);
}

TEST(ProposalId, IndependentOfWhitespaceAndKeyOrder) {
  auto a = Proposal::parse_text(kPretty);
  auto b = Proposal::parse_text(kCanonical);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->id(), b->id());
  EXPECT_EQ(a->id(), sha256(*jcs::serialize(*jcs::parse(kPretty))));
}

TEST(ProposalId, ToJsonRoundTripsToTheSameId) {
  auto a = Proposal::parse_text(kPretty);
  ASSERT_TRUE(a.ok());
  auto b = Proposal::parse(a->to_json());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a->id(), b->id());
  EXPECT_EQ(*jcs::serialize(a->to_json()), kCanonical);
}

TEST(ProposalId, CoversEveryField) {
  const Digest base = Proposal::parse(base_doc())->id();
  for (const char* field : {"domain", "note"}) {
    json doc = base_doc();
    doc[field] = doc[field].get<std::string>() + "x";
    EXPECT_NE(Proposal::parse(doc)->id(), base) << field;
  }
  json doc = base_doc();
  doc["boxes"] = json::array({"box-7f3a"});
  EXPECT_NE(Proposal::parse(doc)->id(), base);
}

TEST(ProposalCreate, DrawsAFresh16ByteNonce) {
  Proposal::Fields f;
  f.domain = "acme-prod";
  f.action = Action::kRemoveModel;
  f.manifest = sha256(std::string_view("m"));
  f.created = 1000;
  f.expires = 2000;
  auto a = Proposal::create(f);
  auto b = Proposal::create(f);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->fields().nonce.size(), 16u);
  EXPECT_NE(a->fields().nonce, b->fields().nonce);
  EXPECT_NE(a->id(), b->id());
  EXPECT_EQ(a->id(), *jcs::hash(a->to_json()));

  f.expires = f.created;
  EXPECT_TRUE(FailsWith(Proposal::create(f), Errc::kInvalidDocument, {"/expires", "later"}));
}

TEST(Action, NamesRoundTrip) {
  for (Action a : kAllActions) {
    auto back = action_from_name(action_name(a));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
    EXPECT_FALSE(action_description(a).empty());
  }
  EXPECT_FALSE(action_from_name("Install-Model").ok());
}

// ---- rejections ---------------------------------------------------------------------------

TEST(ProposalReject, UnknownSchema) {
  json doc = base_doc();
  doc["schema"] = "countersign/proposal/v0";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kUnknownSchema, {"countersign/proposal/v0"}));
  doc.erase("schema");
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kUnknownSchema, {"missing"}));
}

TEST(ProposalReject, UnknownField) {
  json doc = base_doc();
  doc["approved"] = true;
  EXPECT_TRUE(
      FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"proposal /approved", "unknown field"}));
}

TEST(ProposalReject, BadAction) {
  json doc = base_doc();
  doc["action"] = "format-disk";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/action", "format-disk"}));
  doc["action"] = 3;
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/action", "string"}));
}

TEST(ProposalReject, ManifestNotSha256) {
  for (const std::string& bad :
       {kManifestHash.substr(7), "sha512:" + kManifestHash.substr(7), "SHA256:" + kManifestHash.substr(7),
        kManifestHash.substr(0, 70), kManifestHash + "0"}) {
    json doc = base_doc();
    doc["manifest"] = bad;
    EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/manifest", "sha256:"})) << bad;
  }
}

TEST(ProposalReject, PreviousNotSha256) {
  json doc = base_doc();
  doc["previous"] = "latest";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/previous", "sha256:"}));
  doc["previous"] = kManifestHash;
  EXPECT_TRUE(Proposal::parse(doc).ok());
}

TEST(ProposalReject, NonceNot16Bytes) {
  json doc = base_doc();
  doc["nonce"] = "AAECAwQFBgcICQoLDA0O";  // 15 bytes
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/nonce", "16"}));
  doc["nonce"] = "AAECAwQFBgcICQoLDA0ODxA=";  // 17 bytes
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/nonce", "16"}));
  doc["nonce"] = "";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/nonce"}));
  doc["nonce"] = "AAECAwQFBgcICQoLDA0ODw";  // no padding
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/nonce", "base64"}));
}

TEST(ProposalReject, ExpiresNotAfterCreated) {
  json doc = base_doc();
  doc["expires"] = doc["created"];
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/expires", "created"}));
  doc["expires"] = "2026-11-22T09:59:59Z";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/expires", "created"}));
  doc["expires"] = "2026-11-22T10:00:01Z";
  EXPECT_TRUE(Proposal::parse(doc).ok());
}

TEST(ProposalReject, BadRfc3339Times) {
  for (const char* bad :
       {"2026-11-22 10:00:00Z", "2026-11-22T10:00:00", "2026-11-22T10:00:00+00:00", "2026-11-22T10:00:00.5Z",
        "2026-11-22t10:00:00z", "2026-02-30T10:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z",
        "2026-11-22T10:00:60Z", "1764064800", "2026-13-01T00:00:00Z", ""}) {
    json doc = base_doc();
    doc["created"] = bad;
    EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/created", "RFC 3339"})) << bad;
    doc = base_doc();
    doc["expires"] = bad;
    EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/expires", "RFC 3339"})) << bad;
  }
}

TEST(ProposalReject, EmptyBoxes) {
  json doc = base_doc();
  doc["boxes"] = json::array();
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/boxes", "at least one"}));
  doc["boxes"] = json::array({"box-1", ""});
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/boxes/1", "empty"}));
  doc["boxes"] = "box-1";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/boxes", "array"}));
}

TEST(ProposalReject, DuplicateBox) {
  json doc = base_doc();
  doc["boxes"] = json::array({"box-1", "box-2", "box-1"});
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/boxes/2", "box-1", "twice"}));
}

TEST(ProposalReject, EmptyDomain) {
  json doc = base_doc();
  doc["domain"] = "";
  EXPECT_TRUE(FailsWith(Proposal::parse(doc), Errc::kInvalidDocument, {"/domain", "empty"}));
}

}  // namespace
}  // namespace countersign

namespace countersign {
namespace {

// The snapshot document of a restore-snapshot proposal: of the models directory (no scope)
// or of the system root ("scope": "system", rolling a packages upgrade back).
TEST(SnapshotDocTest, ScopeIsAbsentForModelsAndSystemForTheSystemRoot) {
  auto models = SnapshotDoc::parse_text(
      R"({"schema":"countersign/snapshot/v1","box":"box-7f3a","backend":"btrfs","id":"cs-20261122T101500Z-3fa2b1c0","taken":"2026-11-22T10:15:00Z"})");
  ASSERT_TRUE(models.ok()) << models.error().message;
  EXPECT_FALSE(models->of_system());
  EXPECT_FALSE(models->to_json().contains("scope"));

  auto system = SnapshotDoc::parse_text(
      R"({"schema":"countersign/snapshot/v1","box":"box-7f3a","backend":"btrfs","id":"cs-20261122T101500Z-3fa2b1c0","taken":"2026-11-22T10:15:00Z","scope":"system"})");
  ASSERT_TRUE(system.ok()) << system.error().message;
  EXPECT_TRUE(system->of_system());
  EXPECT_NE(system->hash(), models->hash());  // what approvers sign says which is restored
  auto made = SnapshotDoc::create(system->fields());
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(made->hash(), system->hash());

  auto bad = SnapshotDoc::parse_text(
      R"({"schema":"countersign/snapshot/v1","box":"box-7f3a","backend":"btrfs","id":"cs-20261122T101500Z-3fa2b1c0","taken":"2026-11-22T10:15:00Z","scope":"models"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("scope"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace countersign
