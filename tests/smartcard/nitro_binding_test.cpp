// smartcard/nitro_binding: the real documents against policies listing their images, and the
// binding of user_data to a box, its log key and its TLS key.
#include "smartcard/nitro_binding.h"

#include <gtest/gtest.h>

#include <string>

#include "core/fileio.h"
#include "core/jcs.h"
#include "core/keys.h"
#include "tests/nitro_test_box.h"

namespace countersign::nitro {
namespace {

const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/nitro-attestation/";

Report verified(const std::string& name) {
  auto text = read_file(kData + name);
  EXPECT_TRUE(text.ok());
  std::string b64;
  for (char c : text.ok() ? *text : std::string()) {
    if (c != '\n') b64 += c;
  }
  auto raw = base64_decode(b64);
  EXPECT_TRUE(raw.ok());
  auto d = parse(*raw);
  EXPECT_TRUE(d.ok());
  auto r = verify(*raw, pinned_roots(), d->timestamp_ms / 1000);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Report{};
}

// A policy with one approver and the given images.
Policy policy_with(const nlohmann::json& images) {
  // RFC 8032 section 7.1, test 1.
  const Bytes raw = *hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto key = PublicKey::from_raw(Alg::kEd25519, raw);
  EXPECT_TRUE(key.ok());
  nlohmann::json doc{
      {"schema", "countersign/policy/v1"},
      {"domain", "acme-prod"},
      {"version", 1},
      {"approvers",
       {{{"id", "alice"}, {"keys", {{{"alg", "ed25519"}, {"public_key", base64_encode(key->spki())}}}}}}},
      {"rules", {{"install-model", {{"threshold", 1}, {"attested_image", true}}}}},
      {"images", images}};
  auto p = Policy::parse(doc);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return std::move(p).value();
}

nlohmann::json image(const std::string& name, const Report& r, std::initializer_list<unsigned> pcrs) {
  nlohmann::json j{{"name", name}, {"platform", "aws-nitro"}, {"pcrs", nlohmann::json::object()}};
  for (unsigned i : pcrs) j["pcrs"][std::to_string(i)] = hex_encode(r.pcrs.at(i));
  return j;
}

TEST(NitroImage, TheRealDocumentMatchesTheImageListingItsPcrs) {
  const Report r = verified("nitro_attestation.b64");
  nlohmann::json other = image("safebox-2026.10", r, {0, 1, 2});
  other["pcrs"]["0"] = std::string(96, 'a');
  const Policy p = policy_with(nlohmann::json::array({other, image("safebox-2026.11", r, {0, 1, 2})}));
  auto m = match_image(r, p);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->name, "safebox-2026.11");
}

TEST(NitroImage, NoMatchSaysWhichPcrDiffersForEachImage) {
  const Report r = verified("nitro_attestation.b64");
  nlohmann::json a = image("safebox-2026.10", r, {0, 1, 2});
  a["pcrs"]["1"] = std::string(96, 'b');
  nlohmann::json b = image("safebox-2026.12", r, {0});
  b["pcrs"]["20"] = std::string(96, 'c');
  auto m = match_image(r, policy_with(nlohmann::json::array({a, b})));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::kRejected);
  EXPECT_NE(m.error().message.find("safebox-2026.10: PCR 1 is " + hex_encode(r.pcrs.at(1)) + ", not " +
                                   std::string(96, 'b')),
            std::string::npos)
      << m.error().message;
  EXPECT_NE(m.error().message.find("safebox-2026.12: the document has no PCR 20"), std::string::npos)
      << m.error().message;
}

TEST(NitroImage, TheDebugDocumentNeverMatches) {
  const Report r = verified("nitro_attestation_debug.b64");
  ASSERT_TRUE(r.debug);
  // Even an image listing exactly its (zero) PCRs.
  auto m = match_image(r, policy_with(nlohmann::json::array({image("debug-image", r, {0, 1, 2, 4})})));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, Errc::kRejected);
  EXPECT_NE(m.error().message.find("debug mode"), std::string::npos) << m.error().message;
}

TEST(NitroBinding, IsTheSha256OfTheJcsOfBoxLogKeyAndTlsKey) {
  const Bytes log_key{1, 2, 3}, tls_key{4, 5};
  auto with_tls = binding("box-7f3a", log_key, ByteView(tls_key));
  auto without = binding("box-7f3a", log_key, std::nullopt);
  ASSERT_TRUE(with_tls.ok() && without.ok());
  // Written out by hand: keys sorted, no whitespace (RFC 8785).
  EXPECT_EQ(*with_tls, sha256(std::string_view(R"({"box":"box-7f3a","log_key":"AQID","tls_key":"BAU="})")));
  EXPECT_EQ(*without, sha256(std::string_view(R"({"box":"box-7f3a","log_key":"AQID"})")));
  EXPECT_EQ(binding("box\n7f3a", log_key, std::nullopt).error().code, Errc::kInvalidArgument);
}

