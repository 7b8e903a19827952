#include "core/manifest_diff.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::Contains;
using nlohmann::json;

const std::string kRevA = "0123456789abcdef0123456789abcdef01234567";
const std::string kRevB = "89abcdef0123456789abcdef0123456789abcdef";

Digest h(std::string_view s) { return sha256(s); }

Source spec(const std::string& s) {
  auto r = Source::from_spec(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.error().message;
  return *r;
}

Manifest make(const std::string& name, const std::string& version, std::vector<ManifestFile> files,
              std::vector<Source> sources, License license = {"Apache-2.0", std::nullopt}) {
  Manifest::Fields f;
  f.name = name;
  f.version = version;
  f.license = std::move(license);
  f.files = std::move(files);
  f.sources = std::move(sources);
  auto m = Manifest::create(std::move(f));
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

class ManifestDiffTest : public ::testing::Test {
 protected:
  Manifest before_ = make("gemma", "2026-05-01",
                          {{"config.json", 100, h("config-1")},
                           {"model-1.safetensors", 5u << 30, h("w1")},
                           {"model-2.safetensors", 1000, h("w2")},
                           {"tokenizer.json", 2048, h("tok")}},
                          {spec("hf:google/gemma@" + kRevA), spec("https://mirror.internal/gemma/")});
  Manifest after_ = make("gemma", "2026-06-01",
                         {{"config.json", 100, h("config-2")},         // hash changed
                          {"model-1.safetensors", 5u << 30, h("w1")},  // unchanged
                          {"model-2.safetensors", 1024, h("w2b")},     // size and hash changed
                          {"model-3.safetensors", 512, h("w3")}},      // added; tokenizer removed
                         {spec("hf:google/gemma@" + kRevB), spec("https://mirror.internal/gemma/")},
                         {"Gemma", std::string("https://ai.google.dev/gemma/terms")});
};

TEST_F(ManifestDiffTest, ListsAddedRemovedChangedAndUnchanged) {
  ManifestDiff d = diff_manifests(before_, after_);
  EXPECT_FALSE(d.empty());
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].path, "model-3.safetensors");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].path, "tokenizer.json");
  ASSERT_EQ(d.changed.size(), 2u);
  EXPECT_EQ(d.changed[0].after.path, "config.json");
  EXPECT_FALSE(d.changed[0].size_changed());
  EXPECT_TRUE(d.changed[0].hash_changed());
  EXPECT_EQ(d.changed[1].after.path, "model-2.safetensors");
  EXPECT_TRUE(d.changed[1].size_changed());
  EXPECT_TRUE(d.changed[1].hash_changed());
  EXPECT_EQ(d.unchanged, 1u);
  ASSERT_EQ(d.sources_added.size(), 1u);
  EXPECT_EQ(d.sources_added[0].revision, kRevB);
  ASSERT_EQ(d.sources_removed.size(), 1u);
  EXPECT_EQ(d.sources_removed[0].revision, kRevA);
  EXPECT_FALSE(d.sources_reordered);
  ASSERT_TRUE(d.license_changed.has_value());
  EXPECT_EQ(d.license_changed->first.spdx, "Apache-2.0");
  EXPECT_EQ(d.license_changed->second.spdx, "Gemma");
  EXPECT_FALSE(d.name_changed.has_value());
  ASSERT_TRUE(d.version_changed.has_value());
  EXPECT_EQ(d.version_changed->second, "2026-06-01");
}

TEST_F(ManifestDiffTest, TextShowsCountsFirstAndEveryChange) {
  const std::string t = diff_manifests(before_, after_).to_text();
  EXPECT_EQ(t.rfind("1 added, 1 removed, 2 changed, 1 unchanged\n", 0), 0u) << t;
  EXPECT_TRUE(Contains(t, "version: 2026-05-01 -> 2026-06-01")) << t;
  EXPECT_TRUE(Contains(t, "LICENSE CHANGED: Apache-2.0 -> Gemma <https://ai.google.dev/gemma/terms>")) << t;
  EXPECT_TRUE(Contains(t, "+ added    model-3.safetensors  512 B")) << t;
  EXPECT_TRUE(Contains(t, "- removed  tokenizer.json  2.0 KiB")) << t;
  EXPECT_TRUE(Contains(t, "~ changed  model-2.safetensors  size 1000 B -> 1.0 KiB  sha256 ")) << t;
  EXPECT_TRUE(Contains(t, "~ changed  config.json  sha256 " + hex_encode(h("config-1")).substr(0, 12))) << t;
  EXPECT_TRUE(Contains(t, "+ source   huggingface google/gemma @ " + kRevB)) << t;
  EXPECT_TRUE(Contains(t, "- source   huggingface google/gemma @ " + kRevA)) << t;
}

