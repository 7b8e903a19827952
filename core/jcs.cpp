// Strict JSON parser and RFC 8785 (JCS) serializer. See core/jcs.h for the contract.
//
// Both directions are iterative (an explicit stack, no recursion), so neither a hostile
// input nor a deeply nested value built in code can exhaust the call stack.
#include "core/jcs.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace countersign::jcs {
namespace {

using json = nlohmann::json;

inline unsigned char byte_at(const char* p) { return static_cast<unsigned char>(*p); }

// ---------------------------------------------------------------------------------------
// UTF-8

enum class Utf8Error { kNone, kContinuation, kOverlong, kSurrogate, kTooLarge, kInvalidByte, kTruncated };

const char* utf8_error_text(Utf8Error e) {
  switch (e) {
    case Utf8Error::kNone:
      break;
    case Utf8Error::kContinuation:
      return "invalid UTF-8: continuation byte without a lead byte";
    case Utf8Error::kOverlong:
      return "invalid UTF-8: overlong encoding";
    case Utf8Error::kSurrogate:
      return "invalid UTF-8: encodes a surrogate code point (U+D800..U+DFFF)";
    case Utf8Error::kTooLarge:
      return "invalid UTF-8: code point above U+10FFFF";
    case Utf8Error::kInvalidByte:
      return "invalid UTF-8: byte that never occurs in UTF-8";
    case Utf8Error::kTruncated:
      return "invalid UTF-8: incomplete multi-byte sequence";
  }
  return "invalid UTF-8";
}

struct Utf8Sequence {
  std::size_t length;  // 0 when invalid
  Utf8Error error;
};

// Checks the sequence that starts at p (p < end, *p >= 0x80) against the table of
// well-formed byte sequences in Unicode 15 section 3.9 (Table 3-7), the same grammar as
// RFC 3629 section 4. That table excludes overlongs, surrogates and values above U+10FFFF
// by narrowing the range of the second byte.
inline Utf8Sequence check_utf8(const char* p, const char* end) {
  const unsigned char lead = byte_at(p);
  std::size_t length = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  Utf8Error narrow_low = Utf8Error::kOverlong;
  Utf8Error narrow_high = Utf8Error::kTooLarge;
  if (lead < 0xC0) return {0, Utf8Error::kContinuation};
  if (lead < 0xC2) return {0, Utf8Error::kOverlong};
  if (lead < 0xE0) {
    length = 2;
  } else if (lead < 0xF0) {
    length = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) {
      hi = 0x9F;
      narrow_high = Utf8Error::kSurrogate;
    }
  } else if (lead < 0xF5) {
    length = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    // F5..F7 would start sequences above U+10FFFF; F8..FF are not UTF-8 at all.
    return {0, lead < 0xF8 ? Utf8Error::kTooLarge : Utf8Error::kInvalidByte};
  }
  const auto available = static_cast<std::size_t>(end - p);
  if (available < 2 || (byte_at(p + 1) & 0xC0) != 0x80) return {0, Utf8Error::kTruncated};
  if (byte_at(p + 1) < lo) return {0, narrow_low};
  if (byte_at(p + 1) > hi) return {0, narrow_high};
  for (std::size_t i = 2; i < length; ++i) {
    if (available <= i || (byte_at(p + i) & 0xC0) != 0x80) return {0, Utf8Error::kTruncated};
  }
  return {length, Utf8Error::kNone};
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A bounded, printable rendering of arbitrary bytes for error messages: valid UTF-8 text is
// kept, control characters and invalid bytes become \xNN, and long text is cut at 60 bytes.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::size_t kMax = 60;
  std::string out;
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
    const unsigned char c = byte_at(p);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++p;
      continue;
    }
    if (c >= 0x80) {
      Utf8Sequence seq = check_utf8(p, end);
      if (seq.length != 0) {
        out.append(p, seq.length);
        p += seq.length;
        continue;
      }
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
    ++p;
  }
  return out;
}

std::string describe_byte(const char* p) {
  const unsigned char c = byte_at(p);
  if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 0xF];
}

// Bytes that a string can contain literally and that need no further look in either
// direction: printable ASCII other than '"' and '\\'. Everything else takes the slow path.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = true;
  t['"'] = false;
  t['\\'] = false;
  t[0x7F] = true;  // DEL is not a JSON control character (RFC 8259 section 7)
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

inline bool is_plain(const char* p) { return kPlain[byte_at(p)]; }

// Word-at-a-time scanning: the eight bytes of a 64-bit word are tested in parallel with
// arithmetic that never carries out of a byte, so each byte's answer is exact and the
// first flagged byte can be located. This is the hot loop of both directions: most bytes of
// a manifest are plain ASCII inside strings (hashes, paths).
constexpr std::uint64_t kEveryByte = 0x0101010101010101;
constexpr std::uint64_t kTopBits = 0x8080808080808080;
constexpr std::uint64_t kLowBits = 0x7F7F7F7F7F7F7F7F;

constexpr std::uint64_t broadcast(unsigned char c) { return kEveryByte * std::uint64_t{c}; }

// Top bit set in exactly those bytes of `w` that are not plain (kPlain): >= 0x80, < 0x20,
// '"' or '\\'.
constexpr std::uint64_t not_plain_bytes(std::uint64_t w) {
  const std::uint64_t low = w & kLowBits;
  // low + 0x60 has its top bit set exactly when low >= 0x20 (and stays below 0xE0).
  const std::uint64_t control = ~(low + broadcast(0x80 - 0x20));
  // x is zero in the bytes where w equals c; (x & 0x7F) + 0x7F has the top bit set exactly
  // when the low seven bits of x are not all zero, and or-ing x adds its own top bit.
  auto equal_to = [w](unsigned char c) {
    const std::uint64_t x = w ^ broadcast(c);
    return ~(((x & kLowBits) + kLowBits) | x);
  };
  return (w | control | equal_to('"') | equal_to('\\')) & kTopBits;
}

