// smartcard/fido2_signer: signing proposals with a credential on the virtual authenticator
// and checking the result with core's verifier.
#include "smartcard/fido2_signer.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "core/signature_file.h"
#include "tests/smartcard/virtual_fido2.h"

namespace countersign::fido2 {
namespace {

using countersign::testing::VirtualFido2;

SecretBytes secret(const std::string& s) { return SecretBytes::copy_of(as_bytes(s)); }

class Fido2SignerTest : public ::testing::Test {
 protected:
  Device open() {
    auto d = Device::open(v.path(), VirtualFido2::io(), 5000);
    if (!d.ok()) ADD_FAILURE() << d.error().message;
    return std::move(d).value();
  }
  PolicyKey enroll(Alg alg, bool uv, const SecretBytes* pin = nullptr) {
    Device d = open();
    auto k = d.make_credential({alg, uv, false, "alice"}, pin);
    if (!k.ok()) ADD_FAILURE() << k.error().message;
    return std::move(k).value();
  }
  Result<Fido2Signer> signer(const PolicyKey& key, Fido2Signer::PinSource pins = nullptr) {
    return Fido2Signer::create(open(), key, std::move(pins));
  }

  VirtualFido2 v;
  const Digest proposal = sha256(std::string_view("a proposal"));
  const SigningInput input = signing_input(proposal);
};

TEST_F(Fido2SignerTest, SignedProposalVerifiesInCoreForBothAlgorithms) {
  for (Alg alg : {Alg::kFido2Es256, Alg::kFido2EdDsa}) {
    const PolicyKey key = enroll(alg, false);
    auto s = signer(key);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->public_key().id(), key.key.id());
    // sign_proposal verifies its own output with core before returning it.
    auto file = sign_proposal(*s, proposal, "alice", 1'800'000'000);
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_EQ(file->alg(), alg);
    EXPECT_EQ(file->key(), key.key.id());
    const auto& ad = file->fields().authenticator_data;
    ASSERT_EQ(ad.size(), 37u);
    EXPECT_EQ(ad[32], 0x01) << "UP only: no PIN was asked";
    EXPECT_TRUE(key.key.verify(input, file->fields().signature, ad).ok());
  }
}

TEST_F(Fido2SignerTest, SignatureCounterGoesUp) {
  const PolicyKey key = enroll(Alg::kFido2Es256, false);
  auto s = signer(key);
  ASSERT_TRUE(s.ok());
  auto a = s->sign(input);
  auto b = s->sign(input);
  ASSERT_TRUE(a.ok() && b.ok());
  auto counter = [](const Bytes& ad) {
    return std::uint32_t{ad[33]} << 24 | std::uint32_t{ad[34]} << 16 | std::uint32_t{ad[35]} << 8 | ad[36];
  };
  EXPECT_EQ(counter(b->authenticator_data), counter(a->authenticator_data) + 1);
  EXPECT_EQ(counter(b->authenticator_data), v.sign_count());
}

TEST_F(Fido2SignerTest, TamperedAuthenticatorDataIsRefusedByCore) {
  const PolicyKey key = enroll(Alg::kFido2Es256, false);
  auto s = signer(key);
  ASSERT_TRUE(s.ok());
  auto sig = s->sign(input);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  ASSERT_TRUE(key.key.verify(input, sig->signature, sig->authenticator_data).ok());
  for (std::size_t at : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{36}}) {
    Bytes ad = sig->authenticator_data;
    ad[at] ^= 0x01;  // rpIdHash, flags (UP off), counter
    EXPECT_FALSE(key.key.verify(input, sig->signature, ad).ok()) << "byte " << at;
  }
  // The real assertion lacks UV, so a key entry demanding uv refuses it.
  EXPECT_FALSE(key.key.verify(input, sig->signature, sig->authenticator_data, true).ok());
}

TEST_F(Fido2SignerTest, UserVerificationWithThePin) {
  v.set_pin("246810");
  const SecretBytes enrol_pin = secret("246810");
  const PolicyKey key = enroll(Alg::kFido2EdDsa, true, &enrol_pin);
  int asked = 0;
  auto s = signer(key, [&]() -> Result<SecretBytes> {
    ++asked;
    return secret("246810");
  });
  ASSERT_TRUE(s.ok());
  auto sig = s->sign(input);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(sig->authenticator_data[32], 0x05) << "UP | UV";
  EXPECT_TRUE(key.key.verify(input, sig->signature, sig->authenticator_data, true).ok());
}

TEST_F(Fido2SignerTest, NoPinIsAskedWhenTheKeyDoesNotDemandUv) {
  v.set_pin("246810");
  const SecretBytes pin = secret("246810");
  const PolicyKey key = enroll(Alg::kFido2Es256, false, &pin);
  auto s =
      signer(key, []() -> Result<SecretBytes> { return make_error(Errc::kInternal, "must not be asked"); });
  ASSERT_TRUE(s.ok());
  auto sig = s->sign(input);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(sig->authenticator_data[32], 0x01);
}

TEST_F(Fido2SignerTest, WrongPinSaysHowManyTriesAreLeftThenBlocks) {
  v.set_pin("246810");
  const SecretBytes pin = secret("246810");
  const PolicyKey key = enroll(Alg::kFido2Es256, true, &pin);
  auto s = signer(key, [] { return Result<SecretBytes>(secret("000000")); });
  ASSERT_TRUE(s.ok());
  for (int left = 7; left >= 1; --left) {
    auto r = s->sign(input);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kWrongPin) << r.error().message;
    EXPECT_EQ(r.error().retries, left);
    EXPECT_NE(r.error().message.find(std::to_string(left) + " tries left"), std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(v.pin_retries(), 1);
  auto last = s->sign(input);
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code, Errc::kPinLocked) << last.error().message;
  // Blocked: even the right PIN is refused now.
  auto right = signer(key, [] { return Result<SecretBytes>(secret("246810")); });
  ASSERT_TRUE(right.ok());
  auto r = right->sign(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kPinLocked) << r.error().message;
}

TEST_F(Fido2SignerTest, ACredentialFromAnotherAuthenticatorIsNotFound) {
  VirtualFido2 other;
  auto od = Device::open(other.path(), VirtualFido2::io(), 5000);
  ASSERT_TRUE(od.ok());
  auto foreign = od->make_credential({Alg::kFido2Es256, false, false, "bob"}, nullptr);
  ASSERT_TRUE(foreign.ok());
  auto s = signer(*foreign);
  ASSERT_TRUE(s.ok());
  auto r = s->sign(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotFound) << r.error().message;
  EXPECT_NE(r.error().message.find("no matching credential"), std::string::npos);

  Device d = open();
  auto held = d.has_credential(foreign->credential_id);
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_FALSE(*held);
  const PolicyKey mine = enroll(Alg::kFido2Es256, false);
  held = d.has_credential(mine.credential_id);
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_TRUE(*held);
}

TEST_F(Fido2SignerTest, NoTouchIsATimeout) {
  const PolicyKey key = enroll(Alg::kFido2Es256, false);
  auto s = signer(key);
  ASSERT_TRUE(s.ok());
  v.no_touch = true;
  auto r = s->sign(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout) << r.error().message;
}

TEST_F(Fido2SignerTest, UnpluggedWhileWaitingForTouchIsNoDevice) {
  const PolicyKey key = enroll(Alg::kFido2Es256, false);
  auto s = signer(key);
  ASSERT_TRUE(s.ok());
  v.unplug_on_assertion = true;
  auto r = s->sign(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNoDevice) << r.error().message;
  EXPECT_NE(r.error().message.find("removed"), std::string::npos);
}

TEST_F(Fido2SignerTest, MalformedAssertionResponseIsMalformed) {
  const PolicyKey key = enroll(Alg::kFido2EdDsa, false);
  auto s = signer(key);
  ASSERT_TRUE(s.ok());
  v.malformed_response = true;
  auto r = s->sign(input);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed) << r.error().message;
}

TEST_F(Fido2SignerTest, KeysThatAreNotFido2AreRefused) {
  PolicyKey key = enroll(Alg::kFido2Es256, false);
  key.credential_id.clear();
  auto s = signer(key);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace countersign::fido2
