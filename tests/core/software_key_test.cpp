#include "core/software_key.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/secret.h"
#include "core/sha256.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

SecretBytes pass(std::string_view p) { return SecretBytes::copy_of(as_bytes(p)); }

using test_util::slurp;
using test_util::spit;

// Each test gets its own directory and the minimum Argon2id cost.
class SoftwareKeyTest : public ::testing::TestWithParam<Alg> {
 protected:
  void SetUp() override {
    SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                          crypto_pwhash_argon2id_MEMLIMIT_MIN);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  SoftwareKey make_key() {
    auto k = SoftwareKey::generate(GetParam());
    EXPECT_TRUE(k.ok()) << k.error().message;
    return std::move(k).value();
  }

  // Saves a fresh key and returns the file's JSON.
  nlohmann::json saved_doc(const std::string& file, std::string_view passphrase = "correct horse") {
    SoftwareKey k = make_key();
    auto r = k.save(path(file), pass(passphrase));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return nlohmann::json::parse(slurp(path(file)));
  }

  test_util::TempDir tmp_{"swkey"};
  std::filesystem::path dir_ = tmp_.path();
};

TEST_P(SoftwareKeyTest, SignaturesVerifyUnderThePublicKey) {
  SoftwareKey k = make_key();
  EXPECT_EQ(k.public_key().alg(), GetParam());
  EXPECT_EQ(k.secret().size(), 32u);
  const SigningInput in = signing_input(sha256("proposal"));
  auto sig = k.sign(in);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_TRUE(sig->authenticator_data.empty());
  EXPECT_TRUE(k.public_key().verify(in, sig->signature).ok());
  EXPECT_FALSE(k.public_key().verify(signing_input(sha256("other")), sig->signature).ok());
  // Verifies through a key parsed afresh from the SPKI, as a box would.
  auto pk = PublicKey::parse(GetParam(), k.public_key().spki());
  ASSERT_TRUE(pk.ok());
  EXPECT_TRUE(pk->verify(in, sig->signature).ok());
}

TEST_P(SoftwareKeyTest, GeneratedKeysDiffer) {
  SoftwareKey a = make_key();
  SoftwareKey b = make_key();
  EXPECT_NE(a.public_key().id(), b.public_key().id());
}

TEST_P(SoftwareKeyTest, FromSecretIsDeterministic) {
  SoftwareKey a = make_key();
  auto b = SoftwareKey::from_secret(GetParam(), a.secret());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a.public_key().spki(), b->public_key().spki());
  const SigningInput in = signing_input(sha256("x"));
  auto sig = b->sign(in);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(a.public_key().verify(in, sig->signature).ok());
}

