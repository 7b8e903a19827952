// ISO/IEC 7816-4 command and response APDUs (short form only) and the one function that
// maps status words to errors.
//
// Extended-length APDUs are deliberately not used: PIV cards accept command chaining (CLA
// bit 0x10, ISO 7816-4 5.3.3) for data over 255 bytes and answer long responses with 61xx
// (GET RESPONSE), which every reader and card supports. ApduSession does both.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::pcsc {

struct CommandApdu {
  std::uint8_t cla = 0x00;
  std::uint8_t ins = 0x00;
  std::uint8_t p1 = 0x00;
  std::uint8_t p2 = 0x00;
  Bytes data;                     // at most 255 bytes when serialised (ApduSession chains)
  std::optional<std::size_t> le;  // expected length; 256 is encoded as 0x00
};

// Serialises a short APDU: CLA INS P1 P2 [Lc data] [Le]. Errors: kInvalidArgument when data
// is longer than 255 bytes or le is 0 or above 256.
Result<Bytes> encode_short(const CommandApdu& apdu);

struct ResponseApdu {
  Bytes data;
  std::uint16_t sw = 0;
  bool ok() const { return sw == 0x9000; }
};

// Splits raw response bytes into data and SW1SW2. Errors: kMalformed when shorter than 2 bytes.
Result<ResponseApdu> decode_response(ByteView raw);

// Maps a status word that is not 9000 to an error that says what happened, prefixed with
// `operation` ("VERIFY PIN"). ISO 7816-4 5.1.3 and NIST SP 800-73-4 part 2, 5.6:
//   63Cx  kWrongPin, retries = x (63C0 is kPinLocked with retries 0)
//   6983  kPinLocked (authentication method blocked)
//   6982  kRejected: security status not satisfied (PIN not verified, or touch not given)
//   6A82  kNotFound: file or application not found (empty PIV slot or data object)
//   6A80, 6A86, 6700  kInvalidArgument; 6D00, 6E00, 6A81  kUnsupported
//   anything else  kIo with the hex status word.
Error status_error(std::uint16_t sw, std::string_view operation);

}  // namespace countersign::pcsc