static_assert(not_plain_bytes(0x2020202020202020) == 0);                   // spaces
static_assert(not_plain_bytes(0x7F7E5D5B23217A41) == 0);                   // DEL ~ ] [ # ! z A
static_assert(not_plain_bytes(0x4141414141414122) == 0x0000000000000080);  // '"'
static_assert(not_plain_bytes(0x5C4141414141411F) == 0x8000000000000080);  // '\\', U+001F
static_assert(not_plain_bytes(0x4180414141414100) == 0x0080000000000080);  // 0x80, NUL

// not_plain_bytes agrees with kPlain for every byte value at every position of a word (the
// other bytes spaces), checked at compile time.
constexpr bool not_plain_bytes_matches_table() {
  for (unsigned b = 0; b < 256; ++b) {
    for (unsigned shift = 0; shift < 64; shift += 8) {
      const std::uint64_t w = (broadcast(' ') & ~(std::uint64_t{0xFF} << shift)) | std::uint64_t{b} << shift;
      const std::uint64_t want = kPlain[b] ? 0 : std::uint64_t{0x80} << shift;
      if (not_plain_bytes(w) != want) return false;
    }
  }
  return true;
}
static_assert(not_plain_bytes_matches_table());

// Returns the first byte in [p, end) that is not plain (end if there is none).
inline const char* skip_plain(const char* p, const char* end) {
  static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);
  // Sixteen bytes at a time with GCC/Clang vector extensions (SSE2 on x86-64, NEON on arm64).
  // As signed bytes, 0x80..0xFF are negative, so `< 0x20` finds them and the controls.
  using Bytes16 = signed char __attribute__((vector_size(16)));
  while (end - p >= 16) {
    Bytes16 v;
    std::memcpy(&v, p, sizeof v);
    const Bytes16 hit = (v < 0x20) | (v == '"') | (v == '\\');
    std::uint64_t halves[2];
    std::memcpy(halves, &hit, sizeof halves);
    if ((halves[0] | halves[1]) != 0) break;  // the word loop below locates the byte
    p += 16;
  }
  while (end - p >= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, sizeof w);  // p[0] is the lowest byte on little endian, the highest on big
    const std::uint64_t flagged = not_plain_bytes(w);
    if (flagged != 0) {
      const int bit =
          std::endian::native == std::endian::little ? std::countr_zero(flagged) : std::countl_zero(flagged);
      return p + bit / 8;
    }
    p += 8;
  }
  while (p < end && is_plain(p)) ++p;
  return p;
}

// ---------------------------------------------------------------------------------------
// Parsing

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// What the parser reads, in document order, goes to a builder:
//   begin_array() / begin_object()  a container opens;
//   element()                       an array element follows (not called for "[]");
//   key(decoded, raw) -> bool       a member name: `decoded` is the name, `raw` its source text
//                                   between the quotes; false means the object already has it;
//   end()                           the innermost open container closes;
//   string(decoded, raw), number(value), boolean(value), null()   a scalar.
// DomBuilder builds the nlohmann::json that parse() returns; TapeBuilder (further down)
// records the flat tape canonicalize() writes from. One parser serves both, so both accept
// and reject exactly the same texts.
template <class Builder>
class Parser {
 public:
  Parser(std::string_view text, Builder& builder)
      : begin_(text.data()), p_(text.data()), end_(p_ + text.size()), b_(builder) {}

  // Parses the whole text into the builder; on failure error() says what and where.
  bool run();
  const Error& error() const { return error_; }

 private:
  // Records an error located at `at`. Line and column are computed only here, by rescanning
  // the prefix, so the success path pays nothing for them. Columns count code points, not
  // bytes, so they match what an editor shows; everything before `at` has been validated.
  bool fail(const char* at, std::string_view what) {
    std::size_t line = 1;
    const char* line_start = begin_;
    for (const char* q = begin_; q < at; ++q) {
      if (*q == '\n') {
        ++line;
        line_start = q + 1;
      }
    }
    std::size_t column = 1;
    for (const char* q = line_start; q < at; ++q) {
      if ((byte_at(q) & 0xC0) != 0x80) ++column;
    }
    error_ = Error(Errc::kMalformed, "line " + std::to_string(line) + ", column " + std::to_string(column) +
                                         " (byte " + std::to_string(at - begin_) + "): " + std::string(what));
    return false;
  }

  // RFC 8259 section 2: ws = *( %x20 / %x09 / %x0A / %x0D ).
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool parse_value_start(bool& opened);
  bool parse_member_key();
  bool parse_string(std::string& out);
  bool parse_escape(std::string& out);
  bool parse_number(double& out);
  bool parse_literal(std::string_view word);

  const char* begin_;
  const char* p_;
  const char* end_;
  Builder& b_;
  std::array<bool, kMaxDepth> in_array_{};  // open containers, outermost first
  int depth_ = 0;
  std::string scratch_;  // the string being decoded; keeps its capacity between strings
  Error error_;
};

