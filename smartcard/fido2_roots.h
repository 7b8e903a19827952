// The FIDO attestation roots countersign pins (smartcard/roots/, origin in SOURCE.txt),
// compiled in so that a verifier needs no data files.
#pragma once

#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::fido2 {

// DER of every pinned root (today: Yubico U2F Root CA Serial 457200631).
std::vector<Bytes> pinned_fido2_roots();

// DER certificates from a PEM file (one or more CERTIFICATE blocks) or a DER file.
Result<std::vector<Bytes>> read_certificates(const std::string& path);

}  // namespace countersign::fido2
