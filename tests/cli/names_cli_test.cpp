// What approvers see is the truth: `manifest show` flags a file name that mixes
// scripts (core/untrusted_text.h, script_warning), under its line and in --json; it does not
// refuse it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

using nlohmann::json;
using test_util::CliRun;
using test_util::contains;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z

CliRun run(const std::vector<std::string>& args) {
  return test_util::run_cli(args, [] { return kNow; });
}

json manifest_with(const std::vector<std::string>& paths) {
  json files = json::array();
  for (const auto& p : paths) files.push_back({{"path", p}, {"size", 1}, {"sha256", std::string(64, 'a')}});
  json m = {
      {"schema", "countersign/manifest/v1"}, {"kind", "model"},          {"name", "x"},   {"version", "1"},
      {"license", {{"spdx", "MIT"}}},        {"sources", json::array()}, {"files", files}};
  return m;
}

// "model.sаfetensors" with a Cyrillic а (U+0430) at byte 7.
const std::string kConfusable =
    "model.s\xd0\xb0"
    "fetensors";

TEST(ManifestShowNames, AConfusableFileNameIsFlaggedUnderItsLine) {
  test_util::TempDir dir("cs-names");
  test_util::spit(dir.file("m.json"), manifest_with({"config.json", kConfusable}).dump());
  CliRun r = run({"manifest", "show", dir.file("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  const std::string flag = "  ! this name mixes scripts: Latin and Cyrillic (U+0430 at byte 7)\n";
  EXPECT_TRUE(contains(r.out, "  " + kConfusable + "\n" + flag)) << r;  // right under the name
  EXPECT_EQ(r.out.find(flag), r.out.rfind(flag)) << r;                  // and only there
  EXPECT_FALSE(contains(r.out, "config.json\n  !")) << r;
  EXPECT_TRUE(contains(r.out, "Check     1 name may imitate another: see the lines marked ! below\n")) << r;

  CliRun j = run({"manifest", "show", "--json", dir.file("m.json")});
  ASSERT_EQ(j.rc, 0) << j;
  const json out = json::parse(j.out);
  ASSERT_EQ(out["warnings"].size(), 1u) << j;
  EXPECT_EQ(out["warnings"][0]["pointer"], "/files/1/path");
  EXPECT_EQ(out["warnings"][0]["name"], kConfusable);
  EXPECT_EQ(out["warnings"][0]["warning"], "mixes scripts: Latin and Cyrillic (U+0430 at byte 7)");
  EXPECT_FALSE(out["manifest"]["files"][1].contains("warnings")) << "the document must stay the document";
}

TEST(ManifestShowNames, NamesInOneScriptEachAreNotFlagged) {
  test_util::TempDir dir("cs-names");
  test_util::spit(dir.file("m.json"), manifest_with({"config.json", "модель.bin", "日本語/重み.bin"}).dump());
  CliRun r = run({"manifest", "show", dir.file("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_FALSE(contains(r.out, "  !")) << r;
  EXPECT_FALSE(contains(r.out, "Check ")) << r;
  CliRun j = run({"manifest", "show", "--json", dir.file("m.json")});
  ASSERT_EQ(j.rc, 0) << j;
  EXPECT_EQ(json::parse(j.out)["warnings"], json::array()) << j;
}

}  // namespace
}  // namespace countersign::cli
