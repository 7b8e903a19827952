// smartcard/fido2_authdata: authenticatorData with attested credential data (WebAuthn Level 2,
// 6.1 and 6.5.1), built by hand around libfido2's regress ES256 key, and every way its
// lengths and flags can be wrong. The authenticators' own authenticatorData (the virtual one
// and the WebAuthn vectors) are in fido2_attestation_test.cpp.
#include "smartcard/fido2_authdata.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace countersign::fido2 {
namespace {

Bytes es256_cose() {
  const auto v = nlohmann::json::parse(
      test_util::slurp(std::string(COUNTERSIGN_TEST_DATA) + "/libfido2-regress/assert_es256.json"));
  const Bytes xy = hex_decode(v.at("es256_pk").get<std::string>()).value();
  Bytes out{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20};
  out.insert(out.end(), xy.begin(), xy.begin() + 32);
  out.insert(out.end(), {0x22, 0x58, 0x20});
  out.insert(out.end(), xy.begin() + 32, xy.end());
  return out;
}

const Bytes kAaguid(16, 0xa7);

// rpIdHash || flags || signCount || aaguid || credentialIdLength || credentialId || COSE_Key
Bytes authdata(std::uint8_t flags, const Bytes& credential_id, const Bytes& cose = es256_cose()) {
  const Digest rp = sha256(std::string_view("countersign"));
  Bytes ad(rp.begin(), rp.end());
  ad.push_back(flags);
  ad.insert(ad.end(), {0x00, 0x00, 0x01, 0x07});
  ad.insert(ad.end(), kAaguid.begin(), kAaguid.end());
  ad.push_back(static_cast<std::uint8_t>(credential_id.size() >> 8));
  ad.push_back(static_cast<std::uint8_t>(credential_id.size() & 0xff));
  ad.insert(ad.end(), credential_id.begin(), credential_id.end());
  ad.insert(ad.end(), cose.begin(), cose.end());
  return ad;
}

void expect_refused(const Bytes& ad, const std::string& says) {
  auto r = parse_attested_authenticator_data(Alg::kFido2Es256, ad);
  ASSERT_FALSE(r.ok()) << says;
  EXPECT_EQ(r.error().code, Errc::kMalformed) << r.error().message;
  EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
}

TEST(Fido2Authdata, ReadsEveryField) {
  const Bytes id(16, 0x5c);
  auto r = parse_attested_authenticator_data(Alg::kFido2Es256, authdata(0x45, id));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->rp_id_hash, sha256(std::string_view("countersign")));
  EXPECT_EQ(r->flags, 0x45);
  EXPECT_EQ(r->sign_count, 0x107u);
  EXPECT_EQ(r->aaguid, kAaguid);
  EXPECT_EQ(r->credential_id, id);
  EXPECT_EQ(r->public_key.alg(), Alg::kFido2Es256);

  // Flags are reported, not judged (no UP here), and 1023 bytes is the longest id.
  auto longest = parse_attested_authenticator_data(Alg::kFido2Es256, authdata(0x40, Bytes(1023, 1)));
  ASSERT_TRUE(longest.ok()) << longest.error().message;
  EXPECT_EQ(longest->flags, 0x40);
  EXPECT_EQ(longest->credential_id.size(), 1023u);
}

TEST(Fido2Authdata, RefusesWhatIsNotExactlyOneAttestedCredential) {
  const Bytes id(16, 0x5c);
  expect_refused(authdata(0x01, id), "the AT flag is not set");
  expect_refused(authdata(0xc1, id), "the ED flag is set");
  expect_refused(authdata(0x41, {}), "credentialIdLength 0 is not 1 to 1023");
  expect_refused(authdata(0x41, Bytes(1024, 1)), "credentialIdLength 1024 is not 1 to 1023");
  Bytes trailing = authdata(0x41, id);
  trailing.insert(trailing.end(), {0x00, 0x00});
  expect_refused(trailing, "2 bytes after the credential public key");
  // The credential id runs past the end: the length says 0xffff.
  Bytes long_id = authdata(0x41, id);
  long_id[53] = 0xff;
  long_id[54] = 0xff;
  expect_refused(long_id, "credentialIdLength 65535");
  Bytes past = authdata(0x41, id);
  past.resize(55 + 10);
  past[54] = 16;
  expect_refused(past, "a credential id of 16 bytes where 10 are left");
  // The COSE_Key's errors, in context.
  expect_refused(authdata(0x41, id, {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
                 "authenticatorData: COSE_Key:");
  auto other = parse_attested_authenticator_data(Alg::kFido2EdDsa, authdata(0x41, id));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("has 4 parameters, not 5"), std::string::npos)
      << other.error().message;
  auto wrong = parse_attested_authenticator_data(Alg::kEd25519, authdata(0x41, id));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::kInvalidArgument);
}

TEST(Fido2Authdata, EveryTruncationIsRefused) {
  const Bytes ad = authdata(0x41, Bytes(16, 0x5c));
  for (std::size_t n = 0; n < ad.size(); ++n) {
    auto r = parse_attested_authenticator_data(Alg::kFido2Es256, ByteView(ad).first(n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, Errc::kMalformed) << n << ": " << r.error().message;
  }
}

}  // namespace
}  // namespace countersign::fido2
