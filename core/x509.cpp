#include "core/x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>

#include "core/fileio.h"
#include "core/openssl_util.h"

namespace countersign::x509 {
namespace {

using X509Ptr = CertificatePtr;
using BioPtr = std::unique_ptr<BIO, detail::OpensslFree<BIO_free>>;

Result<Bytes> to_der(X509* c) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(c, &der);
  if (n <= 0) return detail::openssl_failure("i2d_X509");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

X509Ptr parse(ByteView der) { return parse_certificate(der); }

// DER of an OpenSSL object through its i2d function; empty on failure.
template <typename T, typename F>
Bytes i2d_bytes(const T* object, F i2d) {
  unsigned char* der = nullptr;
  const int len = i2d(object, &der);
  if (len <= 0) {
    detail::clear_openssl_errors();
    return {};
  }
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

void CertificateFree::operator()(x509_st* cert) const { X509_free(cert); }

CertificatePtr parse_certificate(ByteView der) {
  const unsigned char* p = der.data();
  CertificatePtr c(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (c && p != der.data() + der.size()) c.reset();
  detail::clear_openssl_errors();
  return c;
}

Result<PublicKey> public_key_from_certificate(ByteView certificate_der) {
  X509Ptr cert = parse(certificate_der);
  if (!cert) return make_error(Errc::kMalformed, "certificate: not one DER X.509 certificate");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) {
    detail::clear_openssl_errors();
    return make_error(Errc::kMalformed, "certificate: no readable public key");
  }
  Alg alg;
  if (EVP_PKEY_is_a(key, "ED25519")) {
    alg = Alg::kEd25519;
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &glen) != 1) {
      detail::clear_openssl_errors();
      return make_error(Errc::kUnsupported, "certificate: EC key without a named curve");
    }
    const std::string g(group, glen);
    if (g == "prime256v1" || g == "P-256") {
      alg = Alg::kEcdsaP256;
    } else if (g == "secp384r1" || g == "P-384") {
      alg = Alg::kEcdsaP384;
    } else {
      return make_error(Errc::kUnsupported, "certificate: curve " + g + " is not P-256 or P-384");
    }
  } else {
    return make_error(Errc::kUnsupported,
                      "certificate: key type is not EC or Ed25519 (RSA is not supported)");
  }
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return detail::openssl_failure("i2d_PUBKEY");
  Bytes spki(der, der + n);
  OPENSSL_free(der);
  return PublicKey::parse(alg, spki);
}

std::vector<Bytes> pem_certificates(std::string_view pem) {
  std::vector<Bytes> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (bio) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) break;
    auto der = to_der(c.get());
    if (der.ok()) out.push_back(std::move(*der));
  }
  detail::clear_openssl_errors();  // the end of the PEM stream is reported as an error
  return out;
}

Result<std::vector<Bytes>> read_certificates(const std::string& path) {
  CS_TRY(std::string text, read_file(path));
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    auto certs = pem_certificates(text);
    if (certs.empty()) return make_error(Errc::kMalformed, path + ": no readable PEM certificate");
    return certs;
  }
  const ByteView der(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (!parse(der)) return make_error(Errc::kMalformed, path + ": not a PEM or DER X.509 certificate");
  return std::vector<Bytes>{Bytes(der.begin(), der.end())};
}

std::string subject_line(ByteView certificate_der) {
  X509Ptr cert = parse(certificate_der);
  if (!cert) return "";
  char buf[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert.get()), buf, sizeof buf);
  return buf;
}

Result<Bytes> self_signed_certificate(const PublicKey& key, std::string_view common_name, std::int64_t now,
                                      const DigestSigner& sign_digest) {
  if (key.alg() != Alg::kEcdsaP256 && key.alg() != Alg::kEcdsaP384)
    return make_error(Errc::kUnsupported,
                      "self-signed certificates are made for ecdsa-p256 and ecdsa-p384 keys");
  const bool p256 = key.alg() == Alg::kEcdsaP256;
  const EVP_MD* md = p256 ? EVP_sha256() : EVP_sha384();
  const unsigned char* sp = key.spki().data();
  detail::PkeyPtr pub(d2i_PUBKEY(nullptr, &sp, static_cast<long>(key.spki().size())));
  if (!pub) return detail::openssl_failure("d2i_PUBKEY");
  X509Ptr cert(X509_new());
  if (!cert) return detail::openssl_failure("X509_new");
  std::uint8_t serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return detail::openssl_failure("RAND_bytes");
  serial[0] &= 0x7F;  // a positive INTEGER
  std::unique_ptr<BIGNUM, detail::OpensslFree<BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  if (!bn || X509_set_version(cert.get(), 2) != 1 ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ||
      !X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &now) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), 20 * 365, 0, &now) ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), pub.get()) != 1) {
    return detail::openssl_failure("building the certificate");
  }
  // Sign once with a throwaway key of the same curve: that sets both signature algorithm
  // fields (ecdsa-with-SHA256 / -SHA384). Then the real signature over the same TBS
  // replaces the throwaway one.
  detail::PkeyPtr scratch(EVP_EC_gen(p256 ? "P-256" : "P-384"));
  if (!scratch || X509_sign(cert.get(), scratch.get(), md) <= 0) return detail::openssl_failure("X509_sign");
  unsigned char* tbs = nullptr;
  const int tbs_len = i2d_re_X509_tbs(cert.get(), &tbs);
  if (tbs_len <= 0) return detail::openssl_failure("i2d_re_X509_tbs");
  Bytes digest(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int dlen = 0;
  const int ok = EVP_Digest(tbs, static_cast<std::size_t>(tbs_len), digest.data(), &dlen, md, nullptr);
  OPENSSL_free(tbs);
  if (ok != 1) return detail::openssl_failure("EVP_Digest");
  CS_TRY(Bytes sig, sign_digest(digest));
  const ASN1_BIT_STRING* csig = nullptr;
  X509_get0_signature(&csig, nullptr, cert.get());
  // The signature BIT STRING is part of the certificate we own; OpenSSL offers no setter.
  auto* bits = const_cast<ASN1_BIT_STRING*>(csig);
  if (ASN1_BIT_STRING_set(bits, sig.data(), static_cast<int>(sig.size())) != 1)
    return detail::openssl_failure("ASN1_BIT_STRING_set");
  // Its flags (no unused bits) stay as X509_sign set them.
  if (X509_verify(cert.get(), pub.get()) != 1) {
    detail::clear_openssl_errors();
    return make_error(Errc::kCrypto, "the card's signature does not verify with the generated key");
  }
  return to_der(cert.get());
}

Result<Bytes> read_spki(const std::string& path) {
  auto certs = read_certificates(path);
  if (certs.ok() && !certs->empty()) {
    CertificatePtr cert = parse_certificate(certs->front());
    Bytes spki = cert ? i2d_bytes(X509_get_X509_PUBKEY(cert.get()), i2d_X509_PUBKEY) : Bytes{};
    if (!spki.empty()) return spki;
  } else if (!certs.ok() && certs.error().code != Errc::kMalformed) {
    return certs.error();
  }
  CS_TRY(std::string pem, read_file(path, 64 * 1024));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  detail::PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  Bytes spki = key ? i2d_bytes(key.get(), i2d_PUBKEY) : Bytes{};
  detail::clear_openssl_errors();
  if (spki.empty())
    return Error(Errc::kMalformed, path + ": neither a certificate (PEM or DER) nor a PEM PUBLIC KEY");
  return spki;
}

}  // namespace countersign::x509