template <class Builder>
bool Parser<Builder>::run() {
  skip_ws();
  if (p_ == end_) return fail(p_, begin_ == end_ ? "empty input" : "no JSON value, only whitespace");
  for (;;) {
    // p_ is at the first byte of a value (whitespace already skipped). A value that opens
    // a non-empty container leaves p_ at its first element's value and loops again.
    bool opened = false;
    if (!parse_value_start(opened)) return false;
    if (opened) continue;
    // A complete value was read. Close finished containers, move to the next element.
    for (;;) {
      skip_ws();
      if (depth_ == 0) {
        // RFC 8259 section 2: JSON-text = ws value ws. Anything else is trailing data.
        if (p_ != end_) return fail(p_, "unexpected " + describe_byte(p_) + " after the JSON value");
        return true;
      }
      const bool is_array = in_array_[static_cast<std::size_t>(depth_ - 1)];
      if (p_ == end_) {
        return fail(p_, is_array ? "unexpected end of input, expected ',' or ']'"
                                 : "unexpected end of input, expected ',' or '}'");
      }
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        if (is_array) {
          b_.element();
        } else if (!parse_member_key()) {
          return false;
        }
        break;
      }
      if (*p_ == (is_array ? ']' : '}')) {
        ++p_;
        --depth_;
        b_.end();
        continue;
      }
      return fail(p_,
                  "expected ',' or '" + std::string(is_array ? "]" : "}") + "', found " + describe_byte(p_));
    }
  }
}

// Parses the value at p_. `opened` is set when the value opened a non-empty container;
// p_ is then at its first element's value.
template <class Builder>
bool Parser<Builder>::parse_value_start(bool& opened) {
  if (p_ == end_) return fail(p_, "unexpected end of input, expected a value");
  const char c = *p_;
  switch (c) {
    case '{':
    case '[': {
      if (depth_ >= kMaxDepth)
        return fail(p_, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      const bool is_array = c == '[';
      if (is_array) {
        b_.begin_array();
      } else {
        b_.begin_object();
      }
      ++p_;
      skip_ws();
      if (p_ < end_ && *p_ == (is_array ? ']' : '}')) {
        ++p_;
        b_.end();
        return true;
      }
      in_array_[static_cast<std::size_t>(depth_++)] = is_array;
      opened = true;
      if (is_array) {
        b_.element();
        return true;
      }
      return parse_member_key();
    }
    case '"': {
      // Decoded into the scratch buffer first, so a DOM string is allocated once at its
      // exact size (appending to it directly would reallocate as it grows).
      const char* open = p_;
      scratch_.clear();
      if (!parse_string(scratch_)) return false;
      b_.string(scratch_, std::string_view(open + 1, static_cast<std::size_t>(p_ - open - 2)));
      return true;
    }
    case 't':
      if (!parse_literal("true")) return false;
      b_.boolean(true);
      return true;
    case 'f':
      if (!parse_literal("false")) return false;
      b_.boolean(false);
      return true;
    case 'n':
      if (!parse_literal("null")) return false;
      b_.null();
      return true;
    default:
      break;
  }
  if (c == '-' || is_digit(c)) {
    double number = 0;
    if (!parse_number(number)) return false;
    b_.number(number);
    return true;
  }
  if (byte_at(p_) == 0xEF && end_ - p_ >= 3 && byte_at(p_ + 1) == 0xBB && byte_at(p_ + 2) == 0xBF) {
    return fail(p_, "byte order mark is not allowed (RFC 8259 section 8.1)");
  }
  return fail(p_, "expected a JSON value, found " + describe_byte(p_));
}

template <class Builder>
bool Parser<Builder>::parse_literal(std::string_view word) {
  if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
    return fail(p_, "invalid literal, expected '" + std::string(word) + "'");
  }
  p_ += word.size();
  return true;
}

// Reads `"key" ws : ws` of the innermost open object; p_ is then at the member's value.
template <class Builder>
bool Parser<Builder>::parse_member_key() {
  if (p_ == end_) return fail(p_, "unexpected end of input, expected a string key");
  if (*p_ != '"') return fail(p_, "expected a string key, found " + describe_byte(p_));
  const char* key_start = p_;
  std::string& key = scratch_;
  key.clear();
  if (!parse_string(key)) return false;
  // RFC 8785 section 3.1 requires I-JSON input (RFC 7493 section 2.3: member names MUST be
  // unique). Names are compared after unescaping, so "a" and "\u0061" are duplicates.
  if (!b_.key(key, std::string_view(key_start + 1, static_cast<std::size_t>(p_ - key_start - 2)))) {
    return fail(key_start, "duplicate key \"" + printable(key) + "\"");
  }
  skip_ws();
  if (p_ == end_) return fail(p_, "unexpected end of input, expected ':'");
  if (*p_ != ':') return fail(p_, "expected ':' after object key, found " + describe_byte(p_));
  ++p_;
  skip_ws();
  return true;
}

// p_ is at the opening quote. Appends the decoded string to `out`.
template <class Builder>
bool Parser<Builder>::parse_string(std::string& out) {
  const char* open = p_;
  ++p_;
  for (;;) {
    // Copy the longest run that needs no decoding: plain ASCII and valid UTF-8 sequences.
    const char* run = p_;
    for (;;) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_ || byte_at(p_) < 0x80) break;
      Utf8Sequence seq = check_utf8(p_, end_);
      if (seq.length == 0) return fail(p_, utf8_error_text(seq.error));
      p_ += seq.length;
    }
    out.append(run, static_cast<std::size_t>(p_ - run));
    if (p_ == end_) return fail(open, "unterminated string");
    const char c = *p_;
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c == '\\') {
      if (!parse_escape(out)) return false;
      continue;
    }
    // RFC 8259 section 7: U+0000..U+001F must be escaped.
    static constexpr char kHex[] = "0123456789abcdef";
    const unsigned char u = byte_at(p_);
    return fail(
        p_, std::string("unescaped control character U+00") + kHex[u >> 4] + kHex[u & 0xF] + " in string");
  }
}

