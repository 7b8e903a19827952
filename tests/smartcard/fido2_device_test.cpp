// smartcard/fido2_device: enrolment, info and error mapping through the real libfido2
// against the virtual authenticator (tests/smartcard/virtual_fido2.h).
#include "smartcard/fido2_device.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "core/policy.h"
#include "core/sha256.h"
#include "tests/smartcard/virtual_fido2.h"

namespace countersign::fido2 {
namespace {

using countersign::testing::VirtualFido2;

SecretBytes secret(const std::string& s) { return SecretBytes::copy_of(as_bytes(s)); }

Device open_virtual(VirtualFido2& v) {
  auto d = Device::open(v.path(), VirtualFido2::io(), 5000);
  if (!d.ok()) ADD_FAILURE() << d.error().message;
  return std::move(d).value();
}

TEST(Fido2Device, OpeningAPathWhereNothingAnswersIsNoDevice) {
  auto d = Device::open("virtual-fido2:does-not-exist", VirtualFido2::io(), 1000);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, Errc::kNoDevice) << d.error().message;
}

TEST(Fido2Device, InfoReportsWhatTheAuthenticatorSays) {
  VirtualFido2 v;
  Device d = open_virtual(v);
  auto info = d.info();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->aaguid, v.aaguid());
  EXPECT_EQ(info->versions, std::vector<std::string>{"FIDO_2_0"});
  EXPECT_EQ(info->algorithms, (std::vector<int>{-7, -8}));
  EXPECT_FALSE(info->pin_set);
  EXPECT_EQ(info->pin_retries, -1);

  v.set_pin("123456");
  Device d2 = open_virtual(v);
  info = d2.info();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->pin_set);
  EXPECT_EQ(info->pin_retries, 8);
}

class EnrollTest : public ::testing::TestWithParam<Alg> {};

TEST_P(EnrollTest, EnrolmentIsAPolicyKeyEntryCoreAccepts) {
  VirtualFido2 v;
  Device d = open_virtual(v);
  auto key = d.make_credential({GetParam(), false, false, "alice"}, nullptr);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->key.alg(), GetParam());
  EXPECT_FALSE(key->credential_id.empty());
  ASSERT_TRUE(key->attestation.has_value());
  EXPECT_EQ(key->attestation->format, "fido2-packed");
  ASSERT_EQ(key->attestation->certificates.size(), 1u);
  EXPECT_EQ(key->attestation->certificates[0], v.attestation_certificate());
  EXPECT_EQ(key->attestation->client_data_hash.size(), 32u);
  // authenticatorData of the enrolment: rpIdHash of "countersign", UP|AT flags.
  const Bytes& ad = key->attestation->authenticator_data;
  ASSERT_GT(ad.size(), 37u);
  const Digest rp = sha256(std::string_view("countersign"));
  EXPECT_TRUE(std::equal(rp.begin(), rp.end(), ad.begin()));
  EXPECT_EQ(ad[32] & 0x41, 0x41);

  // The entry survives core's parser unchanged (same key id, same credential id).
  const nlohmann::json j = policy_key_to_json(*key);
  auto parsed = parse_policy_key(j, "policy", "/approvers/0/keys/0");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->key.id(), key->key.id());
  EXPECT_EQ(parsed->credential_id, key->credential_id);
  ASSERT_TRUE(parsed->attestation.has_value());
  EXPECT_EQ(parsed->attestation->signature, key->attestation->signature);

  // The attestation signature checks out with the certificate's key, independently of
  // libfido2: ECDSA over authenticatorData || clientDataHash.
  const unsigned char* p = v.attestation_certificate().data();
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(v.attestation_certificate().size())), X509_free);
  ASSERT_TRUE(cert);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  Bytes msg = ad;
  msg.insert(msg.end(), key->attestation->client_data_hash.begin(), key->attestation->client_data_hash.end());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pub), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), key->attestation->signature.data(),
                             key->attestation->signature.size(), msg.data(), msg.size()),
            1);
  msg[0] ^= 1;
  EXPECT_NE(EVP_DigestVerify(ctx.get(), key->attestation->signature.data(),
                             key->attestation->signature.size(), msg.data(), msg.size()),
            1);
}

