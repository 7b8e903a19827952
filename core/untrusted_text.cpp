#include "core/untrusted_text.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

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
// that text in names and notes can carry, and the separators. The Egyptian hieroglyph,
// shorthand and musical format controls are zero-width in a terminal (glibc's wcwidth), so
// tmux draws nothing for them either.)
bool is_invisible(char32_t cp) {
  return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 || cp == 0x17B4 ||
         cp == 0x17B5 || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || cp == 0xFEFF ||
         cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB) || (cp >= 0x13430 && cp <= 0x1343F) ||
         (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
         (cp >= 0xE0000 && cp <= 0xE0FFF);
}

struct CodePointRange {
  char32_t first, last;
};

// Code points that are no character: unassigned ones and the noncharacters (general
// category Cn). A terminal draws nothing for them (tmux drops them from its screen), so
// "mod<U+0378>el.bin" would look like "model.bin". Generated, with the Unicode version it is
// from: scripts/gen-unicode-unassigned.py.
constexpr CodePointRange kUnassigned[] = {
#include "core/unicode_unassigned.inc"
};

template <typename Range, std::size_t N>
constexpr bool sorted_and_disjoint(const Range (&ranges)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (ranges[i].first > ranges[i].last) return false;
    if (i != 0 && ranges[i].first <= ranges[i - 1].last) return false;
  }
  return true;
}
static_assert(sorted_and_disjoint(kUnassigned), "kUnassigned must be sorted and its ranges disjoint");

// The range of `ranges` (sorted, disjoint) that holds `cp`, or nullptr.
template <typename Range, std::size_t N>
const Range* find_range(const Range (&ranges)[N], char32_t cp) {
  const Range* it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                     [](char32_t v, const Range& r) { return v < r.first; });
  if (it == std::begin(ranges)) return nullptr;
  --it;
  return cp <= it->last ? it : nullptr;
}

