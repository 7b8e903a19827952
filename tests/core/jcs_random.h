// Deterministic random JSON documents for the JCS round-trip and reference tests.
//
// RandomJson builds a value (nlohmann::json, numbers as doubles) and a non-canonical text
// for it: shuffled member order, random whitespace, random escapes (\uXXXX in either case,
// surrogate pairs, \/), numbers spelled several ways (shortest, 17 significant digits,
// exponent with 'E' and '+', plain integers). Parsing the text must give back the value.
//
// Only the raw 64-bit output of std::mt19937_64 is used (its sequence is fixed by the
// standard); the <random> distributions are not, so they are avoided to keep the
// documents the same on every platform.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace countersign::jcs::testing {

class RandomJson {
 public:
  // allow_newline: whether the text may contain raw line feeds as whitespace (JSON-lines
  // output for the reference test needs one document per line).
  explicit RandomJson(std::uint64_t seed, bool allow_newline = true) : rng_(seed), newline_(allow_newline) {}

  nlohmann::json value(int depth = 0) {
    const std::uint64_t kind = depth >= kMaxGenDepth ? 4 + below(4) : below(depth == 0 ? 2 : 8);
    switch (kind) {
      case 0: {
        nlohmann::json obj = nlohmann::json::object();
        const std::uint64_t n = below(7);
        for (std::uint64_t i = 0; i < n; ++i) obj[key()] = value(depth + 1);
        return obj;
      }
      case 1: {
        nlohmann::json arr = nlohmann::json::array();
        const std::uint64_t n = below(6);
        for (std::uint64_t i = 0; i < n; ++i) arr.push_back(value(depth + 1));
        return arr;
      }
      case 4:
      case 5:
        return number();
      case 6:
        return string_value();
      case 7: {
        const std::uint64_t which = below(3);
        if (which == 0) return nullptr;
        return which == 1;
      }
      default:
        return number();
    }
  }

  // A JSON text for v that is valid but far from canonical.
  std::string text(const nlohmann::json& v) {
    std::string out;
    write(out, v);
    return out;
  }

  double number() {
    switch (below(6)) {
      case 0: {  // any finite bit pattern, subnormals and extremes included
        for (;;) {
          const std::uint64_t bits = rng_();
          double d;
          std::memcpy(&d, &bits, sizeof d);
          if (std::isfinite(d)) return d;
        }
      }
      case 1: {  // subnormal
        const std::uint64_t bits = (rng_() & 0x000FFFFFFFFFFFFFull) | (rng_() & 0x8000000000000000ull);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
      }
      case 2: {  // integers around 2^53, where doubles stop being exact integers
        const double base = 9007199254740992.0;
        const double off = static_cast<double>(below(2001)) - 1000.0;
        return below(2) != 0 ? base + off : -(base + off);
      }
      case 3: {  // short decimals like 12.34, 0.001
        const double mant = static_cast<double>(below(100000));
        const int scale = static_cast<int>(below(12)) - 4;
        return mant / std::pow(10.0, scale);
      }
      case 4: {  // neighbours of the layout boundaries of Number::toString and range ends
        static const double kEdges[] = {0.0,
                                        -0.0,
                                        1e21,
                                        1e-7,
                                        1e-6,
                                        1e20,
                                        5e-324,
                                        1e-323,
                                        2.2250738585072014e-308,
                                        std::numeric_limits<double>::max(),
                                        0.1,
                                        1.0 / 3.0};
        double d = kEdges[below(sizeof kEdges / sizeof kEdges[0])];
        const std::uint64_t step = below(3);
        if (step == 1) d = std::nextafter(d, std::numeric_limits<double>::infinity());
        if (step == 2) d = std::nextafter(d, -std::numeric_limits<double>::infinity());
        if (!std::isfinite(d)) d = std::numeric_limits<double>::max();
        return below(2) != 0 ? d : -d;
      }
      default:
        return static_cast<double>(below(2000)) - 1000.0;
    }
  }

 private:
  static constexpr int kMaxGenDepth = 5;

  std::uint64_t below(std::uint64_t n) { return rng_() % n; }

  // Code points chosen to cover every escaping rule and every UTF-8 length, with weight on
  // the range where UTF-16 order and code point order disagree (U+E000..U+FFFF against
  // characters above U+FFFF).
  std::uint32_t code_point() {
    switch (below(10)) {
      case 0:
        return static_cast<std::uint32_t>(below(0x20));  // controls
      case 1: {
        static const std::uint32_t kSpecial[] = {'"',    '\\',   '/',    0x7F,    0x2028,   0x2029,
                                                 0xFEFF, 0xFFFF, 0xE000, 0x10000, 0x10FFFF, 0x20AC};
        return kSpecial[below(sizeof kSpecial / sizeof kSpecial[0])];
      }
      case 2:
        return 0x80 + static_cast<std::uint32_t>(below(0x780));  // 2-byte
      case 3:
        return 0x800 + static_cast<std::uint32_t>(below(0xD800 - 0x800));  // 3-byte below surrogates
      case 4:
        return 0xE000 + static_cast<std::uint32_t>(below(0x2000));  // U+E000..U+FFFF
      case 5:
        return 0x10000 + static_cast<std::uint32_t>(below(0x100000));  // astral
      default:
        return 0x20 + static_cast<std::uint32_t>(below(0x5F));  // printable ASCII
    }
  }

  std::string utf8(std::uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return s;
  }

  std::string string_value() {
    std::string s;
    const std::uint64_t n = below(10);
    for (std::uint64_t i = 0; i < n; ++i) s += utf8(code_point());
    return s;
  }

