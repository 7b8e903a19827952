// `countersign packages plan` and the packages views of `manifest show` with real
// components: the signed local repository of tests/tools/make-apt-repo.sh served by nginx on
// 127.0.0.1, apt-get and apt-cache in the command's private directory, dpkg-deb and gzip for
// the changelogs. The box's package list is the repository's version-1 state (v1/) plus an
// Essential dpkg. Nothing here reads or writes this machine's /etc/apt or /var/lib/dpkg.
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/apt_plan.h"
#include "core/box_packages.h"
#include "core/fileio.h"
#include "core/manifest.h"
#include "core/packages_review.h"
#include "core/sha256.h"
#include "core/software_key.h"
#include "system/command.h"
#include "tests/cli/cli_test_util.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/nginx_fixture.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

namespace fs = std::filesystem;
using test_util::contains;
using test_util::run_cli;

constexpr UnixTime kNow = 1764590400;  // 2025-12-01T12:00:00Z
Clock fixed_clock() {
  return [] { return kNow; };
}

// One repository and one nginx for the whole suite: building the packages takes seconds.
struct Repo {
  std::unique_ptr<test_util::TempDir> dir;
  std::unique_ptr<test_util::NginxFixture> nginx;
  std::string arch;
  std::string why_not;  // non-empty: the environment cannot run these tests
};
Repo* g_repo = nullptr;

class PackagesCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                          crypto_pwhash_argon2id_MEMLIMIT_MIN);
    g_repo = new Repo;
    Repo& r = *g_repo;
    for (const char* tool : {"apt-get", "apt-cache", "apt-ftparchive", "dpkg-deb", "gpg", "gzip", "bash"}) {
      if (!daemon::find_program(tool).ok()) {
        r.why_not = std::string(tool) + " is not installed";
        return;
      }
    }
    r.dir = std::make_unique<test_util::TempDir>("packages-cli");
    const std::string script = std::string(COUNTERSIGN_TEST_DATA) + "/../tools/make-apt-repo.sh";
    daemon::CommandOptions opts;
    opts.timeout_seconds = 300;
    auto made = daemon::run_command({"bash", script, r.dir->file("out")}, opts);
    if (!made.ok() || made->status != 0) {
      r.why_not = "make-apt-repo.sh failed: " + (made.ok() ? made->err : made.error().message);
      return;
    }
    auto arch = daemon::run_command({"dpkg", "--print-architecture"});
    if (!arch.ok() || arch->status != 0) {
      r.why_not = "dpkg --print-architecture failed";
      return;
    }
    r.arch = daemon::first_line(arch->out);
    r.nginx = std::make_unique<test_util::NginxFixture>();
    if (!r.nginx->running()) {
      r.why_not = "nginx: " + r.nginx->skip_reason();
      return;
    }
    fs::copy(r.dir->file("out/repo"), r.nginx->root() / "repo", fs::copy_options::recursive);
    fs::copy(r.dir->file("out/tampered"), r.nginx->root() / "tampered", fs::copy_options::recursive);
    // A Release changed after signing: its clearsigned text no longer matches the signature.
    fs::copy(r.dir->file("out/repo"), r.nginx->root() / "badrelease", fs::copy_options::recursive);
    const fs::path in_release = r.nginx->root() / "badrelease/dists/bookworm-cs/InRelease";
    std::string text = test_util::slurp(in_release);
    const auto at = text.find("Origin: Countersign-Tests");
    if (at == std::string::npos) {
      r.why_not = "InRelease has no Origin line";
      return;
    }
    text.replace(at, 25, "Origin: Countersign-Testz");
    test_util::spit(in_release, text);
  }
  static void TearDownTestSuite() {
    delete g_repo;
    g_repo = nullptr;
  }

  void SetUp() override {
    CS_REQUIRE_OR_SKIP(g_repo->why_not.empty(), g_repo->why_not);
    work_ = std::make_unique<test_util::TempDir>("packages-plan");
    // The box before the upgrade: the repository's v1/ packages, and dpkg (Essential).
    BoxPackages::Fields f;
    f.box = "box-7f3a";
    f.time = kNow;
    const std::string& a = g_repo->arch;
    const auto pkg = [](std::string name, std::string arch, std::string version) {
      InstalledPackage p;
      p.name = std::move(name);
      p.architecture = std::move(arch);
      p.version = std::move(version);
      p.status = "install ok installed";
      return p;
    };
    f.packages.push_back(pkg("libcs-greet1", a, "1.0-1"));
    f.packages.back().multi_arch = "same";
    f.packages.push_back(pkg("cs-hello", a, "1.0-1"));
    f.packages.back().depends = "libcs-greet1 (>= 1.0)";
    for (const char* n : {"cs-scripted", "cs-old", "cs-doc", "cs-broken"})
      f.packages.push_back(pkg(n, "all", "1.0-1"));
    f.packages.push_back(pkg("dpkg", a, "1.21.22"));
    f.packages.back().essential = true;
    auto box = BoxPackages::create(std::move(f));
    ASSERT_TRUE(box.ok()) << box.error().message;
    test_util::spit(box_file(), to_pretty_json(box->to_json()));
  }

  std::string box_file() const { return work_->file("box-packages.json"); }
  std::string out(const std::string& name) const { return work_->file(name); }
  static std::string repo_url(const std::string& dir = "repo") {
    return g_repo->nginx->base_url() + dir + "/";
  }
  static std::string keyring(const std::string& name = "keyring.gpg") {
    return g_repo->dir->file("out/" + name);
  }

  // `countersign packages plan` against the served repository, then `extra`.
  test_util::CliRun plan(const std::vector<std::string>& extra, const std::string& dir = "repo",
                         const std::string& key = "keyring.gpg") const {
    std::vector<std::string> args{"packages",    "plan",      "--box-status", box_file(), "--repo",
                                  repo_url(dir), "--keyring", keyring(key),   "--suite",  "bookworm-cs"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, fixed_clock());
  }

  // The .deb of the repository at `pool_path`, as nginx serves it.
  static std::string deb(const std::string& pool_path) {
    return (g_repo->nginx->root() / "repo" / pool_path).string();
  }

  std::unique_ptr<test_util::TempDir> work_;
};

