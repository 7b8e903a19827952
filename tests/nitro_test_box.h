// A box with a test AWS Nitro root, for tests of what Nitro attestation binds: a root and leaf
// (P-384) made here with OpenSSL, the box's TLS certificate and log key, and signed
// documents (COSE_Sign1, ES384) of PCRs 0-2 = 0x11.., 0x22.., 0x33.. with the user_data and
// nonce a test gives. AWS never signed these: code under test sees them only with the test
// root given explicitly (tests/cli/attest_cli_test.cpp, tests/smartcard/nitro_binding_test.cpp).
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "smartcard/nitro.h"
#include "tests/cbor_writer.h"
#include "tests/test_util.h"

namespace countersign::test_util {

// The time the test certificates are made around (valid an hour either side), unless a test
// gives NitroTestBox another.
inline constexpr UnixTime kNitroTestNow = 1795341600;  // 2026-11-22T10:00:00Z

namespace nitro_box_detail {
inline constexpr UnixTime kNow = kNitroTestNow;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Key ec_key(const char* curve) { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)); }

// A certificate for `key` named CN=`cn`, issued by `issuer_key` under CN=`issuer`, valid an hour
// either side of `centre`; a CA when `ca`.
inline Bytes certificate(EVP_PKEY* key, const std::string& cn, EVP_PKEY* issuer_key,
                         const std::string& issuer, bool ca, long serial, UnixTime centre = kNow) {
  std::unique_ptr<X509, X509Free> x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(centre - 3600));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(centre + 3600));
  auto cn_bytes = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.c_str()); };
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_ASC, cn_bytes(cn), -1, -1, 0);
  X509_NAME_add_entry_by_txt(X509_get_issuer_name(x.get()), "CN", MBSTRING_ASC, cn_bytes(issuer), -1, -1, 0);
  X509_set_pubkey(x.get(), key);
  if (ca) {
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_EXTENSION* ku = X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_add_ext(x.get(), bc, -1);
    X509_add_ext(x.get(), ku, -1);
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
  }
  EXPECT_GT(X509_sign(x.get(), issuer_key, EVP_sha384()), 0);
  unsigned char* der = nullptr;
  const int len = i2d_X509(x.get(), &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

inline std::string pem(const Bytes& der) {
  std::string b64 = base64_encode(der), out = "-----BEGIN CERTIFICATE-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE-----\n";
}

inline Bytes spki_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

using Cbor = CborWriter;

using Cbor = CborWriter;

// A box with a test Nitro root: its log key, its TLS certificate and documents it signs. The
// certificates are valid an hour either side of `centre` and the documents made 12 minutes
// before it (a tool that shows them now gives system_now()).
class NitroTestBox {
 public:
  explicit NitroTestBox(const TempDir& dir, UnixTime centre = kNitroTestNow) : dir_(dir), centre_(centre) {
    root_key_ = ec_key("P-384");
    leaf_key_ = ec_key("P-384");
    root_ =
        certificate(root_key_.get(), "test-nitro-root", root_key_.get(), "test-nitro-root", true, 1, centre_);
    leaf_ =
        certificate(leaf_key_.get(), "test-enclave", root_key_.get(), "test-nitro-root", false, 2, centre_);
    spit(dir.file("root.pem"), pem(root_));
    Key tls = ec_key("P-256");
    tls_spki_ = spki_of(tls.get());
    spit(dir.file("tls.pem"),
         pem(certificate(tls.get(), "box-7f3a.example", tls.get(), "box-7f3a.example", false, 3, centre_)));
    auto log = note::Signer::generate("box-7f3a-log");
    EXPECT_TRUE(log.ok());
    log_raw_ = log->verifier().public_key();
    spit(dir.file("log.pub"), log->verifier().vkey() + "\n");
    auto other = note::Signer::generate("box-91c2-log");
    spit(dir.file("other-log.pub"), other->verifier().vkey() + "\n");
  }

  // user_data for a box, written out by hand (RFC 8785: keys sorted, no spaces), not by the
  // code under test. The log key is its Ed25519 SubjectPublicKeyInfo (RFC 8410).
  Bytes binding(const std::string& box) const {
    const std::string jcs = R"({"box":")" + box + R"(","log_key":")" + base64_encode(log_spki()) +
                            R"(","tls_key":")" + base64_encode(tls_spki_) + R"("})";
    const Digest d = sha256(std::string_view(jcs));
    return Bytes(d.begin(), d.end());
  }

  // A signed document of PCRs 0-2 = 0x11.., 0x22.., 0x33.. with this user_data and nonce,
  // written to `name`; returns its path.
  std::string document(const std::string& name, const Bytes& user_data, const Bytes& nonce,
                       const std::string& module_id = "i-0123456789abcdef0-enc0123456789abcdef") const {
    Cbor p;
    p.head(5, 9);
    p.text("module_id");
    p.text(module_id);
    p.text("digest");
    p.text("SHA384");
    p.text("timestamp");
    p.head(0, static_cast<std::uint64_t>(centre_ - 720) * 1000);  // 12 minutes ago
    p.text("pcrs");
    p.head(5, 4);
    for (std::uint8_t i = 0; i < 4; ++i) {
      p.head(0, i);
      p.bytes(Bytes(nitro::kPcrSize, static_cast<std::uint8_t>(i == 3 ? 0 : 0x11 * (i + 1))));
    }
    p.text("certificate");
    p.bytes(leaf_);
    p.text("cabundle");
    p.head(4, 1);
    p.bytes(root_);
    p.text("public_key");
    p.out.push_back(0xf6);  // null
    p.text("user_data");
    p.bytes(user_data);
    p.text("nonce");
    p.bytes(nonce);
    const Bytes prot = {0xa1, 0x01, 0x38, 0x22};  // {1: -35}, ES384
    Cbor doc;
    doc.head(6, 18);
    doc.head(4, 4);
    doc.bytes(prot);
    doc.head(5, 0);
    doc.bytes(p.out);
    doc.bytes(sign(nitro::sig_structure(prot, p.out)));
    const std::string path = dir_.file(name);
    spit(path, std::string(doc.out.begin(), doc.out.end()));
    return path;
  }

  std::string file(const std::string& name) const { return dir_.file(name); }
  const Bytes& root() const { return root_; }  // DER
  const Bytes& tls_spki() const { return tls_spki_; }
  // The log key's Ed25519 SubjectPublicKeyInfo (RFC 8410), as the binding carries it.
  Bytes log_spki() const {
    Bytes spki = *hex_decode("302a300506032b6570032100");
    spki.insert(spki.end(), log_raw_.begin(), log_raw_.end());
    return spki;
  }

 private:
  // ES384 as COSE wants it: r || s, 48 bytes each (RFC 9053 section 2.1).
  Bytes sign(const Bytes& tbs) const {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    std::size_t len = 0;
    EXPECT_EQ(EVP_DigestSignInit(md.get(), nullptr, EVP_sha384(), nullptr, leaf_key_.get()), 1);
    EXPECT_EQ(EVP_DigestSign(md.get(), nullptr, &len, tbs.data(), tbs.size()), 1);
    Bytes der(len);
    EXPECT_EQ(EVP_DigestSign(md.get(), der.data(), &len, tbs.data(), tbs.size()), 1);
    const unsigned char* p = der.data();
    std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    Bytes out(96);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 48);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 48, 48);
    return out;
  }

  const TempDir& dir_;
  UnixTime centre_;
  Key root_key_, leaf_key_;
  Bytes root_, leaf_, tls_spki_, log_raw_;
};

}  // namespace nitro_box_detail

using nitro_box_detail::NitroTestBox;

}  // namespace countersign::test_util
