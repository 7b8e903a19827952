// smartcard/attestation: YubiKey PIV attestation chains from real YubiKeys (piv-go's test
// chains, tests/data/yubico-attestation/SOURCE.txt) against the pinned Yubico roots, and
// the format dispatch that `policy check`, `bundle verify` and the box share.
#include "smartcard/attestation.h"

#include <gtest/gtest.h>

#include "core/x509.h"
#include "smartcard/attestation_roots.h"

namespace countersign::attestation {
namespace {

const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/yubico-attestation/";

Bytes cert(const std::string& name) {
  auto c = x509::read_certificates(kData + name);
  EXPECT_TRUE(c.ok()) << name << ": " << c.error().message;
  return c.ok() && !c->empty() ? c->front() : Bytes{};
}

// The policy key entry `key enroll --piv` would print for the YubiKey of piv-go chain `name`.
PolicyKey piv_key(const std::string& name) {
  const Bytes leaf = cert("piv-go-testchains/" + name + ".attestation.pem");
  const Bytes f9 = cert("piv-go-testchains/" + name + ".f9-device.pem");
  auto key = x509::public_key_from_certificate(leaf);
  EXPECT_TRUE(key.ok()) << key.error().message;
  PolicyKey k{*key, {}, false, std::nullopt};
  Attestation a;
  a.format = "yubikey-piv";
  a.certificates = {leaf, f9};
  k.attestation = a;
  return k;
}

TEST(YubikeyPivAttestation, RealChainsVerifyAgainstThePinnedRoots) {
  const Roots roots = Roots::pinned();
  auto after2018 = verify_yubikey_piv(piv_key("ValidChain"), roots.piv);
  ASSERT_TRUE(after2018.ok()) << after2018.error().message;
  EXPECT_NE(after2018->subject.find("YubiKey PIV Attestation 9a"), std::string::npos) << after2018->subject;
  // Keys attested before 2018 chain to Yubico's U2F root.
  auto before2018 = verify_yubikey_piv(piv_key("ValidChain2018"), roots.piv);
  EXPECT_TRUE(before2018.ok()) << before2018.error().message;
}

TEST(YubikeyPivAttestation, BrokenChainsAreRefusedWithTheReason) {
  const Roots roots = Roots::pinned();
  for (const char* name : {"InvalidChain", "InvalidChain2"}) {
    auto r = verify_yubikey_piv(piv_key(name), roots.piv);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.error().code, Errc::kCrypto) << name << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("not signed by certificate 1"), std::string::npos) << r.error().message;
  }
}

TEST(YubikeyPivAttestation, AChainToAnotherRootIsNotTrusted) {
  // The FIDO roots alone do not include the PIV root that signed ValidChain's f9 certificate.
  auto r = verify_yubikey_piv(piv_key("ValidChain"), pinned_fido2_roots());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kRejected) << r.error().message;
  EXPECT_NE(r.error().message.find("Yubico PIV Attestation"), std::string::npos) << r.error().message;
  EXPECT_EQ(verify_yubikey_piv(piv_key("ValidChain"), {}).error().code, Errc::kRejected);
}

TEST(YubikeyPivAttestation, TheAttestationMustCertifyThePolicyKey) {
  PolicyKey k = piv_key("ValidChain");
  const PolicyKey other = piv_key("ValidChain2018");
  k.key = other.key;  // another key with a genuine attestation of the first
  auto r = verify_yubikey_piv(k, Roots::pinned().piv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidDocument) << r.error().message;

  PolicyKey leaf_only = piv_key("ValidChain");
  leaf_only.attestation->certificates.pop_back();
  EXPECT_EQ(verify_yubikey_piv(leaf_only, Roots::pinned().piv).error().code, Errc::kInvalidDocument);

  PolicyKey garbage = piv_key("ValidChain");
  garbage.attestation->certificates[1].resize(20);
  EXPECT_EQ(verify_yubikey_piv(garbage, Roots::pinned().piv).error().code, Errc::kMalformed);
}

