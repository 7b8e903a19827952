// `countersign-system packages install` for real: the repository of
// tests/tools/make-apt-repo.sh (real .debs in two versions, one with a failing postinst, one
// tampered), a system root that is a btrfs subvolume on a loop device holding a minimal dpkg
// root, and the helper binary run as the daemon runs it. What is asserted is what a user
// sees: dpkg-query in the root, the helper's exit status and message, the audit log.
//
// PackagesInstallTest's system root is not a debootstrap'd Debian (that is
// PackagesDebianRootTest, at the end): it is an empty dpkg database
// (var/lib/dpkg/{status,available,info,updates}) plus what the test packages' maintainer scripts need inside
// the chroot dpkg --root makes for them: /bin/sh (dash) and mkdir, copied from this machine with the shared
// libraries ldd lists. dpkg itself runs outside the root (--root), so nothing else is needed. The "before"
// state is the repository's v1/ packages, installed with dpkg --root by the test.
//
// Needs root, btrfs-progs, loop devices, dpkg-deb/apt-ftparchive/gpg (the repository) and
// ldd: skipped with the reason otherwise, a failure under COUNTERSIGN_REQUIRE_INTEGRATION=1.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/manifest.h"
#include "core/sha256.h"
#include "core/snapshot_doc.h"
#include "daemon/api.h"
#include "daemon/engine.h"
#include "system/command.h"
#include "system/snapshot.h"
#include "system/system.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/engine_holder.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/loop_btrfs.h"
#include "tests/daemon/nginx_fixture.h"
#include "tests/daemon/system_test_util.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::contains;

// One package of a plan: an install of `file` (a pool path of the repository), or a removal.
struct Change {
  std::string name, version, architecture, file;
  std::optional<std::string> replaces;
  bool remove = false;
};