INSTANTIATE_TEST_SUITE_P(Algs, EnrollTest, ::testing::Values(Alg::kFido2Es256, Alg::kFido2EdDsa),
                         [](const auto& p) {
                           return std::string(p.param == Alg::kFido2Es256 ? "es256" : "eddsa");
                         });

TEST(Fido2Device, EnrolmentNeedsThePinWhenOneIsSet) {
  VirtualFido2 v;
  v.set_pin("123456");
  Device d = open_virtual(v);
  auto no_pin = d.make_credential({Alg::kFido2Es256, false, false, "alice"}, nullptr);
  ASSERT_FALSE(no_pin.ok());
  EXPECT_EQ(no_pin.error().code, Errc::kInvalidArgument) << no_pin.error().message;
  EXPECT_NE(no_pin.error().message.find("requires its PIN"), std::string::npos) << no_pin.error().message;
  // uv without a PIN asks for built-in user verification, which this key does not have.
  auto builtin_uv = d.make_credential({Alg::kFido2Es256, true, false, "alice"}, nullptr);
  ASSERT_FALSE(builtin_uv.ok());
  EXPECT_EQ(builtin_uv.error().code, Errc::kUnsupported) << builtin_uv.error().message;
  const SecretBytes pin = secret("123456");
  auto key = d.make_credential({Alg::kFido2Es256, true, false, "alice"}, &pin);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_TRUE(key->uv);
  EXPECT_EQ(key->attestation->authenticator_data[32] & 0x04, 0x04) << "UV flag set through the PIN";
}

TEST(Fido2Device, NotTouchedWhileEnrollingIsATimeout) {
  VirtualFido2 v;
  v.no_touch = true;
  Device d = open_virtual(v);
  auto key = d.make_credential({Alg::kFido2Es256, false, false, "alice"}, nullptr);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, Errc::kTimeout) << key.error().message;
  EXPECT_NE(key.error().message.find("touch"), std::string::npos);
}

TEST(Fido2Device, MalformedCborFromTheDeviceIsReportedAsMalformed) {
  VirtualFido2 v;
  Device d = open_virtual(v);
  v.malformed_response = true;
  auto key = d.make_credential({Alg::kFido2Es256, false, false, "alice"}, nullptr);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, Errc::kMalformed) << key.error().message;
  // The next request is answered properly again.
  EXPECT_TRUE(d.make_credential({Alg::kFido2Es256, false, false, "alice"}, nullptr).ok());
}

TEST(Fido2Device, SetPinThroughLibfido2ReachesTheVirtualDevice) {
  // libfido2's own setPIN (PIN protocol one, ECDH + AES + HMAC) against the device.
  VirtualFido2 v;
  std::unique_ptr<fido_dev_t, void (*)(fido_dev_t*)> dev(fido_dev_new(), [](fido_dev_t* p) {
    fido_dev_close(p);
    fido_dev_free(&p);
  });
  ASSERT_EQ(fido_dev_set_io_functions(dev.get(), VirtualFido2::io()), FIDO_OK);
  ASSERT_EQ(fido_dev_open(dev.get(), v.path().c_str()), FIDO_OK);
  ASSERT_EQ(fido_dev_set_pin(dev.get(), "4321", nullptr), FIDO_OK);
  int retries = -1;
  ASSERT_EQ(fido_dev_get_retry_count(dev.get(), &retries), FIDO_OK);
  EXPECT_EQ(retries, 8);
  Device d = open_virtual(v);
  const SecretBytes pin = secret("4321");
  EXPECT_TRUE(d.make_credential({Alg::kFido2EdDsa, true, false, "bob"}, &pin).ok());
}

}  // namespace
}  // namespace countersign::fido2
