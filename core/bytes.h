// Byte strings and their text encodings: lowercase hex and standard padded base64
// (DESIGN.md "Identifiers and encodings").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace countersign {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lowercase hex.
std::string hex_encode(ByteView data);
// Accepts upper and lower case; rejects odd length and non-hex characters.
Result<Bytes> hex_decode(std::string_view text);
// 0..15 for a hex digit (either case), -1 for anything else.
int hex_value(char c);
// True when `text` is exactly `n` lowercase hex digits.
bool is_lower_hex(std::string_view text, std::size_t n);
// Decodes exactly 2 * out.size() lowercase hex digits into `out` (no allocation: for the
// hashes of a 100,000-file manifest). False, with `out` unspecified, for anything else.
bool decode_lower_hex(std::string_view text, std::span<std::uint8_t> out);

// Standard base64 alphabet with '=' padding (RFC 4648 section 4), no line breaks.
std::string base64_encode(ByteView data);
// Strict: rejects missing padding, whitespace, the URL-safe alphabet and trailing data.
Result<Bytes> base64_decode(std::string_view text);

// Constant-time comparison of equal-length buffers; false when lengths differ.
bool constant_time_equal(ByteView a, ByteView b);

// `s` cut at `max` bytes without splitting a UTF-8 sequence, then "…(N bytes)" saying how
// long it was; `s` itself when it fits.
std::string cut_text(std::string_view s, std::size_t max);

}  // namespace countersign