// A temp directory with a short name (/tmp/cs-pkg-XXXXXX): the box's socket path and gpg's
// agent socket under it must fit sun_path (108 bytes). Removed when destroyed.
class ShortTempDir {
 public:
  ShortTempDir() {
    char templ[] = "/tmp/cs-pkg-XXXXXX";
    if (::mkdtemp(templ) != nullptr) path_ = templ;
  }
  ~ShortTempDir() {
    if (path_.empty()) return;
    test::make_writable(path_);
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ShortTempDir(const ShortTempDir&) = delete;
  ShortTempDir& operator=(const ShortTempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class PackagesInstallTest : public ::testing::Test {
 protected:
  // The repository, made once for all cases in a short mkdtemp directory: gpg's agent socket
  // lives in its GNUPGHOME there, and a socket path must fit sun_path (108 bytes).
  static fs::path& repo_dir() {
    static fs::path dir;
    return dir;
  }
  static std::string& repo_error() {
    static std::string error;
    return error;
  }
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !find_program("apt-ftparchive").ok() || !find_program("gpg").ok()) return;
    char templ[] = "/tmp/cs-pkg-XXXXXX";
    if (::mkdtemp(templ) == nullptr) {
      repo_error() = "mkdtemp failed";
      return;
    }
    repo_dir() = templ;
    auto made = test::run_tool({"bash", COUNTERSIGN_MAKE_APT_REPO, (repo_dir() / "apt").string()}, 300);
    if (!made.ok() || made->status != 0) {
      repo_error() =
          "make-apt-repo.sh failed: " +
          (made.ok() ? "status " + std::to_string(made->status) + ": " + made->err : made.error().message);
    }
    repo_dir() /= "apt";
  }
  static void TearDownTestSuite() {
    if (!repo_dir().empty()) {
      std::error_code ec;
      fs::remove_all(repo_dir().parent_path(), ec);
    }
  }

  void SetUp() override {
    CS_REQUIRE_OR_SKIP(::geteuid() == 0, "dpkg --root and loop-mounting a btrfs image need root");
    for (const char* tool : {"mkfs.btrfs", "btrfs", "losetup", "mount", "dpkg", "dpkg-deb", "dpkg-query",
                             "apt-ftparchive", "gpg", "ldd"}) {
      CS_REQUIRE_OR_SKIP(find_program(tool).ok(), std::string(tool) + " is not installed (scripts/setup.sh)");
    }
    tmp_ = std::make_unique<ShortTempDir>();
    ASSERT_FALSE(tmp_->path().empty()) << "mkdtemp /tmp/cs-pkg-XXXXXX failed";
    CS_REQUIRE_OR_SKIP(repo_error().empty(), repo_error());
    repo_ = repo_dir();
    auto arch = test::run_tool({"dpkg", "--print-architecture"});
    ASSERT_TRUE(arch.ok() && arch->status == 0);
    arch_ = first_line(arch->out);

    std::string tarball;
    if (debian_root()) {
      // Made once per build tree by tests/tools/debian-root.sh (debootstrap from the mirror).
      auto made =
          test::run_tool({"bash", COUNTERSIGN_DEBIAN_ROOT_SCRIPT, COUNTERSIGN_DEBIAN_ROOT_CACHE}, 900);
      CS_REQUIRE_OR_SKIP(made.ok() && made->status == 0,
                         "no debootstrap'd Debian root: " + (made.ok() ? made->err : made.error().message));
      tarball = first_line(made->out);
    }

    const fs::path image = tmp_->path() / "btrfs.img";
    const fs::path mnt = tmp_->path() / "mnt";
    fs::create_directory(mnt);
    test_util::spit(image, "");
    // A Debian minbase root is about 250 MiB; the image is sparse.
    fs::resize_file(image, std::uintmax_t{debian_root() ? 2048U : 256U} << 20);
    auto mkfs = test::run_tool({"mkfs.btrfs", "-q", "-f", image.string()});
    CS_REQUIRE_OR_SKIP(mkfs.ok() && mkfs->status == 0,
                       "mkfs.btrfs failed: " + (mkfs.ok() ? first_line(mkfs->err) : mkfs.error().message));
    mount_ = std::make_unique<test::LoopMount>(image, mnt);
    const std::string why = mount_->mount();
    CS_REQUIRE_OR_SKIP(why.empty(), "cannot loop-mount a btrfs image here: " + why);
    ::chmod(mnt.c_str(), 0755);
    root_ = mnt / "root";
    auto sub = test::run_tool({"btrfs", "subvolume", "create", root_.string()});
    ASSERT_TRUE(sub.ok() && sub->status == 0) << (sub.ok() ? sub->err : sub.error().message);
    ::chmod(root_.c_str(), 0755);
    if (debian_root()) {
      auto x =
          test::run_tool({"tar", "--numeric-owner", "--xattrs", "-C", root_.string(), "-xf", tarball}, 300);
      ASSERT_TRUE(x.ok() && x->status == 0)
          << "extracting " << tarball << ": " << (x.ok() ? x->err : x.error().message);
    } else {
      make_dpkg_root();
    }
    install_v1();

    box_ = std::make_unique<test_util::BoxFixture>(tmp_->path() / "box");
    json rules = box_->policy_doc()["rules"];
    rules["install-packages"] = {{"threshold", 3}};
    box_->set_policy_doc(box_->make_policy_doc(1, rules));
    box_->config().system_root = root_.string();
    box_->config().system_snapshot = *SnapshotSpec::parse("btrfs:" + root_.string());
    box_->write_config();
    state_ = box_->config().state_dir;
    staging_ = state_ / "models" / ".staging";
    for (const auto& d : {state_, state_ / "models", staging_}) ::chmod(d.c_str(), 0755);
    config_ = box_->config_file();
  }

  void TearDown() override {
    box_.reset();
    mount_.reset();
    tmp_.reset();
  }

  // True: the system root is a debootstrap'd Debian 12 (PackagesDebianRootTest); false: the
  // minimal dpkg root of make_dpkg_root.
  virtual bool debian_root() const { return false; }

  // var/lib/dpkg, merged-/usr links, /bin/sh and mkdir with their libraries.
  void make_dpkg_root() {
    for (const char* d :
         {"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log", "tmp", "usr/bin", "usr/lib64"})
      fs::create_directories(root_ / d);
    for (const char* f : {"var/lib/dpkg/status", "var/lib/dpkg/available"}) test_util::spit(root_ / f, "");
    for (const char* l : {"bin", "lib", "sbin"})
      fs::create_directory_symlink(std::string("usr/") + l, root_ / l);
    fs::create_directory_symlink("usr/lib64", root_ / "lib64");
    fs::create_directories(root_ / "usr/lib");
    fs::create_directory_symlink("bin", root_ / "usr/sbin");
    copy_program("/usr/bin/dash", "usr/bin/sh");
    copy_program("/usr/bin/mkdir", "usr/bin/mkdir");
  }

  // The box's "before" state: the repository's v1/ packages, installed with dpkg --root.
  void install_v1() {
    std::vector<std::string> v1 = {"dpkg", "--root=" + root_.string(),
                                   "--log=" + (root_ / "var/log/dpkg.log").string(), "--install"};
    for (const auto& e : fs::directory_iterator(repo_ / "v1")) v1.push_back(e.path().string());
    auto installed = test::run_tool(v1, 300);
    ASSERT_TRUE(installed.ok() && installed->status == 0)
        << "installing v1/: "
        << (installed.ok() ? installed->err + installed->out : installed.error().message);
  }

  // Copies `program` to ROOT/dest and every library ldd lists to its place under ROOT/usr.
  void copy_program(const std::string& program, const std::string& dest) {
    fs::copy_file(program, root_ / dest, fs::copy_options::overwrite_existing);
    auto ldd = test::run_tool({"ldd", program});
    ASSERT_TRUE(ldd.ok() && ldd->status == 0) << program;
    std::string text = ldd->out;
    for (std::size_t pos = 0; pos < text.size();) {
      auto end = text.find('\n', pos);
      std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? text.size() : end + 1;
      auto slash = line.find('/');
      if (slash == std::string::npos) continue;
      std::string lib = line.substr(slash, line.find(' ', slash) - slash);
      const fs::path to =
          root_ / ((lib.starts_with("/lib") ? "usr" : "") + lib.substr(lib.starts_with("/usr") ? 1 : 0));
      fs::create_directories(to.parent_path());
      fs::copy_file(lib, to, fs::copy_options::overwrite_existing);
    }
  }

  std::string deb(const std::string& component, const std::string& name, const std::string& version,
                  const std::string& arch) const {
    return "pool/" + component + "/" + name.substr(0, 1) + "/" + name + "/" + name + "_" + version + "_" +
           arch + ".deb";
  }

  Manifest plan(const std::vector<Change>& changes,
                const std::string& source = "http://127.0.0.1:1/debian/") const {
    Manifest::Fields f;
    f.kind = "packages";
    f.name = "box-7f3a-upgrade";
    f.version = "1";
    for (const auto& c : changes) {
      PackageChange p;
      p.name = c.name;
      p.version = c.version;
      p.architecture = c.architecture;
      p.file = c.file;
      p.replaces = c.replaces;
      p.remove = c.remove;
      f.packages.push_back(p);
      if (c.remove) continue;
      const std::string bytes = test_util::slurp(repo_ / "repo" / c.file);
      f.files.push_back({c.file, bytes.size(), sha256(std::string_view(bytes))});
    }
    f.sources.push_back(*Source::from_spec(source));
    auto m = Manifest::create(std::move(f));
    EXPECT_TRUE(m.ok()) << m.error().message;
    return *m;
  }

  // Accepts a 3-of-5 install-packages bundle of `m` and stages its files from `from` (the
  // repository, or tampered/) as the daemon leaves them; returns the proposal id.
  std::string accept_and_stage(const Manifest& m, const fs::path& from) {
    test_util::BoxFixture::ProposalOptions o;
    o.action = Action::kInstallPackages;
    bundle_ = box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(),
                           {"alice", "bob", "carol"});
    auto run = helper({"accept"}, bundle_.dump());
    EXPECT_EQ(run.status, 0) << run.err;
    for (const auto& f : m.files()) {
      const fs::path to = staging_ / hex_encode(m.hash()) / f.path;
      fs::create_directories(to.parent_path());
      fs::copy_file(from / f.path, to);
    }
    return hex_encode(Bundle::parse(bundle_)->proposal().id());
  }

