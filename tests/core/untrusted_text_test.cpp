// core/untrusted_text.h: which texts may be names, and how untrusted text is shown.
#include "core/untrusted_text.h"

#include <gtest/gtest.h>

#include "core/manifest.h"
#include "core/policy.h"

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
  EXPECT_EQ(name_problem("invoice_\xe2\x80\xae" "exe.pdf"), "U+202E (a bidi formatting character) at byte 8");
  EXPECT_EQ(name_problem("x\xe2\x81\xa6y"), "U+2066 (a bidi formatting character) at byte 1");
  EXPECT_EQ(name_problem("\xd8\x9c"), "U+061C (a bidi formatting character) at byte 0");
  EXPECT_EQ(name_problem("a\xe2\x80\xa8" "b"), "U+2028 (a line or paragraph separator) at byte 1");
  EXPECT_EQ(name_problem(std::string_view("a\0b", 3)), "U+0000 (a control character) at byte 1");
  EXPECT_EQ(name_problem("ab\xff"), "invalid UTF-8 at byte 2");
  EXPECT_EQ(name_problem("\xed\xa0\x80"), "invalid UTF-8 at byte 0");  // a surrogate
  EXPECT_EQ(name_problem("\xc0\xaf"), "invalid UTF-8 at byte 0");      // overlong '/'
}

TEST(EscapeUntrusted, TheEraseLineAttackIsShownNotInterpreted) {
  EXPECT_EQ(escape_untrusted("zz_backdoor.py\r\x1b[2K\x1b[1A"), "zz_backdoor.py\\x0d\\x1b[2K\\x1b[1A");
  EXPECT_EQ(escape_untrusted("line one\nline two"), "line one\\x0aline two");  // never broken by the text
  EXPECT_EQ(escape_untrusted("csi\xc2\x9b" "2K"), "csi\\x9b2K");
}

TEST(EscapeUntrusted, InvisibleAndBidiCharactersBecomeMarkers) {
  EXPECT_EQ(escape_untrusted("invoice_\xe2\x80\xae" "exe.pdf"), "invoice_<U+202E>exe.pdf");
  EXPECT_EQ(escape_untrusted("zero\xe2\x80\x8bwidth"), "zero<U+200B>width");
  EXPECT_EQ(escape_untrusted("\xef\xbb\xbf" "bom"), "<U+FEFF>bom");
  EXPECT_EQ(escape_untrusted("tag\xf3\xa0\x80\x81"), "tag<U+E0001>");
  EXPECT_EQ(escape_untrusted("para\xe2\x80\xa9"), "para<U+2029>");
}

TEST(EscapeUntrusted, EveryEscapeMeansOneThing) {
  EXPECT_EQ(escape_untrusted("C:\\x1b"), "C:\\\\x1b");       // a backslash in the text is doubled
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

// The rule is applied where documents are parsed, so every tool refuses the same names.
TEST(NamesInDocuments, AManifestPathWithABidiOverrideIsRefusedAtParse) {
  Manifest::Fields f;
  f.name = "demo";
  f.version = "1";
  f.license.spdx = "Apache-2.0";
  f.files.push_back({"invoice_\xe2\x80\xae" "exe.pdf", 1, Digest{}});
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
