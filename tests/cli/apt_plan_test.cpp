// Reading apt's output (cli/apt_plan.h): the simulation's Inst/Remv lines, apt-cache show's
// records, apt's error lines, and the request arguments apt is never given unchecked. The
// samples are what apt 2.6 (Debian 12) prints for the repository of tests/tools/make-apt-repo.sh.
#include "cli/apt_plan.h"

#include <gtest/gtest.h>

namespace countersign::cli {
namespace {

constexpr const char* kSimulation = R"(Reading package lists...
Building dependency tree...
The following additional packages will be installed:
  libcs-greet1
The following NEW packages will be installed:
  cs-new
The following packages will be REMOVED:
  cs-old
2 upgraded, 1 newly installed, 1 to remove and 0 not upgraded.
Remv cs-old [1.0-1]
Inst libcs-greet1 [1.0-1] (1.1-1 Countersign-Tests:bookworm-cs [amd64])
Inst cs-hello:amd64 [1:1.0-1] (1:1.1-1 bookworm-cs [amd64]) []
Inst cs-new (1.0-1 bookworm-cs [all])
Conf libcs-greet1 (1.1-1 bookworm-cs [amd64])
Conf cs-hello (1.1-1 bookworm-cs [amd64])
Conf cs-new (1.0-1 bookworm-cs [all])
)";

TEST(AptPlanTest, SimulationGivesEachInstallAndRemovalInOrder) {
  auto actions = parse_simulation(kSimulation);
  ASSERT_TRUE(actions.ok()) << actions.error().message;
  ASSERT_EQ(actions->size(), 4u);
  const auto& rm = (*actions)[0];
  EXPECT_TRUE(rm.remove);
  EXPECT_EQ(rm.name, "cs-old");
  EXPECT_EQ(rm.architecture, "");
  EXPECT_EQ(rm.old_version.value_or("?"), "1.0-1");
  const auto& lib = (*actions)[1];
  EXPECT_FALSE(lib.remove);
  EXPECT_EQ(lib.name, "libcs-greet1");
  EXPECT_EQ(lib.architecture, "amd64");
  EXPECT_EQ(lib.version, "1.1-1");
  EXPECT_EQ(lib.old_version.value_or("?"), "1.0-1");
  // An epoch's colon is not an architecture qualifier; the name's is.
  const auto& hello = (*actions)[2];
  EXPECT_EQ(hello.name, "cs-hello");
  EXPECT_EQ(hello.architecture, "amd64");
  EXPECT_EQ(hello.version, "1:1.1-1");
  EXPECT_EQ(hello.old_version.value_or("?"), "1:1.0-1");
  const auto& fresh = (*actions)[3];
  EXPECT_EQ(fresh.name, "cs-new");
  EXPECT_EQ(fresh.architecture, "all");
  EXPECT_FALSE(fresh.old_version.has_value());
}

TEST(AptPlanTest, SimulationLinesOfAnotherShapeAreRefusedNamingTheLine) {
  for (const char* bad : {"Inst cs-new 1.0-1\n", "Inst cs-new (1.0-1 bookworm-cs)\n", "Remv cs-old\n",
                          "Inst CS_NEW (1.0-1 x [all])\n", "Inst cs-new (five x [all])\n",
                          "Inst cs-new [1.0-1 (1.1-1 x [all])\n", "Inst cs-new (1.0-1 x [AMD64])\n"}) {
    auto r = parse_simulation(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kMalformed);
    EXPECT_NE(r.error().message.find(std::string(bad).substr(0, 8)), std::string::npos) << r.error().message;
  }
  // A control character in apt's output is shown escaped in the error.
  auto r = parse_simulation("Inst cs-new (1.0-1\x1b[2J x [all])\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos);
  EXPECT_NE(r.error().message.find("\\x1b"), std::string::npos);
}

TEST(AptPlanTest, NoActionLinesIsAnEmptyPlan) {
  auto r = parse_simulation("Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

constexpr const char* kShow = R"(Package: cs-hello
Architecture: amd64
Version: 1.1-1
Depends: libcs-greet1 (>= 1.1)
Filename: pool/main/c/cs-hello/cs-hello_1.1-1_amd64.deb
Size: 1084
MD5sum: 3c6098a4d60f5e2e47722ddee5865514
SHA256: 7a6446e2312175b09d1efc63b7d1b7add626e59b369e57421704498829c87b01
Description: cs-hello, a package of the Countersign tests
 Version 1.1-1 of cs-hello.

Package: cs-hello
Status: install ok installed
Architecture: amd64
Version: 1.0-1
Description: the status file's record has no Filename

)";

TEST(AptPlanTest, IndexRecordsGivePoolPathSizeAndHash) {
  auto r = parse_index_records(kShow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const auto& rec = r->front();
  EXPECT_EQ(rec.package, "cs-hello");
  EXPECT_EQ(rec.version, "1.1-1");
  EXPECT_EQ(rec.architecture, "amd64");
  EXPECT_EQ(rec.filename, "pool/main/c/cs-hello/cs-hello_1.1-1_amd64.deb");
  EXPECT_EQ(rec.size, 1084u);
  EXPECT_EQ(hex_encode(rec.sha256), "7a6446e2312175b09d1efc63b7d1b7add626e59b369e57421704498829c87b01");
}

TEST(AptPlanTest, IndexRecordWithoutHashOrWithABadSizeIsRefused) {
  std::string no_hash = kShow;
  no_hash.erase(no_hash.find("SHA256:"),
                no_hash.find('\n', no_hash.find("SHA256:")) - no_hash.find("SHA256:") + 1);
  auto r = parse_index_records(no_hash);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("SHA256"), std::string::npos) << r.error().message;

  std::string bad_size = kShow;
  bad_size.replace(bad_size.find("1084"), 4, "12ab");
  r = parse_index_records(bad_size);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Size"), std::string::npos) << r.error().message;

  std::string short_hash = kShow;
  short_hash.replace(short_hash.find("7a6446"), 6, "7A64");
  r = parse_index_records(short_hash);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("SHA256"), std::string::npos) << r.error().message;
}

TEST(AptPlanTest, AptErrorsPreferErrorLinesOverWarnings) {
  EXPECT_EQ(apt_errors("W: GPG error: x: NO_PUBKEY 1\nE: The repository 'x' is not signed.\n"),
            "The repository 'x' is not signed.");
  EXPECT_EQ(apt_errors("W: only a warning\n"), "only a warning");
  EXPECT_EQ(apt_errors("something else\nsecond\n"), "something else");
  EXPECT_EQ(apt_errors("E: Unable to locate package cs-\x1b[1mnope\n"),
            "Unable to locate package cs-\\x1b[1mnope");
}

TEST(AptPlanTest, RequestArgumentsAreDebianNamesNeverOptions) {
  EXPECT_TRUE(check_request({AptRequest::Kind::kUpgrade, {}}).ok());
  EXPECT_TRUE(
      check_request({AptRequest::Kind::kInstall, {"cs-new", "cs-hello=1.1-1", "libc6:i386=2.36-9"}}).ok());
  EXPECT_TRUE(check_request({AptRequest::Kind::kRemove, {"cs-old", "libfoo1:i386"}}).ok());
  for (const AptRequest& bad : std::vector<AptRequest>{
           {AptRequest::Kind::kInstall, {}},
           {AptRequest::Kind::kInstall, {"-oDir::Etc=/etc"}},
           {AptRequest::Kind::kInstall, {"cs-new/bookworm"}},
           {AptRequest::Kind::kInstall, {"cs-*"}},
           {AptRequest::Kind::kInstall, {"cs-new=one"}},
           {AptRequest::Kind::kInstall, {"cs-new:AMD64"}},
           {AptRequest::Kind::kRemove, {"cs-old=1.0-1"}},
           {AptRequest::Kind::kUpgrade, {"cs-hello"}},
       }) {
    auto r = check_request(bad);
    EXPECT_FALSE(r.ok()) << (bad.packages.empty() ? "(none)" : bad.packages.front());
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(AptPlanTest, VersionsAreComparedByDpkg) {
  const auto cmp = [](const char* a, const char* b) {
    auto r = dpkg_compare_versions(a, b);
    EXPECT_TRUE(r.ok()) << a << " " << b << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : 99;
  };
  EXPECT_LT(cmp("1.0-1", "1.1-1"), 0);
  EXPECT_GT(cmp("1:0.1-1", "9.9-9"), 0);    // the epoch first
  EXPECT_LT(cmp("1.0~rc1-1", "1.0-1"), 0);  // '~' sorts before anything, even the end
  EXPECT_LT(cmp("1.9-1", "1.10-1"), 0);     // digits as numbers
  EXPECT_EQ(cmp("2.0-1", "2.0-1"), 0);
  // Not a version: refused before dpkg sees it.
  auto r = dpkg_compare_versions("--help", "1.0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

TEST(AptPlanTest, RepositoryIsDescribedEscaped) {
  AptRepository repo{"http://127.0.0.1:8080/debian/", "bookworm-cs", {"main", "broken"}, "k.gpg"};
  EXPECT_EQ(repo.describe(), "http://127.0.0.1:8080/debian/ bookworm-cs (main broken)");
  repo.url = "http://x/\x1b[2J";
  EXPECT_EQ(repo.describe().find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace countersign::cli
