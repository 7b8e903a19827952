#include "smartcard/fido2_error.h"

#include <fido.h>

#include <string>

namespace countersign::fido2 {

Error map_error(int rc, std::string_view what, int retries) {
  const std::string w(what);
  switch (rc) {
    case FIDO_ERR_PIN_INVALID:
      return Error(Errc::kWrongPin,
                   w + ": wrong PIN" +
                       (retries >= 0 ? " (" + std::to_string(retries) + " tries left)" : std::string()),
                   retries);
    case FIDO_ERR_PIN_BLOCKED:
      return Error(Errc::kPinLocked, w + ": the PIN is blocked (no tries left); reset the authenticator");
    case FIDO_ERR_PIN_AUTH_BLOCKED:
      return Error(Errc::kPinLocked, w + ": too many wrong PINs; remove and re-insert the authenticator");
    case FIDO_ERR_NO_CREDENTIALS:
      return Error(Errc::kNotFound, w + ": no matching credential on this security key");
    case FIDO_ERR_USER_ACTION_TIMEOUT:
    case FIDO_ERR_ACTION_TIMEOUT:
      return Error(Errc::kTimeout, w + ": timed out waiting for a touch of the security key");
    case FIDO_ERR_KEEPALIVE_CANCEL:
      return Error(Errc::kCancelled, w + ": cancelled; the security key stopped waiting and signed nothing");
    case FIDO_ERR_OPERATION_DENIED:
      return Error(Errc::kCancelled, w + ": declined on the security key; nothing was signed");
    case FIDO_ERR_TX:
    case FIDO_ERR_RX:
      return Error(Errc::kNoDevice, w + ": the security key stopped responding (was it removed?)");
    case FIDO_ERR_RX_NOT_CBOR:
    case FIDO_ERR_RX_INVALID_CBOR:
    case FIDO_ERR_INVALID_CBOR:
      return Error(Errc::kMalformed, w + ": the security key sent a malformed CTAP2 (CBOR) response");
    case FIDO_ERR_PIN_REQUIRED:
      return Error(Errc::kInvalidArgument, w + ": the security key requires its PIN");
    case FIDO_ERR_PIN_NOT_SET:
      return Error(Errc::kInvalidArgument,
                   w + ": user verification requested but the security key has no PIN set");
    case FIDO_ERR_INVALID_OPTION:
      return Error(Errc::kUnsupported,
                   w + ": the security key refused an option (user verification without a PIN needs "
                       "built-in verification such as a fingerprint; give the PIN instead)");
    case FIDO_ERR_UNSUPPORTED_ALGORITHM:
    case FIDO_ERR_UNSUPPORTED_OPTION:
      return Error(Errc::kUnsupported, w + ": " + fido_strerr(rc));
    default:
      return Error(Errc::kIo, w + ": " + fido_strerr(rc) + " (libfido2 " + std::to_string(rc) + ")");
  }
}

}  // namespace countersign::fido2