TEST(AttestationCheck, SaysForEachFormatWhetherTheKeyIsProvenToBeInHardware) {
  const Roots roots = Roots::pinned();
  const Check ok = check(piv_key("ValidChain"), roots);
  EXPECT_TRUE(ok.verified);
  EXPECT_EQ(ok.format, "yubikey-piv");
  EXPECT_NE(ok.detail.find("yubikey-piv verified"), std::string::npos) << ok.detail;
  EXPECT_EQ(ok.to_json()["verified"], true);

  const Check bad = check(piv_key("InvalidChain"), roots);
  EXPECT_FALSE(bad.verified);
  EXPECT_NE(bad.detail.find("NOT verified"), std::string::npos) << bad.detail;

  PolicyKey none = piv_key("ValidChain");
  none.attestation.reset();
  const Check plain = check(none, roots);
  EXPECT_FALSE(plain.verified);
  EXPECT_EQ(plain.detail, "no hardware attestation");
  EXPECT_TRUE(plain.to_json()["format"].is_null());

  PolicyKey unknown = piv_key("ValidChain");
  unknown.attestation->format = "tpm";
  EXPECT_FALSE(check(unknown, roots).verified);
  EXPECT_NE(check(unknown, roots).detail.find("\"tpm\""), std::string::npos);
}

TEST(Fido2Model, NamesTheYubikeysYubicoListsAndNothingElse) {
  auto aaguid = [](const std::string& hex) { return hex_decode(hex).value(); };
  EXPECT_EQ(fido2_model(aaguid("2fc0579f811347eab116bb5a8db9202a")),
            "YubiKey 5 NFC / 5C NFC (firmware 5.2, 5.4)");
  EXPECT_EQ(fido2_model(aaguid("c5ef55ffad9a4b9fb580adebafe026d0")), "YubiKey 5Ci (firmware 5.2, 5.4)");
  EXPECT_EQ(fido2_model(aaguid("00000000000000000000000000000000")), "");
  EXPECT_EQ(fido2_model(Bytes{}), "");
}

TEST(AttestationRoots, ThePinnedRootsAreYubicosPublishedCertificates) {
  const Bytes u2f = cert("yubico-u2f-root-ca-457200631.pem");
  const Bytes piv = cert("yubico-piv-root-ca-263751.pem");
  EXPECT_EQ(pinned_fido2_roots(), std::vector<Bytes>{u2f});
  EXPECT_EQ(pinned_piv_roots(), (std::vector<Bytes>{piv, u2f}));

  Roots r = Roots::pinned();
  ASSERT_TRUE(r.add_files({kData + "piv-go-testchains/ValidChain.f9-device.pem"}).ok());
  EXPECT_EQ(r.piv.size(), 3u);
  EXPECT_EQ(r.fido2.size(), 2u);
  auto missing = r.add_files({"/nonexistent/root.pem"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/root.pem"), std::string::npos);
}

TEST(X509, ReadsPemAndDerAndRefusesAnythingElse) {
  auto pem = x509::read_certificates(kData + "yubico-piv-root-ca-263751.pem");
  ASSERT_TRUE(pem.ok()) << pem.error().message;
  ASSERT_EQ(pem->size(), 1u);
  EXPECT_EQ(x509::subject_line(pem->front()), "/CN=Yubico PIV Root CA Serial 263751");
  EXPECT_EQ(x509::subject_line(Bytes{1, 2, 3}), "");
  // The root's key is RSA: not a signing key countersign accepts.
  EXPECT_EQ(x509::public_key_from_certificate(pem->front()).error().code, Errc::kUnsupported);
  EXPECT_EQ(x509::public_key_from_certificate(Bytes{0x30, 0x00}).error().code, Errc::kMalformed);
  auto leaf = x509::public_key_from_certificate(cert("piv-go-testchains/ValidChain.attestation.pem"));
  ASSERT_TRUE(leaf.ok()) << leaf.error().message;
  EXPECT_EQ(leaf->alg(), Alg::kEcdsaP256);
}

}  // namespace
}  // namespace countersign::attestation