const PackageChange* find_change(const Manifest& m, const std::string& name) {
  for (const auto& c : m.packages()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

TEST_F(PackagesCliTest, UpgradeAndNewInstallListExactlyTheRepositorysFiles) {
  auto r = plan({"--install", "cs-hello", "--install", "cs-new", "-o", out("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->is_packages());
  EXPECT_EQ(m->name(), "box-7f3a-packages");
  EXPECT_EQ(m->version(), "2025-12-01T12:00:00Z");
  ASSERT_EQ(m->sources().size(), 1u);
  EXPECT_EQ(m->sources()[0].base, repo_url());
  // apt's solver adds the library cs-hello 1.1-1 depends on; nothing else.
  ASSERT_EQ(m->packages().size(), 3u) << test_util::slurp(out("m.json"));
  const auto* hello = find_change(*m, "cs-hello");
  const auto* lib = find_change(*m, "libcs-greet1");
  const auto* fresh = find_change(*m, "cs-new");
  ASSERT_TRUE(hello && lib && fresh);
  EXPECT_EQ(hello->version, "1.1-1");
  EXPECT_EQ(hello->replaces.value_or("none"), "1.0-1");
  EXPECT_EQ(hello->architecture, g_repo->arch);
  EXPECT_EQ(lib->version, "1.1-1");
  EXPECT_EQ(lib->replaces.value_or("none"), "1.0-1");
  EXPECT_EQ(fresh->version, "1.0-1");
  EXPECT_EQ(fresh->architecture, "all");
  EXPECT_FALSE(fresh->replaces.has_value());
  EXPECT_EQ(fresh->file, "pool/main/c/cs-new/cs-new_1.0-1_all.deb");
  // Each file's size and SHA-256 are those of the .deb the repository serves.
  ASSERT_EQ(m->files().size(), 3u);
  for (const auto& f : m->files()) {
    EXPECT_EQ(f.size, fs::file_size(deb(f.path))) << f.path;
    auto d = sha256_file(deb(f.path));
    ASSERT_TRUE(d.ok()) << f.path;
    EXPECT_EQ(f.sha256, *d) << f.path;
  }
  EXPECT_TRUE(contains(r.err, "upgrade cs-hello:" + g_repo->arch + " 1.0-1 -> 1.1-1")) << r;
  EXPECT_TRUE(contains(r.err, "install cs-new:all 1.0-1 (new)")) << r;
}

TEST_F(PackagesCliTest, UpgradeTakesEveryNewerVersionOfTheGivenComponents) {
  auto r = plan({"--upgrade", "-o", out("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::vector<std::string> got;
  for (const auto& c : m->packages()) got.push_back(c.name + "=" + c.version);
  // cs-broken 2.0-1 is only in component "broken", not asked for; cs-new is not installed.
  EXPECT_EQ(got, (std::vector<std::string>{"cs-doc=1.1-1", "cs-hello=1.1-1", "cs-scripted=2.0-1",
                                           "libcs-greet1=1.1-1"}));
  // With the component "broken" as well, its cs-broken 2.0-1 is an upgrade too.
  r = plan({"--upgrade", "--component", "main", "--component", "broken", "-o", out("m2.json")});
  ASSERT_EQ(r.rc, 0) << r;
  m = Manifest::parse_text(test_util::slurp(out("m2.json")));
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto* broken = find_change(*m, "cs-broken");
  ASSERT_NE(broken, nullptr) << test_util::slurp(out("m2.json"));
  EXPECT_EQ(broken->version, "2.0-1");
  EXPECT_EQ(broken->file, "pool/broken/c/cs-broken/cs-broken_2.0-1_all.deb");
  EXPECT_EQ(m->packages().size(), 5u);
}

TEST_F(PackagesCliTest, ReviewCarriesTheChangelogEntriesBetweenTheVersions) {
  auto r =
      plan({"--install", "cs-hello", "--install", "cs-new", "-o", out("m.json"), "--review", out("r.json")});
  ASSERT_EQ(r.rc, 0) << r;
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok());
  auto review = PackagesReview::parse_text(test_util::slurp(out("r.json")));
  ASSERT_TRUE(review.ok()) << review.error().message;
  EXPECT_EQ(review->manifest(), m->hash());
  const auto* hello = review->find("cs-hello", g_repo->arch);
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->old_version.value_or(""), "1.0-1");
  EXPECT_EQ(hello->new_version, "1.1-1");
  ASSERT_EQ(hello->changelog.size(), 1u);  // 1.1-1 only: 1.0-1 is what the box has
  EXPECT_EQ(hello->changelog[0].version, "1.1-1");
  EXPECT_EQ(hello->changelog[0].distribution, "bookworm; urgency=medium");
  EXPECT_TRUE(contains(hello->changelog[0].text, "New upstream release: greets in French as well."));
  const auto* fresh = review->find("cs-new", "all");
  ASSERT_NE(fresh, nullptr);
  ASSERT_EQ(fresh->changelog.size(), 1u);
  EXPECT_TRUE(contains(fresh->changelog[0].text, "Initial release."));
}

TEST_F(PackagesCliTest, ManifestShowWithTheReviewNamesTheChangelogEntries) {
  auto r =
      plan({"--install", "cs-hello", "--install", "cs-new", "-o", out("m.json"), "--review", out("r.json")});
  ASSERT_EQ(r.rc, 0) << r;
  auto shown = run_cli({"manifest", "show", "--review", out("r.json"), out("m.json")}, fixed_clock());
  ASSERT_EQ(shown.rc, 0) << shown;
  EXPECT_TRUE(contains(shown.out, "Packages  box-7f3a-packages")) << shown;
  EXPECT_FALSE(contains(shown.out, "Model ")) << shown;
  EXPECT_FALSE(contains(shown.out, "Installs  models/")) << shown;
  EXPECT_TRUE(contains(shown.out, "2 upgraded, 1 new, 0 removed")) << shown;
  const std::string hello = "upgrade  cs-hello:" + g_repo->arch + "  1.0-1 -> 1.1-1\n";
  ASSERT_TRUE(contains(shown.out, hello)) << shown;
  // The entry is under its package, before the next package's line.
  const auto at = shown.out.find(hello);
  const auto entry = shown.out.find("1.1-1  bookworm; urgency=medium", at);
  const auto text = shown.out.find("* New upstream release: greets in French as well.", at);
  const auto next = shown.out.find("install  cs-new:all  1.0-1 (new)", at);
  EXPECT_LT(entry, next) << shown;
  EXPECT_LT(text, next) << shown;
  EXPECT_TRUE(contains(shown.out, "* Initial release.")) << shown;
  // Without the review: the changes, no changelog.
  shown = run_cli({"manifest", "show", out("m.json")}, fixed_clock());
  ASSERT_EQ(shown.rc, 0) << shown;
  EXPECT_TRUE(contains(shown.out, hello)) << shown;
  EXPECT_FALSE(contains(shown.out, "New upstream release")) << shown;
  // --json carries the review beside the manifest.
  shown = run_cli({"manifest", "show", "--json", "--review", out("r.json"), out("m.json")}, fixed_clock());
  ASSERT_EQ(shown.rc, 0) << shown;
  auto j = nlohmann::json::parse(shown.out);
  EXPECT_EQ(j["review"]["schema"], "countersign/packages-review/v1");
}

TEST_F(PackagesCliTest, ReviewOfAnotherManifestIsRefused) {
  ASSERT_EQ(plan({"--install", "cs-new", "-o", out("a.json"), "--review", out("ra.json")}).rc, 0);
  ASSERT_EQ(plan({"--install", "cs-hello", "-o", out("b.json")}).rc, 0);
  auto shown = run_cli({"manifest", "show", "--review", out("ra.json"), out("b.json")}, fixed_clock());
  EXPECT_EQ(shown.rc, 2) << shown;
  EXPECT_TRUE(contains(shown.err, "is the review of manifest")) << shown;
  EXPECT_TRUE(shown.out.empty()) << shown;
  auto diffed =
      run_cli({"manifest", "diff", "--review", out("ra.json"), out("a.json"), out("b.json")}, fixed_clock());
  EXPECT_EQ(diffed.rc, 2) << diffed;
}

TEST_F(PackagesCliTest, ManifestDiffOfTwoPlansShowsPackagesNotPoolPaths) {
  ASSERT_EQ(plan({"--install", "cs-new", "--install", "cs-doc", "-o", out("a.json")}).rc, 0);
  ASSERT_EQ(
      plan({"--install", "cs-hello", "--install", "cs-doc", "-o", out("b.json"), "--review", out("rb.json")})
          .rc,
      0);
  auto d =
      run_cli({"manifest", "diff", "--review", out("rb.json"), out("a.json"), out("b.json")}, fixed_clock());
  ASSERT_EQ(d.rc, 0) << d;
  EXPECT_TRUE(contains(d.out, "- cs-new:all  install 1.0-1 (new)  (no longer in the plan)")) << d;
  EXPECT_TRUE(contains(d.out, "+ cs-hello:" + g_repo->arch + "  upgrade 1.0-1 -> 1.1-1")) << d;
  // The same in both: not a difference (it is only in what the new manifest changes).
  EXPECT_FALSE(contains(d.out, "+ cs-doc")) << d;
  EXPECT_FALSE(contains(d.out, "- cs-doc")) << d;
  EXPECT_FALSE(contains(d.out, "~ cs-doc")) << d;
  EXPECT_TRUE(contains(d.out, "3 package entries differ")) << d;
  EXPECT_TRUE(contains(d.out, "New upstream release: greets in French as well.")) << d;
  d = run_cli({"manifest", "diff", "--json", out("a.json"), out("b.json")}, fixed_clock());
  ASSERT_EQ(d.rc, 0) << d;
  auto j = nlohmann::json::parse(d.out);
  EXPECT_EQ(j["packages"].size(), 3u);  // cs-hello, libcs-greet1 added; cs-new dropped
}

TEST_F(PackagesCliTest, BundleVerifyDescribesAPackagesBundleInWords) {
  ASSERT_EQ(plan({"--install", "cs-hello", "--remove", "cs-old", "-o", out("m.json")}).rc,
            2);  // one mode only
  ASSERT_EQ(plan({"--install", "cs-hello", "-o", out("m.json")}).rc, 0);
  test_util::spit(out("pass.txt"), "correct horse battery staple\n");
  auto k = run_cli({"key", "generate", "-o", out("alice.key"), "--passphrase-file", out("pass.txt")},
                   fixed_clock());
  ASSERT_EQ(k.rc, 0) << k;
  auto pol = run_cli({"policy", "create", "--domain", "acme-prod", "--approver", "alice:" + out("alice.key"),
                      "--rule", "install-packages=1", "-o", out("policy.json")},
                     fixed_clock());
  ASSERT_EQ(pol.rc, 0) << pol;
  // A model action never approves a packages manifest.
  auto wrong = run_cli({"proposal", "create", "--domain", "acme-prod", "--action", "install-model",
                        "--manifest", out("m.json"), "--expires", "7d", "-o", out("wrong.json")},
                       fixed_clock());
  EXPECT_EQ(wrong.rc, 2) << wrong;
  EXPECT_TRUE(contains(wrong.err, "install-model approves only \"model\" manifests")) << wrong;
  EXPECT_FALSE(fs::exists(out("wrong.json")));
  auto prop = run_cli({"proposal", "create", "--domain", "acme-prod", "--action", "install-packages",
                       "--manifest", out("m.json"), "--expires", "7d", "-o", out("proposal.json")},
                      fixed_clock());
  ASSERT_EQ(prop.rc, 0) << prop;
  auto sig = run_cli({"sign", "--key", out("alice.key"), "--passphrase-file", out("pass.txt"), "--signer",
                      "alice", "-o", out("alice.sig"), out("proposal.json")},
                     fixed_clock());
  ASSERT_EQ(sig.rc, 0) << sig;
  auto b = run_cli({"bundle", "assemble", "--proposal", out("proposal.json"), "--manifest", out("m.json"),
                    out("alice.sig"), "-o", out("bundle.json")},
                   fixed_clock());
  ASSERT_EQ(b.rc, 0) << b;
  auto v = run_cli({"bundle", "verify", "--policy", out("policy.json"), out("bundle.json")}, fixed_clock());
  EXPECT_EQ(v.rc, 0) << v;
  EXPECT_TRUE(contains(
      v.out, "Packages box-7f3a-packages 2025-12-01T12:00:00Z: Debian packages changed on the box\n"))
      << v;
  EXPECT_TRUE(contains(v.out, "upgrade  cs-hello:" + g_repo->arch + "  1.0-1 -> 1.1-1\n")) << v;
  EXPECT_FALSE(contains(v.out, "Manifest box-7f3a-packages")) << v;
}

TEST_F(PackagesCliTest, LocalFileRepositoryIsReviewedFromItsOwnFiles) {
  // apt's file: method leaves the .debs where they are (no copy in the cache).
  const std::string url = "file://" + g_repo->dir->file("out/repo") + "/";
  auto r = run_cli(
      {"packages", "plan", "--box-status", box_file(), "--repo", url, "--keyring", keyring(), "--suite",
       "bookworm-cs", "--install", "cs-hello", "-o", out("m.json"), "--review", out("r.json")},
      fixed_clock());
  ASSERT_EQ(r.rc, 0) << r;
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->sources().size(), 1u);
  EXPECT_EQ(m->sources()[0].type, Source::Type::kFile);
  auto review = PackagesReview::parse_text(test_util::slurp(out("r.json")));
  ASSERT_TRUE(review.ok()) << review.error().message;
  const auto* hello = review->find("cs-hello", g_repo->arch);
  ASSERT_NE(hello, nullptr);
  ASSERT_EQ(hello->changelog.size(), 1u);
  EXPECT_EQ(hello->changelog[0].version, "1.1-1");
}

TEST_F(PackagesCliTest, PrivateAptReadsNothingOfThisMachinesConfiguration) {
  auto box = BoxPackages::parse_text(test_util::slurp(box_file()));
  ASSERT_TRUE(box.ok());
  std::string dir;
  {
    auto apt = cli::AptSandbox::create(*box, {repo_url(), "bookworm-cs", {"main"}, keyring()});
    ASSERT_TRUE(apt.ok()) << apt.error().message;
    dir = apt->directory();
    daemon::CommandOptions opts;
    opts.environment =
        std::vector<std::string>{"PATH=/usr/bin:/bin", "LC_ALL=C", "APT_CONFIG=" + dir + "/apt.conf"};
    auto dump = daemon::run_command({"apt-config", "dump"}, opts);
    ASSERT_TRUE(dump.ok());
    ASSERT_EQ(dump->status, 0) << dump->err;
    // Whatever /etc/apt/apt.conf.d holds on this machine, none of it is read.
    EXPECT_FALSE(contains(dump->out, "/etc/apt")) << dump->out;
    EXPECT_TRUE(contains(dump->out, "Dir::Etc::main \"/dev/null\";")) << dump->out;
    EXPECT_TRUE(contains(dump->out, "Dir::Etc::parts \"/dev/null\";")) << dump->out;
    // Debian's own apt.conf.d/01autoremove, where this machine has it, sets APT::NeverAutoRemove.
    if (fs::exists("/etc/apt/apt.conf.d/01autoremove")) {
      EXPECT_FALSE(contains(dump->out, "NeverAutoRemove")) << dump->out;
    }
    EXPECT_TRUE(contains(dump->out, "Dir::State::status \"" + dir + "/status\";")) << dump->out;
    EXPECT_TRUE(contains(dump->out, "APT::Architecture \"" + g_repo->arch + "\";")) << dump->out;
    EXPECT_TRUE(contains(test_util::slurp(dir + "/status"), "Package: cs-hello\n")) << dir;
  }
  EXPECT_FALSE(fs::exists(dir)) << "the private directory outlived the plan";
}

TEST_F(PackagesCliTest, WrongKeyringIsRefusedNamingTheRepositoryAndWritesNothing) {
  auto r = plan({"--upgrade", "-o", out("m.json")}, "repo", "other-keyring.gpg");
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, repo_url())) << r;
  EXPECT_TRUE(contains(r.err, "could not be verified")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
}

TEST_F(PackagesCliTest, ReleaseChangedAfterSigningIsRefused) {
  auto r = plan({"--upgrade", "-o", out("m.json")}, "badrelease");
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, repo_url("badrelease"))) << r;
  EXPECT_TRUE(contains(r.err, "could not be verified")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
}

TEST_F(PackagesCliTest, TamperedDebIsRefusedWhenTheReviewDownloadsIt) {
  // The index (signed) is intact; the .deb is not: apt checks the download against the index.
  auto r = plan({"--install", "cs-hello", "-o", out("m.json"), "--review", out("r.json")}, "tampered");
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "does not match the signed index")) << r;
  EXPECT_TRUE(contains(r.err, "cs-hello_1.1-1_" + g_repo->arch + ".deb")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
  EXPECT_FALSE(fs::exists(out("r.json")));
}

TEST_F(PackagesCliTest, PackageThatDoesNotExistIsNamed) {
  auto r = plan({"--install", "cs-nosuch", "-o", out("m.json")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "cs-nosuch")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
  r = plan({"--install", "cs-new=9.9-9", "-o", out("m.json")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "9.9-9")) << r;
}

TEST_F(PackagesCliTest, RemovalOfAnEssentialPackageIsRefused) {
  auto r = plan({"--remove", "dpkg", "-o", out("m.json")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "Essential package dpkg")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
}

TEST_F(PackagesCliTest, RemovalIsRecordedWithTheVersionItReplaces) {
  auto r = plan({"--remove", "cs-old", "-o", out("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->packages().size(), 1u);
  EXPECT_TRUE(m->packages()[0].remove);
  EXPECT_EQ(m->packages()[0].replaces.value_or(""), "1.0-1");
  EXPECT_TRUE(m->files().empty());
}

TEST_F(PackagesCliTest, ExistingOutputIsReplacedOnSuccessAndKeptOnFailure) {
  test_util::spit(out("m.json"), "old contents\n");
  auto r = plan({"--remove", "dpkg", "-o", out("m.json")});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_EQ(test_util::slurp(out("m.json")), "old contents\n");
  r = plan({"--remove", "cs-old", "-o", out("m.json")});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_TRUE(Manifest::parse_text(test_util::slurp(out("m.json"))).ok());
}

TEST_F(PackagesCliTest, JsonOutputForScripts) {
  auto r = plan({"--install", "cs-new", "-o", out("m.json"), "--review", out("r.json"), "--json"});
  ASSERT_EQ(r.rc, 0) << r;
  auto j = nlohmann::json::parse(r.out);
  auto m = Manifest::parse_text(test_util::slurp(out("m.json")));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(j["hash"], digest_to_string(m->hash()));
  EXPECT_EQ(j["summary"]["new"], 1);
  EXPECT_EQ(j["summary"]["upgraded"], 0);
  ASSERT_EQ(j["packages"].size(), 1u);
  EXPECT_EQ(j["packages"][0]["name"], "cs-new");
  EXPECT_EQ(j["packages"][0]["new"], "1.0-1");
  EXPECT_TRUE(j["packages"][0]["old"].is_null());
  EXPECT_EQ(j["packages"][0]["changelog_entries"], 1);
  // Errors too: {"error": ...} on stdout.
  r = plan({"--remove", "dpkg", "-o", out("m2.json"), "--json"});
  EXPECT_EQ(r.rc, 1);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["error"]["code"], "rejected");
}

TEST_F(PackagesCliTest, NothingToDoIsRefused) {
  auto r = plan({"--install", "cs-doc=1.0-1", "-o", out("m.json")});  // the box has it
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_TRUE(contains(r.err, "nothing to do")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
}

TEST_F(PackagesCliTest, UsageErrors) {
  auto r = plan({"-o", out("m.json")});
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_TRUE(contains(r.err, "exactly one of --upgrade, --install or --remove")) << r;
  r = plan({"--install", "-oAPT::Get=1", "-o", out("m.json")});
  EXPECT_EQ(r.rc, 2) << r;
  r = plan({"--install", "cs-new", "-o", "-", "--json"});
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_TRUE(contains(r.err, "--json prints to standard output")) << r;
  r = plan({"--install", "cs-new", "-o", out("m.json")}, "repo", "no-such-keyring.gpg");
  EXPECT_EQ(r.rc, 2) << r;
  EXPECT_TRUE(contains(r.err, "no-such-keyring.gpg")) << r;
  EXPECT_FALSE(fs::exists(out("m.json")));
}

}  // namespace
}  // namespace countersign