// p_ is at a backslash inside a string (RFC 8259 section 7).
template <class Builder>
bool Parser<Builder>::parse_escape(std::string& out) {
  const char* esc = p_;
  if (end_ - p_ < 2) return fail(esc, "unterminated escape sequence");
  char simple = 0;
  switch (p_[1]) {
    case '"':
      simple = '"';
      break;
    case '\\':
      simple = '\\';
      break;
    case '/':
      simple = '/';
      break;
    case 'b':
      simple = '\b';
      break;
    case 'f':
      simple = '\f';
      break;
    case 'n':
      simple = '\n';
      break;
    case 'r':
      simple = '\r';
      break;
    case 't':
      simple = '\t';
      break;
    case 'u':
      break;
    default:
      return fail(esc, "invalid escape sequence '\\" + printable(std::string_view(p_ + 1, 1)) + "'");
  }
  if (simple != 0) {
    out.push_back(simple);
    p_ += 2;
    return true;
  }
  auto read_hex4 = [this](const char* at, std::uint32_t& value) {
    if (end_ - at < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(at[i]);
      if (d < 0) return false;
      value = value << 4 | static_cast<std::uint32_t>(d);
    }
    return true;
  };
  std::uint32_t unit = 0;
  if (!read_hex4(p_ + 2, unit)) return fail(esc, "invalid \\u escape, expected four hex digits");
  p_ += 6;
  std::uint32_t cp = unit;
  if (unit >= 0xD800 && unit <= 0xDBFF) {
    // A high surrogate is only a character together with an escaped low surrogate right
    // after it. Lone surrogates cannot be written as UTF-8, so RFC 8785 section 3.1 (via
    // I-JSON, RFC 7493 section 2.1) requires rejecting them.
    std::uint32_t low = 0;
    if (end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == 'u' && read_hex4(p_ + 2, low) && low >= 0xDC00 &&
        low <= 0xDFFF) {
      cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
      p_ += 6;
    } else {
      return fail(esc, "lone surrogate '" + std::string(esc, 6) +
                           "': a high surrogate escape must be followed by "
                           "a low surrogate escape");
    }
  } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
    return fail(esc, "lone surrogate '" + std::string(esc, 6) + "': low surrogate without a high surrogate");
  }
  append_utf8(out, cp);
  return true;
}

// p_ is at '-' or a digit. RFC 8259 section 6:
//   number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
template <class Builder>
bool Parser<Builder>::parse_number(double& out) {
  const char* start = p_;
  if (*p_ == '-') ++p_;
  if (p_ == end_ || !is_digit(*p_)) return fail(start, "invalid number, expected a digit after '-'");
  const char* int_begin = p_;
  if (*p_ == '0') {
    ++p_;
    if (p_ < end_ && is_digit(*p_)) return fail(start, "invalid number, leading zeros are not allowed");
  } else {
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  const char* int_end = p_;
  const char* frac_begin = p_;
  const char* frac_end = p_;
  if (p_ < end_ && *p_ == '.') {
    ++p_;
    frac_begin = p_;
    while (p_ < end_ && is_digit(*p_)) ++p_;
    frac_end = p_;
    if (frac_begin == frac_end) return fail(start, "invalid number, expected a digit after '.'");
  }
  bool exp_negative = false;
  std::int64_t exponent = 0;  // saturated; only used to classify out-of-range values
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) {
      exp_negative = *p_ == '-';
      ++p_;
    }
    const char* exp_begin = p_;
    while (p_ < end_ && is_digit(*p_)) {
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (*p_ - '0');
      ++p_;
    }
    if (exp_begin == p_) return fail(start, "invalid number, expected a digit in the exponent");
  }
  // Fast path for the common case (sizes, counts): an integer of at most 15 digits is below
  // 2^53, so the double holds it exactly and no rounding is involved; "-0" gives -0.
  if (int_end == p_ && int_end - int_begin <= 15) {
    std::uint64_t magnitude = 0;
    for (const char* q = int_begin; q < int_end; ++q)
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(*q - '0');
    const double value = static_cast<double>(magnitude);
    out = *start == '-' ? -value : value;
    return true;
  }
  // The text is now known to be RFC 8259 grammar, which from_chars (general format) parses
  // with correct rounding and without looking at the locale.
  double value = 0;
  auto [ptr, ec] = std::from_chars(start, p_, value);
  if (ec == std::errc() && ptr == p_) {
    out = value;
    return true;
  }
  if (ec != std::errc::result_out_of_range || ptr != p_) {
    return fail(start, "invalid number");  // not reachable for grammar-checked text
  }
  // Out of range: overflow (|x| rounds to infinity) is an error, since JCS can only carry
  // finite doubles (RFC 8785 section 3.2.2.3). Underflow rounds to zero, exactly as
  // ECMAScript JSON.parse does, so 1e-400 is the number 0 (and -1e-400 is -0, printed "0").
  // The two are told apart by the decimal exponent of the first significant digit.
  std::int64_t magnitude = 0;
  bool found = false;
  for (const char* q = int_begin; q < int_end && !found; ++q) {
    if (*q != '0') {
      magnitude = int_end - q - 1;
      found = true;
    }
  }
  for (const char* q = frac_begin; q < frac_end && !found; ++q) {
    if (*q != '0') {
      magnitude = -(q - frac_begin + 1);
      found = true;
    }
  }
  magnitude += exp_negative ? -exponent : exponent;
  if (!found || magnitude >= 0) {
    return fail(start, "number " + printable(std::string_view(start, static_cast<std::size_t>(p_ - start))) +
                           " is outside the range of IEEE-754 doubles");
  }
  out = *start == '-' ? -0.0 : 0.0;
  return true;
}

