// smartcard/fido2_attestation: packed attestation of enrolments by the virtual authenticator,
// checked against its test CA (trusted) and Yubico's FIDO root (not its issuer); and its
// verdicts cross-checked with libfido2's fido_cred_verify, which did this job before the box
// stopped linking libfido2, on the virtual authenticator's attestations and the WebAuthn
// specification's packed vectors (tests/data/webauthn-spec), as made and tampered.
#include "smartcard/fido2_attestation.h"

#include <cbor.h>
#include <fido.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <functional>
#include <memory>

#include "core/sha256.h"
#include "core/x509.h"
#include "smartcard/fido2_authdata.h"
#include "smartcard/fido2_convert.h"
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

// --- Cross-check with libfido2 -------------------------------------------------------------

// The verdict of the verifier this one replaced: libfido2 parses authenticatorData (the
// credential's COSE_Key among it) and checks rpIdHash, the user-present flag and the packed
// signature with the certificate's key (fido_cred_verify); the credential id and public key
// it found are compared with the policy key's. The chain to the roots is OpenSSL's in both
// and not part of this: every case below is checked against its own issuing root.
bool libfido2_accepts(const PolicyKey& key, const std::string& rp) {
  if (!key.attestation || key.attestation->certificates.empty()) return false;
  const Attestation& att = *key.attestation;
  std::unique_ptr<fido_cred_t, void (*)(fido_cred_t*)> cred(fido_cred_new(),
                                                            [](fido_cred_t* c) { fido_cred_free(&c); });
  int rc = fido_cred_set_type(cred.get(), key.key.alg() == Alg::kFido2Es256 ? COSE_ES256 : COSE_EDDSA);
  if (rc == FIDO_OK) rc = fido_cred_set_fmt(cred.get(), "packed");
  if (rc == FIDO_OK) rc = fido_cred_set_rp(cred.get(), rp.c_str(), nullptr);
  if (rc == FIDO_OK)
    rc = fido_cred_set_clientdata_hash(cred.get(), att.client_data_hash.data(), att.client_data_hash.size());
  if (rc == FIDO_OK)
    rc = fido_cred_set_authdata_raw(cred.get(), att.authenticator_data.data(), att.authenticator_data.size());
  if (rc == FIDO_OK)
    rc = fido_cred_set_x509(cred.get(), att.certificates[0].data(), att.certificates[0].size());
  if (rc == FIDO_OK) rc = fido_cred_set_sig(cred.get(), att.signature.data(), att.signature.size());
  if (rc != FIDO_OK) return false;
  const Bytes id(fido_cred_id_ptr(cred.get()), fido_cred_id_ptr(cred.get()) + fido_cred_id_len(cred.get()));
  if (id != key.credential_id) return false;
  auto pk = public_key_from_libfido2(
      key.key.alg(), ByteView(fido_cred_pubkey_ptr(cred.get()), fido_cred_pubkey_len(cred.get())));
  if (!pk.ok() || pk->id() != key.key.id()) return false;
  return fido_cred_verify(cred.get()) == FIDO_OK;
}

// One attestation to tamper with: the policy key as enrolled, its RP, the root that issued
// its certificate, and the attestation key (to re-sign what a case changes, so that only the
// parser stands between the change and acceptance).
struct Enrolment {
  PolicyKey key;
  std::string rp;
  Bytes root;
  std::function<Bytes(const Bytes&)> sign_as_attestation;
};

// What each verifier must say. Stating it (rather than only that both agree) keeps a case
// from passing because a tampering missed its target or a re-signing went wrong.
enum class Verdict {
  kBothAccept,
  kBothRefuse,
  kOnlyLibfido2Accepts,  // we are deliberately stricter; the case says why
};

struct Case {
  std::string name;
  PolicyKey key;
  std::string rp;
  Verdict verdict;
};

// Where the COSE_Key starts in attested authenticatorData: after rpIdHash, flags, signCount,
// aaguid, credentialIdLength and the credential id.
std::size_t cose_offset(const Bytes& ad) { return 55 + (std::size_t{ad[53]} << 8 | ad[54]); }

// The offset of the first occurrence of `needle` in `hay` at or after `from`.
std::size_t find(const Bytes& hay, const Bytes& needle, std::size_t from) {
  auto it =
      std::search(hay.begin() + static_cast<std::ptrdiff_t>(from), hay.end(), needle.begin(), needle.end());
  EXPECT_NE(it, hay.end());
  return static_cast<std::size_t>(it - hay.begin());
}

