// smartcard/fido2_convert against libfido2's own regress vectors (tests/data/libfido2-regress).
#include "smartcard/fido2_convert.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "tests/test_util.h"

namespace countersign::fido2 {
namespace {

const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/libfido2-regress/";

Bytes hex(const std::string& s) { return hex_decode(s).value(); }

// The DER inside a one-key PEM file.
Bytes pem_der(const std::string& path) {
  std::istringstream in(test_util::slurp(path));
  std::string line, body;
  while (std::getline(in, line))
    if (!line.starts_with("-----")) body += line;
  return base64_decode(body).value();
}

TEST(Fido2Convert, Es256KeyFromLibfido2IsTheSpkiOfTheVectorsPem) {
  const auto v = nlohmann::json::parse(test_util::slurp(kData + "assert_es256.json"));
  const Bytes xy = hex(v.at("es256_pk").get<std::string>());
  auto pk = public_key_from_libfido2(Alg::kFido2Es256, xy);
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  EXPECT_EQ(pk->spki(), pem_der(kData + "fido_pk.pem"));
  EXPECT_EQ(pk->alg(), Alg::kFido2Es256);

  Bytes off_curve = xy;
  off_curve[63] ^= 0x01;
  EXPECT_FALSE(public_key_from_libfido2(Alg::kFido2Es256, off_curve).ok());
  auto short_key = public_key_from_libfido2(Alg::kFido2Es256, ByteView(xy).first(63));
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().code, Errc::kMalformed);
}

TEST(Fido2Convert, EdDsaKeyRoundTripsThroughLibfido2) {
  const Bytes spki = pem_der(kData + "ed_pk.pem");
  ASSERT_EQ(spki.size(), 44u);
  const Bytes raw(spki.end() - 32, spki.end());
  auto pk = public_key_from_libfido2(Alg::kFido2EdDsa, raw);
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  EXPECT_EQ(pk->spki(), spki);
  EXPECT_FALSE(public_key_from_libfido2(Alg::kFido2EdDsa, ByteView(raw).first(31)).ok());
  auto wrong_alg = public_key_from_libfido2(Alg::kEd25519, raw);
  ASSERT_FALSE(wrong_alg.ok());
  EXPECT_EQ(wrong_alg.error().code, Errc::kInvalidArgument);
}

TEST(Fido2Convert, AuthenticatorDataIsUnwrappedFromItsCborByteString) {
  const auto v = nlohmann::json::parse(test_util::slurp(kData + "assert_es256.json"));
  const Bytes wrapped = hex(v.at("authdata").get<std::string>());
  auto ad = unwrap_authenticator_data(wrapped);
  ASSERT_TRUE(ad.ok()) << ad.error().message;
  EXPECT_EQ(*ad, Bytes(wrapped.begin() + 2, wrapped.end()));
  EXPECT_EQ(ad->size(), 37u);

  Bytes trailing = wrapped;
  trailing.push_back(0x00);
  EXPECT_EQ(unwrap_authenticator_data(trailing).error().code, Errc::kMalformed);
  EXPECT_FALSE(unwrap_authenticator_data(ByteView(wrapped).first(20)).ok()) << "truncated";
  EXPECT_FALSE(unwrap_authenticator_data(Bytes{0x5f, 0x41, 0x00, 0xff}).ok()) << "indefinite byte string";
  EXPECT_FALSE(unwrap_authenticator_data(Bytes{0x61, 0x41}).ok()) << "text string";
  EXPECT_FALSE(unwrap_authenticator_data(Bytes{0x58, 0x01, 0x00}).ok()) << "a head longer than needed";
  EXPECT_FALSE(
      unwrap_authenticator_data(Bytes{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}).ok())
      << "a length beyond the input";
  EXPECT_FALSE(unwrap_authenticator_data(Bytes{}).ok());
}

}  // namespace
}  // namespace countersign::fido2
