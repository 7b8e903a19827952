// The vendor attestation roots countersign pins (smartcard/roots/, origin in SOURCE.txt),
// compiled in so that a verifier (the CLI, the app, the box) needs no data files.
#pragma once

#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace countersign::attestation {

// fido2-packed: Yubico U2F Root CA Serial 457200631 (Yubico's FIDO U2F and FIDO2 root).
std::vector<Bytes> pinned_fido2_roots();
// yubikey-piv: Yubico PIV Root CA Serial 263751, and Yubico U2F Root CA Serial 457200631,
// which issued the PIV attestation key certificates of YubiKeys made before 2018.
std::vector<Bytes> pinned_piv_roots();
// aws-nitro: AWS Nitro Enclaves Root-G1, and the PEM file it was compiled from (whose SHA-256
// the build checks against the one recorded in roots/SOURCE.txt).
std::vector<Bytes> pinned_nitro_roots();
std::string_view pinned_nitro_root_pem();

}  // namespace countersign::attestation