// Builds the nlohmann::json value parse() returns.
class DomBuilder {
 public:
  DomBuilder() { stack_.reserve(16); }
  DomBuilder(const DomBuilder&) = delete;
  DomBuilder& operator=(const DomBuilder&) = delete;

  void begin_array() { open(json::value_t::array); }
  void begin_object() { open(json::value_t::object); }
  void element() { slot_ = &stack_.back()->get_ref<json::array_t&>().emplace_back(); }
  bool key(const std::string& name, std::string_view /*raw*/) {
    // Keys usually arrive in sorted order (canonical or generated documents), so hint the
    // end of the map: appending is then constant time. try_emplace copies `name` (at its
    // exact size) and adds nothing when the name is already present, which the size tells.
    auto& members = stack_.back()->get_ref<json::object_t&>();
    const std::size_t size_before = members.size();
    auto it = members.try_emplace(members.end(), name);
    if (members.size() == size_before) return false;
    slot_ = &it->second;
    return true;
  }
  void end() { stack_.pop_back(); }
  void string(const std::string& decoded, std::string_view /*raw*/) { *slot_ = decoded; }
  void number(double value) { *slot_ = value; }
  void boolean(bool value) { *slot_ = value; }
  void null() { *slot_ = nullptr; }

  json take() { return std::move(root_); }

 private:
  void open(json::value_t type) {
    *slot_ = json(type);
    stack_.push_back(slot_);
  }

  json root_;
  json* slot_ = &root_;  // where the next value goes
  // Open arrays and objects, innermost last. Elements are only ever added to the innermost
  // container, so pointers to the outer ones stay valid while it grows.
  std::vector<json*> stack_;
};

// ---------------------------------------------------------------------------------------
// Serialization

// Order of object member names by UTF-16 code units (RFC 8785 section 3.2.3), computed on
// the UTF-8 bytes without transcoding. UTF-8 byte order equals code point order, and code
// point order equals UTF-16 order except for one case: characters above U+FFFF are encoded
// in UTF-16 as surrogates (0xD800..0xDFFF), so they sort before U+E000..U+FFFF, while in
// UTF-8 their lead bytes (F0..F4) sort after those of U+E000..U+FFFF (EE, EF). At the first
// differing byte of two valid strings, both bytes are lead bytes or both are continuation
// bytes of the same lead, so moving F0..F4 below EE..EF fixes the order. The mapping is a
// bijection on bytes, so the comparison stays a strict weak order even for invalid input
// (which serialize() rejects anyway).
inline unsigned utf16_rank(unsigned char b) {
  if (b >= 0xF0 && b <= 0xF4) return b - 0xF0u + 0xEEu;  // to EE..F2
  if (b == 0xEE || b == 0xEF) return b + 5u;             // to F3..F4
  return b;
}

bool utf16_less(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return utf16_rank(static_cast<unsigned char>(a[i])) < utf16_rank(static_cast<unsigned char>(b[i]));
    }
  }
  return a.size() < b.size();
}

// The canonical text being written. GCC does not inline std::string::push_back at -O2 and
// serialize() writes several single bytes per value, so bytes go through a cursor into
// zero-filled room instead; take() trims the string to what was written. With a hasher,
// the text is not kept: every kChunk bytes go into the hash (hash() of a 100,000-file
// manifest then needs 64 KiB, not a 16 MB string).
class Output {
 public:
  Output() = default;
  explicit Output(Sha256& hasher) : hasher_(&hasher) { buf_.resize(kChunk + 256); }

  void put(char c) {
    *room(1) = c;
    ++size_;
  }
  void put(std::string_view s) {
    if (s.empty()) return;
    std::memcpy(room(s.size()), s.data(), s.size());
    size_ += s.size();
  }
  std::string take() && {
    buf_.resize(size_);
    return std::move(buf_);
  }
  Digest digest() && {
    flush();
    return hasher_->finish();
  }

 private:
  static constexpr std::size_t kChunk = 64 * 1024;

  char* room(std::size_t n) {
    if (buf_.size() - size_ < n) {
      if (hasher_ != nullptr) flush();
      if (buf_.size() - size_ < n) buf_.resize(std::max(2 * buf_.size(), size_ + n + 256));
    }
    return buf_.data() + size_;
  }
  void flush() {
    hasher_->update(as_bytes(std::string_view(buf_.data(), size_)));
    size_ = 0;
  }

  Sha256* hasher_ = nullptr;
  std::string buf_;
  std::size_t size_ = 0;  // bytes written; buf_.size() is the room
};

// Writes a string as ECMAScript JSON.stringify does (RFC 8785 section 3.2.2.2): '"' and
// '\\' and the controls with short forms (\b \f \n \r \t) are escaped, other controls below
// U+0020 as \u00xx with lowercase hex, everything else literally as UTF-8 (section 3.2.4).
// Returns false if `s` is not valid UTF-8.
bool append_string(Output& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* p = s.data();
  const char* end = p + s.size();
  out.put('"');
  for (;;) {
    const char* run = p;
    for (;;) {
      p = skip_plain(p, end);
      if (p == end || byte_at(p) < 0x80) break;
      Utf8Sequence seq = check_utf8(p, end);
      if (seq.length == 0) return false;
      p += seq.length;
    }
    out.put(std::string_view(run, static_cast<std::size_t>(p - run)));
    if (p == end) break;
    const unsigned char c = byte_at(p++);
    switch (c) {
      case '"':
        out.put("\\\"");
        break;
      case '\\':
        out.put("\\\\");
        break;
      case '\b':
        out.put("\\b");
        break;
      case '\f':
        out.put("\\f");
        break;
      case '\n':
        out.put("\\n");
        break;
      case '\r':
        out.put("\\r");
        break;
      case '\t':
        out.put("\\t");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.put(std::string_view(esc, sizeof esc));
      }
    }
  }
  out.put('"');
  return true;
}