  test::HelperRun helper(const std::vector<std::string>& args, const std::string& input = "",
                         const std::vector<std::string>& env = {}) {
    return test::run_helper(config_, args, env, input);
  }

  // "name version status" per package, as dpkg-query shows the root's database.
  std::map<std::string, std::string> dpkg_list() const {
    auto r = test::run_tool({"dpkg-query", "--admindir=" + (root_ / "var/lib/dpkg").string(), "--show",
                             "--showformat=${Package}:${Architecture} ${Version} ${Status}\\n"});
    EXPECT_TRUE(r.ok());
    std::map<std::string, std::string> out;
    if (!r.ok()) return out;
    std::string text = r->out;
    for (std::size_t pos = 0; pos < text.size();) {
      auto end = text.find('\n', pos);
      std::string line = text.substr(pos, end - pos);
      pos = end == std::string::npos ? text.size() : end + 1;
      auto sp = line.find(' ');
      if (sp != std::string::npos) out[line.substr(0, sp)] = line.substr(sp + 1);
    }
    return out;
  }
  std::string status_file() const { return test_util::slurp(root_ / "var/lib/dpkg/status"); }

  std::vector<json> entries_of(std::string_view event) const {
    std::vector<json> out;
    auto log = audit::AuditLog::open(state_ / "log", audit::AuditLog::Mode::kReadOnly);
    if (!log.ok()) return out;
    for (std::uint64_t i = 0; i < log->size(); ++i) {
      auto e = json::parse(*log->entry(i));
      if (e["event"] == event) out.push_back(e);
    }
    return out;
  }

