#include "smartcard/pcsc/apdu.h"

#include <cstdio>
#include <string>

namespace countersign::pcsc {

Result<Bytes> encode_short(const CommandApdu& apdu) {
  if (apdu.data.size() > 255) {
    return make_error(Errc::kInvalidArgument, "encode_short: command data longer than 255 bytes");
  }
  if (apdu.le && (*apdu.le == 0 || *apdu.le > 256)) {
    return make_error(Errc::kInvalidArgument, "encode_short: Le must be 1..256");
  }
  Bytes out{apdu.cla, apdu.ins, apdu.p1, apdu.p2};
  if (!apdu.data.empty()) {
    out.push_back(static_cast<std::uint8_t>(apdu.data.size()));
    out.insert(out.end(), apdu.data.begin(), apdu.data.end());
  }
  if (apdu.le) out.push_back(static_cast<std::uint8_t>(*apdu.le & 0xFF));  // 256 -> 0x00
  return out;
}

Result<ResponseApdu> decode_response(ByteView raw) {
  if (raw.size() < 2) return make_error(Errc::kMalformed, "card response shorter than a status word");
  ResponseApdu r;
  r.data.assign(raw.begin(), raw.end() - 2);
  r.sw = static_cast<std::uint16_t>((raw[raw.size() - 2] << 8) | raw[raw.size() - 1]);
  return r;
}

Error status_error(std::uint16_t sw, std::string_view operation) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(sw));
  const std::string op(operation);
  if ((sw & 0xFFF0) == 0x63C0) {
    const int retries = sw & 0x0F;
    if (retries == 0)
      return Error(Errc::kPinLocked, op + ": wrong PIN, and the PIN is now blocked (no tries left)", 0);
    return Error(Errc::kWrongPin, op + ": wrong PIN, " + std::to_string(retries) + " tries left", retries);
  }
  switch (sw) {
    case 0x6983:
      return Error(Errc::kPinLocked, op + ": the PIN is blocked; unblock it with the PUK", 0);
    case 0x6982:
      return Error(
          Errc::kRejected,
          op + ": security status not satisfied (PIN not verified, or touch required and not given)");
    case 0x6A82:
      return Error(Errc::kNotFound, op + ": not found on the card (empty slot or missing data object)");
    case 0x6A80:
    case 0x6A86:
    case 0x6700:
      return Error(Errc::kInvalidArgument, op + ": the card rejected the parameters (status " + hex + ")");
    case 0x6D00:
    case 0x6E00:
    case 0x6A81:
      return Error(Errc::kUnsupported, op + ": the card does not support this command (status " + hex + ")");
    default:
      return Error(Errc::kIo, op + ": card returned status " + hex);
  }
}

}  // namespace countersign::pcsc
