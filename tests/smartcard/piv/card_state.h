// Keys and certificates for the virtual PIV card's state file, made with OpenSSL at test time.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "core/bytes.h"

namespace countersign::test_util {

// A key on `curve` and a self-signed certificate for it, written as PEM key and DER cert.
// Returns the certificate DER.
inline Bytes make_key_and_cert(const std::string& curve, const std::string& key_path,
                               const std::string& cert_path) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen(curve.c_str()), &EVP_PKEY_free);
  EXPECT_TRUE(key);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("virtual PIV"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  FILE* f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert.get(), &der);
  Bytes out(der, der + n);
  OPENSSL_free(der);
  std::ofstream(cert_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace countersign::test_util
