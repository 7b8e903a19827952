// The one place where a libfido2 status (FIDO_ERR_*, fido/err.h) becomes a countersign
// Error with a message a person can act on.
#pragma once

#include <string_view>

#include "core/result.h"

namespace countersign::fido2 {

// Maps `rc` (a FIDO_ERR_* code other than FIDO_OK) from the operation `what`:
//   PIN_INVALID                      -> kWrongPin (retries = `retries`, -1 when unknown)
//   PIN_BLOCKED, PIN_AUTH_BLOCKED    -> kPinLocked
//   NO_CREDENTIALS                   -> kNotFound ("no matching credential on this key")
//   USER_ACTION_TIMEOUT, ACTION_TIMEOUT -> kTimeout
//   KEEPALIVE_CANCEL (CTAPHID_CANCEL honoured: Canceller), OPERATION_DENIED (the user
//   declined on the authenticator) -> kCancelled
//   TX, RX (the device stopped answering: removed) -> kNoDevice
//   RX_NOT_CBOR, RX_INVALID_CBOR, INVALID_CBOR -> kMalformed
//   PIN_REQUIRED, PIN_NOT_SET        -> kInvalidArgument
//   UNSUPPORTED_ALGORITHM/OPTION, INVALID_OPTION -> kUnsupported
//   anything else                    -> kIo, with libfido2's fido_strerr text
Error map_error(int rc, std::string_view what, int retries = -1);

}  // namespace countersign::fido2