// ECMAScript Number::toString(x) for finite x (ECMA-262 section 6.1.6.1.20), into buf.
// Returns the length written; buf needs 32 bytes (the longest output is 25 bytes, e.g.
// "-1.2345678901234567e-308" or "-0.0000012345678901234567").
std::size_t format_number_into(double value, char* buf) {
  char* out = buf;
  if (value == 0) {  // +0 and -0 both print as "0" (step 2)
    *out = '0';
    return 1;
  }
  if (std::signbit(value)) {
    *out++ = '-';
    value = -value;
  }
  // Fast path for the common case (sizes, counts): an integer below 2^53. Its neighbours
  // are at most 1 apart, so no other digit string round-trips to it, the shortest digits
  // are its own, and steps 5-6 print it as a plain integer.
  // (Truncating to an integer and back is exact in that range, and cheaper than floor.)
  if (value < 9007199254740992.0 && static_cast<double>(static_cast<std::uint64_t>(value)) == value) {
    out = std::to_chars(out, buf + 32, static_cast<std::uint64_t>(value)).ptr;
    return static_cast<std::size_t>(out - buf);
  }
  // Step 5 wants the shortest digit string s (k digits) and exponent n with
  // value = s * 10^(n-k), choosing the closest one on ties. std::to_chars without a
  // precision gives exactly that shortest round-trip representation; in scientific form
  // it reads d[.ddd]e±XX.
  char sci[32];
  const auto res = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific);
  char digits[20];
  int k = 0;
  const char* q = sci;
  for (; q < res.ptr && *q != 'e'; ++q) {
    if (*q != '.') digits[k++] = *q;
  }
  int exp10 = 0;
  std::from_chars(q + (q[1] == '+' ? 2 : 1), res.ptr, exp10);
  const int n = exp10 + 1;  // the decimal point sits after n digits
  auto put_digits = [&out, &digits](int from, int to) {
    for (int i = from; i < to; ++i) *out++ = digits[i];
  };
  if (k <= n && n <= 21) {  // step 6: integer, padded with zeros
    put_digits(0, k);
    for (int i = k; i < n; ++i) *out++ = '0';
  } else if (0 < n && n <= 21) {  // step 7: point inside the digits
    put_digits(0, n);
    *out++ = '.';
    put_digits(n, k);
  } else if (-6 < n && n <= 0) {  // step 8: 0.000ddd
    *out++ = '0';
    *out++ = '.';
    for (int i = 0; i < -n; ++i) *out++ = '0';
    put_digits(0, k);
  } else {  // steps 9-10: exponent form, always signed
    *out++ = digits[0];
    if (k > 1) {
      *out++ = '.';
      put_digits(1, k);
    }
    *out++ = 'e';
    *out++ = n - 1 < 0 ? '-' : '+';
    const int e = n - 1 < 0 ? 1 - n : n - 1;
    out = std::to_chars(out, buf + 32, e).ptr;
  }
  return static_cast<std::size_t>(out - buf);
}

// JSON Pointer (RFC 6901) of the value being written, for error messages.
struct Frame {
  const json* node;
  std::size_t next = 0;           // index of the next element / member to write
  std::size_t members_begin = 0;  // objects: this frame's range in the member list
  std::size_t members_end = 0;
};

using Member = const json::object_t::value_type*;

std::string pointer_of(const std::vector<Frame>& stack, const std::vector<Member>& members) {
  std::string path;
  for (const Frame& f : stack) {
    if (f.next == 0) break;
    path.push_back('/');
    if (f.node->is_array()) {
      path += std::to_string(f.next - 1);
    } else {
      for (char c : members[f.members_begin + f.next - 1]->first) {
        if (c == '~') {
          path += "~0";
        } else if (c == '/') {
          path += "~1";
        } else {
          path.push_back(c);
        }
      }
    }
  }
  return path.empty() ? "the top-level value" : "\"" + printable(path) + "\"";
}

}  // namespace

Result<json> parse(std::string_view text) {
  DomBuilder builder;
  Parser<DomBuilder> parser(text, builder);
  if (!parser.run()) return parser.error();
  return builder.take();
}

std::string format_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  char buf[32];
  return std::string(buf, format_number_into(value, buf));
}

