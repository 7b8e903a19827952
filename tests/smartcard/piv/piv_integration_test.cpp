// PIV over the real PC/SC stack: pcscd + vpcd + tests/tools/virtual-piv-card.
// Keys and certificates are made here with OpenSSL; the card signs with them and core
// verifies the signatures.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "core/keys.h"
#include "core/policy.h"
#include "core/signature_file.h"
#include "core/x509.h"
#include "smartcard/pcsc/pcsc_card.h"
#include "smartcard/piv/piv_card.h"
#include "smartcard/piv/piv_signer.h"
#include "tests/daemon/integration.h"
#include "tests/smartcard/piv/card_state.h"
#include "tests/smartcard/piv/pcsc_fixture.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

using piv::PivCard;
using piv::PivSigner;
using piv::Slot;

constexpr const char* kPin = "123456";

SecretBytes secret(const std::string& s) { return SecretBytes::copy_of(as_bytes(s)); }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PivIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.file("card.state");
    cert9c_ = test_util::make_key_and_cert("P-256", dir_.file("9c.pem"), dir_.file("9c.der"));
    cert9d_ = test_util::make_key_and_cert("P-384", dir_.file("9d.pem"), dir_.file("9d.der"));
    certf9_ = test_util::make_key_and_cert("P-256", dir_.file("f9.pem"), dir_.file("f9.der"));
    std::ofstream(state_) << "pin " << kPin << "\npin_retries 3\npin_max 3\nserial 12345678\nversion 5 4 3\n"
                          << "slot 9c 11 " << dir_.file("9c.pem") << " " << dir_.file("9c.der") << "\n"
                          << "slot 9d 14 " << dir_.file("9d.pem") << " " << dir_.file("9d.der") << "\n"
                          << "attestation " << dir_.file("f9.pem") << " " << dir_.file("f9.der") << "\n";
    std::string reason;
    fixture_ = test_util::PcscFixture::start(dir_.path().string(), state_, reason);
    CS_REQUIRE_OR_SKIP(fixture_ != nullptr, reason);
    auto ctx = pcsc::PcscContext::establish();
    ASSERT_TRUE(ctx) << ctx.error().message;
    ctx_.emplace(std::move(*ctx));
    auto card = ctx_->connect(fixture_->reader());
    ASSERT_TRUE(card) << card.error().message;
    card_.emplace(std::move(*card));
    session_.emplace(*card_);
    auto piv = PivCard::select(*session_);
    ASSERT_TRUE(piv) << piv.error().message;
    piv_.emplace(*piv);
  }

  test_util::TempDir dir_{"piv"};
  std::string state_;
  Bytes cert9c_, cert9d_, certf9_;
  std::unique_ptr<test_util::PcscFixture> fixture_;
  std::optional<pcsc::PcscContext> ctx_;
  std::optional<pcsc::PcscCard> card_;
  std::optional<pcsc::ApduSession> session_;
  std::optional<PivCard> piv_;
};

TEST_F(PivIntegration, ListsTheReaderWithItsCard) {
  auto states = ctx_->reader_states();
  ASSERT_TRUE(states) << states.error().message;
  bool found = false;
  for (const auto& s : *states) {
    if (s.name != fixture_->reader()) continue;
    found = true;
    EXPECT_TRUE(s.card_present);
    // The virtual card's ATR (YubiKey 5 NFC's), as pcscd reports it.
    EXPECT_EQ(hex_encode(s.atr), "3bfd1300008131fe158073c021c057597562694b657940");
  }
  EXPECT_TRUE(found) << "reader " << fixture_->reader() << " not listed";
}

TEST_F(PivIntegration, ReadsTheCertificateThroughResponseChainingAndBuildsThePolicyKey) {
  // A certificate is longer than one short response (255 bytes): the card answers 61xx and
  // the session fetches the rest with GET RESPONSE.
  ASSERT_GT(cert9c_.size(), 255u);
  auto cert = piv_->read_certificate(Slot::kSignature);
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(*cert, cert9c_);
  auto key = x509::public_key_from_certificate(*cert);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->alg(), Alg::kEcdsaP256);
  PolicyKey pk{*key, {}, false, std::nullopt};
  const nlohmann::json entry = policy_key_to_json(pk);
  EXPECT_EQ(entry.at("alg"), "ecdsa-p256");
  auto parsed = parse_policy_key(entry, entry.dump(), "/keys/0");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->key.id(), key->id());

  auto cert384 = piv_->read_certificate(Slot::kKeyManagement);
  ASSERT_TRUE(cert384) << cert384.error().message;
  auto key384 = x509::public_key_from_certificate(*cert384);
  ASSERT_TRUE(key384) << key384.error().message;
  EXPECT_EQ(key384->alg(), Alg::kEcdsaP384);
}

