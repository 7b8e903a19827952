// system/packages.h: what `countersign-system packages install` checks of a plan against the
// box's dpkg database before and after dpkg, and the command lines it runs.
#include "system/packages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace countersign::daemon {
namespace {

using nlohmann::json;

const std::string kHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kHello = "pool/main/c/cs-hello/cs-hello_1.1-1_amd64.deb";
const std::string kNew = "pool/main/c/cs-new/cs-new_1.0-1_all.deb";

// An upgrade (cs-hello 1.0-1 -> 1.1-1), a new install (cs-new) and a removal (cs-old).
Manifest plan() {
  auto m = Manifest::parse(json::parse(R"({
    "schema": "countersign/manifest/v1", "kind": "packages", "name": "box-upgrade", "version": "1",
    "files": [{"path": ")" + kHello + R"(", "size": 10, "sha256": ")" +
                                       kHash + R"("},
              {"path": ")" + kNew + R"(", "size": 10, "sha256": ")" +
                                       kHash + R"("}],
    "sources": [{"type": "https", "base": "http://deb.example/debian/"}],
    "packages": [
      {"name": "cs-hello", "version": "1.1-1", "architecture": "amd64", "file": ")" +
                                       kHello +
                                       R"(", "replaces": "1.0-1"},
      {"name": "cs-new", "version": "1.0-1", "architecture": "all", "file": ")" +
                                       kNew + R"("},
      {"name": "cs-old", "remove": true, "replaces": "1.0-1"}
    ]})"));
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

InstalledPackage pkg(std::string name, std::string arch, std::string version,
                     std::string status = "install ok installed", bool essential = false) {
  InstalledPackage p;
  p.name = std::move(name);
  p.architecture = std::move(arch);
  p.version = std::move(version);
  p.status = std::move(status);
  p.essential = essential;
  return p;
}

BoxPackages box(std::vector<InstalledPackage> list) {
  auto b = BoxPackages::create({"box-7f3a", 0, std::move(list)});
  EXPECT_TRUE(b.ok()) << b.error().message;
  return *b;
}

BoxPackages before() {
  return box(
      {pkg("cs-hello", "amd64", "1.0-1"), pkg("cs-old", "all", "1.0-1"), pkg("libc6", "amd64", "2.36-9")});
}

TEST(PackagesPlan, AppliesToTheStateItWasMadeFor) { EXPECT_EQ(plan_problem(plan(), before()), std::nullopt); }

TEST(PackagesPlan, RefusesAChangedBoxNamingThePackage) {
  auto newer = box({pkg("cs-hello", "amd64", "1.2-1"), pkg("cs-old", "all", "1.0-1")});
  auto why = plan_problem(plan(), newer);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why,
            "cs-hello:amd64: the plan replaces 1.0-1, the box has 1.2-1 installed (the box changed since "
            "planning)");

  auto missing = box({pkg("cs-old", "all", "1.0-1")});
  why = plan_problem(plan(), missing);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("cs-hello:amd64: the plan replaces 1.0-1, but it is not installed"), std::string::npos)
      << *why;

  auto has_new =
      box({pkg("cs-hello", "amd64", "1.0-1"), pkg("cs-new", "all", "0.9-1"), pkg("cs-old", "all", "1.0-1")});
  why = plan_problem(plan(), has_new);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("cs-new:all: the plan installs it new, but 0.9-1 is installed"), std::string::npos)
      << *why;

  // Only configuration files left: not installed, so a `replaces` does not match.
  auto config_only =
      box({pkg("cs-hello", "amd64", "1.0-1"), pkg("cs-old", "all", "1.0-1", "deinstall ok config-files")});
  why = plan_problem(plan(), config_only);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("cs-old: the plan replaces 1.0-1, but it is not installed"), std::string::npos) << *why;
}

TEST(PackagesPlan, RefusesToRemoveAnEssentialPackage) {
  auto essential =
      box({pkg("cs-hello", "amd64", "1.0-1"), pkg("cs-old", "all", "1.0-1", "install ok installed", true)});
  auto why = plan_problem(plan(), essential);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, "cs-old: is an Essential package (dpkg Essential: yes); a plan may not remove it");
}