namespace {

// Writes the canonical text of `value` to `out`; the error names what cannot be written.
Result<void> write_canonical(const json& value, Output& out) {
  std::vector<Frame> stack;
  std::vector<Member> members;  // sorted member lists of all open objects, innermost last
  auto fail = [&](const std::string& what) {
    return make_error(Errc::kInvalidArgument,
                      "cannot canonicalize " + pointer_of(stack, members) + ": " + what);
  };
  // Writes a scalar, or opens a container by pushing a frame.
  auto begin_value = [&](const json& v) -> bool {
    switch (v.type()) {
      case json::value_t::null:
        out.put("null");
        return true;
      case json::value_t::boolean:
        out.put(v.get_ref<const json::boolean_t&>() ? "true" : "false");
        return true;
      case json::value_t::string:
        return append_string(out, v.get_ref<const json::string_t&>());
      case json::value_t::number_float:
      case json::value_t::number_integer:
      case json::value_t::number_unsigned: {
        // JCS numbers are IEEE-754 doubles (RFC 8785 section 3.2.2.3). Integers are
        // converted, which is exact for |x| <= 2^53 and rounds to nearest beyond.
        double d = 0;
        if (v.is_number_float()) {
          d = v.get_ref<const json::number_float_t&>();
        } else if (v.is_number_integer() && !v.is_number_unsigned()) {
          d = static_cast<double>(v.get_ref<const json::number_integer_t&>());
        } else {
          d = static_cast<double>(v.get_ref<const json::number_unsigned_t&>());
        }
        if (!std::isfinite(d)) return false;
        char buf[32];
        out.put(std::string_view(buf, format_number_into(d, buf)));
        return true;
      }
      case json::value_t::array:
        out.put('[');
        stack.push_back(Frame{&v});
        return true;
      case json::value_t::object: {
        out.put('{');
        Frame f{&v};
        f.members_begin = members.size();
        for (const auto& m : v.get_ref<const json::object_t&>()) members.push_back(&m);
        f.members_end = members.size();
        // The map is in byte order, which is already UTF-16 order unless names mix
        // characters above U+FFFF with U+E000..U+FFFF; then re-sort.
        auto first = members.begin() + static_cast<std::ptrdiff_t>(f.members_begin);
        auto cmp = [](Member a, Member b) { return utf16_less(a->first, b->first); };
        if (!std::is_sorted(first, members.end(), cmp)) std::sort(first, members.end(), cmp);
        stack.push_back(f);
        return true;
      }
      case json::value_t::binary:
      case json::value_t::discarded:
        return false;
    }
    return false;
  };
  auto why = [](const json& v) -> std::string {
    if (v.is_string()) return "string is not valid UTF-8";
    if (v.is_number()) return "number is not finite (NaN and Infinity have no JSON form)";
    if (v.is_binary()) return "binary values have no JSON form";
    return "value of type " + std::string(v.type_name()) + " has no JSON form";
  };

  if (!begin_value(value)) return fail(why(value));
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.node->is_array()) {
      const auto& arr = f.node->get_ref<const json::array_t&>();
      if (f.next == arr.size()) {
        out.put(']');
        stack.pop_back();
        continue;
      }
      if (f.next != 0) out.put(',');
      const json& element = arr[f.next++];
      if (!begin_value(element)) return fail(why(element));
    } else {
      if (f.next == f.members_end - f.members_begin) {
        out.put('}');
        members.resize(f.members_begin);
        stack.pop_back();
        continue;
      }
      if (f.next != 0) out.put(',');
      Member m = members[f.members_begin + f.next++];
      if (!append_string(out, m->first)) return fail("member name is not valid UTF-8");
      out.put(':');
      if (!begin_value(m->second)) return fail(why(m->second));
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------
// Canonicalization without a DOM
//
// canonicalize() needs no value tree: the parser records one node per value on a flat
// tape, in document order, and the writer walks the tape, visiting each object's members
// in sorted order. Strings without escapes point into the input text; the tape and the
// decoded escaped strings are two buffers, so nothing is allocated per value.

struct TapeNode {
  enum class Kind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kEscapedString, kArray, kObject };
  Kind kind;
  std::uint32_t size = 0;  // strings: bytes (canonicalize() takes texts below 4 GiB)
  union {
    const char* raw;     // kString: into the input text
    std::size_t offset;  // kEscapedString: into the decoded-string arena
    double number;       // kNumber
    std::size_t end;     // kArray, kObject: the tape index after the last descendant
  };
};

struct Tape {
  std::vector<TapeNode> nodes;
  std::string arena;  // decoded escaped strings, back to back

  std::string_view text(const TapeNode& n) const {
    return n.kind == TapeNode::Kind::kString ? std::string_view(n.raw, n.size)
                                             : std::string_view(arena.data() + n.offset, n.size);
  }
  // The tape index after node i and its descendants.
  std::size_t after(std::size_t i) const {
    const TapeNode& n = nodes[i];
    return n.kind == TapeNode::Kind::kArray || n.kind == TapeNode::Kind::kObject ? n.end : i + 1;
  }
};

class TapeBuilder {
 public:
  explicit TapeBuilder(Tape& tape) : t_(tape) { open_.reserve(16); }

  void begin_array() { open(TapeNode::Kind::kArray); }
  void begin_object() { open(TapeNode::Kind::kObject); }
  void element() {}
  // Duplicate names are found by the writer, after sorting, where they are adjacent.
  bool key(const std::string& decoded, std::string_view raw) {
    string(decoded, raw);
    return true;
  }
  void end() {
    t_.nodes[open_.back()].end = t_.nodes.size();
    open_.pop_back();
  }
  void string(const std::string& decoded, std::string_view raw) {
    TapeNode& n = push(TapeNode::Kind::kString);
    n.size = static_cast<std::uint32_t>(decoded.size());
    // Every escape sequence is longer than what it decodes to, so a string as long as its
    // source had none. Its source bytes are then its canonical form: valid UTF-8 (checked),
    // with no '"', '\\' or control character, which are the only ones JCS escapes.
    if (decoded.size() == raw.size()) {
      n.raw = raw.data();
    } else {
      n.kind = TapeNode::Kind::kEscapedString;
      n.offset = t_.arena.size();
      t_.arena += decoded;
    }
  }
  void number(double value) { push(TapeNode::Kind::kNumber).number = value; }
  void boolean(bool value) { push(value ? TapeNode::Kind::kTrue : TapeNode::Kind::kFalse); }
  void null() { push(TapeNode::Kind::kNull); }