  // Keys are short and drawn from a small pool half the time, so that objects hold names
  // that share prefixes and differ exactly where the UTF-16 order matters.
  std::string key() {
    static const char* const kPool[] = {"a",
                                        "b",
                                        "A",
                                        "1",
                                        "10",
                                        "\xE2\x82\xAC" /* U+20AC */,
                                        "\xEF\xAC\xB3" /* U+FB33 */,
                                        "\xF0\x9F\x98\x80" /* U+1F600 */,
                                        "\xEE\x80\x80" /* U+E000 */,
                                        "\xEF\xBF\xBF" /* U+FFFF */,
                                        "\xF0\x90\x80\x80" /* U+10000 */,
                                        "\r",
                                        ""};
    std::string k;
    const std::uint64_t n = 1 + below(3);
    for (std::uint64_t i = 0; i < n; ++i) {
      if (below(2) != 0) {
        k += kPool[below(sizeof kPool / sizeof kPool[0])];
      } else {
        k += utf8(code_point());
      }
    }
    return k;
  }

  void ws(std::string& out) {
    static const char kWs[] = {' ', '\t', '\r', '\n'};
    const std::uint64_t n = below(4) == 0 ? below(3) : 0;
    for (std::uint64_t i = 0; i < n; ++i) out.push_back(kWs[below(newline_ ? 4 : 3)]);
  }

  void hex4(std::string& out, std::uint32_t unit) {
    const char* digits = below(2) != 0 ? "0123456789abcdef" : "0123456789ABCDEF";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(digits[(unit >> shift) & 0xF]);
  }

  void write_string(std::string& out, const std::string& s) {
    out.push_back('"');
    std::size_t i = 0;
    while (i < s.size()) {
      const auto lead = static_cast<unsigned char>(s[i]);
      const std::size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      std::uint32_t cp = len == 1 ? lead : len == 2 ? lead & 0x1Fu : len == 3 ? lead & 0x0Fu : lead & 0x07u;
      for (std::size_t j = 1; j < len; ++j) cp = cp << 6 | (static_cast<unsigned char>(s[i + j]) & 0x3Fu);
      const bool must_escape = cp < 0x20 || cp == '"' || cp == '\\';
      if (must_escape || below(4) == 0) {
        const char* short_form = nullptr;
        switch (cp) {
          case '"':
            short_form = "\\\"";
            break;
          case '\\':
            short_form = "\\\\";
            break;
          case '/':
            short_form = "\\/";
            break;
          case '\b':
            short_form = "\\b";
            break;
          case '\f':
            short_form = "\\f";
            break;
          case '\n':
            short_form = "\\n";
            break;
          case '\r':
            short_form = "\\r";
            break;
          case '\t':
            short_form = "\\t";
            break;
          default:
            break;
        }
        if (short_form != nullptr && below(2) != 0) {
          out += short_form;
        } else if (cp >= 0x10000) {
          hex4(out, 0xD800 + ((cp - 0x10000) >> 10));
          hex4(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
          hex4(out, cp);
        }
      } else {
        out.append(s, i, len);
      }
      i += len;
    }
    out.push_back('"');
  }

  void write_number(std::string& out, double d) {
    char buf[64];
    int n = 0;
    switch (below(4)) {
      case 0: {
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        n = static_cast<int>(r.ptr - buf);
        break;
      }
      case 1:
        n = std::snprintf(buf, sizeof buf, "%.17g", d);
        break;
      case 2:
        n = std::snprintf(buf, sizeof buf, "%.16E", d);
        break;
      default:
        // Integers below 1e25 exactly as integers; other values with extra digits.
        if (d == std::floor(d) && std::fabs(d) < 1e25) {
          n = std::snprintf(buf, sizeof buf, "%.0f", d);
        } else {
          n = std::snprintf(buf, sizeof buf, "%.20e", d);
        }
    }
    out.append(buf, static_cast<std::size_t>(n));
  }

  void write(std::string& out, const nlohmann::json& v) {
    ws(out);
    switch (v.type()) {
      case nlohmann::json::value_t::object: {
        std::vector<const nlohmann::json::object_t::value_type*> members;
        for (const auto& m : v.get_ref<const nlohmann::json::object_t&>()) members.push_back(&m);
        for (std::size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[below(i)]);
        out.push_back('{');
        ws(out);
        for (std::size_t i = 0; i < members.size(); ++i) {
          if (i != 0) out.push_back(',');
          ws(out);
          write_string(out, members[i]->first);
          ws(out);
          out.push_back(':');
          write(out, members[i]->second);
        }
        out.push_back('}');
        break;
      }
      case nlohmann::json::value_t::array: {
        out.push_back('[');
        ws(out);
        const auto& arr = v.get_ref<const nlohmann::json::array_t&>();
        for (std::size_t i = 0; i < arr.size(); ++i) {
          if (i != 0) out.push_back(',');
          write(out, arr[i]);
        }
        out.push_back(']');
        break;
      }
      case nlohmann::json::value_t::string:
        write_string(out, v.get_ref<const std::string&>());
        break;
      case nlohmann::json::value_t::number_float:
        write_number(out, v.get<double>());
        break;
      case nlohmann::json::value_t::boolean:
        out += v.get<bool>() ? "true" : "false";
        break;
      default:
        out += "null";
        break;
    }
    ws(out);
  }

  std::mt19937_64 rng_;
  bool newline_;
};

}  // namespace countersign::jcs::testing