TEST(PackagesResult, EqualsThePlanOrNamesTheDifference) {
  const auto was = before();
  auto good = box(
      {pkg("cs-hello", "amd64", "1.1-1"), pkg("cs-new", "all", "1.0-1"), pkg("libc6", "amd64", "2.36-9")});
  EXPECT_EQ(result_problem(plan(), good, &was), std::nullopt);
  EXPECT_EQ(result_problem(plan(), good, nullptr), std::nullopt);

  struct Case {
    std::vector<InstalledPackage> after;
    std::string says;
  };
  for (const auto& [after, says] : std::vector<Case>{
           {{pkg("cs-hello", "amd64", "1.0-1"), pkg("cs-new", "all", "1.0-1"),
             pkg("libc6", "amd64", "2.36-9")},
            "cs-hello:amd64: 1.0-1 is installed after dpkg; the plan approved 1.1-1"},
           {{pkg("cs-hello", "amd64", "1.1-1", "install ok half-configured"), pkg("cs-new", "all", "1.0-1"),
             pkg("libc6", "amd64", "2.36-9")},
            "cs-hello:amd64: not installed after dpkg"},
           {{pkg("cs-hello", "amd64", "1.1-1", "hold ok installed"), pkg("cs-new", "all", "1.0-1"),
             pkg("libc6", "amd64", "2.36-9")},
            "cs-hello:amd64: its status is \"hold ok installed\", not \"install ok installed\""},
           {{pkg("cs-hello", "amd64", "1.1-1"), pkg("libc6", "amd64", "2.36-9")},
            "cs-new:all: not installed after dpkg; the plan installs 1.0-1"},
           {{pkg("cs-hello", "amd64", "1.1-1"), pkg("cs-new", "all", "1.0-1"), pkg("cs-old", "all", "1.0-1"),
             pkg("libc6", "amd64", "2.36-9")},
            "cs-old: still installed (1.0-1); the plan removes it"},
           {{pkg("cs-hello", "amd64", "1.1-1"), pkg("cs-new", "all", "1.0-1"),
             pkg("libc6", "amd64", "2.37-1")},
            "libc6:amd64: changed from 2.36-9 (install ok installed) to 2.37-1 (install ok installed); the "
            "plan "
            "does not name it"},
           {{pkg("cs-hello", "amd64", "1.1-1"), pkg("cs-new", "all", "1.0-1")},
            "libc6:amd64: was 2.36-9 and is gone; the plan does not name it"},
           {{pkg("cs-evil", "amd64", "6.6-6"), pkg("cs-hello", "amd64", "1.1-1"),
             pkg("cs-new", "all", "1.0-1"), pkg("libc6", "amd64", "2.36-9")},
            "cs-evil:amd64: appeared (6.6-6, install ok installed); the plan does not name it"},
       }) {
    auto why = result_problem(plan(), box(after), &was);
    ASSERT_TRUE(why.has_value()) << says;
    EXPECT_NE(why->find(says), std::string::npos) << *why;
  }
}

TEST(PackagesChanges, ListOldAndNewWithNullForNone) {
  EXPECT_EQ(package_changes_json(plan()), json::parse(R"([
    {"name": "cs-hello", "architecture": "amd64", "old": "1.0-1", "new": "1.1-1"},
    {"name": "cs-new", "architecture": "all", "old": null, "new": "1.0-1"},
    {"name": "cs-old", "architecture": null, "old": "1.0-1", "new": null}])"));
}

TEST(PackagesDebFields, MustBeTheManifestsEntry) {
  const Manifest m = plan();
  const PackageChange& hello = m.packages()[0];
  EXPECT_EQ(deb_fields_problem("Package: cs-hello\nVersion: 1.1-1\nArchitecture: amd64\n", hello),
            std::nullopt);
  auto evil = deb_fields_problem("Package: cs-evil\nVersion: 1.1-1\nArchitecture: amd64\n", hello);
  ASSERT_TRUE(evil.has_value());
  EXPECT_EQ(*evil, kHello + " is Package cs-evil, the manifest says cs-hello");
  auto arch = deb_fields_problem("Package: cs-hello\nVersion: 1.1-1\nArchitecture: i386\n", hello);
  ASSERT_TRUE(arch.has_value());
  EXPECT_NE(arch->find("is Architecture i386, the manifest says amd64"), std::string::npos) << *arch;
  auto none = deb_fields_problem("Package: cs-hello\nArchitecture: amd64\n", hello);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, kHello + " has no Version field");
  // What dpkg-deb printed is shown escaped.
  auto ctl = deb_fields_problem("Package: cs-\x1b[2Jhello\nVersion: 1.1-1\nArchitecture: amd64\n", hello);
  ASSERT_TRUE(ctl.has_value());
  EXPECT_EQ(ctl->find('\x1b'), std::string::npos) << *ctl;
}

TEST(PackagesCommands, AreFixedArgvVectors) {
  EXPECT_EQ(
      dpkg_install_command("/srv/root", {"/a.deb", "/b.deb"}),
      (std::vector<std::string>{"dpkg", "--root=/srv/root", "--log=/srv/root/var/log/dpkg.log",
                                "--force-confdef", "--force-confold", "--install", "/a.deb", "/b.deb"}));
  EXPECT_EQ(dpkg_remove_command("/srv/root", {"cs-old"}),
            (std::vector<std::string>{"dpkg", "--root=/srv/root", "--log=/srv/root/var/log/dpkg.log",
                                      "--remove", "cs-old"}));
  EXPECT_EQ(
      dpkg_deb_fields_command("/x.deb"),
      (std::vector<std::string>{"dpkg-deb", "--field", "/x.deb", "Package", "Version", "Architecture"}));
}

}  // namespace
}  // namespace countersign::daemon