std::vector<Case> cases_for(const Enrolment& e) {
  std::vector<Case> out;
  const Attestation& att = *e.key.attestation;
  auto with = [&](std::string name, const std::function<void(PolicyKey&)>& change,
                  Verdict verdict = Verdict::kBothRefuse) {
    PolicyKey k = e.key;
    change(k);
    out.push_back({std::move(name), std::move(k), e.rp, verdict});
  };
  // Changes authenticatorData and re-signs it.
  auto resigned = [&](std::string name, const std::function<void(Bytes&)>& change,
                      Verdict verdict = Verdict::kBothRefuse) {
    with(
        std::move(name),
        [&](PolicyKey& k) {
          Bytes& ad = k.attestation->authenticator_data;
          change(ad);
          Bytes msg = ad;
          msg.insert(msg.end(), k.attestation->client_data_hash.begin(),
                     k.attestation->client_data_hash.end());
          k.attestation->signature = e.sign_as_attestation(msg);
        },
        verdict);
  };

  with(
      "as made", [](PolicyKey&) {}, Verdict::kBothAccept);
  out.push_back({"for another relying party", e.key, e.rp + ".example", Verdict::kBothRefuse});
  with("a signature byte flipped", [](PolicyKey& k) { k.attestation->signature.back() ^= 0x01; });
  with("a signature byte in the middle flipped",
       [](PolicyKey& k) { k.attestation->signature[k.attestation->signature.size() / 2] ^= 0x10; });
  with("the signature cut short", [](PolicyKey& k) { k.attestation->signature.pop_back(); });
  with("another clientDataHash", [](PolicyKey& k) { k.attestation->client_data_hash[0] ^= 0x01; });
  with("the credential public key changed, not re-signed",
       [](PolicyKey& k) { k.attestation->authenticator_data.back() ^= 0x01; });
  with("a trailing byte, not re-signed",
       [](PolicyKey& k) { k.attestation->authenticator_data.push_back(0); });
  with("the policy names another credential id", [](PolicyKey& k) { k.credential_id[0] ^= 0x01; });
  with("the policy names another credential id (longer)", [](PolicyKey& k) { k.credential_id.push_back(0); });
  with("no attestation certificate", [](PolicyKey& k) { k.attestation->certificates.clear(); });

  resigned(
      "re-signed unchanged", [](Bytes&) {}, Verdict::kBothAccept);
  resigned("the credential id changed, re-signed", [](Bytes& ad) { ad[55] ^= 0x01; });
  resigned("the rpIdHash of another RP", [](Bytes& ad) { ad[0] ^= 0x01; });
  resigned("the user-present flag cleared", [](Bytes& ad) { ad[32] &= static_cast<std::uint8_t>(~0x01); });
  resigned("the AT flag cleared", [](Bytes& ad) { ad[32] &= static_cast<std::uint8_t>(~0x40); });
  resigned("the credential public key off the curve", [](Bytes& ad) { ad.back() ^= 0x01; });
  resigned("credentialIdLength beyond the data", [](Bytes& ad) {
    ad[53] = 0xff;
    ad[54] = 0xff;
  });
  resigned("credentialIdLength one short", [](Bytes& ad) { --ad[54]; });
  const std::size_t cose = cose_offset(att.authenticator_data);
  resigned("the COSE_Key's x with an oversized length (2^32 - 1)", [&](Bytes& ad) {
    const std::size_t at = find(ad, {0x21, 0x58, 0x20}, cose) + 1;  // -2: bstr(32)
    ad[at] = 0x5a;                                                  // bstr, 4-byte length
    ad.insert(ad.begin() + static_cast<std::ptrdiff_t>(at) + 1, {0xff, 0xff, 0xff});
    ad[at + 4] = 0xff;
  });
  resigned("the COSE_Key's map with an oversized count (65535)", [&](Bytes& ad) {
    ad[cose] = 0xb9;  // map, 2-byte count
    ad.insert(ad.begin() + static_cast<std::ptrdiff_t>(cose) + 1, {0xff, 0xff});
  });
  resigned("the COSE_Key's alg of the other algorithm", [&](Bytes& ad) {
    const std::size_t at = find(ad, {0x03}, cose) + 1;  // 3: alg
    ad[at] = ad[at] == 0x26 ? 0x27 : 0x26;              // -7 <-> -8
  });
  // libfido2 reads the COSE_Key with cbor_load and never looks at what follows it ("XXX we
  // should probably ensure that len == 0 at this point", cbor_decode_cred_authdata); WebAuthn
  // has nothing follow it but extensions, announced by the ED flag.
  resigned(
      "trailing bytes, re-signed",
      [](Bytes& ad) {
        ad.insert(ad.end(), {0x00, 0x01});
      },
      Verdict::kOnlyLibfido2Accepts);
  // The ED flag with the one extension countersign could meet, credProtect: libfido2 refuses
  // extensions it was not asked for (check_extensions), as do we.
  resigned("extensions not asked for (credProtect)", [](Bytes& ad) {
    ad[32] |= 0x80;
    const char* name = "credProtect";
    ad.push_back(0xa1);
    ad.push_back(0x6b);
    ad.insert(ad.end(), name, name + 11);
    ad.push_back(0x02);
  });
  resigned("the ED flag with nothing after the key", [](Bytes& ad) { ad[32] |= 0x80; });
  for (std::size_t n = 0; n < att.authenticator_data.size(); ++n) {
    resigned("truncated to " + std::to_string(n) + " bytes", [n](Bytes& ad) { ad.resize(n); });
  }
  return out;
}