  // cs-hello and libcs-greet1 1.0-1 -> 1.1-1, cs-new installed, cs-old removed.
  Manifest upgrade(const std::string& source = "http://127.0.0.1:1/debian/") const {
    return plan({{"cs-hello", "1.1-1", arch_, deb("main", "cs-hello", "1.1-1", arch_), "1.0-1"},
                 {"cs-new", "1.0-1", "all", deb("main", "cs-new", "1.0-1", "all"), std::nullopt},
                 {"cs-old", "", "", "", "1.0-1", true},
                 {"libcs-greet1", "1.1-1", arch_, deb("main", "libcs-greet1", "1.1-1", arch_), "1.0-1"}},
                source);
  }

  std::unique_ptr<ShortTempDir> tmp_;
  std::unique_ptr<test::LoopMount> mount_;
  std::unique_ptr<test_util::BoxFixture> box_;
  fs::path repo_, root_, state_, staging_;
  std::string arch_, config_;
  json bundle_;
};

TEST_F(PackagesInstallTest, InstallsExactlyTheApprovedVersionsAndLogsOldAndNew) {
  const auto before = dpkg_list();
  ASSERT_EQ(before.at("cs-hello:" + arch_), "1.0-1 install ok installed");
  const Manifest m = upgrade();
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  ASSERT_EQ(run.status, 0) << run.err << run.out;

  auto after = dpkg_list();
  EXPECT_EQ(after.at("cs-hello:" + arch_), "1.1-1 install ok installed");
  EXPECT_EQ(after.at("libcs-greet1:" + arch_), "1.1-1 install ok installed");
  EXPECT_EQ(after.at("cs-new:all"), "1.0-1 install ok installed");
  EXPECT_FALSE(after.count("cs-old:all") && contains(after["cs-old:all"], " installed"))
      << after["cs-old:all"];
  EXPECT_EQ(after.at("cs-scripted:all"), before.at("cs-scripted:all"));  // not in the plan: untouched
  EXPECT_TRUE(fs::exists(root_ / "usr/share/doc/cs-new/changelog.Debian.gz"));

  auto installed = entries_of("packages-installed");
  ASSERT_EQ(installed.size(), 1u);
  EXPECT_EQ(installed[0]["proposal"], "sha256:" + id);
  EXPECT_EQ(installed[0]["packages"], json::parse(R"([
    {"name": "cs-hello", "architecture": ")" + arch_ +
                                                  R"(", "old": "1.0-1", "new": "1.1-1"},
    {"name": "cs-new", "architecture": "all", "old": null, "new": "1.0-1"},
    {"name": "cs-old", "architecture": null, "old": "1.0-1", "new": null},
    {"name": "libcs-greet1", "architecture": ")" + arch_ +
                                                  R"(", "old": "1.0-1", "new": "1.1-1"}])"));
  ASSERT_EQ(entries_of("snapshot-taken").size(), 1u);
  EXPECT_EQ(entries_of("snapshot-taken")[0]["root"], root_.string());
  EXPECT_FALSE(fs::exists(state_ / "models" / (".packages-" + hex_encode(m.hash()))));

  // A replay: the bundle again, and the step again, are both refused.
  auto again = helper({"accept"}, bundle_.dump());
  EXPECT_EQ(again.status, 1);
  EXPECT_TRUE(contains(again.err, "replayed")) << again.err;
  auto twice = helper({"packages", "install", id});
  EXPECT_EQ(twice.status, 1);
  EXPECT_TRUE(contains(twice.err, "done already")) << twice.err;
  EXPECT_EQ(entries_of("packages-installed").size(), 1u);
}

TEST_F(PackagesInstallTest, ARestoreSnapshotBundleOfTheSystemSnapshotRollsTheUpgradeBack) {
  const std::string status_before = status_file();
  const Manifest m = upgrade();
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  ASSERT_EQ(run.status, 0) << run.err << run.out;
  ASSERT_EQ(dpkg_list().at("cs-hello:" + arch_), "1.1-1 install ok installed");
  ASSERT_EQ(entries_of("snapshot-taken").size(), 1u);
  const std::string snap = entries_of("snapshot-taken")[0]["snapshot"];

  // The box lists it as a snapshot of the system root, the document approvers sign.
  auto listed = helper({"snapshot", "list"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  json listing = json::parse(listed.out);
  ASSERT_TRUE(listing.is_array()) << listed.out;
  bool found = false;
  for (const auto& e : listing) found = found || (e["id"] == snap && e["scope"] == "system");
  EXPECT_TRUE(found) << listed.out;

  auto doc =
      SnapshotDoc::create({test_util::BoxFixture::kBox, "btrfs", snap, *parse_snapshot_id(snap), "system"});
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->to_json()["scope"], "system");
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRestoreSnapshot;
  const json restore = box_->bundle(test_util::BoxFixture::make_proposal(doc->hash(), o), doc->to_json(),
                                    {"alice", "bob", "carol"});
  auto accepted = helper({"accept"}, restore.dump());
  ASSERT_EQ(accepted.status, 0) << accepted.err;
  const std::string rid = hex_encode(Bundle::parse(restore)->proposal().id());
  auto restored = helper({"snapshot", "restore", rid});
  ASSERT_EQ(restored.status, 0) << restored.err << restored.out;

  // dpkg's database and the files are as they were before the upgrade.
  EXPECT_EQ(status_file(), status_before);
  EXPECT_EQ(dpkg_list().at("cs-hello:" + arch_), "1.0-1 install ok installed");
  EXPECT_FALSE(fs::exists(root_ / "usr/share/doc/cs-new/changelog.Debian.gz"));
  auto logged = entries_of("snapshot-restored");
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0]["snapshot"], snap);
  EXPECT_EQ(logged[0]["root"], root_.string());
  // The upgraded state was kept first (the safety snapshot), so the rollback can be undone.
  ASSERT_EQ(entries_of("snapshot-taken").size(), 2u);
  EXPECT_EQ(logged[0]["safety_snapshot"], entries_of("snapshot-taken")[1]["snapshot"]);

  // The same restore again: a box executes a proposal once.
  auto twice = helper({"snapshot", "restore", rid});
  EXPECT_EQ(twice.status, 1);
  EXPECT_TRUE(contains(twice.err, "done already")) << twice.err;
}

