// smartcard/cose_key: COSE_Keys (RFC 9052/9053) of FIDO2 credentials, from libfido2's regress
// keys (tests/data/libfido2-regress), encoded by hand, and every way they can be wrong.
#include "smartcard/cose_key.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "tests/test_util.h"

namespace countersign::fido2 {
namespace {

const std::string kData = std::string(COUNTERSIGN_TEST_DATA) + "/libfido2-regress/";

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The P-256 point x || y of assert_es256.json, and the Ed25519 key of ed_pk.pem.
Bytes es256_xy() {
  const auto v = nlohmann::json::parse(test_util::slurp(kData + "assert_es256.json"));
  return hex_decode(v.at("es256_pk").get<std::string>()).value();
}
Bytes ed25519_raw() {
  std::istringstream in(test_util::slurp(kData + "ed_pk.pem"));
  std::string line, body;
  while (std::getline(in, line))
    if (!line.starts_with("-----")) body += line;
  const Bytes spki = base64_decode(body).value();
  return Bytes(spki.end() - 32, spki.end());
}

const Bytes kBstr32{0x58, 0x20};
Bytes x_of(const Bytes& xy) { return Bytes(xy.begin(), xy.begin() + 32); }
Bytes y_of(const Bytes& xy) { return Bytes(xy.begin() + 32, xy.end()); }

// {1: 2, 3: -7, -1: 1, -2: x, -3: y}, as authenticators write it.
Bytes es256_cose(const Bytes& xy) {
  return cat(
      {{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}, kBstr32, x_of(xy), {0x22}, kBstr32, y_of(xy)});
}
// {1: 1, 3: -8, -1: 6, -2: x}
Bytes eddsa_cose(const Bytes& x) {
  return cat({{0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21}, kBstr32, x});
}

Bytes sec1(const Bytes& xy) { return cat({{0x04}, xy}); }

TEST(CoseKey, Es256IsTheKeyOfItsPoint) {
  const Bytes xy = es256_xy();
  const Bytes cose = es256_cose(xy);
  auto k = parse_cose_key(Alg::kFido2Es256, cose);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->key.id(), PublicKey::from_raw(Alg::kFido2Es256, sec1(xy))->id());
  EXPECT_EQ(k->length, cose.size());

  // Bytes after the map are not the key's: the length says where it ended.
  auto followed = parse_cose_key(Alg::kFido2Es256, cat({cose, {0xa0}}));
  ASSERT_TRUE(followed.ok()) << followed.error().message;
  EXPECT_EQ(followed->length, cose.size());

  // Labels in another order than CTAP2's canonical one are the same key.
  const Bytes shuffled =
      cat({{0xa5, 0x22}, kBstr32, y_of(xy), {0x20, 0x01, 0x21}, kBstr32, x_of(xy), {0x03, 0x26, 0x01, 0x02}});
  auto s = parse_cose_key(Alg::kFido2Es256, shuffled);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->key.id(), k->key.id());
}

TEST(CoseKey, EdDsaIsTheKeyOfItsBytes) {
  const Bytes raw = ed25519_raw();
  auto k = parse_cose_key(Alg::kFido2EdDsa, eddsa_cose(raw));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->key.id(), PublicKey::from_raw(Alg::kFido2EdDsa, raw)->id());
  EXPECT_EQ(k->key.alg(), Alg::kFido2EdDsa);
}

void expect_refused(Alg alg, const Bytes& cose, const std::string& says) {
  auto k = parse_cose_key(alg, cose);
  ASSERT_FALSE(k.ok()) << says;
  EXPECT_NE(k.error().message.find(says), std::string::npos) << k.error().message;
}

