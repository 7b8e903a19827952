// BER-TLV as PIV uses it (NIST SP 800-73-4 part 2, 3.3; ISO 7816-4 annex D): one- or
// two-byte tags (a first byte with low bits 1F takes the next byte too; the three-byte
// tags 5FC1xx appear only inside GET DATA requests, which we build, never parse) and
// definite lengths in the forms 0..7F, 81 xx, 82 xx xx.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::piv {

struct Tlv {
  std::uint32_t tag = 0;
  Bytes value;
};

// Parses a sequence of TLVs that must fill `data` exactly. Errors: kMalformed for a
// truncated tag, length or value, an indefinite or over-long length form, or trailing bytes.
Result<std::vector<Tlv>> parse_tlvs(ByteView data);

// The value of the first TLV with `tag` in `tlvs`, if any.
std::optional<Bytes> find_tlv(const std::vector<Tlv>& tlvs, std::uint32_t tag);

// Appends tag (1 or 2 bytes as given: tags above 0xFF are written as two bytes), length and value.
void append_tlv(Bytes& out, std::uint32_t tag, ByteView value);

}  // namespace countersign::piv