TEST_F(PackagesInstallTest, AFailingMaintainerScriptRestoresTheSnapshot) {
  const std::string status_before = status_file();
  const auto before = dpkg_list();
  const Manifest m =
      plan({{"cs-broken", "2.0-1", "all", deb("broken", "cs-broken", "2.0-1", "all"), "1.0-1"}});
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_TRUE(contains(run.err, "cs-broken")) << run.err;
  EXPECT_TRUE(contains(run.err, "was restored to snapshot")) << run.err;

  EXPECT_EQ(status_file(), status_before);  // byte for byte
  EXPECT_EQ(dpkg_list(), before);
  auto failed = entries_of("packages-failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["stage"], "dpkg");
  EXPECT_TRUE(contains(failed[0]["reason"].get<std::string>(), "cs-broken")) << failed[0].dump();
  auto rolled = entries_of("packages-rolled-back");
  ASSERT_EQ(rolled.size(), 1u);
  EXPECT_EQ(rolled[0]["proposal"], "sha256:" + id);
  EXPECT_TRUE(entries_of("packages-installed").empty());
  // Given up: it does not run again.
  auto twice = helper({"packages", "install", id});
  EXPECT_EQ(twice.status, 1);
  EXPECT_TRUE(contains(twice.err, "failed already")) << twice.err;
}

TEST_F(PackagesInstallTest, APlanForAnotherStateOfTheBoxIsRefusedBeforeAnythingChanges) {
  const std::string status_before = status_file();
  const Manifest m =
      plan({{"cs-hello", "1.1-1", arch_, deb("main", "cs-hello", "1.1-1", arch_), "0.9-1"},
            {"libcs-greet1", "1.1-1", arch_, deb("main", "libcs-greet1", "1.1-1", arch_), "1.0-1"}});
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(
      contains(run.err, "cs-hello:" + arch_ + ": the plan replaces 0.9-1, the box has 1.0-1 installed"))
      << run.err;
  EXPECT_EQ(status_file(), status_before);
  EXPECT_TRUE(entries_of("snapshot-taken").empty());
  EXPECT_EQ(entries_of("action-refused").size(), 1u);
}

TEST_F(PackagesInstallTest, RemovingAnEssentialPackageIsRefused) {
  // cs-old made Essential in the root's database, as dpkg would record it.
  std::string status = status_file();
  const std::string stanza = "Package: cs-old\n";
  auto at = status.find(stanza);
  ASSERT_NE(at, std::string::npos);
  status.insert(at + stanza.size(), "Essential: yes\n");
  test_util::spit(root_ / "var/lib/dpkg/status", status);
  const Manifest m = plan({{"cs-old", "", "", "", "1.0-1", true}});
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "cs-old: is an Essential package")) << run.err;
  EXPECT_EQ(status_file(), status);
  EXPECT_TRUE(contains(dpkg_list().at("cs-old:all"), "install ok installed"));
}

TEST_F(PackagesInstallTest, ATamperedStagedDebIsRefusedByTheRehash) {
  const std::string status_before = status_file();
  const Manifest m =
      plan({{"cs-hello", "1.1-1", arch_, deb("main", "cs-hello", "1.1-1", arch_), "1.0-1"},
            {"libcs-greet1", "1.1-1", arch_, deb("main", "libcs-greet1", "1.1-1", arch_), "1.0-1"}});
  const std::string id = accept_and_stage(m, repo_ / "tampered");
  auto run = helper({"packages", "install", id});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "cs-hello_1.1-1_" + arch_ + ".deb: SHA-256 is")) << run.err;
  EXPECT_EQ(status_file(), status_before);
  auto failed = entries_of("packages-failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["stage"], "verify");
  EXPECT_TRUE(entries_of("snapshot-taken").empty());
  EXPECT_FALSE(fs::exists(state_ / "models" / (".packages-" + hex_encode(m.hash()))));
}