TEST_P(SoftwareKeyTest, FromSecretRefusesWrongLength) {
  auto r = SoftwareKey::from_secret(GetParam(), SecretBytes(31));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST_P(SoftwareKeyTest, SaveLoadRoundTripWithMode0600) {
  SoftwareKey k = make_key();
  const std::string file = path("key.json");
  auto saved = k.save(file, pass("correct horse"));
  ASSERT_TRUE(saved.ok()) << saved.error().message;

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // No temporary file left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);

  const auto doc = nlohmann::json::parse(slurp(file));
  EXPECT_EQ(doc.at("schema"), "countersign/secret-key/v1");
  EXPECT_EQ(doc.at("alg"), std::string(alg_name(GetParam())));
  EXPECT_EQ(doc.at("public_key"), base64_encode(k.public_key().spki()));
  EXPECT_EQ(doc.at("kdf").at("name"), "argon2id13");
  EXPECT_EQ(doc.at("encryption").at("name"), "xchacha20poly1305-ietf");
  // The secret is not in the file in the clear.
  EXPECT_EQ(slurp(file).find(base64_encode(k.secret().view())), std::string::npos);

  auto loaded = SoftwareKey::load(file, pass("correct horse"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key().id(), k.public_key().id());
  EXPECT_TRUE(constant_time_equal(loaded->secret().view(), k.secret().view()));
  const SigningInput in = signing_input(sha256("p"));
  auto sig = loaded->sign(in);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(k.public_key().verify(in, sig->signature).ok());
}

TEST_P(SoftwareKeyTest, ReadPublicNeedsNoPassphrase) {
  SoftwareKey k = make_key();
  ASSERT_TRUE(k.save(path("key.json"), pass("correct horse")).ok());
  auto pk = SoftwareKey::read_public(path("key.json"));
  ASSERT_TRUE(pk.ok()) << pk.error().message;
  EXPECT_EQ(pk->id(), k.public_key().id());
  EXPECT_EQ(pk->alg(), GetParam());

  auto doc = nlohmann::json::parse(slurp(path("key.json")));
  doc["kdf"]["extra"] = 1;
  spit(path("key.json"), doc.dump());
  auto bad = SoftwareKey::read_public(path("key.json"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kMalformed);
  EXPECT_NE(bad.error().message.find("kdf.extra"), std::string::npos);
}

TEST_P(SoftwareKeyTest, WrongPassphrase) {
  saved_doc("key.json");
  auto r = SoftwareKey::load(path("key.json"), pass("correct horsE"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kWrongPassphrase);
  EXPECT_NE(r.error().message.find("wrong passphrase (or the key file was modified)"), std::string::npos);
}

TEST_P(SoftwareKeyTest, TamperedCiphertextIsRefused) {
  auto doc = saved_doc("key.json");
  Bytes ct = *base64_decode(doc["encryption"]["ciphertext"].get<std::string>());
  ct[5] ^= 0x01;
  doc["encryption"]["ciphertext"] = base64_encode(ct);
  spit(path("key.json"), doc.dump());
  auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kWrongPassphrase);
}

TEST_P(SoftwareKeyTest, SwappedPublicKeyIsRefused) {
  // The public key is in the additional data: another valid key of the same type in its
  // place must not decrypt (else a file could claim a key id it does not hold).
  auto doc = saved_doc("key.json");
  SoftwareKey other = make_key();
  doc["public_key"] = base64_encode(other.public_key().spki());
  spit(path("key.json"), doc.dump());
  auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kWrongPassphrase);
}

TEST_P(SoftwareKeyTest, ChangedKdfParametersAreRefused) {
  auto doc = saved_doc("key.json");
  doc["kdf"]["opslimit"] = 2;
  spit(path("key.json"), doc.dump());
  auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kWrongPassphrase);
}

TEST_P(SoftwareKeyTest, ReformattedFileStillLoads) {
  // The additional data is the canonical form, so whitespace and member order do not matter.
  auto doc = saved_doc("key.json");
  spit(path("key.json"), doc.dump(7));
  auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST_P(SoftwareKeyTest, RefusesToOverwriteUnlessAsked) {
  SoftwareKey a = make_key();
  SoftwareKey b = make_key();
  const std::string file = path("key.json");
  ASSERT_TRUE(a.save(file, pass("pw-a")).ok());
  auto r = b.save(file, pass("pw-b"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("already exists"), std::string::npos);
  auto still_a = SoftwareKey::load(file, pass("pw-a"));
  ASSERT_TRUE(still_a.ok());
  EXPECT_EQ(still_a->public_key().id(), a.public_key().id());

  ASSERT_TRUE(b.save(file, pass("pw-b"), /*overwrite=*/true).ok());
  auto now_b = SoftwareKey::load(file, pass("pw-b"));
  ASSERT_TRUE(now_b.ok());
  EXPECT_EQ(now_b->public_key().id(), b.public_key().id());
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_P(SoftwareKeyTest, RefusesEmptyPassphraseOnSave) {
  SoftwareKey k = make_key();
  auto r = k.save(path("key.json"), SecretBytes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path("key.json")));
}

TEST_P(SoftwareKeyTest, UnknownFieldsAreNamed) {
  auto doc = saved_doc("key.json");
  struct Case {
    std::function<void(nlohmann::json&)> change;
    std::string field;
  };
  const Case cases[] = {
      {[](nlohmann::json& d) { d["comment"] = "hi"; }, "comment"},
      {[](nlohmann::json& d) { d["kdf"]["pepper"] = "x"; }, "kdf.pepper"},
      {[](nlohmann::json& d) { d["encryption"]["tag"] = "x"; }, "encryption.tag"},
      {[](nlohmann::json& d) { d.erase("kdf"); }, "kdf"},
      {[](nlohmann::json& d) { d["encryption"].erase("nonce"); }, "encryption.nonce"},
      {[](nlohmann::json& d) { d["alg"] = "rsa"; }, "alg"},
      {[](nlohmann::json& d) { d["alg"] = "ecdsa-p384"; }, "alg"},
      {[](nlohmann::json& d) { d["kdf"]["name"] = "scrypt"; }, "kdf.name"},
      {[](nlohmann::json& d) { d["kdf"]["opslimit"] = 1.5; }, "kdf.opslimit"},
      {[](nlohmann::json& d) { d["kdf"]["memlimit"] = 1e15; }, "kdf.memlimit"},
      {[](nlohmann::json& d) { d["kdf"]["salt"] = "AAAA"; }, "kdf.salt"},
      {[](nlohmann::json& d) { d["encryption"]["name"] = "aes-256-gcm"; }, "encryption.name"},
      {[](nlohmann::json& d) { d["public_key"] = "not base64!"; }, "public_key"},
      {[](nlohmann::json& d) { d["public_key"] = 5; }, "public_key"},
  };
  for (const Case& c : cases) {
    nlohmann::json changed = doc;
    c.change(changed);
    spit(path("key.json"), changed.dump());
    auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.error().code, Errc::kMalformed) << c.field << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.field + ":"), std::string::npos) << r.error().message;
  }
}