bool is_unassigned(char32_t cp) { return cp >= 0x0378 && find_range(kUnassigned, cp) != nullptr; }

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
    } else if (is_invisible(d.cp) || is_unassigned(d.cp)) {
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

// --- Scripts, for script_warning() ---------------------------------------------------------

// The scripts script_warning() tells apart. kCommon (digits, punctuation, symbols, spaces)
// separates words; kInherited (combining marks) belongs to the letter before it; kUnknown
// (scripts not in the table) is neither counted nor a separator. kFullwidthLatin (Latin in
// Scripts.txt) and kMathLatin (the mathematical alphanumerics' Latin letters, Common in
// Scripts.txt) are kept apart because "ｍodel" and "𝗆odel" imitate "model".
enum class Script : std::uint8_t {
  kUnknown,
  kCommon,
  kInherited,
  kLatin,
  kFullwidthLatin,
  kMathLatin,
  kGreek,
  kCoptic,
  kCyrillic,
  kArmenian,
  kGeorgian,
  kHebrew,
  kArabic,
  kDevanagari,
  kThai,
  kCherokee,
  kCanadianAboriginal,
  kLisu,
  kHangul,
  kHiragana,
  kKatakana,
  kBopomofo,
  kHan,
};

const char* script_name(Script s) {
  switch (s) {
    case Script::kLatin:
      return "Latin";
    case Script::kFullwidthLatin:
      return "fullwidth Latin";
    case Script::kMathLatin:
      return "mathematical Latin";
    case Script::kGreek:
      return "Greek";
    case Script::kCoptic:
      return "Coptic";
    case Script::kCyrillic:
      return "Cyrillic";
    case Script::kArmenian:
      return "Armenian";
    case Script::kGeorgian:
      return "Georgian";
    case Script::kHebrew:
      return "Hebrew";
    case Script::kArabic:
      return "Arabic";
    case Script::kDevanagari:
      return "Devanagari";
    case Script::kThai:
      return "Thai";
    case Script::kCherokee:
      return "Cherokee";
    case Script::kCanadianAboriginal:
      return "Canadian Aboriginal";
    case Script::kLisu:
      return "Lisu";
    case Script::kHangul:
      return "Hangul";
    case Script::kHiragana:
      return "Hiragana";
    case Script::kKatakana:
      return "Katakana";
    case Script::kBopomofo:
      return "Bopomofo";
    case Script::kHan:
      return "Han";
    case Script::kUnknown:
    case Script::kCommon:
    case Script::kInherited:
      break;
  }
  return "?";
}

struct ScriptRange {
  char32_t first, last;
  Script script;
};

// Ranges of the Script property from Unicode's Scripts.txt (Unicode 15.1), for the scripts
// above; unassigned code points inside a range are given the range's script. Neither OpenSSL,
// libsodium nor nlohmann/json has script data, ICU is not a dependency and core does not link
// Qt (QChar::script), so the table is written out here. Sorted by `first`, not overlapping
// (checked below, at compile time). Code points above U+007F in no range are kUnknown.
constexpr ScriptRange kScripts[] = {
    {0x00A0, 0x00A9, Script::kCommon},
    {0x00AA, 0x00AA, Script::kLatin},
    {0x00AB, 0x00B9, Script::kCommon},
    {0x00BA, 0x00BA, Script::kLatin},
    {0x00BB, 0x00BF, Script::kCommon},
    {0x00C0, 0x00D6, Script::kLatin},
    {0x00D7, 0x00D7, Script::kCommon},
    {0x00D8, 0x00F6, Script::kLatin},
    {0x00F7, 0x00F7, Script::kCommon},
    {0x00F8, 0x02B8, Script::kLatin},
    {0x02B9, 0x02DF, Script::kCommon},
    {0x02E0, 0x02E4, Script::kLatin},
    {0x02E5, 0x02E9, Script::kCommon},
    {0x02EA, 0x02EB, Script::kBopomofo},
    {0x02EC, 0x02FF, Script::kCommon},
    {0x0300, 0x036F, Script::kInherited},
    {0x0370, 0x0373, Script::kGreek},
    {0x0374, 0x0374, Script::kCommon},
    {0x0375, 0x037D, Script::kGreek},
    {0x037E, 0x037E, Script::kCommon},
    {0x037F, 0x0384, Script::kGreek},
    {0x0385, 0x0385, Script::kCommon},
    {0x0386, 0x0386, Script::kGreek},
    {0x0387, 0x0387, Script::kCommon},
    {0x0388, 0x03E1, Script::kGreek},
    {0x03E2, 0x03EF, Script::kCoptic},
    {0x03F0, 0x03FF, Script::kGreek},
    {0x0400, 0x0484, Script::kCyrillic},
    {0x0485, 0x0486, Script::kInherited},
    {0x0487, 0x052F, Script::kCyrillic},
    {0x0531, 0x058F, Script::kArmenian},
    {0x0591, 0x05FF, Script::kHebrew},
    {0x0600, 0x060B, Script::kArabic},
    {0x060C, 0x060C, Script::kCommon},
    {0x060D, 0x061A, Script::kArabic},
    {0x061B, 0x061B, Script::kCommon},
    {0x061C, 0x061E, Script::kArabic},
    {0x061F, 0x061F, Script::kCommon},
    {0x0620, 0x063F, Script::kArabic},
    {0x0640, 0x0640, Script::kCommon},
    {0x0641, 0x064A, Script::kArabic},
    {0x064B, 0x0655, Script::kInherited},
    {0x0656, 0x066F, Script::kArabic},
    {0x0670, 0x0670, Script::kInherited},
    {0x0671, 0x06FF, Script::kArabic},
    {0x0750, 0x077F, Script::kArabic},
    {0x0870, 0x08FF, Script::kArabic},
    {0x0900, 0x0950, Script::kDevanagari},
    {0x0951, 0x0954, Script::kInherited},
    {0x0955, 0x0963, Script::kDevanagari},
    {0x0964, 0x0965, Script::kCommon},
    {0x0966, 0x097F, Script::kDevanagari},
    {0x0E01, 0x0E3A, Script::kThai},
    {0x0E3F, 0x0E3F, Script::kCommon},
    {0x0E40, 0x0E5B, Script::kThai},
    {0x10A0, 0x10FA, Script::kGeorgian},
    {0x10FB, 0x10FB, Script::kCommon},
    {0x10FC, 0x10FF, Script::kGeorgian},
    {0x1100, 0x11FF, Script::kHangul},
    {0x13A0, 0x13FF, Script::kCherokee},
    {0x1400, 0x167F, Script::kCanadianAboriginal},
    {0x1AB0, 0x1AFF, Script::kInherited},
    {0x1C80, 0x1C8F, Script::kCyrillic},
    {0x1C90, 0x1CBF, Script::kGeorgian},
    {0x1D00, 0x1D25, Script::kLatin},
    {0x1D26, 0x1D2A, Script::kGreek},
    {0x1D2B, 0x1D2B, Script::kCyrillic},
    {0x1D2C, 0x1D5C, Script::kLatin},
    {0x1D5D, 0x1D61, Script::kGreek},
    {0x1D62, 0x1D65, Script::kLatin},
    {0x1D66, 0x1D6A, Script::kGreek},
    {0x1D6B, 0x1D77, Script::kLatin},
    {0x1D78, 0x1D78, Script::kCyrillic},
    {0x1D79, 0x1DBE, Script::kLatin},
    {0x1DBF, 0x1DBF, Script::kGreek},
    {0x1DC0, 0x1DFF, Script::kInherited},
    {0x1E00, 0x1EFF, Script::kLatin},
    {0x1F00, 0x1FFF, Script::kGreek},
    {0x2000, 0x200B, Script::kCommon},
    {0x200C, 0x200D, Script::kInherited},
    {0x200E, 0x2070, Script::kCommon},
    {0x2071, 0x2071, Script::kLatin},
    {0x2072, 0x207E, Script::kCommon},
    {0x207F, 0x207F, Script::kLatin},
    {0x2080, 0x208F, Script::kCommon},
    {0x2090, 0x209C, Script::kLatin},
    {0x20A0, 0x20CF, Script::kCommon},
    {0x20D0, 0x20FF, Script::kInherited},
    {0x2100, 0x2125, Script::kCommon},
    {0x2126, 0x2126, Script::kGreek},
    {0x2127, 0x2129, Script::kCommon},
    {0x212A, 0x212B, Script::kLatin},
    {0x212C, 0x2131, Script::kCommon},
    {0x2132, 0x2132, Script::kLatin},
    {0x2133, 0x214D, Script::kCommon},
    {0x214E, 0x214E, Script::kLatin},
    {0x214F, 0x215F, Script::kCommon},
    {0x2160, 0x2188, Script::kLatin},
    {0x2189, 0x27FF, Script::kCommon},
    {0x2800, 0x28FF, Script::kCommon},  // Braille
    {0x2900, 0x2BFF, Script::kCommon},
    {0x2C60, 0x2C7F, Script::kLatin},
    {0x2C80, 0x2CFF, Script::kCoptic},
    {0x2D00, 0x2D2F, Script::kGeorgian},
    {0x2DE0, 0x2DFF, Script::kCyrillic},
    {0x2E00, 0x2E7F, Script::kCommon},
    {0x2E80, 0x2FDF, Script::kHan},
    {0x2FF0, 0x3004, Script::kCommon},
    {0x3005, 0x3005, Script::kHan},
    {0x3006, 0x3006, Script::kCommon},
    {0x3007, 0x3007, Script::kHan},
    {0x3008, 0x3020, Script::kCommon},
    {0x3021, 0x3029, Script::kHan},
    {0x302A, 0x302D, Script::kInherited},
    {0x302E, 0x302F, Script::kHangul},
    {0x3030, 0x3037, Script::kCommon},
    {0x3038, 0x303B, Script::kHan},
    {0x303C, 0x303F, Script::kCommon},
    {0x3041, 0x3096, Script::kHiragana},
    {0x3099, 0x309A, Script::kInherited},
    {0x309B, 0x309C, Script::kCommon},
    {0x309D, 0x309F, Script::kHiragana},
    {0x30A0, 0x30A0, Script::kCommon},
    {0x30A1, 0x30FA, Script::kKatakana},
    {0x30FB, 0x30FC, Script::kCommon},
    {0x30FD, 0x30FF, Script::kKatakana},
    {0x3105, 0x312F, Script::kBopomofo},
    {0x3131, 0x318E, Script::kHangul},
    {0x3190, 0x319F, Script::kCommon},
    {0x31A0, 0x31BF, Script::kBopomofo},
    {0x31C0, 0x31EF, Script::kCommon},
    {0x31F0, 0x31FF, Script::kKatakana},
    {0x3200, 0x32CF, Script::kCommon},  // enclosed letters and months; the Hangul ones are Hangul in
                                        // Scripts.txt, counted as symbols here
    {0x32D0, 0x32FE, Script::kKatakana},
    {0x32FF, 0x32FF, Script::kCommon},
    {0x3300, 0x3357, Script::kKatakana},
    {0x3358, 0x33FF, Script::kCommon},
    {0x3400, 0x4DBF, Script::kHan},
    {0x4DC0, 0x4DFF, Script::kCommon},
    {0x4E00, 0x9FFF, Script::kHan},
    {0xA4D0, 0xA4FF, Script::kLisu},
    {0xA640, 0xA69F, Script::kCyrillic},
    {0xA700, 0xA721, Script::kCommon},
    {0xA722, 0xA787, Script::kLatin},
    {0xA788, 0xA78A, Script::kCommon},
    {0xA78B, 0xA7FF, Script::kLatin},
    {0xA8E0, 0xA8FF, Script::kDevanagari},
    {0xA960, 0xA97F, Script::kHangul},
    {0xAB30, 0xAB5A, Script::kLatin},
    {0xAB5B, 0xAB5B, Script::kCommon},
    {0xAB5C, 0xAB64, Script::kLatin},
    {0xAB65, 0xAB65, Script::kGreek},
    {0xAB66, 0xAB69, Script::kLatin},
    {0xAB6A, 0xAB6B, Script::kCommon},
    {0xAB70, 0xABBF, Script::kCherokee},
    {0xAC00, 0xD7FF, Script::kHangul},
    {0xF900, 0xFAFF, Script::kHan},
    {0xFB00, 0xFB06, Script::kLatin},
    {0xFB13, 0xFB17, Script::kArmenian},
    {0xFB1D, 0xFB4F, Script::kHebrew},
    {0xFB50, 0xFD3D, Script::kArabic},
    {0xFD3E, 0xFD3F, Script::kCommon},
    {0xFD40, 0xFDFF, Script::kArabic},
    {0xFE00, 0xFE0F, Script::kInherited},  // variation selectors
    {0xFE10, 0xFE19, Script::kCommon},
    {0xFE20, 0xFE2D, Script::kInherited},
    {0xFE2E, 0xFE2F, Script::kCyrillic},
    {0xFE30, 0xFE6F, Script::kCommon},
    {0xFE70, 0xFEFC, Script::kArabic},
    {0xFEFF, 0xFF20, Script::kCommon},
    {0xFF21, 0xFF3A, Script::kFullwidthLatin},
    {0xFF3B, 0xFF40, Script::kCommon},
    {0xFF41, 0xFF5A, Script::kFullwidthLatin},
    {0xFF5B, 0xFF65, Script::kCommon},
    {0xFF66, 0xFF6F, Script::kKatakana},
    {0xFF70, 0xFF70, Script::kCommon},
    {0xFF71, 0xFF9D, Script::kKatakana},
    {0xFF9E, 0xFF9F, Script::kCommon},
    {0xFFA0, 0xFFDC, Script::kHangul},
    {0xFFE0, 0xFFFF, Script::kCommon},
    {0x10140, 0x1018E, Script::kGreek},
    {0x101FD, 0x101FD, Script::kInherited},
    {0x10780, 0x107BA, Script::kLatin},
    {0x1B000, 0x1B000, Script::kKatakana},
    {0x1B001, 0x1B11F, Script::kHiragana},
    {0x1B120, 0x1B122, Script::kKatakana},
    {0x1D167, 0x1D169, Script::kInherited},
    {0x1D200, 0x1D245, Script::kGreek},
    {0x1D400, 0x1D6A5, Script::kMathLatin},  // Common in Scripts.txt; see kMathLatin
    {0x1D6A6, 0x1D7FF, Script::kCommon},
    {0x1DF00, 0x1DF2A, Script::kLatin},
    {0x1E030, 0x1E08F, Script::kCyrillic},
    {0x1F000, 0x1F1FF, Script::kCommon},  // symbols, enclosed letters
    {0x1F200, 0x1F200, Script::kHiragana},
    {0x1F201, 0x1FBFF, Script::kCommon},  // symbols, emoji
    {0x20000, 0x323AF, Script::kHan},
    {0xE0001, 0xE007F, Script::kCommon},  // tags
    {0xE0100, 0xE01EF, Script::kInherited},
};

static_assert(sorted_and_disjoint(kScripts), "kScripts must be sorted and its ranges disjoint");
static_assert(kScripts[0].first >= 0x80, "ASCII is classified in script_of()");

Script script_of(char32_t cp) {
  if (cp < 0x80) {
    const bool letter = (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
    return letter ? Script::kLatin : Script::kCommon;
  }
  const ScriptRange* r = find_range(kScripts, cp);
  return r == nullptr ? Script::kUnknown : r->script;
}

// Scripts that may share a word (UTS #39 section 5.2, "Highly Restrictive"): one script, or
// a subset of one of these. kFullwidthLatin and kMathLatin are counted as Latin here; mixing
// them with ASCII letters is looked for across the whole name.
using ScriptSet = std::uint32_t;
constexpr ScriptSet bit(Script s) { return ScriptSet{1} << static_cast<unsigned>(s); }
constexpr ScriptSet kAllowedTogether[] = {
    bit(Script::kLatin) | bit(Script::kHan) | bit(Script::kHiragana) | bit(Script::kKatakana),
    bit(Script::kLatin) | bit(Script::kHan) | bit(Script::kBopomofo),
    bit(Script::kLatin) | bit(Script::kHan) | bit(Script::kHangul),
};

bool allowed_together(ScriptSet set) {
  if ((set & (set - 1)) == 0) return true;  // one script (or none)
  for (ScriptSet allowed : kAllowedTogether) {
    if ((set & ~allowed) == 0) return true;
  }
  return false;
}

std::string at_byte(char32_t cp, std::size_t offset) {
  std::string shown;
  append_code_point(shown, cp);
  return "(" + shown.substr(1, shown.size() - 2) + " at byte " + std::to_string(offset) + ")";
}

// The letters of one word, by script, in the order the scripts first appear.
class WordScripts {
 public:
  void add(Script s, char32_t cp, std::size_t offset) {
    if (s == Script::kFullwidthLatin || s == Script::kMathLatin) s = Script::kLatin;
    for (auto& seen : seen_) {
      if (seen.script == s) {
        ++seen.count;
        return;
      }
    }
    seen_.push_back({s, 1, cp, offset});
    set_ |= bit(s);
  }
  void clear() {
    seen_.clear();
    set_ = 0;
  }

  // nullopt, or "mixes scripts: Latin and Cyrillic (U+0430 at byte 7)": the scripts by
  // number of letters, most first (ties: first seen first), pointing at the first letter of
  // the last one.
  std::optional<std::string> warning() const {
    if (allowed_together(set_)) return std::nullopt;
    std::vector<Seen> by_count = seen_;
    std::stable_sort(by_count.begin(), by_count.end(),
                     [](const Seen& a, const Seen& b) { return a.count > b.count; });
    std::string out = "mixes scripts: ";
    for (std::size_t i = 0; i < by_count.size(); ++i) {
      if (i != 0) out += i + 1 == by_count.size() ? " and " : ", ";
      out += script_name(by_count[i].script);
    }
    return out + " " + at_byte(by_count.back().first_cp, by_count.back().first_offset);
  }

 private:
  struct Seen {
    Script script;
    std::size_t count;
    char32_t first_cp;
    std::size_t first_offset;
  };
  std::vector<Seen> seen_;
  ScriptSet set_ = 0;
};

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

std::optional<std::string> script_warning(std::string_view name) {
  WordScripts word;
  bool ascii_letter = false;
  Script styled = Script::kUnknown;  // the first fullwidth or mathematical letter's
  char32_t styled_cp = 0;
  std::size_t styled_offset = 0;
  std::size_t i = 0;
  while (i < name.size()) {
    const Decoded d = decode(name, i);
    // Bytes that are not UTF-8 separate words (name_problem() refuses such names anyway).
    const Script s = d.length == 0 ? Script::kCommon : script_of(d.cp);
    if (s == Script::kCommon) {
      if (auto w = word.warning()) return w;
      word.clear();
    } else if (s != Script::kInherited && s != Script::kUnknown) {
      word.add(s, d.cp, i);
      if (d.cp < 0x80) {
        ascii_letter = true;
      } else if ((s == Script::kFullwidthLatin || s == Script::kMathLatin) && styled == Script::kUnknown) {
        styled = s;
        styled_cp = d.cp;
        styled_offset = i;
      }
    }
    i += d.length == 0 ? 1 : d.length;
  }
  if (auto w = word.warning()) return w;
  if (ascii_letter && styled != Script::kUnknown)
    return std::string("mixes ") + script_name(styled) + " and ASCII letters " +
           at_byte(styled_cp, styled_offset);
  return std::nullopt;
}

}  // namespace countersign
