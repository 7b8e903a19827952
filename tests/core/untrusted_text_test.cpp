// core/untrusted_text.h: which texts may be names, and how untrusted text is shown.
#include "core/untrusted_text.h"

#include <gtest/gtest.h>

#include "core/manifest.h"
#include "core/policy.h"
#include "core/review.h"

namespace countersign {
namespace {

TEST(NameProblem, PlainNamesInAnyScriptAreNames) {
  for (std::string_view ok : {"gemma-4-12b-it", "model-00001-of-00005.safetensors", "2026-06-01", "модель",
                              "Zoë Ångström", "日本語/weights.bin"}) {
    EXPECT_EQ(name_problem(ok), std::nullopt) << ok;
  }
}

TEST(NameProblem, ControlsSeparatorsAndBidiAreRefusedWithTheirOffset) {
  EXPECT_EQ(name_problem("zz_backdoor.py\r\x1b[2K"), "U+000D (a control character) at byte 14");
  EXPECT_EQ(name_problem("a\x7f"), "U+007F (a control character) at byte 1");
  EXPECT_EQ(name_problem("a\xc2\x9b"), "U+009B (a control character) at byte 1");  // C1 CSI
  EXPECT_EQ(name_problem("invoice_\xe2\x80\xae"
                         "exe.pdf"),
            "U+202E (a bidi formatting character) at byte 8");
  EXPECT_EQ(name_problem("x\xe2\x81\xa6y"), "U+2066 (a bidi formatting character) at byte 1");
  EXPECT_EQ(name_problem("\xd8\x9c"), "U+061C (a bidi formatting character) at byte 0");
  EXPECT_EQ(name_problem("a\xe2\x80\xa8"
                         "b"),
            "U+2028 (a line or paragraph separator) at byte 1");
  EXPECT_EQ(name_problem(std::string_view("a\0b", 3)), "U+0000 (a control character) at byte 1");
  EXPECT_EQ(name_problem("ab\xff"), "invalid UTF-8 at byte 2");
  EXPECT_EQ(name_problem("\xed\xa0\x80"), "invalid UTF-8 at byte 0");  // a surrogate
  EXPECT_EQ(name_problem("\xc0\xaf"), "invalid UTF-8 at byte 0");      // overlong '/'
}

TEST(EscapeUntrusted, TheEraseLineAttackIsShownNotInterpreted) {
  EXPECT_EQ(escape_untrusted("zz_backdoor.py\r\x1b[2K\x1b[1A"), "zz_backdoor.py\\x0d\\x1b[2K\\x1b[1A");
  EXPECT_EQ(escape_untrusted("line one\nline two"), "line one\\x0aline two");  // never broken by the text
  EXPECT_EQ(escape_untrusted("csi\xc2\x9b"
                             "2K"),
            "csi\\x9b2K");
}

TEST(EscapeUntrusted, InvisibleAndBidiCharactersBecomeMarkers) {
  EXPECT_EQ(escape_untrusted("invoice_\xe2\x80\xae"
                             "exe.pdf"),
            "invoice_<U+202E>exe.pdf");
  EXPECT_EQ(escape_untrusted("zero\xe2\x80\x8bwidth"), "zero<U+200B>width");
  EXPECT_EQ(escape_untrusted("\xef\xbb\xbf"
                             "bom"),
            "<U+FEFF>bom");
  EXPECT_EQ(escape_untrusted("tag\xf3\xa0\x80\x81"), "tag<U+E0001>");
  EXPECT_EQ(escape_untrusted("para\xe2\x80\xa9"), "para<U+2029>");
}

// Found by tests/cli/terminal_view_test.cpp: tmux draws nothing for a code point that is no
// character, so "mod<U+0378>el.bin" looked like "model.bin" on the reviewer's screen.
TEST(EscapeUntrusted, CodePointsThatAreNoCharacterBecomeMarkers) {
  EXPECT_EQ(escape_untrusted("mod\xcd\xb8"
                             "el.bin"),
            "mod<U+0378>el.bin");  // unassigned
  EXPECT_EQ(escape_untrusted("\xef\xbf\xbf"
                             "x\xef\xb7\x90"),
            "<U+FFFF>x<U+FDD0>");  // noncharacters
  EXPECT_EQ(escape_untrusted("\xf4\x8f\xbf\xbf"), "<U+10FFFF>");
  EXPECT_EQ(escape_untrusted("\xf0\x9d\x85\xb3"), "<U+1D173>");  // zero-width musical format control
  EXPECT_EQ(escape_untrusted("\xf0\x93\x90\xb0"), "<U+13430>");  // Egyptian hieroglyph format control
  // Assigned neighbours, private use and the last characters of the planes are shown as they are.
  EXPECT_EQ(escape_untrusted("\xcd\xb7\xcd\xba"), "\xcd\xb7\xcd\xba");  // U+0377 U+037A
  EXPECT_EQ(escape_untrusted("\xee\x80\x80"), "\xee\x80\x80");          // U+E000
  EXPECT_EQ(escape_untrusted("\xef\xbf\xbd"), "\xef\xbf\xbd");          // U+FFFD
  EXPECT_EQ(escape_untrusted("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // U+1F600
}

TEST(EscapeUntrusted, EveryEscapeMeansOneThing) {
  EXPECT_EQ(escape_untrusted("C:\\x1b"), "C:\\\\x1b");      // a backslash in the text is doubled
  EXPECT_EQ(escape_untrusted("<U+202E>"), "\\x3cU+202E>");  // a marker typed into the text is not one
  EXPECT_EQ(escape_untrusted("a<b"), "a<b");
  EXPECT_EQ(escape_untrusted("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(escape_untrusted("Zoë 日本"), "Zoë 日本");  // printable text as it is
}

TEST(EscapeUntrusted, MessagesAreCutOnACharacterBoundary) {
  EXPECT_EQ(escape_untrusted("abcdef", 3), "abc…");
  EXPECT_EQ(escape_untrusted("ab日本", 4), "ab…");  // 日 is 3 bytes: not split
  EXPECT_EQ(escape_untrusted("abc", 3), "abc");
}

// A name that mixes scripts may imitate another ("model.sаfetensors" with a
// Cyrillic а); it is flagged for the reviewer with the letter and where it is.
TEST(ScriptWarning, ACyrillicLetterInALatinWordIsFlaggedWithItsOffset) {
  EXPECT_EQ(script_warning("model.s\xd0\xb0"
                           "fetensors"),
            "mixes scripts: Latin and Cyrillic (U+0430 at byte 7)");
  // The script with fewer letters is the one pointed at, wherever it is in the word.
  EXPECT_EQ(script_warning("\xd0\xb0pple.bin"), "mixes scripts: Latin and Cyrillic (U+0430 at byte 0)");
  EXPECT_EQ(script_warning("weights/m\xd0\xbe\xd0\xb4"
                           "el.bin"),
            "mixes scripts: Latin and Cyrillic (U+043E at byte 9)");
  // Mostly Cyrillic with one Latin letter: Latin is the odd one.
  EXPECT_EQ(script_warning("\xd0\xbc\xd0\xbe\xd0\xb4"
                           "e\xd0\xbb\xd1\x8c"),
            "mixes scripts: Cyrillic and Latin (U+0065 at byte 6)");
}

TEST(ScriptWarning, GreekAndOtherLookalikesInALatinWordAreFlagged) {
  EXPECT_EQ(script_warning("c\xce\xbfnfig.json"), "mixes scripts: Latin and Greek (U+03BF at byte 1)");  // ο
  EXPECT_EQ(script_warning("\xce\xbc\xd0\xbe\xce\xb4"),
            "mixes scripts: Greek and Cyrillic (U+043E at byte 2)");
  EXPECT_EQ(script_warning("tok\xd5\xa5nizer.json"), "mixes scripts: Latin and Armenian (U+0565 at byte 3)");
  EXPECT_EQ(script_warning("\xe1\x8e\xaaPI.md"),
            "mixes scripts: Latin and Cherokee (U+13AA at byte 0)");  // Ꭺ
  EXPECT_EQ(script_warning("ab\xd7\x90"), "mixes scripts: Latin and Hebrew (U+05D0 at byte 2)");
  // Three scripts: most letters first.
  EXPECT_EQ(script_warning("pa\xce\xbfy\xd0\xb0l"),
            "mixes scripts: Latin, Greek and Cyrillic (U+0430 at byte 5)");
  // A combining mark does not end the word, so it cannot hide the Cyrillic ѕ after it.
  EXPECT_EQ(script_warning("tensor\xcc\x81\xd1\x95"), "mixes scripts: Latin and Cyrillic (U+0455 at byte 8)");
}

TEST(ScriptWarning, FullwidthAndMathematicalLettersAmongAsciiOnesAreFlagged) {
  EXPECT_EQ(script_warning("\xef\xbd\x8d"
                           "odel.bin"),
            "mixes fullwidth Latin and ASCII letters (U+FF4D at byte 0)");  // ｍodel
  EXPECT_EQ(script_warning("model.\xef\xbd\x82\xef\xbd\x89\xef\xbd\x8e"),
            "mixes fullwidth Latin and ASCII letters (U+FF42 at byte 6)");  // in another word too
  EXPECT_EQ(script_warning("s\xf0\x9d\x96\xba"
                           "fe"),
            "mixes mathematical Latin and ASCII letters (U+1D5BA at byte 1)");  // 𝖺
  EXPECT_EQ(script_warning("\xef\xbd\x8d\xef\xbd\x8f\xef\xbd\x84\xef\xbd\x85\xef\xbd\x8c"),
            std::nullopt);  // all fullwidth: it looks like nothing else
}

TEST(ScriptWarning, NamesInOneScriptAreNotFlagged) {
  for (std::string_view ok : {"model-00001-of-00005.safetensors",
                              "gemma-4-12b-it",
                              "модель",
                              "модель-v2.bin",
                              "μοντέλο.bin",
                              "Zoë Ångström",
                              "Zoe\xcc\x88 A\xcc\x8angstro\xcc\x88m" /* combining marks */,
                              "2026-06-01",
                              "1.0_rc-3+build.7",
                              "",
                              "...",
                              "日本語モデル/重み.bin",
                              "東京ー",
                              "Tokyo東京モデル",
                              "한국어模型.txt",
                              "注音ㄅㄆ",
                              "ｍｏｄｅｌ東京",
                              "café/naïve.txt",
                              "שלום.txt",
                              "نموذج.bin",
                              "मॉडल.bin",
                              "โมเดล.bin",
                              "model😀.bin",
                              "ⅻ"}) {
    EXPECT_EQ(script_warning(ok), std::nullopt) << ok;
  }
}

TEST(ScriptWarning, SeparatorsEndAWord) {
  // Each word is in one script: a Russian name with an English extension is not an imitation.
  EXPECT_EQ(script_warning("модель.safetensors"), std::nullopt);
  EXPECT_EQ(script_warning("model_модель-μοντέλο 7x"), std::nullopt);
  EXPECT_EQ(script_warning("a\xff\xd0\xb0"), std::nullopt);  // bytes that are not UTF-8 separate too
  // Latin with Thai or Arabic in one word is not one of UTS #39's allowed combinations.
  EXPECT_EQ(script_warning("abcโม"), "mixes scripts: Latin and Thai (U+0E42 at byte 3)");
  EXPECT_EQ(script_warning("modelنم"), "mixes scripts: Latin and Arabic (U+0646 at byte 5)");
}

// The rule is applied where documents are parsed, so every tool refuses the same names.
TEST(NamesInDocuments, AManifestPathWithABidiOverrideIsRefusedAtParse) {
  Manifest::Fields f;
  f.name = "demo";
  f.version = "1";
  f.license.spdx = "Apache-2.0";
  f.files.push_back(
      {"invoice_\xe2\x80\xae"
       "exe.pdf",
       1, Digest{}});
  auto m = Manifest::create(f);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("/files/0/path"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("invoice_<U+202E>exe.pdf"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("U+202E (a bidi formatting character) at byte 8"), std::string::npos)
      << m.error().message;
  f.files[0].path = "ok.bin";
  f.name = "demo\x1b[2K";
  auto named = Manifest::create(f);
  ASSERT_FALSE(named.ok());
  EXPECT_NE(named.error().message.find("/name"), std::string::npos) << named.error().message;
  f.name = "demo";
  f.description = "free text may hold \x1b[2K and \xe2\x80\xae";  // shown escaped, not refused
  EXPECT_TRUE(Manifest::create(f).ok());
}

// core/review.h: the names of a manifest that a reviewer is told to look at twice.
TEST(NamesInDocuments, AManifestsConfusableNamesAreListedForTheReview) {
  Manifest::Fields f;
  f.name = "g\xd0\xb5mma";  // Cyrillic е
  f.version = "1";
  f.license.spdx = "Apache-2.0";
  f.files.push_back({"config.json", 1, Digest{}});
  f.files.push_back(
      {"model.s\xd0\xb0"
       "fetensors",
       1, Digest{}});
  f.files.push_back({"модель.bin", 1, Digest{}});
  auto m = Manifest::create(f);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const std::vector<NameWarning> w = manifest_name_warnings(*m);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].pointer, "/name");
  EXPECT_EQ(w[0].warning, "mixes scripts: Latin and Cyrillic (U+0435 at byte 1)");
  EXPECT_EQ(w[1].pointer, "/files/1/path");
  EXPECT_EQ(w[1].name,
            "model.s\xd0\xb0"
            "fetensors");
  EXPECT_EQ(describe_name_warnings(*m),
            "Names to check  2 names may imitate others\n"
            "  /name  g\xd0\xb5mma\n"
            "  ! this name mixes scripts: Latin and Cyrillic (U+0435 at byte 1)\n"
            "  /files/1/path  model.s\xd0\xb0"
            "fetensors\n"
            "  ! this name mixes scripts: Latin and Cyrillic (U+0430 at byte 7)\n");
  f.name = "gemma";
  f.files.erase(f.files.begin() + 1);
  auto clean = Manifest::create(f);
  ASSERT_TRUE(clean.ok()) << clean.error().message;
  EXPECT_TRUE(manifest_name_warnings(*clean).empty());
  EXPECT_EQ(describe_name_warnings(*clean), "");
}

TEST(NamesInDocuments, AnApproverIdOrRoleWithAControlCharacterIsRefused) {
  nlohmann::json policy = {{"schema", "countersign/policy/v1"},
                           {"domain", "acme"},
                           {"version", 1},
                           {"approvers", {{{"id", "alice\r"}, {"keys", nlohmann::json::array()}}}},
                           {"rules", nlohmann::json::object()}};
  auto p = Policy::parse(policy);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("/approvers/0/id"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("U+000D"), std::string::npos) << p.error().message;
}

}  // namespace
}  // namespace countersign
