#include "core/untrusted_text.h"

#include <cstdint>

namespace countersign {
namespace {

struct Decoded {
  char32_t cp = 0;
  std::size_t length = 0;  // 0: not valid UTF-8 here
};

// One UTF-8 sequence at `i` (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
Decoded decode(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return {c, 1};
  std::size_t n = 0;
  char32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return {};
  }
  if (i + n > s.size()) return {};
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return {};
    cp = cp << 6 | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return {};
  return {cp, n};
}

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

bool is_bidi_format(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// Characters that draw nothing, or change how others are drawn, beyond the bidi ones: shown
// as <U+XXXX> so that nothing is hidden. (Unicode format characters, general category Cf,
// that text in names and notes can carry, and the separators.)
bool is_invisible(char32_t cp) {
  return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 || cp == 0x17B4 ||
         cp == 0x17B5 || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || cp == 0xFEFF ||
         cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB) || (cp >= 0xE0000 && cp <= 0xE0FFF);
}

void append_hex_byte(std::string& out, unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(kHex[(v >> 4) & 0xF]);
  out.push_back(kHex[v & 0xF]);
}

void append_code_point(std::string& out, char32_t cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += "<U+";
  std::string digits;
  for (char32_t v = cp; v != 0 || digits.size() < 4; v >>= 4) digits.insert(digits.begin(), kHex[v & 0xF]);
  out += digits;
  out += ">";
}

std::string escape(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const Decoded d = decode(text, i);
    const std::size_t step = d.length == 0 ? 1 : d.length;
    if (i + step > max_bytes) {
      out += "…";
      break;
    }
    if (d.length == 0) {
      append_hex_byte(out, static_cast<unsigned char>(text[i]));
    } else if (is_control(d.cp)) {
      append_hex_byte(out, static_cast<unsigned>(d.cp));
    } else if (is_invisible(d.cp)) {
      append_code_point(out, d.cp);
    } else if (d.cp == '\\') {
      out += "\\\\";
    } else if (d.cp == '<' && text.substr(i, 3) == "<U+") {
      out += "\\x3c";
    } else {
      out.append(text.substr(i, d.length));
    }
    i += step;
  }
  return out;
}

}  // namespace

std::optional<std::string> name_problem(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const Decoded d = decode(text, i);
    if (d.length == 0) return "invalid UTF-8 at byte " + std::to_string(i);
    const char* what = nullptr;
    if (is_control(d.cp)) {
      what = "a control character";
    } else if (d.cp == 0x2028 || d.cp == 0x2029) {
      what = "a line or paragraph separator";
    } else if (is_bidi_format(d.cp)) {
      what = "a bidi formatting character";
    }
    if (what != nullptr) {
      std::string shown;
      append_code_point(shown, d.cp);
      return shown.substr(1, shown.size() - 2) + " (" + what + ") at byte " + std::to_string(i);
    }
    i += d.length;
  }
  return std::nullopt;
}

std::string escape_untrusted(std::string_view text) { return escape(text, text.size()); }

std::string escape_untrusted(std::string_view text, std::size_t max_bytes) { return escape(text, max_bytes); }

}  // namespace countersign