TEST_F(ManifestDiffTest, JsonHasSummaryAndDetails) {
  json j = diff_manifests(before_, after_).to_json();
  EXPECT_EQ(j["summary"], json({{"added", 1}, {"removed", 1}, {"changed", 2}, {"unchanged", 1}}));
  EXPECT_EQ(j["added"][0]["path"], "model-3.safetensors");
  EXPECT_EQ(j["added"][0]["size"], 512);
  EXPECT_EQ(j["added"][0]["sha256"], hex_encode(h("w3")));
  EXPECT_EQ(j["removed"][0]["path"], "tokenizer.json");
  EXPECT_EQ(j["changed"][1]["path"], "model-2.safetensors");
  EXPECT_EQ(j["changed"][1]["before"]["size"], 1000);
  EXPECT_EQ(j["changed"][1]["after"]["size"], 1024);
  EXPECT_EQ(j["changed"][1]["size_changed"], true);
  EXPECT_EQ(j["changed"][0]["size_changed"], false);
  EXPECT_EQ(j["changed"][0]["hash_changed"], true);
  EXPECT_EQ(j["sources"]["added"][0]["revision"], kRevB);
  EXPECT_EQ(j["sources"]["removed"][0]["revision"], kRevA);
  EXPECT_EQ(j["sources"]["reordered"], false);
  EXPECT_EQ(j["license"]["before"], json({{"spdx", "Apache-2.0"}}));
  EXPECT_EQ(j["license"]["after"]["url"], "https://ai.google.dev/gemma/terms");
  EXPECT_TRUE(j["name"].is_null());
  EXPECT_EQ(j["version"]["before"], "2026-05-01");
}

TEST_F(ManifestDiffTest, IdenticalManifestsHaveAnEmptyDiff) {
  ManifestDiff d = diff_manifests(before_, before_);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.unchanged, 4u);
  EXPECT_EQ(d.to_text(), "0 added, 0 removed, 0 changed, 4 unchanged\n");
  EXPECT_TRUE(d.to_json()["license"].is_null());
}

TEST_F(ManifestDiffTest, SourcesReordered) {
  Manifest swapped =
      make("gemma", "2026-05-01", before_.files(), {before_.sources()[1], before_.sources()[0]});
  ManifestDiff d = diff_manifests(before_, swapped);
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(d.sources_reordered);
  EXPECT_TRUE(d.sources_added.empty());
  EXPECT_TRUE(Contains(d.to_text(), "~ sources  same sources, new order")) << d.to_text();
  EXPECT_EQ(d.to_json()["sources"]["reordered"], true);
}

TEST_F(ManifestDiffTest, DisjointFileSetsAndNameChange) {
  Manifest other = make("llama", "1", {{"a", 1, h("a")}, {"z", 1, h("z")}}, {});
  ManifestDiff d = diff_manifests(before_, other);
  EXPECT_EQ(d.added.size(), 2u);
  EXPECT_EQ(d.removed.size(), 4u);
  EXPECT_EQ(d.unchanged, 0u);
  ASSERT_TRUE(d.name_changed.has_value());
  EXPECT_EQ(d.name_changed->first, "gemma");
  EXPECT_EQ(d.sources_removed.size(), 2u);
  EXPECT_TRUE(Contains(d.to_text(), "name:    gemma -> llama")) << d.to_text();
}

// A manifest may list the same source twice (nothing forbids it); dropping the repeat is a
// change of the source list and must be reported, not read past the end of the shorter list.
TEST_F(ManifestDiffTest, RepeatedSourceIsRefusedSoDiffsNeverSeeOne) {
  // A source listed twice is refused when the manifest is made or read, so a diff between
  // "[A, A]" and "[A]" (which once read past the end of the shorter list) cannot arise.
  Source mirror = spec("https://mirror.internal/gemma/");
  Manifest::Fields f;
  f.name = "gemma";
  f.version = "1";
  f.license = {"Apache-2.0", std::nullopt};
  f.files = before_.files();
  f.sources = {mirror, mirror};
  auto twice = Manifest::create(std::move(f));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::kInvalidDocument);
  EXPECT_NE(twice.error().message.find("/sources/1"), std::string::npos) << twice.error().message;
  EXPECT_NE(twice.error().message.find("listed twice"), std::string::npos) << twice.error().message;
}

}  // namespace
}  // namespace countersign
