// What the FIDO2 commands (`key list`, `key enroll --fido2`, `sign --fido2`) share: which
// authenticator to use and where its PIN comes from.
#pragma once

#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/secret.h"
#include "smartcard/fido2_device.h"

namespace countersign::cli {

// Environment variable holding a FIDO2 PIN for unattended use (tests, CI with a virtual
// authenticator). Same caveats as kPassphraseEnv; prefer --pin-file or the prompt.
inline constexpr const char* kPinEnv = "COUNTERSIGN_PIN";

// Opens `device` (a hidraw path or unix:PATH, smartcard/fido2_unix_socket.h), or, when
// empty, the only FIDO2 authenticator connected (kNoDevice when none, kInvalidArgument
// naming them when several).
Result<fido2::Device> open_fido2(const std::string& device);

// The PIN from --pin-file, else kPinEnv, else a no-echo prompt on the terminal.
Result<SecretBytes> obtain_pin(const std::string& pin_file);

}  // namespace countersign::cli
