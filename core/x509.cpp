#include "core/x509.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "core/fileio.h"
#include "core/openssl_util.h"

namespace countersign::x509 {
namespace {

using X509Ptr = std::unique_ptr<X509, detail::OpensslFree<X509_free>>;
using BioPtr = std::unique_ptr<BIO, detail::OpensslFree<BIO_free>>;

// Exactly one DER certificate, no trailing bytes.
X509Ptr parse(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr c(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (c && p != der.data() + der.size()) c.reset();
  if (!c) detail::clear_openssl_errors();
  return c;
}

Result<Bytes> to_der(X509* c) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(c, &der);
  if (n <= 0) return detail::openssl_failure("i2d_X509");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

}  // namespace

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

}  // namespace countersign::x509
