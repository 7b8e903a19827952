// Packages manifests (DESIGN.md "Packages manifests") and the box's package list
// (core/box_packages.h): what a planner writes and what the box refuses.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "core/box_packages.h"
#include "core/bundle.h"
#include "core/manifest.h"
#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using countersign::testing::FailsWith;
using nlohmann::json;

const std::string kHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// DESIGN's example, as a planner writes it.
json design_example() {
  return json::parse(R"({
    "schema": "countersign/manifest/v1", "kind": "packages", "name": "box-7f3a-upgrade", "version": "2026-12-02",
    "files": [
      {"path": "pool/main/f/foo/libfoo1_2.0-1_amd64.deb", "size": 1200, "sha256": ")" +
                     kHash + R"("},
      {"path": "pool/main/x/xz-utils/xz-utils_5.4.1-0.2_amd64.deb", "size": 3400, "sha256": ")" +
                     kHash + R"("}
    ],
    "sources": [{"type": "https", "base": "http://deb.debian.org/debian/"}],
    "packages": [
      {"name": "libfoo1", "version": "2.0-1", "architecture": "amd64", "file": "pool/main/f/foo/libfoo1_2.0-1_amd64.deb"},
      {"name": "oldtool", "remove": true, "replaces": "1.2-3"},
      {"name": "xz-utils", "version": "5.4.1-0.2", "architecture": "amd64",
       "file": "pool/main/x/xz-utils/xz-utils_5.4.1-0.2_amd64.deb", "replaces": "5.4.1-0.1"}
    ]})");
}

TEST(PackagesManifestTest, DesignExampleParsesWithItsChangesInOrder) {
  auto m = Manifest::parse(design_example());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->is_packages());
  ASSERT_EQ(m->packages().size(), 3u);
  EXPECT_EQ(m->packages()[0].qualified_name(), "libfoo1:amd64");
  EXPECT_FALSE(m->packages()[0].replaces.has_value());
  EXPECT_TRUE(m->packages()[1].remove);
  EXPECT_EQ(m->packages()[1].qualified_name(), "oldtool");
  EXPECT_EQ(*m->packages()[2].replaces, "5.4.1-0.1");
  // The document round-trips: to_json is what was signed.
  EXPECT_EQ(m->to_json(), design_example());
}

TEST(PackagesManifestTest, CreateSortsPackagesAndARemovalOnlyManifestHasNoFiles) {
  Manifest::Fields f;
  f.kind = "packages";
  f.name = "cleanup";
  f.version = "1";
  PackageChange zzz;
  zzz.name = "zzz";
  zzz.remove = true;
  zzz.replaces = "1.0";
  PackageChange aaa = zzz;
  aaa.name = "aaa";
  aaa.replaces = "2:1.0-1";
  f.packages = {zzz, aaa};
  auto m = Manifest::create(f);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->packages()[0].name, "aaa");
  EXPECT_FALSE(m->to_json().contains("license"));
}

TEST(PackagesManifestTest, RefusesWhatTheBoxCouldNotInstallExactly) {
  struct Case {
    const char* what;
    std::function<void(json&)> change;
    std::array<std::string_view, 2> parts;
  };
  const std::vector<Case> cases = {
      {"unsorted",
       [](json& j) { std::swap(j["packages"][0], j["packages"][2]); },
       {"/packages/1", "sorted by name"}},
      {"listed twice",
       [](json& j) {
         j["packages"][1] = json{{"name", "libfoo1"}, {"remove", true}, {"replaces", "1"}};
       },
       {"/packages/1", "listed twice"}},
      {"unknown file",
       [](json& j) { j["packages"][0]["file"] = "pool/x.deb"; },
       {"/packages/0/file", "not one of the manifest's files"}},
      {"file of nobody",
       [](json& j) { j["packages"].erase(0); },
       {"/files/0/path", "not the file of any package"}},
      {"file named twice",
       [](json& j) { j["packages"][2]["file"] = j["packages"][0]["file"]; },
       {"/packages/2/file", "already the file of \"libfoo1:amd64\""}},
      {"removal with a version",
       [](json& j) { j["packages"][1]["version"] = "1.0"; },
       {"/packages/1/version", "a removal installs no version"}},
      {"removal of nothing",
       [](json& j) { j["packages"][1].erase("replaces"); },
       {"/packages/1/replaces", "version installed now"}},
      {"bad name",
       [](json& j) { j["packages"][0]["name"] = "LibFoo"; },
       {"/packages/0/name", "not a Debian package name"}},
      {"bad version",
       [](json& j) { j["packages"][2]["version"] = "five"; },
       {"/packages/2/version", "not a Debian version"}},
      {"install without architecture",
       [](json& j) { j["packages"][0].erase("architecture"); },
       {"/packages/0/architecture", "required"}},
      {"unknown member",
       [](json& j) { j["packages"][0]["priority"] = "high"; },
       {"/packages/0/priority", ""}},
      {"no packages", [](json& j) { j.erase("packages"); }, {"packages", ""}},
      {"packages in a model",
       [](json& j) {
         j["kind"] = "model";
         j["license"] = {{"spdx", "MIT"}};
       },
       {"/packages", ""}},
  };
  for (const auto& c : cases) {
    json j = design_example();
    c.change(j);
    EXPECT_TRUE(FailsWith(Manifest::parse(j), Errc::kInvalidDocument, {c.parts[0], c.parts[1]})) << c.what;
  }
}

