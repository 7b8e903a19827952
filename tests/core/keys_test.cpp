#include "core/keys.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/bytes.h"
#include "core/secret.h"
#include "core/sha256.h"

namespace countersign {
namespace {

const std::string kData = COUNTERSIGN_TEST_DATA;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Bytes hex(std::string_view h) {
  auto b = hex_decode(h);
  EXPECT_TRUE(b.ok()) << h;
  return b.ok() ? *b : Bytes{};
}

Bytes b64(std::string_view s) {
  auto b = base64_decode(s);
  EXPECT_TRUE(b.ok()) << s;
  return b.ok() ? *b : Bytes{};
}

// Body of a one-key PEM file ("-----BEGIN PUBLIC KEY-----" ... "-----END ...").
Bytes pem_body(const std::string& pem) {
  std::istringstream in(pem);
  std::string line;
  std::string body;
  while (std::getline(in, line)) {
    if (line.rfind("-----", 0) == 0) continue;
    body += line;
  }
  return b64(body);
}

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// ---------------------------------------------------------------------------------------
// Test keys made with OpenSSL / libsodium directly, independent of the code under test.

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey ec_keygen(const char* curve) {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  EXPECT_TRUE(k) << curve;
  return k;
}

Bytes spki_of(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(k, &der);
  EXPECT_GT(len, 0);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Bytes ecdsa_sign(EVP_PKEY* k, const EVP_MD* md, ByteView msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, k), 1);
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()), 1);
  sig.resize(len);
  return sig;
}

struct Ed25519TestKey {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};  // test key, not a secret
  Ed25519TestKey() {
    ensure_sodium_initialized();
    crypto_sign_keypair(pk.data(), sk.data());
  }
  Bytes spki() const {
    Bytes der = hex("302a300506032b6570032100");
    der.insert(der.end(), pk.begin(), pk.end());
    return der;
  }
  Bytes sign(ByteView msg) const {
    Bytes sig(crypto_sign_BYTES);
    crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), sk.data());
    return sig;
  }
};

SigningInput test_input(std::string_view label = "proposal") { return signing_input(sha256(label)); }

// ---------------------------------------------------------------------------------------
// Algorithm names and the signing input.

TEST(Alg, NamesRoundTrip) {
  for (Alg a : {Alg::kEd25519, Alg::kEcdsaP256, Alg::kEcdsaP384, Alg::kFido2Es256, Alg::kFido2EdDsa}) {
    auto back = alg_from_name(alg_name(a));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, a);
  }
  EXPECT_EQ(alg_name(Alg::kFido2Es256), "fido2-es256");
  EXPECT_TRUE(is_fido2(Alg::kFido2EdDsa));
  EXPECT_FALSE(is_fido2(Alg::kEcdsaP256));
}

TEST(Alg, UnknownNameIsRefused) {
  for (std::string_view bad : {"", "Ed25519", "rsa", "ecdsa-p521", "ed25519 "}) {
    auto r = alg_from_name(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kMalformed);
    EXPECT_NE(r.error().message.find("unknown algorithm"), std::string::npos);
  }
}

TEST(SigningInput, IsContextZeroDigest) {
  Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(0xa0 + i);
  const SigningInput in = signing_input(d);
  ASSERT_EQ(in.size(), 56u);
  EXPECT_EQ(std::string(as_chars(ByteView(in).first(23))), "countersign/proposal/v1");
  EXPECT_EQ(in[23], 0x00);
  EXPECT_TRUE(std::equal(d.begin(), d.end(), in.begin() + 24));
}

// ---------------------------------------------------------------------------------------
// Parsing.

TEST(PublicKeyParse, KeyIdIsSha256OfDer) {
  Pkey k = ec_keygen("P-256");
  const Bytes der = spki_of(k.get());
  auto pk = PublicKey::parse(Alg::kEcdsaP256, der);
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  EXPECT_EQ(pk->id(), hex_encode(sha256(ByteView(der))));
  EXPECT_EQ(pk->id().size(), 64u);
  EXPECT_EQ(pk->spki(), der);
  EXPECT_EQ(pk->alg(), Alg::kEcdsaP256);
}