void expect_same_verdicts(const Enrolment& e) {
  ASSERT_TRUE(verify_attestation(e.key, e.rp, {e.root}).ok()) << "the enrolment itself must verify";
  for (const Case& c : cases_for(e)) {
    SCOPED_TRACE(c.name);
    const auto ours = verify_attestation(c.key, c.rp, {e.root});
    const bool theirs = libfido2_accepts(c.key, c.rp);
    EXPECT_EQ(theirs, c.verdict != Verdict::kBothRefuse) << "libfido2";
    EXPECT_EQ(ours.ok(), c.verdict == Verdict::kBothAccept)
        << (ours.ok() ? "we accept" : ours.error().message);
  }
}

TEST_P(Fido2AttestationTest, VerdictsAreLibfido2s) {
  VirtualFido2* dev = &v;
  expect_same_verdicts({key(), "countersign", v.ca_certificate(),
                        [dev](const Bytes& m) { return dev->sign_as_attestation(m); }});
}

TEST_P(Fido2AttestationTest, ParsesTheKeyLibfido2Found) {
  // make_credential takes the public key from libfido2 (public_key_from_libfido2).
  auto ad = parse_attested_authenticator_data(GetParam(), key().attestation->authenticator_data);
  ASSERT_TRUE(ad.ok()) << ad.error().message;
  EXPECT_EQ(ad->public_key.id(), key().key.id());
  EXPECT_EQ(ad->credential_id, key().credential_id);
  EXPECT_EQ(ad->aaguid, v.aaguid());
  EXPECT_EQ(ad->rp_id_hash, sha256(std::string_view("countersign")));
}

INSTANTIATE_TEST_SUITE_P(Algs, Fido2AttestationTest, ::testing::Values(Alg::kFido2Es256, Alg::kFido2EdDsa),
                         [](const auto& p) {
                           return std::string(p.param == Alg::kFido2Es256 ? "es256" : "eddsa");
                         });

// --- The WebAuthn specification's packed vectors -------------------------------------------

const std::string kSpec =
    std::string(COUNTERSIGN_TEST_DATA) + "/webauthn-spec/index.bs-test-vectors-section.txt";

// `name = h'...'` in the registration part of the section `{#sctn-test-vectors-<section>}`
// (or anywhere before the first section, for the shared attestation root).
Bytes spec_value(const std::string& section, const std::string& name) {
  const std::string text = test_util::slurp(kSpec);
  std::size_t from = 0, to = text.size();
  if (!section.empty()) {
    from = text.find("{#sctn-test-vectors-" + section + "}");
    EXPECT_NE(from, std::string::npos) << section;
    to = text.find("[=authentication ceremony", from);
  }
  const std::string key = "\n" + name + " = h'";
  const std::size_t at = text.find(key, from);
  EXPECT_TRUE(at != std::string::npos && at < to) << section << " " << name;
  if (at == std::string::npos || at >= to) return {};
  const std::size_t begin = at + key.size();
  return hex_decode(text.substr(begin, text.find('\'', begin) - begin)).value();
}

struct CborFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};

// The member `name` of a CBOR map with text keys (the attestationObject, its attStmt).
cbor_item_t* member(cbor_item_t* map, const std::string& name) {
  for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
    cbor_pair p = cbor_map_handle(map)[i];
    if (cbor_isa_string(p.key) && std::string(reinterpret_cast<const char*>(cbor_string_handle(p.key)),
                                              cbor_string_length(p.key)) == name)
      return p.value;
  }
  ADD_FAILURE() << "no " << name;
  return nullptr;
}
Bytes bstr(const cbor_item_t* item) {
  return Bytes(cbor_bytestring_handle(item), cbor_bytestring_handle(item) + cbor_bytestring_length(item));
}

