#include "core/jcs.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/sha256.h"
#include "tests/core/jcs_random.h"

namespace countersign::jcs {
namespace {

using nlohmann::json;

std::string data_path(const std::string& relative) {
  return std::string(COUNTERSIGN_TEST_DATA) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Expects parse(text) to fail with kMalformed and a message that starts with `expected`
// (position and reason), e.g. "line 1, column 2 (byte 1): lone surrogate". The DOM-free
// path (canonicalize, hash_text) must refuse the same text with the very same error.
::testing::AssertionResult Rejects(std::string_view text, std::string_view expected) {
  auto r = parse(text);
  if (r.ok()) return ::testing::AssertionFailure() << "accepted: " << text;
  if (r.error().code != Errc::kMalformed) {
    return ::testing::AssertionFailure()
           << "wrong code " << errc_name(r.error().code) << ": " << r.error().message;
  }
  if (r.error().message.rfind(expected, 0) != 0) {
    return ::testing::AssertionFailure()
           << "message \"" << r.error().message << "\" does not start with \"" << expected << "\"";
  }
  auto c = canonicalize(text);
  if (c.ok()) return ::testing::AssertionFailure() << "canonicalize accepted: " << text;
  if (c.error().code != r.error().code || c.error().message != r.error().message) {
    return ::testing::AssertionFailure()
           << "canonicalize says \"" << c.error().message << "\", parse says \"" << r.error().message << "\"";
  }
  auto h = hash_text(text);
  if (h.ok()) return ::testing::AssertionFailure() << "hash_text accepted: " << text;
  if (h.error().message != r.error().message) {
    return ::testing::AssertionFailure() << "hash_text says \"" << h.error().message << "\"";
  }
  return ::testing::AssertionSuccess();
}

// The canonical form of `text` by both paths, which must agree: serialize(parse(text))
// through the DOM, and canonicalize(text) without one; hash_text is its SHA-256.
std::string canonical(std::string_view text) {
  auto v = parse(text);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  if (!v.ok()) return "<parse error>";
  auto s = serialize(*v);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  if (!s.ok()) return "<serialize error>";
  auto direct = canonicalize(text);
  EXPECT_TRUE(direct.ok()) << (direct.ok() ? "" : direct.error().message);
  if (direct.ok()) {
    EXPECT_EQ(*direct, *s) << "canonicalize differs from serialize(parse) for " << text;
  }
  auto digest = hash_text(text);
  EXPECT_TRUE(digest.ok());
  if (digest.ok()) {
    EXPECT_EQ(*digest, sha256(std::string_view(*s)));
  }
  return *s;
}

// ---------------------------------------------------------------------------------------
// Published vectors: cyberphone/json-canonicalization (the RFC 8785 author's test data)
// and erdtman/canonicalize (the npm reference implementation's copy, with variations).

struct VectorCase {
  const char* set;
  const char* name;
};

std::string vector_name(const ::testing::TestParamInfo<VectorCase>& info) {
  std::string n = std::string(info.param.set) + "_" + info.param.name;
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  return n;
}

const VectorCase kVectorCases[] = {
    {"jcs-cyberphone", "arrays"},  {"jcs-cyberphone", "french"}, {"jcs-cyberphone", "structures"},
    {"jcs-cyberphone", "unicode"}, {"jcs-cyberphone", "values"}, {"jcs-cyberphone", "weird"},
    {"jcs-erdtman", "arrays"},     {"jcs-erdtman", "french"},    {"jcs-erdtman", "structures"},
    {"jcs-erdtman", "unicode"},    {"jcs-erdtman", "values"},    {"jcs-erdtman", "weird"},
};

class JcsVector : public ::testing::TestWithParam<VectorCase> {};

TEST_P(JcsVector, InputCanonicalizesToOutput) {
  const std::string dir = data_path(GetParam().set);
  const std::string input = read_file(dir + "/input/" + GetParam().name + ".json");
  std::string expected = read_file(dir + "/output/" + GetParam().name + ".json");
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(expected.empty());
  // Quirk: jcs-erdtman/output/structures.json ends in a newline that is not part of the
  // canonical form (canonical output never contains a raw line feed).
  if (expected.back() == '\n') expected.pop_back();

  auto value = parse(input);
  ASSERT_TRUE(value.ok()) << value.error().message;
  auto out = serialize(*value);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, expected);

  auto digest = hash(*value);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, sha256(std::string_view(expected)));
  EXPECT_EQ(canonicalize(input).value(), expected);
  EXPECT_EQ(hash_text(input).value(), sha256(std::string_view(expected)));

  // The canonical form is a fixed point and parses back to the same value.
  auto again = parse(expected);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *value);
  EXPECT_EQ(serialize(*again).value(), expected);
}