TEST_P(SoftwareKeyTest, OtherSchemaAndNonJsonAreRefused) {
  auto doc = saved_doc("key.json");
  doc["schema"] = "countersign/secret-key/v2";
  spit(path("key.json"), doc.dump());
  auto r = SoftwareKey::load(path("key.json"), pass("correct horse"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnknownSchema);
  EXPECT_NE(r.error().message.find("schema"), std::string::npos);

  spit(path("key.json"), "{\"schema\": \"countersign/secret-key/v1\",");
  auto r2 = SoftwareKey::load(path("key.json"), pass("correct horse"));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, Errc::kMalformed);

  auto r3 = SoftwareKey::load(path("missing.json"), pass("correct horse"));
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().code, Errc::kNotFound);
}

std::string alg_param_name(const ::testing::TestParamInfo<Alg>& p) {
  return p.param == Alg::kEd25519 ? "Ed25519" : "EcdsaP256";
}
INSTANTIATE_TEST_SUITE_P(Algs, SoftwareKeyTest, ::testing::Values(Alg::kEd25519, Alg::kEcdsaP256),
                         alg_param_name);

TEST(SoftwareKey, OnlySoftwareAlgorithms) {
  for (Alg a : {Alg::kEcdsaP384, Alg::kFido2Es256, Alg::kFido2EdDsa}) {
    auto r = SoftwareKey::generate(a);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kUnsupported);
  }
}

TEST(SoftwareKey, P256ScalarOutOfRangeIsRefused) {
  // 0 and the group order n itself are not private keys.
  auto zero = SoftwareKey::from_secret(Alg::kEcdsaP256, SecretBytes(32));
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, Errc::kInvalidArgument);
  auto n = hex_decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  ASSERT_TRUE(n.ok());
  auto at_n = SoftwareKey::from_secret(Alg::kEcdsaP256, SecretBytes::copy_of(*n));
  ASSERT_FALSE(at_n.ok());
  (*n)[31] = 0x50;  // n - 1 is fine
  EXPECT_TRUE(SoftwareKey::from_secret(Alg::kEcdsaP256, SecretBytes::copy_of(*n)).ok());
}

