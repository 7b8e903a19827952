// smartcard/fido2_attestation: packed attestation of enrolments by the virtual authenticator,
// checked against its test CA (trusted) and Yubico's FIDO root (not its issuer).
#include "smartcard/fido2_attestation.h"

#include <gtest/gtest.h>

#include "core/x509.h"
#include "smartcard/fido2_device.h"
#include "tests/smartcard/virtual_fido2.h"
#include "tests/test_util.h"

namespace countersign::fido2 {
namespace {

using countersign::testing::VirtualFido2;

class Fido2AttestationTest : public ::testing::TestWithParam<Alg> {
 protected:
  void SetUp() override {
    auto d = Device::open(v.path(), VirtualFido2::io(), 5000);
    ASSERT_TRUE(d.ok()) << d.error().message;
    auto k = d->make_credential({GetParam(), false, false, "alice"}, nullptr);
    ASSERT_TRUE(k.ok()) << k.error().message;
    enrolled = std::move(*k);
  }
  VirtualFido2 v;
  std::optional<PolicyKey> enrolled;  // PolicyKey has no default (PublicKey is parse-only)
  const PolicyKey& key() const { return *enrolled; }
};

TEST_P(Fido2AttestationTest, VerifiesAgainstTheIssuingRootOnly) {
  auto info = verify_attestation(key(), "countersign", {v.ca_certificate()});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->aaguid, v.aaguid());
  EXPECT_NE(info->subject.find("Authenticator Attestation"), std::string::npos) << info->subject;

  const Bytes yubico = x509::read_certificates(std::string(COUNTERSIGN_TEST_DATA) +
                                               "/yubico-attestation/yubico-u2f-root-ca-457200631.pem")
                           .value()
                           .front();
  auto other = verify_attestation(key(), "countersign", {yubico});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Errc::kRejected) << other.error().message;
  EXPECT_EQ(verify_attestation(key(), "countersign", {}).error().code, Errc::kRejected);
}

TEST_P(Fido2AttestationTest, RefusesAttestationsThatDoNotBelongToTheKey) {
  auto wrong_rp = verify_attestation(key(), "example.org", {v.ca_certificate()});
  ASSERT_FALSE(wrong_rp.ok());
  EXPECT_EQ(wrong_rp.error().code, Errc::kInvalidDocument) << wrong_rp.error().message;

  PolicyKey other_id = key();
  other_id.credential_id[0] ^= 1;
  EXPECT_EQ(verify_attestation(other_id, "countersign", {v.ca_certificate()}).error().code,
            Errc::kInvalidDocument);

  PolicyKey bad_sig = key();
  bad_sig.attestation->client_data_hash[0] ^= 1;  // the signature no longer covers these bytes
  auto r = verify_attestation(bad_sig, "countersign", {v.ca_certificate()});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code == Errc::kCrypto || r.error().code == Errc::kInvalidDocument)
      << r.error().message;

  PolicyKey none = key();
  none.attestation.reset();
  EXPECT_EQ(verify_attestation(none, "countersign", {v.ca_certificate()}).error().code,
            Errc::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Algs, Fido2AttestationTest, ::testing::Values(Alg::kFido2Es256, Alg::kFido2EdDsa),
                         [](const auto& p) {
                           return std::string(p.param == Alg::kFido2Es256 ? "es256" : "eddsa");
                         });

}  // namespace
}  // namespace countersign::fido2
