// PIV smartcards in the CLI: the PIV parts of `key list` and `key enroll --piv`, and the
// signer behind `sign --piv`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "core/keys.h"
#include "smartcard/piv/piv_signer.h"

namespace countersign::cli {

// `key list`, PIV part: every PC/SC reader and the card in it (type, YubiKey firmware and
// serial, slots, PIN tries) as JSON entries; with print_text also as lines on io.out.
// Fails when PC/SC is unavailable (no pcscd).
Result<nlohmann::json> list_piv(Io& io, bool print_text);

// `key enroll --piv`: prints the policy key entry of a slot's key (with the YubiKey
// attestation where there is one).
struct PivEnrollArgs {
  std::string reader, slot = "9c", name;
  std::string out;  // empty: standard output
  bool json = false;
  // --generate: a new key made in the card (management key authentication; the PIN to
  // sign its self-signed certificate), then enrolled like an existing one.
  bool generate = false, overwrite = false;
  std::string alg = "ecdsa-p256", pin_policy = "default", touch_policy = "default";
  std::string management_key_file, management_key_alg;  // alg empty: by firmware
  std::string pin_file;                                 // empty: prompt
};

// Environment variable with the card management key (hex) for unattended --generate.
inline constexpr const char* kManagementKeyEnv = "COUNTERSIGN_PIV_MANAGEMENT_KEY";
int enroll_piv(Io& io, const PivEnrollArgs& a);

struct PivOptions {
  std::string reader;  // empty: the only reader with a card
  std::string slot = "9c";
  std::string pin_file;  // empty: prompt on the terminal
};

// Opens the card, takes the PIN (file or terminal prompt) and reads the slot's key.
Result<std::unique_ptr<piv::CardSigner>> open_piv_signer(const PivOptions& o);

}  // namespace countersign::cli
