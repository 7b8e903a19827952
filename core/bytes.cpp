#include "core/bytes.h"

#include <sodium.h>

#include <array>

namespace countersign {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid-argument";
    case Errc::kMalformed:
      return "malformed";
    case Errc::kInvalidDocument:
      return "invalid-document";
    case Errc::kUnknownSchema:
      return "unknown-schema";
    case Errc::kCrypto:
      return "crypto";
    case Errc::kIo:
      return "io";
    case Errc::kNotFound:
      return "not-found";
    case Errc::kWrongPassphrase:
      return "wrong-passphrase";
    case Errc::kWrongPin:
      return "wrong-pin";
    case Errc::kPinLocked:
      return "pin-locked";
    case Errc::kNoDevice:
      return "no-device";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kHashMismatch:
      return "hash-mismatch";
    case Errc::kRejected:
      return "rejected";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kInternal:
      return "internal";
  }
  return "internal";
}

std::string hex_encode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return make_error(Errc::kMalformed, "hex string has an odd number of digits");
  Bytes out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(Errc::kMalformed, "not a hex digit at offset " + std::to_string(hi < 0 ? i : i + 1));
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

namespace {

// 0..15 for '0'..'9' and 'a'..'f', 0xff for every other byte.
constexpr std::array<std::uint8_t, 256> kLowerHex = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'a' + 10);
  return t;
}();

}  // namespace

bool decode_lower_hex(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() != 2 * out.size()) return false;
  unsigned bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const unsigned hi = kLowerHex[static_cast<unsigned char>(text[2 * i])];
    const unsigned lo = kLowerHex[static_cast<unsigned char>(text[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<std::uint8_t>(hi << 4 | (lo & 0x0f));
  }
  return bad <= 0x0f;
}

bool is_lower_hex(std::string_view text, std::size_t n) {
  if (text.size() != n) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string base64_encode(ByteView data) {
  const std::size_t len = sodium_base64_encoded_len(data.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, data.data(), data.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // drop the terminating NUL
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  Bytes out(text.size() / 4 * 3 + 3);
  std::size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &out_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return make_error(Errc::kMalformed, "not standard padded base64");
  }
  out.resize(out_len);
  // libsodium accepts non-zero padding bits; a canonical encoding must round-trip.
  if (base64_encode(out) != text) return make_error(Errc::kMalformed, "non-canonical base64");
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string cut_text(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "…(" + std::to_string(s.size()) + " bytes)";
}

}  // namespace countersign