TEST_F(PackagesInstallTest, ACrashAfterDpkgIsFinishedByTheRerunWithoutRunningDpkgAgain) {
  const Manifest m = upgrade();
  const std::string id = accept_and_stage(m, repo_ / "repo");
  // This machine's own dpkg log is not the root's: dpkg --root alone would append there.
  std::error_code ec;
  const auto host_log_size = fs::file_size("/var/log/dpkg.log", ec);
  auto crashed = helper({"packages", "install", id}, "", {std::string(kSystemCrashEnv) + "=packages-dpkg"});
  ASSERT_EQ(crashed.status, 137) << crashed.err;
  EXPECT_TRUE(entries_of("packages-installed").empty());
  EXPECT_EQ(dpkg_list().at("cs-hello:" + arch_), "1.1-1 install ok installed");  // dpkg ran
  // dpkg appends every action to ROOT/var/log/dpkg.log: a second run would show there.
  const std::string dpkg_log = test_util::slurp(root_ / "var/log/dpkg.log");
  ASSERT_TRUE(contains(dpkg_log, "cs-new")) << dpkg_log;
  auto rerun = helper({"packages", "install", id});
  ASSERT_EQ(rerun.status, 0) << rerun.err;
  EXPECT_EQ(rerun.json["interrupted"], true);
  EXPECT_EQ(entries_of("packages-installed").size(), 1u);
  EXPECT_EQ(entries_of("snapshot-taken").size(), 1u);  // one snapshot
  EXPECT_EQ(dpkg_list().at("libcs-greet1:" + arch_), "1.1-1 install ok installed");
  EXPECT_EQ(test_util::slurp(root_ / "var/log/dpkg.log"), dpkg_log);
  std::error_code ec_after;
  EXPECT_EQ(fs::file_size("/var/log/dpkg.log", ec_after), host_log_size);
}

TEST_F(PackagesInstallTest, ACrashAfterTheSnapshotRunsDpkgOnceOnTheRerun) {
  const Manifest m = upgrade();
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto crashed =
      helper({"packages", "install", id}, "", {std::string(kSystemCrashEnv) + "=packages-snapshot"});
  ASSERT_EQ(crashed.status, 137) << crashed.err;
  EXPECT_EQ(dpkg_list().at("cs-hello:" + arch_), "1.0-1 install ok installed");  // dpkg did not run
  auto rerun = helper({"packages", "install", id});
  ASSERT_EQ(rerun.status, 0) << rerun.err;
  EXPECT_FALSE(rerun.json.contains("interrupted"));
  EXPECT_EQ(entries_of("snapshot-taken").size(), 1u);  // the snapshot is not taken twice
  EXPECT_EQ(dpkg_list().at("cs-hello:" + arch_), "1.1-1 install ok installed");
}

// countersignd end to end (what an operator does after `packages plan` and three approvers
// signed): the bundle submitted to the daemon's API, the .debs fetched from a real nginx
// mirror into staging, the helper's packages install; GET /v1/packages before and after.
class PackagesThroughTheDaemonTest : public PackagesInstallTest {
 protected:
  void SetUp() override {
    PackagesInstallTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    CS_REQUIRE_OR_SKIP(nginx_.running(), nginx_.skip_reason());
    // nginx's worker reads the document root, not the test's 0700 temp directory: a copy.
    fs::copy(repo_ / "repo", nginx_.root() / "debian", fs::copy_options::recursive);
    fs::copy(repo_ / "tampered", nginx_.root() / "tampered", fs::copy_options::recursive);
    engine_ = std::make_unique<test_util::EngineHolder>(*box_);
  }
  void TearDown() override {
    engine_.reset();  // before the box and its mount go
    PackagesInstallTest::TearDown();
  }
  Engine& engine() { return engine_->get(); }
  json submit_and_wait(const Manifest& m) {
    test_util::BoxFixture::ProposalOptions o;
    o.action = Action::kInstallPackages;
    const json bundle = box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(),
                                     {"alice", "bob", "carol"});
    Api api(engine());
    Reply r = api.submit_bundle(bundle.dump());
    EXPECT_EQ(r.status, 202) << r.body.dump(2);
    if (r.status != 202) return r.body;
    EXPECT_TRUE(engine().wait_idle(std::chrono::seconds(120)));
    return api.job(r.body["job"].get<std::string>()).body;
  }
  // name:arch -> version of the installed packages, as GET /v1/packages answers.
  std::map<std::string, std::string> api_packages() {
    Reply r = Api(engine()).packages();
    EXPECT_EQ(r.status, 200) << r.body.dump(2);
    EXPECT_EQ(r.body.value("schema", ""), "countersign/box-packages/v1");
    EXPECT_EQ(r.body.value("box", ""), test_util::BoxFixture::kBox);
    std::map<std::string, std::string> out;
    for (const auto& p : r.body["packages"]) {
      if (contains(p["status"].get<std::string>(), " installed"))
        out[p["name"].get<std::string>() + ":" + p["architecture"].get<std::string>()] = p["version"];
    }
    return out;
  }

  test_util::NginxFixture nginx_;
  std::unique_ptr<test_util::EngineHolder> engine_;
};