TEST_F(PivIntegration, SignsAProposalThatCoreVerifies) {
  for (Slot slot : {Slot::kSignature, Slot::kKeyManagement}) {
    auto signer = PivSigner::create(*piv_, slot, secret(kPin));
    ASSERT_TRUE(signer) << signer.error().message;
    const Digest proposal_id = sha256(std::string_view("a proposal"));
    // sign_proposal verifies its own output with core's verifier.
    auto sig = sign_proposal(*signer, proposal_id, std::string("alice"), 1700000000);
    ASSERT_TRUE(sig) << piv::slot_name(slot) << ": " << sig.error().message;
    // And independently: the signature is over this proposal and no other.
    const SigningInput input = signing_input(proposal_id);
    auto raw = signer->sign(input);
    ASSERT_TRUE(raw) << raw.error().message;
    EXPECT_TRUE(signer->public_key().verify(input, raw->signature));
    const SigningInput other = signing_input(sha256(std::string_view("another proposal")));
    EXPECT_FALSE(signer->public_key().verify(other, raw->signature));
  }
}

TEST_F(PivIntegration, SigningWithoutThePinIsSecurityStatusNotSatisfied) {
  auto signer = PivSigner::create(*piv_, Slot::kSignature, SecretBytes());
  ASSERT_TRUE(signer) << signer.error().message;
  auto sig = signer->sign(signing_input(sha256(std::string_view("p"))));
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, Errc::kRejected);
  EXPECT_NE(sig.error().message.find("security status not satisfied"), std::string::npos)
      << sig.error().message;
}

TEST_F(PivIntegration, WrongPinReportsTriesLeftAndTheCardKeepsCount) {
  auto r = piv_->verify_pin(secret("654321"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kWrongPin);
  EXPECT_EQ(r.error().retries, 2);
  EXPECT_NE(r.error().message.find("2 tries left"), std::string::npos) << r.error().message;
  EXPECT_NE(read_text(state_).find("pin_retries 2\n"), std::string::npos);
  auto left = piv_->pin_retries();
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 2);
  // The right PIN resets the counter.
  ASSERT_TRUE(piv_->verify_pin(secret(kPin)));
  EXPECT_NE(read_text(state_).find("pin_retries 3\n"), std::string::npos);
}

TEST_F(PivIntegration, ThirdWrongPinBlocksThePin) {
  ASSERT_EQ(piv_->verify_pin(secret("000000")).error().code, Errc::kWrongPin);
  ASSERT_EQ(piv_->verify_pin(secret("000000")).error().code, Errc::kWrongPin);
  auto third = piv_->verify_pin(secret("000000"));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Errc::kPinLocked);
  EXPECT_EQ(third.error().retries, 0);
  // Blocked: even the right PIN is refused, and signing says so.
  auto right = piv_->verify_pin(secret(kPin));
  ASSERT_FALSE(right);
  EXPECT_EQ(right.error().code, Errc::kPinLocked);
  auto signer = PivSigner::create(*piv_, Slot::kSignature, secret(kPin));
  ASSERT_TRUE(signer);
  auto sig = signer->sign(signing_input(sha256(std::string_view("p"))));
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, Errc::kPinLocked);
  auto left = piv_->pin_retries();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 0);
}

TEST_F(PivIntegration, EmptySlotIsNotFound) {
  auto cert = piv_->read_certificate(Slot::kCardAuthentication);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, Errc::kNotFound);
  EXPECT_NE(cert.error().message.find("slot 9e"), std::string::npos) << cert.error().message;
  auto signer = PivSigner::create(*piv_, Slot::kCardAuthentication, secret(kPin));
  ASSERT_FALSE(signer);
  EXPECT_EQ(signer.error().code, Errc::kNotFound);
  ASSERT_TRUE(piv_->verify_pin(secret(kPin)));
  const Bytes digest(32, 0x11);
  auto sig = piv_->sign_digest(Slot::kCardAuthentication, Alg::kEcdsaP256, digest);
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, Errc::kNotFound);
}