 private:
  TapeNode& push(TapeNode::Kind kind) {
    TapeNode& n = t_.nodes.emplace_back();
    n.kind = kind;
    return n;
  }
  void open(TapeNode::Kind kind) {
    open_.push_back(t_.nodes.size());
    push(kind);
  }

  Tape& t_;
  std::vector<std::size_t> open_;  // tape indices of the open containers
};

// Writes the canonical text of a parsed tape. Returns false if an object has two members of
// the same name (the parser's DOM builder names the first one; see write_canonical_text()).
bool write_tape(const Tape& t, Output& out) {
  using Kind = TapeNode::Kind;
  struct Open {
    std::size_t next;           // arrays: tape index of the next element; objects: next member
    std::size_t end;            // arrays: the array's end; objects: members_end
    std::size_t members_begin;  // objects: this frame's range in `members`
    bool is_array;
    bool started = false;  // an element or member has been written
  };
  std::vector<Open> stack;
  std::vector<std::size_t> members;  // tape indices of member names, for all open objects
  auto name_less = [&t](std::size_t a, std::size_t b) {
    return utf16_less(t.text(t.nodes[a]), t.text(t.nodes[b]));
  };
  // Writes a scalar, or opens a container by pushing it.
  auto begin_value = [&](std::size_t i) -> bool {
    const TapeNode& n = t.nodes[i];
    switch (n.kind) {
      case Kind::kNull:
        out.put("null");
        return true;
      case Kind::kFalse:
        out.put("false");
        return true;
      case Kind::kTrue:
        out.put("true");
        return true;
      case Kind::kNumber: {
        char buf[32];
        out.put(std::string_view(buf, format_number_into(n.number, buf)));
        return true;
      }
      case Kind::kString:
        out.put('"');
        out.put(std::string_view(n.raw, n.size));
        out.put('"');
        return true;
      case Kind::kEscapedString:
        append_string(out, t.text(n));  // valid UTF-8: the parser checked it
        return true;
      case Kind::kArray:
        out.put('[');
        stack.push_back(Open{i + 1, n.end, 0, true});
        return true;
      case Kind::kObject: {
        out.put('{');
        const std::size_t first = members.size();
        for (std::size_t k = i + 1; k < n.end; k = t.after(k + 1)) members.push_back(k);
        // Usually already in order (canonical or generated documents); a strictly
        // ascending list also has no duplicates. Otherwise sort, and then duplicates are
        // neighbours.
        auto begin = members.begin() + static_cast<std::ptrdiff_t>(first);
        if (std::adjacent_find(begin, members.end(), [&](std::size_t a, std::size_t b) {
              return !name_less(a, b);
            }) != members.end()) {
          std::sort(begin, members.end(), name_less);
          if (std::adjacent_find(begin, members.end(), [&](std::size_t a, std::size_t b) {
                return t.text(t.nodes[a]) == t.text(t.nodes[b]);
              }) != members.end()) {
            return false;
          }
        }
        stack.push_back(Open{first, members.size(), first, false});
        return true;
      }
    }
    return false;
  };

  if (!begin_value(0)) return false;
  while (!stack.empty()) {
    Open& f = stack.back();
    if (f.next == f.end) {
      out.put(f.is_array ? ']' : '}');
      if (!f.is_array) members.resize(f.members_begin);
      stack.pop_back();
      continue;
    }
    if (f.started) out.put(',');
    f.started = true;
    // begin_value may push, so f is not used after it.
    if (f.is_array) {
      const std::size_t element = f.next;
      f.next = t.after(element);
      if (!begin_value(element)) return false;
    } else {
      const std::size_t name = members[f.next++];
      begin_value(name);
      out.put(':');
      if (!begin_value(name + 1)) return false;
    }
  }
  return true;
}

// The canonical text of a JSON text, through the tape.
Result<void> write_canonical_text(std::string_view text, Output& out) {
  if (text.size() > std::numeric_limits<std::uint32_t>::max()) {  // TapeNode::size is 32 bits
    CS_TRY(json value, parse(text));
    return write_canonical(value, out);
  }
  Tape tape;
  tape.nodes.reserve(text.size() / 16 + 1);
  TapeBuilder builder(tape);
  Parser<TapeBuilder> parser(text, builder);
  if (parser.run() && write_tape(tape, out)) return {};
  // A text the tape refused is reported by parse(): the tape finds duplicate names only when
  // it writes their object, which can be after a later syntax error, while parse() names
  // the first problem in document order, as it always has.
  auto value = parse(text);
  if (!value.ok()) return value.error();
  return make_error(Errc::kInternal, "the canonical writer refused a JSON text the parser accepts");
}

}  // namespace

Result<std::string> serialize(const json& value) {
  Output out;
  CS_TRY_VOID(write_canonical(value, out));
  return std::move(out).take();
}

Result<Digest> hash(const json& value) {
  Sha256 hasher;
  Output out(hasher);
  CS_TRY_VOID(write_canonical(value, out));
  return std::move(out).digest();
}

Result<std::string> canonicalize(std::string_view text) {
  Output out;
  CS_TRY_VOID(write_canonical_text(text, out));
  return std::move(out).take();
}

Result<Digest> hash_text(std::string_view text) {
  Sha256 hasher;
  Output out(hasher);
  CS_TRY_VOID(write_canonical_text(text, out));
  return std::move(out).digest();
}

}  // namespace countersign::jcs