TEST_F(PackagesThroughTheDaemonTest, TheDaemonFetchesTheApprovedDebsAndTheHelperInstallsThem) {
  auto before = api_packages();
  EXPECT_EQ(before.at("cs-hello:" + arch_), "1.0-1");
  EXPECT_EQ(before.at("cs-old:all"), "1.0-1");
  EXPECT_FALSE(before.count("cs-new:all"));

  json job = submit_and_wait(upgrade(nginx_.base_url() + "debian/"));
  EXPECT_EQ(job["state"], "done") << job.dump(2);
  auto after = api_packages();
  EXPECT_EQ(after.at("cs-hello:" + arch_), "1.1-1");
  EXPECT_EQ(after.at("libcs-greet1:" + arch_), "1.1-1");
  EXPECT_EQ(after.at("cs-new:all"), "1.0-1");
  EXPECT_FALSE(after.count("cs-old:all"));
  EXPECT_EQ(after.at("cs-scripted:all"), before.at("cs-scripted:all"));
  // The story in the log: verified, fetched, snapshot of the root, installed; staging gone.
  EXPECT_EQ(entries_of("bundle-verified").size(), 1u);
  ASSERT_EQ(entries_of("fetch-started").size(), 1u);
  EXPECT_EQ(entries_of("fetch-started")[0]["files"], 3);
  EXPECT_EQ(entries_of("snapshot-taken").size(), 1u);
  EXPECT_EQ(entries_of("packages-installed").size(), 1u);
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(staging_, ec)) << staging_;
}

TEST_F(PackagesThroughTheDaemonTest, ATamperedBoxMirrorIsPassedOverForTheNextSource) {
  // The box's own mirror comes first and serves cs-hello 1.1-1 with one byte changed.
  box_->config().mirrors = {test_util::BoxFixture::https_source(nginx_.base_url() + "tampered/")};
  json job = submit_and_wait(upgrade(nginx_.base_url() + "debian/"));
  EXPECT_EQ(job["state"], "done") << job.dump(2);
  EXPECT_EQ(api_packages().at("cs-hello:" + arch_), "1.1-1");
  auto alerts = entries_of("hash-mismatch-alert");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(contains(alerts[0]["path"].get<std::string>(), "cs-hello_1.1-1")) << alerts[0].dump();
  EXPECT_TRUE(contains(alerts[0]["source"].get<std::string>(), "/tampered/")) << alerts[0].dump();
  EXPECT_EQ(entries_of("packages-installed").size(), 1u);
}

TEST_F(PackagesThroughTheDaemonTest, WhenEverySourceIsBadNothingIsInstalledAndNoSnapshotTaken) {
  const std::string status_before = status_file();
  json job = submit_and_wait(upgrade(nginx_.base_url() + "tampered/"));
  EXPECT_EQ(job["state"], "failed") << job.dump(2);
  EXPECT_TRUE(contains(job.dump(), "cs-hello_1.1-1")) << job.dump(2);  // the file no source had right
  EXPECT_EQ(status_file(), status_before);
  EXPECT_TRUE(entries_of("snapshot-taken").empty());
  EXPECT_TRUE(entries_of("packages-installed").empty());
  EXPECT_EQ(entries_of("hash-mismatch-alert").size(), 1u);
  EXPECT_EQ(entries_of("install-aborted").size() + entries_of("proposal-abandoned").size(), 1u);
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(staging_, ec)) << staging_;
}

TEST_F(PackagesThroughTheDaemonTest, APlanTheBoxHasMovedPastFailsTheJobAndChangesNothing) {
  // Approved against cs-hello 1.0-1, but the box has 1.1-1 by now (an earlier upgrade).
  auto first = submit_and_wait(upgrade(nginx_.base_url() + "debian/"));
  ASSERT_EQ(first["state"], "done") << first.dump(2);
  const std::string status_before = status_file();
  json job =
      submit_and_wait(plan({{"cs-hello", "1.1-1", arch_, deb("main", "cs-hello", "1.1-1", arch_), "1.0-1"}},
                           nginx_.base_url() + "debian/"));
  EXPECT_EQ(job["state"], "failed") << job.dump(2);
  EXPECT_TRUE(contains(job.dump(), "the plan does not apply")) << job.dump(2);
  EXPECT_EQ(status_file(), status_before);
  EXPECT_EQ(entries_of("packages-installed").size(), 1u);
}