TEST_F(PivIntegration, CardRemovedMidOperationIsNoDevice) {
  auto signer = PivSigner::create(*piv_, Slot::kSignature, secret(kPin));
  ASSERT_TRUE(signer) << signer.error().message;
  ASSERT_TRUE(fixture_->remove_card());
  auto sig = signer->sign(signing_input(sha256(std::string_view("p"))));
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, Errc::kNoDevice) << sig.error().message;
}

TEST_F(PivIntegration, RecoversWhenAnotherApplicationResetsTheCard) {
  // A second connection resets the card; our next command gets SCARD_W_RESET_CARD, and the
  // session reconnects, selects PIV again and sends the command once more.
  auto other = ctx_->connect(fixture_->reader());
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(other->reset_card());
  auto v = piv_->yubikey_serial();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 12345678u);
  // The reset dropped nothing we needed: a signature still takes PIN and GA in one go.
  ASSERT_TRUE(other->reset_card());
  auto signer = PivSigner::create(*piv_, Slot::kSignature, secret(kPin));
  ASSERT_TRUE(signer) << signer.error().message;
  ASSERT_TRUE(other->reset_card());
  auto sig = signer->sign(signing_input(sha256(std::string_view("p"))));
  ASSERT_TRUE(sig) << sig.error().message;
  // Without recovery the command after a reset fails: the card has forgotten the selection.
  ASSERT_TRUE(other->reset_card());
  pcsc::ApduSession bare(*other);
  auto r = bare.transmit(pcsc::CommandApdu{0x00, 0xF8, 0x00, 0x00, {}, std::nullopt});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sw, 0x6D00);  // not selected
}

TEST_F(PivIntegration, LongCommandsGoByCommandChaining) {
  // 600 bytes of PUT DATA need three chained APDUs. The card reassembles them, checks that
  // the 53 length matches the bytes that arrived (6A80 otherwise), then refuses the write
  // because no management key was authenticated (6982).
  const Bytes value(600, 0xAB);
  auto r = piv_->put_data(0x5FC102, value);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kRejected) << r.error().message;
}

TEST_F(PivIntegration, YubiKeyExtensionsReportVersionAndSerial) {
  auto v = piv_->yubikey_version();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ((*v)[0], 5);
  EXPECT_EQ((*v)[1], 4);
  EXPECT_EQ((*v)[2], 3);
  auto s = piv_->yubikey_serial();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*s, 12345678u);
}

TEST_F(PivIntegration, YubiKeyAttestationCertifiesTheSlotKey) {
  auto att = piv_->yubikey_attest(Slot::kSignature);
  ASSERT_TRUE(att) << att.error().message;
  // The attested key is the slot's key...
  auto attested = x509::public_key_from_certificate(*att);
  auto slot_key = x509::public_key_from_certificate(cert9c_);
  ASSERT_TRUE(attested) << attested.error().message;
  ASSERT_TRUE(slot_key);
  EXPECT_EQ(attested->id(), slot_key->id());
  // ...and the certificate is signed by the f9 attestation key.
  const unsigned char* p = att->data();
  std::unique_ptr<X509, decltype(&X509_free)> leaf(d2i_X509(nullptr, &p, static_cast<long>(att->size())),
                                                   &X509_free);
  const unsigned char* q = certf9_.data();
  std::unique_ptr<X509, decltype(&X509_free)> f9(d2i_X509(nullptr, &q, static_cast<long>(certf9_.size())),
                                                 &X509_free);
  ASSERT_TRUE(leaf && f9);
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(f9.get())), 1);
  EXPECT_NE(X509_verify(leaf.get(), X509_get0_pubkey(leaf.get())), 1);
  // An empty slot has nothing to attest.
  auto none = piv_->yubikey_attest(Slot::kCardAuthentication);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kNotFound);
}

TEST_F(PivIntegration, DiscoveryObjectNamesThePivApplication) {
  auto d = piv_->get_data(0x7E);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(hex_encode(*d).substr(0, 4), "4f0b");
}

}  // namespace
}  // namespace countersign