TEST(PublicKeyParse, AcceptsEachAlgorithmsKeyType) {
  Pkey p256 = ec_keygen("P-256");
  Pkey p384 = ec_keygen("P-384");
  Ed25519TestKey ed;
  EXPECT_TRUE(PublicKey::parse(Alg::kEcdsaP256, spki_of(p256.get())).ok());
  EXPECT_TRUE(PublicKey::parse(Alg::kFido2Es256, spki_of(p256.get())).ok());
  EXPECT_TRUE(PublicKey::parse(Alg::kEcdsaP384, spki_of(p384.get())).ok());
  EXPECT_TRUE(PublicKey::parse(Alg::kEd25519, ed.spki()).ok());
  EXPECT_TRUE(PublicKey::parse(Alg::kFido2EdDsa, ed.spki()).ok());
}

TEST(PublicKeyParse, RefusesKeyOfWrongTypeOrCurve) {
  Pkey p256 = ec_keygen("P-256");
  Pkey p384 = ec_keygen("P-384");
  Ed25519TestKey ed;
  struct Case {
    Alg alg;
    Bytes der;
    std::string says;
  };
  const Case cases[] = {
      {Alg::kEcdsaP256, spki_of(p384.get()), "P-384"}, {Alg::kEcdsaP256, ed.spki(), "Ed25519"},
      {Alg::kFido2Es256, ed.spki(), "Ed25519"},        {Alg::kEcdsaP384, spki_of(p256.get()), "P-256"},
      {Alg::kEd25519, spki_of(p256.get()), "P-256"},   {Alg::kFido2EdDsa, spki_of(p256.get()), "P-256"},
  };
  for (const Case& c : cases) {
    auto r = PublicKey::parse(c.alg, c.der);
    ASSERT_FALSE(r.ok()) << alg_name(c.alg);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(alg_name(c.alg)), std::string::npos) << r.error().message;
  }
}

TEST(PublicKeyParse, RefusesOtherKeyTypes) {
  Pkey ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  ASSERT_TRUE(ed448);
  Pkey k1 = ec_keygen("secp256k1");
  auto r = PublicKey::parse(Alg::kEd25519, spki_of(ed448.get()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("ED448"), std::string::npos) << r.error().message;
  auto r2 = PublicKey::parse(Alg::kEcdsaP256, spki_of(k1.get()));
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("secp256k1"), std::string::npos) << r2.error().message;
}

TEST(PublicKeyParse, RefusesTrailingBytes) {
  Pkey k = ec_keygen("P-256");
  Bytes der = spki_of(k.get());
  der.push_back(0x00);
  auto r = PublicKey::parse(Alg::kEcdsaP256, der);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  EXPECT_NE(r.error().message.find("1 trailing bytes"), std::string::npos) << r.error().message;
}

TEST(PublicKeyParse, RefusesGarbage) {
  const Bytes cases[] = {
      {}, {0x30}, {0x30, 0x00}, to_bytes("not a key"), Bytes(100, 0xff), hex("302a300506032b65700321")};
  for (const Bytes& der : cases) {
    auto r = PublicKey::parse(Alg::kEd25519, der);
    ASSERT_FALSE(r.ok()) << hex_encode(der);
    EXPECT_EQ(r.error().code, Errc::kMalformed) << hex_encode(der);
  }
}

TEST(PublicKeyParse, RefusesPointNotOnCurve) {
  Pkey k = ec_keygen("P-256");
  Bytes der = spki_of(k.get());
  der.back() ^= 0x01;  // y changes, x stays: no longer on the curve
  auto r = PublicKey::parse(Alg::kEcdsaP256, der);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
}

