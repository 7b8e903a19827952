#include "core/signature_file.h"

#include <gtest/gtest.h>

#include <string>

#include "core/jcs.h"
#include "core/software_key.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::FailsWith;
using nlohmann::json;

const std::string kProposal = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kKeyId = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

json ed25519_doc() {
  return json{{"schema", "countersign/signature/v1"},
              {"proposal", kProposal},
              {"key", kKeyId},
              {"alg", "ed25519"},
              {"signature", base64_encode(Bytes(64, 7))},
              {"signer", "alice"},
              {"signed", "2026-11-22T11:02:10Z"}};
}

json fido2_doc() {
  json j = ed25519_doc();
  j["alg"] = "fido2-es256";
  j["authenticator_data"] = base64_encode(Bytes(37, 1));
  return j;
}

TEST(SignatureFile, ParsesEd25519AndFido2) {
  auto s = SignatureFile::parse(ed25519_doc());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(digest_to_string(s->proposal()), kProposal);
  EXPECT_EQ(s->key(), kKeyId);
  EXPECT_EQ(s->alg(), Alg::kEd25519);
  EXPECT_EQ(s->fields().signature, Bytes(64, 7));
  EXPECT_TRUE(s->fields().authenticator_data.empty());
  EXPECT_EQ(s->fields().signer, std::optional<std::string>("alice"));
  EXPECT_EQ(s->fields().signed_at, std::optional<UnixTime>(*parse_rfc3339("2026-11-22T11:02:10Z")));

  auto f = SignatureFile::parse(fido2_doc());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->alg(), Alg::kFido2Es256);
  EXPECT_EQ(f->fields().authenticator_data, Bytes(37, 1));
}

TEST(SignatureFile, HintsAreOptional) {
  json doc = ed25519_doc();
  doc.erase("signer");
  doc.erase("signed");
  auto s = SignatureFile::parse(doc);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(s->fields().signer.has_value());
  EXPECT_FALSE(s->fields().signed_at.has_value());
}

TEST(SignatureFile, ToJsonRoundTrips) {
  for (const json& doc : {ed25519_doc(), fido2_doc()}) {
    auto s = SignatureFile::parse(doc);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*jcs::serialize(s->to_json()), *jcs::serialize(doc));
    auto text = jcs::serialize(doc);
    auto again = SignatureFile::parse_text(*text);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->to_json(), s->to_json());
  }
}

TEST(SignProposal, ProducesAVerifyingSignatureFile) {
  for (Alg alg : {Alg::kEd25519, Alg::kEcdsaP256}) {
    auto key = SoftwareKey::generate(alg);
    ASSERT_TRUE(key.ok()) << key.error().message;
    const Digest id = sha256(std::string_view("proposal"));
    auto sig = sign_proposal(*key, id, "alice", 1234);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    EXPECT_EQ(sig->proposal(), id);
    EXPECT_EQ(sig->key(), key->public_key().id());
    EXPECT_EQ(sig->alg(), alg);
    EXPECT_EQ(sig->fields().signed_at, std::optional<UnixTime>(1234));
    SigningInput input = signing_input(id);
    EXPECT_TRUE(key->public_key().verify(input, sig->fields().signature).ok());
    // The signature is over this proposal only.
    SigningInput other = signing_input(sha256(std::string_view("other")));
    EXPECT_FALSE(key->public_key().verify(other, sig->fields().signature).ok());
  }
}

// ---- rejections ---------------------------------------------------------------------------

TEST(SignatureFileReject, UnknownSchema) {
  json doc = ed25519_doc();
  doc["schema"] = "minisign";
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kUnknownSchema, {"minisign"}));
}

TEST(SignatureFileReject, UnknownField) {
  json doc = ed25519_doc();
  doc["comment"] = "trusted";
  EXPECT_TRUE(
      FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"signature /comment", "unknown field"}));
}

TEST(SignatureFileReject, Fido2WithoutAuthenticatorData) {
  json doc = fido2_doc();
  doc.erase("authenticator_data");
  EXPECT_TRUE(
      FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/authenticator_data", "missing"}));
  doc["alg"] = "fido2-eddsa";
  EXPECT_TRUE(
      FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/authenticator_data", "missing"}));
}

TEST(SignatureFileReject, ShortAuthenticatorData) {
  json doc = fido2_doc();
  doc["authenticator_data"] = base64_encode(Bytes(36, 1));
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/authenticator_data", "37"}));
}

TEST(SignatureFileReject, AuthenticatorDataOnEd25519) {
  for (const char* alg : {"ed25519", "ecdsa-p256", "ecdsa-p384"}) {
    json doc = ed25519_doc();
    doc["alg"] = alg;
    doc["authenticator_data"] = base64_encode(Bytes(37, 1));
    EXPECT_TRUE(
        FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/authenticator_data", "fido2"}))
        << alg;
  }
}

TEST(SignatureFileReject, BadKeyId) {
  for (const std::string& bad :
       {kKeyId.substr(0, 16), kKeyId + "0", std::string(64, 'E'), "sha256:" + kKeyId, std::string(64, 'z')}) {
    json doc = ed25519_doc();
    doc["key"] = bad;
    EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/key", "64 lowercase hex"}))
        << bad;
  }
}

TEST(SignatureFileReject, BadAlgSignatureAndProposal) {
  json doc = ed25519_doc();
  doc["alg"] = "rsa";
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/alg", "rsa"}));
  doc = ed25519_doc();
  doc["signature"] = "";
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/signature", "empty"}));
  doc["signature"] = "not base64!";
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/signature", "base64"}));
  doc = ed25519_doc();
  doc["proposal"] = kKeyId;
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/proposal", "sha256:"}));
  doc = ed25519_doc();
  doc["signed"] = "yesterday";
  EXPECT_TRUE(FailsWith(SignatureFile::parse(doc), Errc::kInvalidDocument, {"/signed"}));
}

}  // namespace
}  // namespace countersign
