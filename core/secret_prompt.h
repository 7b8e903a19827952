// The terminal prompt for secrets (passphrases, PINs) of the signing tools. Apart from
// core/secret.h so that core's verify side, which the box links, holds no termios code.
#pragma once

#include <string>

#include "core/result.h"
#include "core/secret.h"

namespace countersign {

// Prompts on the controlling terminal (/dev/tty) with echo turned off and reads one line.
// Fails with kNoDevice when there is no terminal (scripts must use a file or variable).
Result<SecretBytes> prompt_secret(const std::string& prompt);

}  // namespace countersign