TEST(PublicKeyParse, RefusesCompressedPoint) {
  // The same key in compressed form would have a second key id; only one encoding counts.
  Pkey k = ec_keygen("P-256");
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(k.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
            1);
  const Bytes der = spki_of(k.get());
  ASSERT_EQ(der.size(), 59u);
  auto r = PublicKey::parse(Alg::kEcdsaP256, der);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  EXPECT_NE(r.error().message.find("canonical"), std::string::npos) << r.error().message;
}

TEST(PublicKeyParse, RefusesSmallOrderEd25519Key) {
  // The identity (y = 1) and a point of order 4 (y = 0) would let anyone forge signatures
  // under lenient verifiers.
  for (const char* raw : {"0100000000000000000000000000000000000000000000000000000000000000",
                          "0000000000000000000000000000000000000000000000000000000000000000"}) {
    auto r = PublicKey::from_raw(Alg::kEd25519, hex(raw));
    ASSERT_FALSE(r.ok()) << raw;
    EXPECT_EQ(r.error().code, Errc::kCrypto);
  }
}

TEST(PublicKeyFromRaw, MatchesParse) {
  Pkey k = ec_keygen("P-256");
  const Bytes der = spki_of(k.get());
  const Bytes point(der.end() - 65, der.end());
  auto a = PublicKey::from_raw(Alg::kFido2Es256, point);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->spki(), der);

  Ed25519TestKey ed;
  auto b = PublicKey::from_raw(Alg::kEd25519, ed.pk);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->spki(), ed.spki());
}

TEST(PublicKeyFromRaw, RefusesWrongLengthAndForm) {
  Ed25519TestKey ed;
  EXPECT_FALSE(PublicKey::from_raw(Alg::kEd25519, ByteView(ed.pk).first(31)).ok());
  Pkey k = ec_keygen("P-256");
  const Bytes der = spki_of(k.get());
  Bytes point(der.end() - 65, der.end());
  EXPECT_FALSE(PublicKey::from_raw(Alg::kEcdsaP384, point).ok());
  EXPECT_FALSE(PublicKey::from_raw(Alg::kEcdsaP256, ByteView(point).subspan(1)).ok());
  point[0] = 0x06;  // "hybrid" form
  auto r = PublicKey::from_raw(Alg::kEcdsaP256, point);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kMalformed);
}

// ---------------------------------------------------------------------------------------
// Verifying the plain algorithms.

TEST(PublicKeyVerify, Ed25519) {
  Ed25519TestKey ed;
  auto pk = PublicKey::parse(Alg::kEd25519, ed.spki());
  ASSERT_TRUE(pk.ok());
  const SigningInput in = test_input();
  const Bytes sig = ed.sign(in);
  EXPECT_TRUE(pk->verify(in, sig).ok());
  auto bad = pk->verify(test_input("other"), sig);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kCrypto);
  EXPECT_EQ(bad.error().message, "signature does not verify");
  EXPECT_FALSE(pk->verify(in, ByteView(sig).first(63)).ok());
}

TEST(PublicKeyVerify, EcdsaP256AndP384) {
  struct Case {
    Alg alg;
    const char* curve;
    const EVP_MD* md;
  };
  for (const Case& c :
       {Case{Alg::kEcdsaP256, "P-256", EVP_sha256()}, Case{Alg::kEcdsaP384, "P-384", EVP_sha384()}}) {
    Pkey k = ec_keygen(c.curve);
    auto pk = PublicKey::parse(c.alg, spki_of(k.get()));
    ASSERT_TRUE(pk.ok());
    const SigningInput in = test_input();
    const Bytes sig = ecdsa_sign(k.get(), c.md, in);
    EXPECT_TRUE(pk->verify(in, sig).ok()) << c.curve;
    EXPECT_FALSE(pk->verify(test_input("other"), sig).ok()) << c.curve;
    // The wrong hash for the curve must not verify (p384 signs SHA-384, not SHA-256).
    const Bytes wrong_md = ecdsa_sign(k.get(), c.md == EVP_sha256() ? EVP_sha384() : EVP_sha256(), in);
    EXPECT_FALSE(pk->verify(in, wrong_md).ok()) << c.curve;
  }
}