INSTANTIATE_TEST_SUITE_P(Vectors, JcsVector, ::testing::ValuesIn(kVectorCases), vector_name);

class JcsOutHex : public ::testing::TestWithParam<const char*> {};

TEST_P(JcsOutHex, OutputBytesMatchHexDump) {
  const std::string dir = data_path("jcs-cyberphone");
  std::string hex;
  for (char c : read_file(dir + "/outhex/" + GetParam() + ".txt")) {
    if (c != ' ' && c != '\n' && c != '\r') hex.push_back(c);
  }
  auto bytes = hex_decode(hex);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  ASSERT_FALSE(bytes->empty());
  EXPECT_EQ(canonical(read_file(dir + "/input/" + GetParam() + ".json")), std::string(as_chars(*bytes)));
}

INSTANTIATE_TEST_SUITE_P(Vectors, JcsOutHex,
                         ::testing::Values("arrays", "french", "structures", "unicode", "values", "weird"));

// ---------------------------------------------------------------------------------------
// Numbers: ECMAScript Number::toString over the cyberphone es6 files (IEEE-754 bits in
// hex, expected text). The files' SHA-256 are those in the upstream README table, so a
// damaged copy fails here rather than passing with fewer lines.

struct Es6File {
  const char* name;
  std::size_t lines;
  const char* sha256;
};

class Es6Numbers : public ::testing::TestWithParam<Es6File> {};

TEST_P(Es6Numbers, FormatMatchesEcmaScript) {
  const std::string text = read_file(data_path(std::string("jcs-cyberphone/es6/") + GetParam().name));
  EXPECT_EQ(digest_to_string(sha256(std::string_view(text))), std::string("sha256:") + GetParam().sha256);
  std::size_t lines = 0;
  std::size_t failures = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    const std::size_t comma = line.find(',');
    ASSERT_NE(comma, std::string_view::npos) << line;
    std::uint64_t bits = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + comma, bits, 16);
    ASSERT_TRUE(ec == std::errc() && ptr == line.data() + comma) << line;
    const double d = std::bit_cast<double>(bits);
    const std::string_view expected = line.substr(comma + 1);
    ++lines;
    const std::string got = format_number(d);
    if (got != expected && ++failures <= 10) {
      ADD_FAILURE() << "bits " << line.substr(0, comma) << ": got " << got << ", expected " << expected;
    }
    // Reading the text back gives the same double (-0 reads back as 0, which compares equal).
    auto back = parse(expected);
    if ((!back.ok() || !back->is_number_float() || back->get<double>() != d) && ++failures <= 10) {
      ADD_FAILURE() << "bits " << line.substr(0, comma) << ": " << expected << " does not parse back";
    }
  }
  EXPECT_EQ(lines, GetParam().lines);
  EXPECT_EQ(failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, Es6Numbers,
    ::testing::Values(Es6File{"es6testfile1k.txt", 1000,
                              "be18b62b6f69cdab33a7e0dae0d9cfa869fda80ddc712221570f9f40a5878687"},
                      Es6File{"es6testfile100k.txt", 100000,
                              "22776e6d4b49fa294a0d0f349268e5c28808fe7e0cb2bcbe28f63894e494d4c7"}),
    [](const ::testing::TestParamInfo<Es6File>& param) {
      return std::string(param.param.lines == 1000 ? "es6_1k" : "es6_100k");
    });