TEST(CoseKey, RefusesKeysThatAreNotExactlyTheAlgorithms) {
  const Bytes xy = es256_xy();
  const Bytes x = x_of(xy), y = y_of(xy);
  const Bytes ed = ed25519_raw();
  // The other algorithm's key, and the other algorithm asked for.
  expect_refused(Alg::kFido2Es256, eddsa_cose(ed), "has 5 parameters, not 4");
  expect_refused(Alg::kFido2EdDsa, es256_cose(xy), "has 4 parameters, not 5");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x01, 0x03, 0x26, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
                 "kty (1) is 1, not 2");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x27, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
                 "alg (3) is -8, not -7");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x02, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
                 "crv (-1) is 2, not 1");
  expect_refused(Alg::kFido2EdDsa, cat({{0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x07, 0x21}, kBstr32, ed}),
                 "crv (-1) is 7, not 6");
  // Labels: repeated, unknown (kid, 2: WebAuthn allows no optional parameters), y on OKP.
  expect_refused(
      Alg::kFido2Es256,
      cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x21}, kBstr32, x, {0x21}, kBstr32, x, {0x22}, kBstr32, y}),
      "x (-2) appears twice");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x01, 0x02, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
                 "kty (1) appears twice");
  expect_refused(
      Alg::kFido2Es256,
      cat({{0xa5, 0x01, 0x02, 0x02, 0x41, 0x00, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
      "label 2 has no place");
  expect_refused(Alg::kFido2EdDsa,
                 cat({{0xa4, 0x01, 0x01, 0x03, 0x27, 0x22}, kBstr32, ed, {0x21}, kBstr32, ed}),
                 "label -3 has no place");
  // Values of the wrong type or size.
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x1f},
                      Bytes(x.begin(), x.end() - 1),
                      {0x22},
                      kBstr32,
                      y}),
                 "x (-2) is 31 bytes, not 32");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x78, 0x20}, x, {0x22}, kBstr32, y}),
                 "not a byte string");
  expect_refused(
      Alg::kFido2Es256,
      cat({{0xa5, 0x01, 0x42, 0x00, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
      "not an integer");
  expect_refused(
      Alg::kFido2Es256,
      cat({{0xa5, 0x61, 0x31, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
      "COSE_Key label: CBOR: not an integer");
  expect_refused(
      Alg::kFido2Es256,
      cat({{0xa5, 0x01, 0x18, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}, kBstr32, x, {0x22}, kBstr32, y}),
      "shortest form");
  // A point that is not on P-256: core refuses it.
  Bytes off = xy;
  off.back() ^= 0x01;
  EXPECT_FALSE(parse_cose_key(Alg::kFido2Es256, es256_cose(off)).ok());
  // Not a FIDO2 algorithm.
  auto wrong = parse_cose_key(Alg::kEcdsaP256, es256_cose(xy));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::kInvalidArgument);
}

TEST(CoseKey, DeclaredLengthsAreBoundedByTheInput) {
  const Bytes xy = es256_xy();
  // The map head that makes cbor_load allocate 2^64 - 1 entries, and the same for 2^32 - 1.
  expect_refused(Alg::kFido2Es256, Bytes{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                 "not 18446744073709551615");
  expect_refused(Alg::kFido2Es256, Bytes{0xba, 0xff, 0xff, 0xff, 0xff}, "not 4294967295");
  // x declared as 2^32 - 1 bytes, then 2^64 - 1.
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x5a, 0xff, 0xff, 0xff, 0xff}, xy}),
                 "a byte string of 4294967295 bytes where 64 are left");
  expect_refused(Alg::kFido2Es256,
                 cat({{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff,
                       0xff, 0xff, 0xff},
                      xy}),
                 "a byte string of 18446744073709551615 bytes");
  // Every truncation of a good key.
  const Bytes cose = es256_cose(xy);
  for (std::size_t n = 0; n < cose.size(); ++n) {
    auto k = parse_cose_key(Alg::kFido2Es256, ByteView(cose).first(n));
    ASSERT_FALSE(k.ok()) << n;
    EXPECT_EQ(k.error().code, Errc::kMalformed) << n << ": " << k.error().message;
  }
}

}  // namespace
}  // namespace countersign::fido2