TEST(SoftwareKey, KnownEd25519Seed) {
  // RFC 8032 section 7.1 TEST 1: seed -> public key, and the signature of the empty message.
  auto seed = hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  ASSERT_TRUE(seed.ok());
  auto k = SoftwareKey::from_secret(Alg::kEd25519, SecretBytes::copy_of(*seed));
  ASSERT_TRUE(k.ok());
  const Bytes spki = k->public_key().spki();
  EXPECT_EQ(hex_encode(ByteView(spki).last(32)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = k->sign({});
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(hex_encode(sig->signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(SoftwareKey, KnownP256Scalar) {
  // RFC 6979 A.2.5: private key x -> public key (Ux, Uy).
  auto x = hex_decode("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
  ASSERT_TRUE(x.ok());
  auto k = SoftwareKey::from_secret(Alg::kEcdsaP256, SecretBytes::copy_of(*x));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(hex_encode(ByteView(k->public_key().spki()).last(64)),
            "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
            "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
}

// ---------------------------------------------------------------------------------------
// obtain_passphrase: file > environment > prompt.

class PassphraseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = ::testing::TempDir() + "/passphrase-test-" + std::to_string(::getpid());
    ::unsetenv(kVar);
  }
  void TearDown() override {
    std::remove(file_.c_str());
    ::unsetenv(kVar);
  }
  static constexpr const char* kVar = "COUNTERSIGN_TEST_PASSPHRASE";
  std::string file_;
};

TEST_F(PassphraseTest, FileWithTrailingNewlineEqualsWithout) {
  spit(file_, "hunter2\n");
  auto a = obtain_passphrase(file_, nullptr, "", false);
  ASSERT_TRUE(a.ok()) << a.error().message;
  spit(file_, "hunter2");
  auto b = obtain_passphrase(file_, nullptr, "", false);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(std::string(as_chars(a->view())), "hunter2");
  EXPECT_TRUE(constant_time_equal(a->view(), b->view()));
}

TEST_F(PassphraseTest, KeyFileSavedWithFilePassphraseLoadsWithTypedOne) {
  SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                        crypto_pwhash_argon2id_MEMLIMIT_MIN);
  spit(file_, "hunter2\n");
  auto from_file = obtain_passphrase(file_, nullptr, "", false);
  ASSERT_TRUE(from_file.ok());
  auto k = SoftwareKey::generate(Alg::kEd25519);
  ASSERT_TRUE(k.ok());
  const std::string key_file = file_ + ".key";
  ASSERT_TRUE(k->save(key_file, *from_file).ok());
  EXPECT_TRUE(SoftwareKey::load(key_file, pass("hunter2")).ok());
  std::remove(key_file.c_str());
}

TEST_F(PassphraseTest, FileBeatsEnvironment) {
  spit(file_, "from-file");
  ::setenv(kVar, "from-env", 1);
  auto p = obtain_passphrase(file_, kVar, "", false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::string(as_chars(p->view())), "from-file");
}

TEST_F(PassphraseTest, EnvironmentWhenNoFile) {
  ::setenv(kVar, "from-env", 1);
  auto p = obtain_passphrase("", kVar, "", false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::string(as_chars(p->view())), "from-env");
}

TEST_F(PassphraseTest, EmptyIsRefused) {
  spit(file_, "\n");
  auto a = obtain_passphrase(file_, nullptr, "", false);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, Errc::kInvalidArgument);
  EXPECT_NE(a.error().message.find("empty"), std::string::npos);
  ::setenv(kVar, "", 1);
  auto b = obtain_passphrase("", kVar, "", false);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find(kVar), std::string::npos);
}

TEST_F(PassphraseTest, MissingFileIsAnError) {
  ::setenv(kVar, "from-env", 1);
  auto p = obtain_passphrase(file_ + ".missing", kVar, "", false);
  ASSERT_FALSE(p.ok());  // a named file that is missing does not fall back to anything
  EXPECT_EQ(p.error().code, Errc::kIo);
}

}  // namespace
}  // namespace countersign