// ECDSA P-256/SHA-256 (DER) with the private scalar `d`.
Bytes p256_sign(const Bytes& d, const Bytes& msg) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> priv(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr),
                                                   BN_free);
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1),
                                                            EC_GROUP_free);
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> pub(EC_POINT_new(group.get()), EC_POINT_free);
  EXPECT_EQ(EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, nullptr), 1);
  Bytes pub_oct(65);
  EXPECT_EQ(EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, pub_oct.data(),
                               pub_oct.size(), nullptr),
            65u);
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get());
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub_oct.data(), pub_oct.size());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> pctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(pctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()), 1);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  std::size_t n = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &n, msg.data(), msg.size()), 1);
  Bytes sig(n);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &n, msg.data(), msg.size()), 1);
  sig.resize(n);
  return sig;
}

// The registration of `section` as a policy key. The public key is the one libfido2 finds
// in authenticatorData, so that the key does not come from the parser under test.
Enrolment spec_enrolment(const std::string& section, Alg alg) {
  const Bytes object = spec_value(section, "attestationObject");
  cbor_load_result res{};
  std::unique_ptr<cbor_item_t, CborFree> ao(cbor_load(object.data(), object.size(), &res));
  EXPECT_TRUE(ao && cbor_isa_map(ao.get()));
  cbor_item_t* stmt = member(ao.get(), "attStmt");
  Attestation att;
  att.format = "fido2-packed";
  att.authenticator_data = bstr(member(ao.get(), "authData"));
  att.signature = bstr(member(stmt, "sig"));
  std::unique_ptr<cbor_item_t, CborFree> leaf(cbor_array_get(member(stmt, "x5c"), 0));
  att.certificates.push_back(bstr(leaf.get()));
  const Digest cdh = sha256(ByteView(spec_value(section, "clientDataJSON")));
  att.client_data_hash.assign(cdh.begin(), cdh.end());

  std::unique_ptr<fido_cred_t, void (*)(fido_cred_t*)> cred(fido_cred_new(),
                                                            [](fido_cred_t* c) { fido_cred_free(&c); });
  EXPECT_EQ(fido_cred_set_type(cred.get(), alg == Alg::kFido2Es256 ? COSE_ES256 : COSE_EDDSA), FIDO_OK);
  EXPECT_EQ(
      fido_cred_set_authdata_raw(cred.get(), att.authenticator_data.data(), att.authenticator_data.size()),
      FIDO_OK);
  PublicKey pk = public_key_from_libfido2(
                     alg, ByteView(fido_cred_pubkey_ptr(cred.get()), fido_cred_pubkey_len(cred.get())))
                     .value();
  const Bytes d = spec_value(section, "attestation_private_key");
  return {PolicyKey{std::move(pk), spec_value(section, "credential_id"), false, std::move(att)},
          "example.org", spec_value("", "attestation_ca_cert"),
          [d](const Bytes& m) { return p256_sign(d, m); }};
}

TEST(Fido2AttestationVectors, PackedEs256VerdictsAreLibfido2s) {
  const Enrolment e = spec_enrolment("packed-es256", Alg::kFido2Es256);
  auto info = verify_attestation(e.key, e.rp, {e.root});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->aaguid, spec_value("packed-es256", "aaguid"));
  expect_same_verdicts(e);
}

TEST(Fido2AttestationVectors, PackedEd25519VerdictsAreLibfido2s) {
  const Enrolment e = spec_enrolment("packed-eddsa", Alg::kFido2EdDsa);
  auto info = verify_attestation(e.key, e.rp, {e.root});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->aaguid, spec_value("packed-eddsa", "aaguid"));
  expect_same_verdicts(e);
}

TEST(Fido2AttestationVectors, SelfAttestationIsRefusedByBoth) {
  // No x5c: the credential key signs its own creation, which proves nothing about where it
  // lives. The policy key is the credential's, as in the vector.
  const Bytes object = spec_value("packed-self-es256", "attestationObject");
  cbor_load_result res{};
  std::unique_ptr<cbor_item_t, CborFree> ao(cbor_load(object.data(), object.size(), &res));
  ASSERT_TRUE(ao && cbor_isa_map(ao.get()));
  Attestation att;
  att.format = "fido2-packed";
  att.authenticator_data = bstr(member(ao.get(), "authData"));
  att.signature = bstr(member(member(ao.get(), "attStmt"), "sig"));
  const Digest cdh = sha256(ByteView(spec_value("packed-self-es256", "clientDataJSON")));
  att.client_data_hash.assign(cdh.begin(), cdh.end());
  auto ad = parse_attested_authenticator_data(Alg::kFido2Es256, att.authenticator_data);
  ASSERT_TRUE(ad.ok()) << ad.error().message;
  const PolicyKey key{ad->public_key, spec_value("packed-self-es256", "credential_id"), false, att};
  auto r = verify_attestation(key, "example.org", {spec_value("", "attestation_ca_cert")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidDocument) << r.error().message;
  EXPECT_FALSE(libfido2_accepts(key, "example.org"));
}

}  // namespace
}  // namespace countersign::fido2