TEST(NitroBinding, RefusesAnotherBoxAnotherLogKeyAndAMissingTlsKey) {
  const Bytes log_key(44, 0x21), other_log(44, 0x22), tls_key(91, 0x30);
  Report r;
  auto b = binding("box-7f3a", log_key, ByteView(tls_key));
  ASSERT_TRUE(b.ok());
  r.user_data = Bytes(b->begin(), b->end());
  EXPECT_TRUE(check_binding(r, "box-7f3a", log_key, ByteView(tls_key)).ok());
  for (auto res : {check_binding(r, "box-91c2", log_key, ByteView(tls_key)),
                   check_binding(r, "box-7f3a", other_log, ByteView(tls_key)),
                   check_binding(r, "box-7f3a", log_key, std::nullopt)}) {
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.error().code, Errc::kRejected);
    EXPECT_NE(res.error().message.find("does not bind box"), std::string::npos) << res.error().message;
  }
  r.user_data.reset();
  EXPECT_NE(check_binding(r, "box-7f3a", log_key, std::nullopt).error().message.find("no user_data"),
            std::string::npos);
  // The real document's user_data is 1024 bytes of something else.
  const Report real = verified("nitro_attestation.b64");
  auto res = check_binding(real, "box-7f3a", log_key, std::nullopt);
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("1024 bytes, not a 32-byte binding"), std::string::npos)
      << res.error().message;
}

// --- The box's check of itself before an attested_image action (check_self) ---------------

class NitroSelf : public ::testing::Test {
 protected:
  NitroSelf() : box_(dir_) {}
  Policy policy() {
    nlohmann::json img{{"name", "safebox-2026.11"},
                       {"platform", "aws-nitro"},
                       {"pcrs", {{"0", std::string(96, '1')}, {"1", std::string(96, '2')}}}};
    return policy_with(nlohmann::json::array({img}));
  }
  BoxKeys keys(const std::string& box = "box-7f3a") const { return {box, box_.log_spki(), box_.tls_spki()}; }
  Bytes document(const Bytes& user_data, const Bytes& nonce) {
    auto text = read_file(box_.document("att.cbor", user_data, nonce));
    EXPECT_TRUE(text.ok());
    return Bytes(text->begin(), text->end());
  }
  std::vector<Bytes> roots() const { return {box_.root()}; }

  test_util::TempDir dir_{"nitro-self"};
  test_util::NitroTestBox box_;
  const Bytes nonce_ = Bytes(32, 0x5a);
};

TEST_F(NitroSelf, AFreshDocumentOfAnApprovedImageBindingTheBoxNamesTheImage) {
  const Policy p = policy();
  auto got = check_self(document(box_.binding("box-7f3a"), nonce_), p, roots(), test_util::kNitroTestNow,
                        nonce_, keys());
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->image, "safebox-2026.11");
  EXPECT_EQ(got->report.module_id, "i-0123456789abcdef0-enc0123456789abcdef");
}

TEST_F(NitroSelf, AnotherNonceIsAReplayNotAFreshDocument) {
  const Policy p = policy();
  auto got = check_self(document(box_.binding("box-7f3a"), Bytes(32, 0x01)), p, roots(),
                        test_util::kNitroTestNow, nonce_, keys());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kRejected);
  EXPECT_TRUE(test_util::contains(got.error().message, "does not carry the nonce it was asked for"))
      << got.error().message;
}

TEST_F(NitroSelf, ADocumentBindingAnotherBoxIsRefused) {
  const Policy p = policy();
  auto got = check_self(document(box_.binding("box-91c2"), nonce_), p, roots(), test_util::kNitroTestNow,
                        nonce_, keys());
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(test_util::contains(got.error().message, "does not bind box box-7f3a")) << got.error().message;
}

TEST_F(NitroSelf, ThePinnedAwsRootDoesNotVouchForATestRoot) {
  const Policy p = policy();
  auto got = check_self(document(box_.binding("box-7f3a"), nonce_), p, pinned_roots(),
                        test_util::kNitroTestNow, nonce_, keys());
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(test_util::contains(got.error().message, "the box's attestation does not verify"))
      << got.error().message;
}

TEST_F(NitroSelf, AnImageThePolicyDoesNotListIsNotApproved) {
  nlohmann::json img{
      {"name", "safebox-2026.10"}, {"platform", "aws-nitro"}, {"pcrs", {{"0", std::string(96, 'a')}}}};
  const Policy p = policy_with(nlohmann::json::array({img}));
  auto got = check_self(document(box_.binding("box-7f3a"), nonce_), p, roots(), test_util::kNitroTestNow,
                        nonce_, keys());
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(
      test_util::contains(got.error().message, "matches no approved image (safebox-2026.10: PCR 0 is"))
      << got.error().message;
}

}  // namespace
}  // namespace countersign::nitro
