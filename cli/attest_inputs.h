// What `attest verify` and `proposal show --attestation` read (cli/cmd_attest.cpp): the
// document file, the box's log key and its TLS key, each error naming the option and file.
#pragma once

#include <string>

#include "cli/cli.h"
#include "core/bytes.h"
#include "core/result.h"

namespace countersign::cli {

// The attestation document at `path` (- for standard input): raw CBOR or base64
// (nitro::document_from_file_text).
Result<Bytes> read_attestation_document(Io& io, const std::string& path);
// --log-key: the SubjectPublicKeyInfo of the box's Ed25519 log verifier key (a vkey file).
Result<Bytes> read_log_key_spki(const std::string& arg);
// --tls-key: the SubjectPublicKeyInfo of the API's TLS certificate or PEM public key.
Result<Bytes> read_tls_key_spki(const std::string& path);

}  // namespace countersign::cli
