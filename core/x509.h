// X.509 certificates as the signers and attestation checks need them: the public key a
// certificate carries, and certificates read from PEM or DER. All through OpenSSL.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"

// OpenSSL's X509, forward-declared so that users of this header need not include OpenSSL.
struct x509_st;

namespace countersign::x509 {

struct CertificateFree {
  void operator()(x509_st* cert) const;
};
using CertificatePtr = std::unique_ptr<x509_st, CertificateFree>;

// Exactly one DER certificate (no trailing bytes), or null; OpenSSL's error queue is left
// empty either way.
CertificatePtr parse_certificate(ByteView der);

// The public key of one DER certificate as a core PublicKey: ecdsa-p256 for a P-256 key,
// ecdsa-p384 for P-384, ed25519 for Ed25519. Errors: kMalformed for bytes that are not
// exactly one certificate, kUnsupported for other key types.
Result<PublicKey> public_key_from_certificate(ByteView certificate_der);

// DER of every CERTIFICATE block in `pem`, in order (none when there is none).
std::vector<Bytes> pem_certificates(std::string_view pem);

// DER certificates from a file holding one or more PEM CERTIFICATE blocks, or one DER
// certificate. Errors: kNotFound / kIo from reading, kMalformed for anything else.
Result<std::vector<Bytes>> read_certificates(const std::string& path);

// The SubjectPublicKeyInfo (DER) of the key in a file, any algorithm: of its first certificate
// (PEM, as a TLS certificate chain whose first certificate is the server's own, or DER) or of
// a PEM PUBLIC KEY. Errors: kNotFound / kIo from reading, kMalformed for anything else (the
// message names the file).
Result<Bytes> read_spki(const std::string& path);

// The subject of a DER certificate on one line ("/CN=Yubico PIV Attestation"), or "" when
// the bytes do not parse.
std::string subject_line(ByteView certificate_der);

// A self-signed X.509 v3 certificate (CN = `common_name`, valid from `now` for 20 years,
// random serial) for `key` (ecdsa-p256 or ecdsa-p384), signed by `sign_digest`, which gets
// the SHA-256 (P-256) or SHA-384 (P-384) digest of the to-be-signed part and returns a DER
// ECDSA signature: the private key stays where it is (a PIV card). The result is checked
// against `key` before it is returned (kCrypto when the signer signed with another key).
using DigestSigner = std::function<Result<Bytes>(ByteView digest)>;
Result<Bytes> self_signed_certificate(const PublicKey& key, std::string_view common_name, std::int64_t now,
                                      const DigestSigner& sign_digest);

}  // namespace countersign::x509