TEST(JcsFormatNumber, EcmaScriptLayout) {
  const double inf = std::numeric_limits<double>::infinity();
  const struct {
    double value;
    const char* text;
  } cases[] = {
      {0.0, "0"},
      {-0.0, "0"},
      {1.0, "1"},
      {-1.0, "-1"},
      {0.1, "0.1"},
      {4.5, "4.5"},
      {0.002, "0.002"},
      {333333333.33333329, "333333333.3333333"},
      {1e20, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {1e21, "1e+21"},
      {-1e21, "-1e+21"},
      {1.5e21, "1.5e+21"},
      {1e-6, "0.000001"},
      {1.234e-6, "0.000001234"},
      {1e-7, "1e-7"},
      {-1e-7, "-1e-7"},
      {1.5e-7, "1.5e-7"},
      {1e30, "1e+30"},
      {1e-27, "1e-27"},
      {5e-324, "5e-324"},
      {-5e-324, "-5e-324"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {9007199254740992.0, "9007199254740992"},
      {9007199254740993.0, "9007199254740992"},  // not a double; rounds to 2^53
      {9007199254740994.0, "9007199254740994"},
      {std::nan(""), "NaN"},
      {inf, "Infinity"},
      {-inf, "-Infinity"},
  };
  for (const auto& c : cases) EXPECT_EQ(format_number(c.value), c.text) << c.text;
}

TEST(JcsParse, EveryNumberIsADouble) {
  auto v = parse("[1, -0, 2.50, 1E2, 9007199254740993, 18446744073709551616]");
  ASSERT_TRUE(v.ok()) << v.error().message;
  for (const auto& n : *v) EXPECT_TRUE(n.is_number_float()) << n.dump();
  EXPECT_TRUE(std::signbit((*v)[1].get<double>()));
  EXPECT_EQ((*v)[4].get<double>(), 9007199254740992.0);
  EXPECT_EQ(serialize(*v).value(), "[1,0,2.5,100,9007199254740992,18446744073709552000]");
}

TEST(JcsParse, AcceptsScalarsWhitespaceAndEscapes) {
  EXPECT_EQ(canonical(" \t\r\n true \n"), "true");
  EXPECT_EQ(canonical("null"), "null");
  EXPECT_EQ(canonical("\"\\u0041\\/\\b\\f\\n\\r\\t\\\"\\\\\""), "\"A/\\b\\f\\n\\r\\t\\\"\\\\\"");
  EXPECT_EQ(canonical("\"\\ud83d\\ude00\""), "\"\xF0\x9F\x98\x80\"");  // pair -> one character
  EXPECT_EQ(canonical("\"\\uD83D\\uDE00\""), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(canonical("\"\\u0000\""), "\"\\u0000\"");
  EXPECT_EQ(canonical("\"\x7f\""), "\"\x7f\"");  // DEL is not a control character in JSON
  EXPECT_EQ(canonical("[ ]"), "[]");
  EXPECT_EQ(canonical("{ }"), "{}");
  EXPECT_EQ(canonical("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"), "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
}

// ---------------------------------------------------------------------------------------
// Rejections. Positions: line and column from 1, columns counted in characters (code
// points); byte offsets from 0.

TEST(JcsReject, DuplicateKey) {
  EXPECT_TRUE(Rejects("{\n  \"name\": 1,\n  \"size\": 2,\n  \"size\": 3\n}",
                      "line 4, column 3 (byte 30): duplicate key \"size\""));
  // Names are compared after unescaping.
  EXPECT_TRUE(Rejects("{\"a\":1,\"\\u0061\":2}", "line 1, column 8 (byte 7): duplicate key \"a\""));
  // Columns count characters: each "é" is one column but two bytes.
  EXPECT_TRUE(Rejects("{\"\xC3\xA9\xC3\xA9\":1,\"\xC3\xA9\xC3\xA9\":2}",
                      "line 1, column 9 (byte 10): duplicate key \"\xC3\xA9\xC3\xA9\""));
  EXPECT_TRUE(Rejects("[{}, {\"x\": [], \"x\": []}]", "line 1, column 16 (byte 15): duplicate key \"x\""));
  // Key shown escaped and shortened in the message.
  EXPECT_TRUE(Rejects("{\"\\n\":1,\"\\n\":2}", "line 1, column 9 (byte 8): duplicate key \"\\x0a\""));
}

TEST(JcsReject, InvalidUtf8) {
  EXPECT_TRUE(Rejects("[\"\xC0\x80\"]", "line 1, column 3 (byte 2): invalid UTF-8: overlong encoding"));
  EXPECT_TRUE(Rejects("[\"\xC1\xBF\"]", "line 1, column 3 (byte 2): invalid UTF-8: overlong encoding"));
  EXPECT_TRUE(Rejects("[\"\xE0\x80\xAF\"]", "line 1, column 3 (byte 2): invalid UTF-8: overlong encoding"));
  EXPECT_TRUE(
      Rejects("[\"\xF0\x80\x80\xAF\"]", "line 1, column 3 (byte 2): invalid UTF-8: overlong encoding"));
  EXPECT_TRUE(Rejects("[\"\xED\xA0\x80\"]", "line 1, column 3 (byte 2): invalid UTF-8: encodes a surrogate"));
  EXPECT_TRUE(Rejects("[\"\xED\xBF\xBF\"]", "line 1, column 3 (byte 2): invalid UTF-8: encodes a surrogate"));
  EXPECT_TRUE(Rejects("[\"\xF4\x90\x80\x80\"]",
                      "line 1, column 3 (byte 2): invalid UTF-8: code point above U+10FFFF"));
  EXPECT_TRUE(Rejects("[\"\xF5\x80\x80\x80\"]",
                      "line 1, column 3 (byte 2): invalid UTF-8: code point above U+10FFFF"));
  EXPECT_TRUE(Rejects("[\"\xFF\"]", "line 1, column 3 (byte 2): invalid UTF-8: byte that never occurs"));
  EXPECT_TRUE(Rejects("[\"\x80\"]", "line 1, column 3 (byte 2): invalid UTF-8: continuation byte"));
  EXPECT_TRUE(Rejects("[\"\xE2\x82\"]", "line 1, column 3 (byte 2): invalid UTF-8: incomplete"));
  EXPECT_TRUE(Rejects("\"\xF0\x9F\x98", "line 1, column 2 (byte 1): invalid UTF-8: incomplete"));
  // After valid multi-byte characters, on a later line, and in a key.
  EXPECT_TRUE(
      Rejects("[\n\"\xC3\xA9\xE2\x82\xAC\xC3\"]", "line 2, column 4 (byte 8): invalid UTF-8: incomplete"));
  EXPECT_TRUE(Rejects("{\"k\xFE\":1}", "line 1, column 4 (byte 3): invalid UTF-8"));
  // Outside strings any non-ASCII byte is a syntax error.
  EXPECT_TRUE(Rejects("[1, \xC3\xA9]", "line 1, column 5 (byte 4): expected a JSON value, found byte 0xc3"));
  // The largest valid sequences are accepted.
  EXPECT_EQ(canonical("\"\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\""),
            "\"\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80\"");
}

TEST(JcsReject, LoneSurrogateEscapes) {
  EXPECT_TRUE(Rejects("\"\\ud800\"", "line 1, column 2 (byte 1): lone surrogate '\\ud800'"));
  EXPECT_TRUE(Rejects("[\"ab\\uD800\\u0041\"]", "line 1, column 5 (byte 4): lone surrogate '\\uD800'"));
  EXPECT_TRUE(Rejects("\"\\udc00\"", "line 1, column 2 (byte 1): lone surrogate '\\udc00': low surrogate"));
  EXPECT_TRUE(Rejects("\"\\ude00\\ud83d\"", "line 1, column 2 (byte 1): lone surrogate '\\ude00'"));
  EXPECT_TRUE(Rejects("\"\\udbff\\udbff\"", "line 1, column 2 (byte 1): lone surrogate '\\udbff'"));
  EXPECT_TRUE(Rejects("\"\\ud800\\n\"", "line 1, column 2 (byte 1): lone surrogate"));
  EXPECT_TRUE(Rejects("\"\\ud800", "line 1, column 2 (byte 1): lone surrogate"));
  EXPECT_TRUE(Rejects("{\"\\ud800\":1}", "line 1, column 3 (byte 2): lone surrogate"));
}

TEST(JcsReject, UnescapedControlCharacters) {
  EXPECT_TRUE(Rejects("[\"a\x01z\"]", "line 1, column 4 (byte 3): unescaped control character U+0001"));
  EXPECT_TRUE(Rejects("[\"a\nz\"]", "line 1, column 4 (byte 3): unescaped control character U+000a"));
  EXPECT_TRUE(Rejects("\"\t\"", "line 1, column 2 (byte 1): unescaped control character U+0009"));
  EXPECT_TRUE(Rejects(std::string_view("\"\0\"", 3),
                      "line 1, column 2 (byte 1): unescaped control character U+0000"));
  EXPECT_TRUE(Rejects("{\"\x1f\":1}", "line 1, column 3 (byte 2): unescaped control character U+001f"));
}

TEST(JcsReject, NumbersOutsideDoubleRange) {
  EXPECT_TRUE(Rejects("1e400", "line 1, column 1 (byte 0): number 1e400 is outside the range"));
  EXPECT_TRUE(Rejects("[0, -1E+400]", "line 1, column 5 (byte 4): number -1E+400 is outside the range"));
  EXPECT_TRUE(Rejects("1.7976931348623159e308", "line 1, column 1 (byte 0): number"));
  EXPECT_TRUE(Rejects("0.00001e314", "line 1, column 1 (byte 0): number"));
  EXPECT_TRUE(Rejects("1" + std::string(400, '0'), "line 1, column 1 (byte 0): number 1000"));
  EXPECT_TRUE(Rejects("1e99999999999999999999", "line 1, column 1 (byte 0): number"));
  // The largest double and the smallest subnormal are in range.
  EXPECT_EQ(canonical("1.7976931348623157e308"), "1.7976931348623157e+308");
  EXPECT_EQ(canonical("4.9e-324"), "5e-324");
  // Underflow rounds to zero, as ECMAScript JSON.parse does; it is not out of range.
  EXPECT_EQ(canonical("[1e-400, -1e-400, 0e99999999999, 0.0000001e-99999999999999999999]"), "[0,0,0,0]");
  EXPECT_TRUE(std::signbit(parse("-1e-400")->get<double>()));
}

TEST(JcsReject, LeadingZeros) {
  EXPECT_TRUE(Rejects("01", "line 1, column 1 (byte 0): invalid number, leading zeros"));
  EXPECT_TRUE(Rejects("[-01]", "line 1, column 2 (byte 1): invalid number, leading zeros"));
  EXPECT_TRUE(Rejects("00.5", "line 1, column 1 (byte 0): invalid number, leading zeros"));
  EXPECT_TRUE(Rejects("[1, 007]", "line 1, column 5 (byte 4): invalid number, leading zeros"));
  EXPECT_EQ(canonical("[0, -0, 0.5, 0e5, 10, 100.0010]"), "[0,0,0.5,0,10,100.001]");
}

TEST(JcsReject, OtherMalformedNumbers) {
  EXPECT_TRUE(Rejects("1.", "line 1, column 1 (byte 0): invalid number, expected a digit after '.'"));
  EXPECT_TRUE(Rejects("1.e3", "line 1, column 1 (byte 0): invalid number, expected a digit after '.'"));
  EXPECT_TRUE(Rejects("-", "line 1, column 1 (byte 0): invalid number, expected a digit after '-'"));
  EXPECT_TRUE(Rejects("-a", "line 1, column 1 (byte 0): invalid number"));
  EXPECT_TRUE(Rejects("1e", "line 1, column 1 (byte 0): invalid number, expected a digit in the exponent"));
  EXPECT_TRUE(Rejects("1e+", "line 1, column 1 (byte 0): invalid number, expected a digit in the exponent"));
  EXPECT_TRUE(Rejects(".5", "line 1, column 1 (byte 0): expected a JSON value, found '.'"));
  EXPECT_TRUE(Rejects("+1", "line 1, column 1 (byte 0): expected a JSON value, found '+'"));
  EXPECT_TRUE(Rejects("NaN", "line 1, column 1 (byte 0): expected a JSON value, found 'N'"));
  EXPECT_TRUE(Rejects("-Infinity", "line 1, column 1 (byte 0): invalid number"));
  EXPECT_TRUE(Rejects("0x10", "line 1, column 2 (byte 1): unexpected 'x' after the JSON value"));
}

TEST(JcsReject, TrailingDataAfterValue) {
  EXPECT_TRUE(Rejects("{} x", "line 1, column 4 (byte 3): unexpected 'x' after the JSON value"));
  EXPECT_TRUE(Rejects("1 2", "line 1, column 3 (byte 2): unexpected '2' after the JSON value"));
  EXPECT_TRUE(Rejects("[]]", "line 1, column 3 (byte 2): unexpected ']' after the JSON value"));
  EXPECT_TRUE(Rejects("\"a\"\n\"b\"", "line 2, column 1 (byte 4): unexpected '\"' after the JSON value"));
  EXPECT_TRUE(Rejects(std::string_view("{}\0", 3), "line 1, column 3 (byte 2): unexpected byte 0x00 after"));
  EXPECT_EQ(canonical(" {} \n\t\r "), "{}");
}

TEST(JcsReject, NestingDeeperThanMaxDepth) {
  const auto depth = static_cast<std::size_t>(kMaxDepth);
  EXPECT_EQ(canonical(std::string(depth, '[') + std::string(depth, ']')),
            std::string(depth, '[') + std::string(depth, ']'));
  EXPECT_TRUE(Rejects(std::string(depth + 1, '[') + std::string(depth + 1, ']'),
                      "line 1, column 129 (byte 128): nesting deeper than 128 levels"));
  std::string objects;
  for (std::size_t i = 0; i <= depth; ++i) objects += "{\"a\":";
  EXPECT_TRUE(Rejects(objects + "1" + std::string(depth + 1, '}'),
                      "line 1, column 641 (byte 640): nesting deeper than 128 levels"));
  // A hostile depth is rejected at the limit, without recursion.
  EXPECT_TRUE(Rejects(std::string(1'000'000, '['), "line 1, column 129 (byte 128): nesting deeper"));
}

TEST(JcsReject, EmptyInput) {
  EXPECT_TRUE(Rejects("", "line 1, column 1 (byte 0): empty input"));
  EXPECT_TRUE(Rejects("  \n ", "line 2, column 2 (byte 4): no JSON value, only whitespace"));
}

TEST(JcsReject, InvalidEscapes) {
  EXPECT_TRUE(Rejects("\"\\x41\"", "line 1, column 2 (byte 1): invalid escape sequence '\\x'"));
  EXPECT_TRUE(Rejects("[\"ok\", \"\\'\"]", "line 1, column 9 (byte 8): invalid escape sequence '\\''"));
  EXPECT_TRUE(Rejects("\"\\U0041\"", "line 1, column 2 (byte 1): invalid escape sequence '\\U'"));
  EXPECT_TRUE(Rejects("\"\\0\"", "line 1, column 2 (byte 1): invalid escape sequence '\\0'"));
  EXPECT_TRUE(
      Rejects("\"\\u12G4\"", "line 1, column 2 (byte 1): invalid \\u escape, expected four hex digits"));
  EXPECT_TRUE(
      Rejects("\"\\u12\"", "line 1, column 2 (byte 1): invalid \\u escape, expected four hex digits"));
  EXPECT_TRUE(Rejects("\"\\", "line 1, column 2 (byte 1): unterminated escape sequence"));
}

TEST(JcsReject, OtherSyntaxErrors) {
  EXPECT_TRUE(Rejects("[\"abc", "line 1, column 2 (byte 1): unterminated string"));
  EXPECT_TRUE(Rejects("[1,]", "line 1, column 4 (byte 3): expected a JSON value, found ']'"));
  EXPECT_TRUE(Rejects("[1 2]", "line 1, column 4 (byte 3): expected ',' or ']', found '2'"));
  EXPECT_TRUE(Rejects("{\"a\" 1}", "line 1, column 6 (byte 5): expected ':' after object key, found '1'"));
  EXPECT_TRUE(Rejects("{'a':1}", "line 1, column 2 (byte 1): expected a string key, found '''"));
  EXPECT_TRUE(Rejects("{\"a\":1,}", "line 1, column 8 (byte 7): expected a string key, found '}'"));
  EXPECT_TRUE(Rejects("{\"a\":1 \"b\":2}", "line 1, column 8 (byte 7): expected ',' or '}', found '\"'"));
  EXPECT_TRUE(Rejects("{\"a\":1", "line 1, column 7 (byte 6): unexpected end of input, expected ',' or '}'"));
  EXPECT_TRUE(Rejects("[", "line 1, column 2 (byte 1): unexpected end of input, expected a value"));
  EXPECT_TRUE(Rejects("{\"a\":", "line 1, column 6 (byte 5): unexpected end of input, expected a value"));
  EXPECT_TRUE(Rejects("tru", "line 1, column 1 (byte 0): invalid literal, expected 'true'"));
  EXPECT_TRUE(Rejects("[nul]", "line 1, column 2 (byte 1): invalid literal, expected 'null'"));
  EXPECT_TRUE(Rejects("True", "line 1, column 1 (byte 0): expected a JSON value, found 'T'"));
  EXPECT_TRUE(Rejects("[1] // c", "line 1, column 5 (byte 4): unexpected '/' after the JSON value"));
  EXPECT_TRUE(Rejects("\xEF\xBB\xBF{}", "line 1, column 1 (byte 0): byte order mark is not allowed"));
  EXPECT_TRUE(Rejects("\v1", "line 1, column 1 (byte 0): expected a JSON value, found byte 0x0b"));
}

// ---------------------------------------------------------------------------------------
// Serialization

TEST(JcsSerialize, KeysSortByUtf16CodeUnits) {
  // RFC 8785 section 3.2.3: U+1F600 is the surrogate pair D83D DE00 in UTF-16 and so sorts
  // before U+FB33, although its UTF-8 bytes (F0 ...) sort after those of U+FB33 (EF ...).
  json v = json::object();
  v["\xE2\x82\xAC"] = "Euro Sign";                        // U+20AC
  v["\r"] = "Carriage Return";                            // U+000D
  v["\xEF\xAC\xB3"] = "Hebrew Letter Dalet With Dagesh";  // U+FB33
  v["1"] = "One";                                         // U+0031
  v["\xF0\x9F\x98\x80"] = "Emoji: Grinning Face";         // U+1F600
  v["\xC2\x80"] = "Control";                              // U+0080
  v["\xC3\xB6"] = "Latin Small Letter O With Diaeresis";  // U+00F6
  EXPECT_EQ(serialize(v).value(),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\",\"\xC3\xB6\":\"Latin Small "
            "Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\",\"\xF0\x9F\x98\x80\":\"Emoji: Grinning "
            "Face\",\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
  // The same order when the names arrive as escapes.
  EXPECT_EQ(canonical("{\"\\ufb33\":0,\"\\ud83d\\ude00\":0,\"\\u20ac\":0,\"\\r\":0,\"1\":0}"),
            "{\"\\r\":0,\"1\":0,\"\xE2\x82\xAC\":0,\"\xF0\x9F\x98\x80\":0,\"\xEF\xAC\xB3\":0}");
  // Edges of the ranges: U+D7FF < U+10000 < U+10FFFF < U+E000 < U+FFFF, and after a
  // common prefix.
  EXPECT_EQ(
      canonical("{\"\\uffff\":0,\"\\ue000\":0,\"\\udbff\\udfff\":0,\"\\ud800\\udc00\":0,\"\\ud7ff\":0}"),
      "{\"\xED\x9F\xBF\":0,\"\xF0\x90\x80\x80\":0,\"\xF4\x8F\xBF\xBF\":0,\"\xEE\x80\x80\":0,\"\xEF\xBF\xBF\":"
      "0}");
  EXPECT_EQ(canonical("{\"a\\ue000\":0,\"a\\ud83d\\ude00b\":0,\"a\":0,\"a\\ud83d\\ude00\":0}"),
            "{\"a\":0,\"a\xF0\x9F\x98\x80\":0,\"a\xF0\x9F\x98\x80"
            "b\":0,\"a\xEE\x80\x80\":0}");
}

TEST(JcsSerialize, StringsEscapedLikeJsonStringify) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  all += "\"\\/\x7f\xE2\x80\xA8\xE2\x80\xA9\xEF\xBB\xBF";
  EXPECT_EQ(
      serialize(json(all)).value(),
      "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
      "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
      "\\u001e\\u001f\\\"\\\\/\x7f\xE2\x80\xA8\xE2\x80\xA9\xEF\xBB\xBF\"");
}

TEST(JcsSerialize, IntegersPrintAsTheDoubleTheyConvertTo) {
  const std::uint64_t unsigned_cases[] = {0,
                                          1,
                                          100,
                                          9007199254740991u,
                                          9007199254740992u,
                                          9007199254740993u,
                                          1000000000000000000u,
                                          18446744073709551615u};
  for (std::uint64_t u : unsigned_cases) {
    json as_unsigned = u;
    ASSERT_TRUE(as_unsigned.is_number_unsigned());
    EXPECT_EQ(serialize(as_unsigned).value(), serialize(json(static_cast<double>(u))).value()) << u;
  }
  EXPECT_EQ(serialize(json(std::uint64_t{9007199254740991u})).value(), "9007199254740991");
  EXPECT_EQ(serialize(json(std::uint64_t{9007199254740993u})).value(), "9007199254740992");
  EXPECT_EQ(serialize(json(std::uint64_t{18446744073709551615u})).value(), "18446744073709552000");
  EXPECT_EQ(serialize(json(std::int64_t{-42})).value(), "-42");
  EXPECT_EQ(serialize(json(std::numeric_limits<std::int64_t>::min())).value(), "-9223372036854776000");
  json doc = {{"size", std::uint64_t{1234}}, {"version", 2}};
  EXPECT_EQ(serialize(doc).value(), "{\"size\":1234,\"version\":2}");
  EXPECT_EQ(hash(doc).value(), hash(parse("{\"version\":2.0,\"size\":1.234e3}").value()).value());
}

TEST(JcsSerialize, RejectsValuesWithoutJsonForm) {
  auto check = [](const json& v, const std::string& fragment) {
    auto r = serialize(v);
    ASSERT_FALSE(r.ok()) << v.dump();
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
    EXPECT_FALSE(hash(v).ok());
  };
  check(json(std::nan("")), "the top-level value: number is not finite");
  check(json{{"a", {1, std::numeric_limits<double>::infinity()}}}, "\"/a/1\": number is not finite");
  check(json{{"a", {1, -std::numeric_limits<double>::infinity()}}}, "\"/a/1\"");
  check(json::binary({1, 2, 3}), "binary values have no JSON form");
  check(json{{"files", {{{"path", "ok"}}, {{"path", "bad\xFF"}}}}},
        "\"/files/1/path\": string is not valid UTF-8");
  check(json{{"a/b~", "\xED\xA0\x80"}}, "\"/a~1b~0\": string is not valid UTF-8");
  check(json{{"k\xC3", 1}}, "\"/k\\xc3\": member name is not valid UTF-8");
  check(json(std::string("\xF0\x9F\x98")), "string is not valid UTF-8");
}

TEST(JcsSerialize, DeepValuesBuiltInCodeDoNotRecurse) {
  json deep = json::array();
  for (int i = 0; i < 100000; ++i) deep = json::array({std::move(deep)});
  auto s = serialize(deep);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 2u * 100001u);
}

// ---------------------------------------------------------------------------------------
// canonicalize(): text to canonical text without building a DOM. It finds duplicates and
// orders members after reading a whole object, so these check that what it reports and
// what it writes match the DOM path where the two could drift apart.

TEST(JcsCanonicalize, DuplicatesReportedLikeTheDomParser) {
  // The duplicate comes first in the text, so it is the error, not the syntax error after.
  EXPECT_TRUE(Rejects("{\"a\":1,\"a\":2,", "line 1, column 8 (byte 7): duplicate key \"a\""));
  // The outer duplicate precedes the inner one.
  EXPECT_TRUE(Rejects("{\"a\":1,\"a\":{\"b\":1,\"b\":2}}", "line 1, column 8 (byte 7): duplicate key \"a\""));
  // The inner duplicate precedes the outer one.
  EXPECT_TRUE(
      Rejects("{\"a\":{\"b\":1,\"b\":2},\"a\":1}", "line 1, column 13 (byte 12): duplicate key \"b\""));
  // Members out of order: the duplicate is the third member, found after sorting.
  EXPECT_TRUE(Rejects("{\"b\":1,\"a\":2,\"b\":3}", "line 1, column 14 (byte 13): duplicate key \"b\""));
  // Two duplicates in one object: the first in the text wins.
  EXPECT_TRUE(
      Rejects("{\"c\":1,\"b\":1,\"c\":2,\"b\":2}", "line 1, column 14 (byte 13): duplicate key \"c\""));
  // The same name spelled raw and escaped, in either order.
  EXPECT_TRUE(Rejects("{\"\\u0061\":1,\"a\":2}", "line 1, column 13 (byte 12): duplicate key \"a\""));
  EXPECT_TRUE(
      Rejects("{\"\xF0\x9F\x98\x80\":1,\"\\ud83d\\ude00\":2}", "line 1, column 8 (byte 10): duplicate key"));
}

TEST(JcsCanonicalize, OrdersEscapedAndAstralNames) {
  EXPECT_EQ(canonical("{\"\\u0062\":1,\"a\":2}"), "{\"a\":2,\"b\":1}");
  EXPECT_EQ(canonical("{\"a\":2,\"\\u0062\":1}"), "{\"a\":2,\"b\":1}");
  // U+E000 sorts after U+1F600 in UTF-16 although its UTF-8 sorts before.
  EXPECT_EQ(canonical("{\"\xEE\x80\x80\":1,\"\xF0\x9F\x98\x80\":2}"),
            "{\"\xF0\x9F\x98\x80\":2,\"\xEE\x80\x80\":1}");
  // Already in order (the fast path) and reversed (the sorting path) give the same bytes.
  EXPECT_EQ(canonical("{\"a\":[],\"b\":{},\"c\":\"\"}"), "{\"a\":[],\"b\":{},\"c\":\"\"}");
  EXPECT_EQ(canonical("{\"c\":\"\",\"b\":{},\"a\":[]}"), "{\"a\":[],\"b\":{},\"c\":\"\"}");
  // Nested objects are ordered independently; values move with their names.
  EXPECT_EQ(canonical("{\"z\":{\"y\":[{\"q\":1,\"p\":2}],\"x\":\"\\n\"},\"a\":1e2}"),
            "{\"a\":100,\"z\":{\"x\":\"\\n\",\"y\":[{\"p\":2,\"q\":1}]}}");
  // A name that needs escaping in the output.
  EXPECT_EQ(canonical("{\"\\u001f\":1,\"\\\"\":2}"), "{\"\\u001f\":1,\"\\\"\":2}");
}

TEST(JcsCanonicalize, ScalarsEmptyContainersAndDepth) {
  EXPECT_EQ(canonical("[{},[],{\"a\":{}},[[]]]"), "[{},[],{\"a\":{}},[[]]]");
  EXPECT_EQ(canonical("\"\""), "\"\"");
  EXPECT_EQ(canonical("-0.0"), "0");
  EXPECT_EQ(canonical("[1E21,1e-7,123456789012345680000]"), "[1e+21,1e-7,123456789012345680000]");
  std::string deep;
  for (int i = 0; i < kMaxDepth; ++i) deep += (i % 2 == 0) ? "{\"k\":" : "[";
  std::string closing;
  for (int i = kMaxDepth - 1; i >= 0; --i) closing += (i % 2 == 0) ? "}" : "]";
  EXPECT_EQ(canonical(deep + "null" + closing), deep + "null" + closing);
}

TEST(JcsHash, IsSha256OfCanonicalForm) {
  EXPECT_EQ(hash(parse("{ \"b\": [1.0, \"x\"], \"a\": null }").value()).value(),
            sha256(std::string_view("{\"a\":null,\"b\":[1,\"x\"]}")));
  EXPECT_EQ(digest_to_string(hash(json::object()).value()),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

// ---------------------------------------------------------------------------------------
// Round trip over random documents: parse(text) gives the value the text was written
// from, and parse(serialize(x)) == x with serialize a fixed point.

TEST(JcsRoundTrip, RandomDocuments) {
  testing::RandomJson gen(0x4a435352u);
  for (int i = 0; i < 500; ++i) {
    const json value = gen.value();
    const std::string text = gen.text(value);
    auto parsed = parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << text;
    EXPECT_EQ(*parsed, value) << text;
    auto canon = serialize(value);
    ASSERT_TRUE(canon.ok()) << canon.error().message;
    EXPECT_EQ(serialize(*parsed).value(), *canon) << text;
    auto direct = canonicalize(text);
    ASSERT_TRUE(direct.ok()) << direct.error().message << "\n" << text;
    EXPECT_EQ(*direct, *canon) << text;
    auto back = parse(*canon);
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << *canon;
    EXPECT_EQ(*back, value);
    EXPECT_EQ(serialize(*back).value(), *canon);
  }
}

}  // namespace
}  // namespace countersign::jcs