// The same gate on a real Debian system: the root is a debootstrap'd Debian 12 minbase
// (tests/tools/debian-root.sh, made once per build tree) on the btrfs subvolume, so the
// maintainer scripts run in the chroot dpkg --root makes with Debian's own shell and tools,
// and the root's own dpkg reads the result.
class PackagesDebianRootTest : public PackagesInstallTest {
 protected:
  bool debian_root() const override { return true; }

  // The root's own dpkg-query, run inside it (chroot), as an administrator of the box would.
  std::string dpkg_in_root(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {
        "chroot", root_.string(), "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin", "LC_ALL=C"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = test::run_tool(argv, 60);
    EXPECT_TRUE(r.ok() && r->status == 0) << (r.ok() ? r->err : r.error().message);
    return r.ok() ? r->out : std::string();
  }
  // "NAME VERSION STATUS" of the test's packages (and two of Debian's), one a line, as the
  // root's dpkg-query lists them.
  std::string versions_in_root() const {
    const std::string all =
        dpkg_in_root({"dpkg-query", "--show", "--showformat=${Package} ${Version} ${db:Status-Abbrev}\\n"});
    std::string out;
    for (std::size_t pos = 0; pos < all.size();) {
      const auto end = all.find('\n', pos);
      const std::string line = all.substr(pos, end - pos);
      pos = end == std::string::npos ? all.size() : end + 1;
      if (line.starts_with("cs-") || line.starts_with("libcs-") || line.starts_with("base-files ") ||
          line.starts_with("dash "))
        out += line + "\n";
    }
    return out;
  }
};

TEST_F(PackagesDebianRootTest, TheApprovedUpgradeIsWhatTheRootsOwnDpkgShows) {
  const std::string debian_before = dpkg_in_root({"dpkg-query", "--show", "base-files", "dash", "libc6"});
  ASSERT_TRUE(contains(debian_before, "base-files\t12.")) << debian_before;  // bookworm
  const Manifest m = upgrade();
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  ASSERT_EQ(run.status, 0) << run.err << run.out;

  const std::string shown = versions_in_root();
  EXPECT_TRUE(contains(shown, "cs-hello 1.1-1 ii ")) << shown;
  EXPECT_TRUE(contains(shown, "libcs-greet1 1.1-1 ii ")) << shown;
  EXPECT_TRUE(contains(shown, "cs-new 1.0-1 ii ")) << shown;
  EXPECT_FALSE(contains(shown, "cs-old 1.0-1 ii ")) << shown;
  EXPECT_TRUE(contains(shown, "cs-scripted 1.0-1 ii ")) << shown;  // not in the plan: untouched
  // Debian's own packages are as debootstrap left them, and dpkg finds nothing half-done.
  EXPECT_EQ(dpkg_in_root({"dpkg-query", "--show", "base-files", "dash", "libc6"}), debian_before);
  EXPECT_EQ(dpkg_in_root({"dpkg", "--audit"}), "");
  // The files are the approved version's; the scripted package's postinst ran in the root
  // (when v1 was installed), with Debian's own /bin/sh.
  EXPECT_EQ(test_util::slurp(root_ / "usr/share/cs-hello/VERSION"), "cs-hello 1.1-1\n");
  EXPECT_TRUE(fs::is_directory(root_ / "var/lib/cs-scripted")) << "cs-scripted's postinst did not run";
  ASSERT_EQ(entries_of("packages-installed").size(), 1u);
}

TEST_F(PackagesDebianRootTest, AFailingMaintainerScriptLeavesTheRootsPackageDatabaseAsItWas) {
  const std::string status_before = status_file();
  const std::string shown_before = versions_in_root();
  const Manifest m =
      plan({{"cs-broken", "2.0-1", "all", deb("broken", "cs-broken", "2.0-1", "all"), "1.0-1"}});
  const std::string id = accept_and_stage(m, repo_ / "repo");
  auto run = helper({"packages", "install", id});
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_TRUE(contains(run.err, "was restored to snapshot")) << run.err;
  EXPECT_EQ(status_file(), status_before);  // byte for byte
  EXPECT_EQ(versions_in_root(), shown_before);
  EXPECT_EQ(dpkg_in_root({"dpkg", "--audit"}), "");
  ASSERT_EQ(entries_of("packages-rolled-back").size(), 1u);
}

}  // namespace
}  // namespace countersign::daemon
