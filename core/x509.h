// X.509 certificates as the signers and attestation checks need them: the public key a
// certificate carries, and certificates read from PEM or DER. All through OpenSSL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/result.h"

namespace countersign::x509 {

// The public key of one DER certificate as a core PublicKey: ecdsa-p256 for a P-256 key,
// ecdsa-p384 for P-384, ed25519 for Ed25519. Errors: kMalformed for bytes that are not
// exactly one certificate, kUnsupported for other key types.
Result<PublicKey> public_key_from_certificate(ByteView certificate_der);

// DER of every CERTIFICATE block in `pem`, in order (none when there is none).
std::vector<Bytes> pem_certificates(std::string_view pem);

// DER certificates from a file holding one or more PEM CERTIFICATE blocks, or one DER
// certificate. Errors: kNotFound / kIo from reading, kMalformed for anything else.
Result<std::vector<Bytes>> read_certificates(const std::string& path);

// The subject of a DER certificate on one line ("/CN=Yubico PIV Attestation"), or "" when
// the bytes do not parse.
std::string subject_line(ByteView certificate_der);

}  // namespace countersign::x509