TEST(PublicKeyVerify, CopiesShareTheKey) {
  Pkey k = ec_keygen("P-256");
  auto pk = PublicKey::parse(Alg::kEcdsaP256, spki_of(k.get()));
  ASSERT_TRUE(pk.ok());
  PublicKey copy = *pk;
  const SigningInput in = test_input();
  const Bytes sig = ecdsa_sign(k.get(), EVP_sha256(), in);
  pk = make_error(Errc::kInternal, "drop the original");
  EXPECT_TRUE(copy.verify(in, sig).ok());
  EXPECT_EQ(copy.id(), hex_encode(sha256(ByteView(copy.spki()))));
}

TEST(PublicKeyVerify, NonFido2RefusesAuthenticatorData) {
  Ed25519TestKey ed;
  auto pk = PublicKey::parse(Alg::kEd25519, ed.spki());
  ASSERT_TRUE(pk.ok());
  const SigningInput in = test_input();
  auto r = pk->verify(in, ed.sign(in), Bytes(37, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_NE(r.error().message.find("FIDO2"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Wycheproof. Each file's cases run through PublicKey::parse(alg, publicKeyDer) and
// PublicKey::verify(msg, sig). "valid" must verify and "invalid" must not. "acceptable"
// (legacy encodings some libraries tolerate) may go either way; we count and report them
// but assert nothing about them. The pinned files have none, and the expected counts below
// would notice if that changed.

struct WycheproofCounts {
  int valid = 0;
  int invalid = 0;
  int acceptable = 0;
  int total() const { return valid + invalid + acceptable; }
};

WycheproofCounts run_wycheproof(const std::string& file, Alg alg) {
  WycheproofCounts n;
  const auto doc = nlohmann::json::parse(read_file(kData + "/wycheproof/" + file));
  for (const auto& group : doc.at("testGroups")) {
    const Bytes der = hex(group.at("publicKeyDer").get<std::string>());
    auto pk = PublicKey::parse(alg, der);
    EXPECT_TRUE(pk.ok()) << file << " key " << hex_encode(der) << ": " << (pk.ok() ? "" : pk.error().message);
    for (const auto& t : group.at("tests")) {
      const int id = t.at("tcId").get<int>();
      const std::string result = t.at("result").get<std::string>();
      const Bytes msg = hex(t.at("msg").get<std::string>());
      const Bytes sig = hex(t.at("sig").get<std::string>());
      const bool ok = pk.ok() && pk->verify(msg, sig).ok();
      if (result == "valid") {
        ++n.valid;
        EXPECT_TRUE(ok) << file << " tcId " << id << ": " << t.at("comment").get<std::string>();
      } else if (result == "invalid") {
        ++n.invalid;
        EXPECT_FALSE(ok) << file << " tcId " << id << ": " << t.at("comment").get<std::string>();
      } else {
        EXPECT_EQ(result, "acceptable") << file << " tcId " << id;
        ++n.acceptable;
      }
    }
  }
  EXPECT_EQ(n.total(), doc.at("numberOfTests").get<int>()) << file;
  return n;
}

TEST(Wycheproof, EcdsaP256Sha256) {
  const auto n = run_wycheproof("ecdsa_secp256r1_sha256_test.json", Alg::kEcdsaP256);
  EXPECT_EQ(n.valid, 174);
  EXPECT_EQ(n.invalid, 310);
  EXPECT_EQ(n.acceptable, 0);
}

TEST(Wycheproof, EcdsaP384Sha384) {
  const auto n = run_wycheproof("ecdsa_secp384r1_sha384_test.json", Alg::kEcdsaP384);
  EXPECT_EQ(n.valid, 194);
  EXPECT_EQ(n.invalid, 310);
  EXPECT_EQ(n.acceptable, 0);
}

TEST(Wycheproof, Ed25519) {
  const auto n = run_wycheproof("ed25519_test.json", Alg::kEd25519);
  EXPECT_EQ(n.valid, 88);
  EXPECT_EQ(n.invalid, 63);
  EXPECT_EQ(n.acceptable, 0);
}

// ---------------------------------------------------------------------------------------
// libfido2's regress/assert.c ES256 assertion and the fido2-assert EdDSA one. Both are for
// other relying parties, so they exercise the raw signature over
// authenticatorData || clientDataHash, and show that verify() refuses them for the RP.

// fido2-assert -V input: clientDataHash, rp id, CBOR-wrapped authenticatorData, signature.
struct AssertFile {
  Bytes cdh;
  std::string rp;
  Bytes auth_data;
  Bytes sig;
};

// Strips the CBOR byte-string header (0x58 len) libfido2 keeps around authenticatorData.
Bytes unwrap_cbor_bstr(const Bytes& wrapped) {
  EXPECT_GE(wrapped.size(), 2u);
  EXPECT_EQ(wrapped[0], 0x58);
  EXPECT_EQ(wrapped[1], wrapped.size() - 2);
  return Bytes(wrapped.begin() + 2, wrapped.end());
}

AssertFile read_assert_file(const std::string& name) {
  std::istringstream in(read_file(kData + "/libfido2-regress/" + name));
  std::string cdh, rp, ad, sig;
  std::getline(in, cdh);
  std::getline(in, rp);
  std::getline(in, ad);
  std::getline(in, sig);
  return {b64(cdh), rp, unwrap_cbor_bstr(b64(ad)), b64(sig)};
}

TEST(Libfido2Vectors, Es256RawSignatureVerifies) {
  const auto v = nlohmann::json::parse(read_file(kData + "/libfido2-regress/assert_es256.json"));
  Bytes point = {0x04};
  const Bytes xy = hex(v.at("es256_pk").get<std::string>());
  point.insert(point.end(), xy.begin(), xy.end());
  auto pk = PublicKey::from_raw(Alg::kFido2Es256, point);
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  // The PEM that fido2-assert uses is the same key.
  EXPECT_EQ(pk->spki(), pem_body(read_file(kData + "/libfido2-regress/fido_pk.pem")));

  const Bytes auth_data = unwrap_cbor_bstr(hex(v.at("authdata").get<std::string>()));
  const Bytes cdh = hex(v.at("cdh").get<std::string>());
  const Bytes sig = hex(v.at("sig").get<std::string>());
  ASSERT_EQ(auth_data.size(), 37u);
  const Digest localhost = sha256("localhost");
  EXPECT_TRUE(std::equal(localhost.begin(), localhost.end(), auth_data.begin()));

  EXPECT_TRUE(detail::verify_primitive(*pk, concat(auth_data, cdh), sig).ok());
  Bytes tampered = auth_data;
  tampered[36] ^= 0x01;  // signature counter
  EXPECT_FALSE(detail::verify_primitive(*pk, concat(tampered, cdh), sig).ok());

  // The fido2-assert input file holds the same assertion.
  const AssertFile f = read_assert_file("fido_assert.txt");
  EXPECT_EQ(f.rp, "localhost");
  EXPECT_EQ(f.cdh, cdh);
  EXPECT_EQ(f.auth_data, auth_data);
  EXPECT_EQ(f.sig, sig);

  // verify() refuses it: it is an assertion for "localhost", not for countersign.
  auto r = pk->verify(test_input(), sig, auth_data);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_NE(r.error().message.find("relying party"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(hex_encode(localhost)), std::string::npos) << r.error().message;
}

TEST(Libfido2Vectors, EdDsaRawSignatureVerifies) {
  auto pk = PublicKey::parse(Alg::kFido2EdDsa, pem_body(read_file(kData + "/libfido2-regress/ed_pk.pem")));
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  const AssertFile f = read_assert_file("ed_assert.txt");
  EXPECT_EQ(f.rp, "example.org");
  const Digest rp = sha256("example.org");
  ASSERT_GE(f.auth_data.size(), 37u);
  EXPECT_TRUE(std::equal(rp.begin(), rp.end(), f.auth_data.begin()));
  EXPECT_TRUE(detail::verify_primitive(*pk, concat(f.auth_data, f.cdh), f.sig).ok());
  Bytes other_cdh = f.cdh;
  other_cdh[0] ^= 0x80;
  EXPECT_FALSE(detail::verify_primitive(*pk, concat(f.auth_data, other_cdh), f.sig).ok());
  auto r = pk->verify(test_input(), f.sig, f.auth_data);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("relying party"), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------------------------------
// Synthesised FIDO2 assertions: authenticatorData built here, signed by a test key the way
// an authenticator signs (authenticatorData || SHA-256(signing input)).

constexpr std::uint8_t kUp = 0x01;
constexpr std::uint8_t kUv = 0x04;

Bytes make_auth_data(std::string_view rp_id, std::uint8_t flags, std::uint32_t counter) {
  const Digest rp = sha256(rp_id);
  Bytes ad(rp.begin(), rp.end());
  ad.push_back(flags);
  for (int shift = 24; shift >= 0; shift -= 8) ad.push_back(static_cast<std::uint8_t>(counter >> shift));
  return ad;
}

Bytes fido2_message(ByteView auth_data, ByteView input) {
  const Digest cdh = sha256(input);
  return concat(auth_data, cdh);
}

// One FIDO2 credential of either algorithm, for parameterised tests.
class Fido2Credential {
 public:
  explicit Fido2Credential(Alg alg) : alg_(alg) {
    if (alg == Alg::kFido2Es256) {
      ec_ = ec_keygen("P-256");
      spki_ = spki_of(ec_.get());
    } else {
      spki_ = ed_.spki();
    }
  }
  Bytes sign(ByteView auth_data, ByteView input) const {
    const Bytes msg = fido2_message(auth_data, input);
    return alg_ == Alg::kFido2Es256 ? ecdsa_sign(ec_.get(), EVP_sha256(), msg) : ed_.sign(msg);
  }
  PublicKey public_key() const {
    auto pk = PublicKey::parse(alg_, spki_);
    EXPECT_TRUE(pk.ok());
    return *pk;
  }

 private:
  Alg alg_;
  Pkey ec_;
  Ed25519TestKey ed_;
  Bytes spki_;
};

class Fido2Test : public ::testing::TestWithParam<Alg> {
 protected:
  Fido2Credential cred_{GetParam()};
  PublicKey pk_ = cred_.public_key();
  SigningInput in_ = test_input();
};

TEST_P(Fido2Test, ValidAssertionVerifies) {
  const Bytes ad = make_auth_data("countersign", kUp, 7);
  EXPECT_TRUE(pk_.verify(in_, cred_.sign(ad, in_), ad).ok());
  EXPECT_TRUE(pk_.verify(in_, cred_.sign(ad, in_), ad, /*require_uv=*/false).ok());
  const Bytes ad_uv = make_auth_data("countersign", kUp | kUv, 8);
  auto r = pk_.verify(in_, cred_.sign(ad_uv, in_), ad_uv, /*require_uv=*/true);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST_P(Fido2Test, ExtensionDataIsCoveredAndAccepted) {
  // ED flag and a trailing CBOR map: signed like the rest.
  Bytes ad = make_auth_data("countersign", kUp | 0x80, 1);
  ad.push_back(0xa0);
  EXPECT_TRUE(pk_.verify(in_, cred_.sign(ad, in_), ad).ok());
}

TEST_P(Fido2Test, WrongRelyingPartyIsRefused) {
  const Bytes ad = make_auth_data("example.com", kUp | kUv, 1);
  auto r = pk_.verify(in_, cred_.sign(ad, in_), ad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_NE(r.error().message.find("relying party"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not countersign"), std::string::npos) << r.error().message;
}

TEST_P(Fido2Test, MissingUserPresenceIsRefused) {
  const Bytes ad = make_auth_data("countersign", kUv, 1);
  auto r = pk_.verify(in_, cred_.sign(ad, in_), ad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_EQ(r.error().message, "user presence flag not set");
}

TEST_P(Fido2Test, MissingUserVerificationIsRefusedWhenRequired) {
  const Bytes ad = make_auth_data("countersign", kUp, 1);
  const Bytes sig = cred_.sign(ad, in_);
  EXPECT_TRUE(pk_.verify(in_, sig, ad, /*require_uv=*/false).ok());
  auto r = pk_.verify(in_, sig, ad, /*require_uv=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCrypto);
  EXPECT_EQ(r.error().message, "user verification required by the policy key but the UV flag is not set");
}

TEST_P(Fido2Test, TamperedAuthenticatorDataIsRefused) {
  const Bytes ad = make_auth_data("countersign", kUp, 41);
  const Bytes sig = cred_.sign(ad, in_);
  // Counter changed, or the UV flag added after signing (to pass a UV policy).
  ASSERT_EQ(ad.size(), 37u);
  Bytes counter = ad;
  counter[36] ^= 0x01;  // last byte of the signature counter
  Bytes uv = ad;
  uv[32] |= kUv;
  for (const Bytes& bad : {counter, uv}) {
    auto r = pk_.verify(in_, sig, bad, /*require_uv=*/bad == uv);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "signature does not verify");
  }
  Bytes longer = ad;
  longer.push_back(0x00);
  EXPECT_FALSE(pk_.verify(in_, sig, longer).ok());
}

TEST_P(Fido2Test, OtherSigningInputIsRefused) {
  const Bytes ad = make_auth_data("countersign", kUp, 1);
  auto r = pk_.verify(test_input("another proposal"), cred_.sign(ad, in_), ad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "signature does not verify");
}

TEST_P(Fido2Test, SignatureOverBareInputIsRefused) {
  // A signature made without the authenticatorData framing does not verify as FIDO2.
  const Bytes ad = make_auth_data("countersign", kUp, 1);
  const Bytes sig = GetParam() == Alg::kFido2Es256 ? Bytes{} : Bytes(64, 0);
  EXPECT_FALSE(pk_.verify(in_, sig, ad).ok());
}

TEST_P(Fido2Test, ShortOrMissingAuthenticatorDataIsRefused) {
  const Bytes ad = make_auth_data("countersign", kUp, 1);
  const Bytes sig = cred_.sign(ad, in_);
  for (std::size_t len : {std::size_t{0}, std::size_t{32}, std::size_t{36}}) {
    auto r = pk_.verify(in_, sig, ByteView(ad).first(len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.error().code, Errc::kCrypto);
    EXPECT_NE(r.error().message.find("authenticator data too short"), std::string::npos) << r.error().message;
  }
}

TEST_P(Fido2Test, KeyOfTheOtherTypeIsRefusedAtParse) {
  const Alg other = GetParam() == Alg::kFido2Es256 ? Alg::kFido2EdDsa : Alg::kFido2Es256;
  auto r = PublicKey::parse(other, pk_.spki());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST_P(Fido2Test, SameKeyUnderNonFido2AlgDoesNotAcceptAssertion) {
  // An assertion must not pass as a plain signature of the same key (no domain confusion).
  const Alg plain = GetParam() == Alg::kFido2Es256 ? Alg::kEcdsaP256 : Alg::kEd25519;
  auto pk = PublicKey::parse(plain, pk_.spki());
  ASSERT_TRUE(pk.ok());
  const Bytes ad = make_auth_data("countersign", kUp, 1);
  const Bytes sig = cred_.sign(ad, in_);
  EXPECT_FALSE(pk->verify(in_, sig).ok());
  EXPECT_FALSE(pk->verify(in_, sig, ad).ok());
}

std::string fido2_param_name(const ::testing::TestParamInfo<Alg>& p) {
  return p.param == Alg::kFido2Es256 ? "Es256" : "EdDsa";
}
INSTANTIATE_TEST_SUITE_P(Algs, Fido2Test, ::testing::Values(Alg::kFido2Es256, Alg::kFido2EdDsa),
                         fido2_param_name);

}  // namespace
}  // namespace countersign