TEST(PackagesManifestTest, DebianVersionsAndNamesFollowPolicy) {
  for (const char* v : {"1", "5.4.1-0.2", "2:1.0~rc1-3+deb12u1", "1.0+dfsg-1~bpo12+1", "0.1-a.b"}) {
    EXPECT_TRUE(is_debian_version(v)) << v;
  }
  for (const char* v : {"", "a1", "1-", ":1", "x:1", "1.0 1", "1_0", "1-a_b"})
    EXPECT_FALSE(is_debian_version(v)) << v;
  for (const char* n : {"xz-utils", "libstdc++6", "g++", "0ad"}) EXPECT_TRUE(is_debian_package_name(n)) << n;
  for (const char* n : {"a", "-x", "Xz", "x_y", "x y"}) EXPECT_FALSE(is_debian_package_name(n)) << n;
}

TEST(PackagesManifestTest, AModelProposalNeverCarriesPackagesNorTheOtherWayRound) {
  json bundle = {{"schema", "countersign/bundle/v1"},
                 {"proposal",
                  {{"schema", "countersign/proposal/v1"},
                   {"domain", "acme"},
                   {"action", "install-model"},
                   {"manifest", "sha256:" + kHash},
                   {"nonce", "AAAAAAAAAAAAAAAAAAAAAA=="},
                   {"created", "2026-12-01T00:00:00Z"},
                   {"expires", "2026-12-08T00:00:00Z"}}},
                 {"manifest", design_example()},
                 {"signatures", json::array()}};
  EXPECT_TRUE(FailsWith(Bundle::parse(bundle), Errc::kInvalidDocument,
                        {"install-model bundle carries a \"packages\" manifest"}));
  bundle["proposal"]["action"] = "install-packages";
  EXPECT_TRUE(Bundle::parse(bundle).ok());
}

constexpr const char* kDpkgQuery =
    "libc6\tamd64\t2.36-9+deb12u4\tinstall ok installed\t\tsame\tlibgcc-s1\t\t\t\tlibc6-dev (<< 2.36)\t\n"
    "base-files\tamd64\t12.4+deb12u5\tinstall ok installed\tyes\t\t\t\t\t\t\tbase\n"
    "oldconf\tall\t1.0\tdeinstall ok config-files\t\t\t\t\t\t\t\t\n"
    "gone\t\t\tunknown ok not-installed\t\t\t\t\t\t\t\t\n";

TEST(BoxPackagesTest, ReadsDpkgQueryAndWritesAStatusFileForApt) {
  auto b = BoxPackages::from_dpkg_query(kDpkgQuery, "box-7f3a", 1'764'000'000);
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(b->packages().size(), 3u);             // "gone" has no version: nothing is installed
  EXPECT_EQ(b->packages()[0].name, "base-files");  // sorted
  EXPECT_TRUE(b->packages()[0].essential);
  ASSERT_NE(b->installed("libc6", "amd64"), nullptr);
  EXPECT_EQ(b->installed("libc6", "")->version, "2.36-9+deb12u4");
  EXPECT_EQ(b->installed("oldconf", ""), nullptr);  // only its configuration files are left
  std::string status = b->to_dpkg_status();
  EXPECT_NE(
      status.find("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n"
                  "Depends: libgcc-s1\nBreaks: libc6-dev (<< 2.36)\nVersion: 2.36-9+deb12u4\n\n"),
      std::string::npos)
      << status;
  auto again = BoxPackages::parse_text(b->to_json().dump());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->to_json(), b->to_json());
}

TEST(BoxPackagesTest, RefusesFieldsThatCouldInjectAStanza) {
  auto b = BoxPackages::from_dpkg_query(kDpkgQuery, "box-7f3a", 1'764'000'000);
  ASSERT_TRUE(b.ok());
  json j = b->to_json();
  j["packages"][1]["depends"] = "libgcc-s1\nPackage: evil";
  EXPECT_TRUE(FailsWith(BoxPackages::parse(j), Errc::kInvalidDocument, {"/packages/1/depends"}));
  j = b->to_json();
  j["packages"][1]["status"] = "install ok";
  EXPECT_TRUE(
      FailsWith(BoxPackages::parse(j), Errc::kInvalidDocument, {"/packages/1/status", "three words"}));
  EXPECT_TRUE(FailsWith(BoxPackages::from_dpkg_query("libc6\tamd64\n", "b", 0), Errc::kInvalidDocument,
                        {"line 1", "fields"}));
}

}  // namespace
}  // namespace countersign
