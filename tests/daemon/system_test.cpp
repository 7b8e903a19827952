// countersign-system: argument validation, the configuration path rule and the snapshot
// command lines in process; install, remove and their refusals by running the helper binary
// as the daemon does, against a temporary state directory.
#include "daemon/system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/timeutil.h"
#include "daemon/command.h"
#include "daemon/snapshot.h"
#include "tests/daemon/system_test_util.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using test::Files;
using test_util::contains;

const std::string kHex(64, 'a');
const std::string kId = "cs-20260601T123456Z-deadbeef";

// ---- arguments ---------------------------------------------------------------------------

TEST(SystemArgs, AcceptsExactlyTheContractForms) {
  struct Case {
    std::vector<std::string> args;
    SystemAction action;
    std::string argument;
  };
  const Case cases[] = {
      {{"--help"}, SystemAction::kHelp, ""},
      {{"snapshot", "take"}, SystemAction::kSnapshotTake, ""},
      {{"snapshot", "list"}, SystemAction::kSnapshotList, ""},
      {{"snapshot", "restore", kId}, SystemAction::kSnapshotRestore, kId},
      {{"model", "install", kHex}, SystemAction::kModelInstall, kHex},
      {{"model", "remove", kHex}, SystemAction::kModelRemove, kHex},
      {{"staging", "remove", kHex}, SystemAction::kStagingRemove, kHex},
  };
  for (const auto& c : cases) {
    auto r = parse_system_args(c.args);
    ASSERT_TRUE(r.ok()) << c.args[0] << ": " << r.error().message;
    EXPECT_EQ(r->action, c.action);
    EXPECT_EQ(r->argument, c.argument);
  }
}

TEST(SystemArgs, RefusesEverythingElse) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const std::string upper(64, 'A');
  const Case cases[] = {
      {{}, "no subcommand"},
      {{"model"}, "model takes install HEX or remove HEX"},
      {{"model", "install"}, "takes exactly one manifest hash"},
      {{"model", "install", kHex, "--force"}, "takes exactly one manifest hash"},
      {{"model", "install", upper}, "is not a manifest hash"},
      {{"model", "install", kHex.substr(1)}, "is not a manifest hash"},
      {{"model", "install", kHex + "a"}, "is not a manifest hash"},
      {{"model", "install", "sha256:" + kHex.substr(7)}, "is not a manifest hash"},
      {{"model", "install", "../../../../etc/passwd"}, "is not a manifest hash"},
      {{"model", "remove", std::string(63, 'a') + "g"}, "is not a manifest hash"},
      {{"staging", "remove", kHex + "/"}, "is not a manifest hash"},
      {{"staging", "list"}, "staging takes remove HEX"},
      {{"snapshot", "take", "now"}, "snapshot take takes no arguments"},
      {{"snapshot", "list", "-a"}, "snapshot list takes no arguments"},
      {{"snapshot", "restore"}, "takes exactly one snapshot id"},
      {{"snapshot", "restore", "cs-20261301T000000Z-deadbeef"}, "is not a snapshot id"},  // month 13
      {{"snapshot", "restore", "cs-20260601T123456Z-DEADBEEF"}, "is not a snapshot id"},
      {{"snapshot", "restore", "cs-20260601T123456Z-deadbee"}, "is not a snapshot id"},
      {{"snapshot", "restore", "../snapshots/x"}, "is not a snapshot id"},
      {{"snapshot", "delete", kId}, "snapshot takes take, list or restore ID"},
      {{"--config", "/tmp/x", "model", "install", kHex}, "unknown subcommand \"--config\""},
      {{"MODEL", "install", kHex}, "unknown subcommand"},
      {{"help", "me"}, "unknown subcommand"},
  };
  for (const auto& c : cases) {
    auto r = parse_system_args(c.args);
    ASSERT_FALSE(r.ok()) << (c.args.empty() ? "(none)" : c.args[0]);
    EXPECT_TRUE(contains(r.error().message, c.expect)) << r.error().message;
  }
}

TEST(SystemArgs, MessagesShowNoControlCharacters) {
  auto r = parse_system_args({"model", "install", "x\ny\x1b[2J"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos);
}

TEST(SystemConfigPath, EnvironmentOnlyOutsideSudo) {
  std::map<std::string, std::string> env;
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(system_config_path(getenv, false), "/etc/countersign/countersignd.conf");
  env["COUNTERSIGN_SYSTEM_CONFIG"] = "/tmp/test.conf";
  EXPECT_EQ(system_config_path(getenv, false), "/tmp/test.conf");
  EXPECT_EQ(system_config_path(getenv, true), "/etc/countersign/countersignd.conf");  // set-id
  env["SUDO_USER"] = "countersign";
  EXPECT_EQ(system_config_path(getenv, false), "/etc/countersign/countersignd.conf");
  env.erase("SUDO_USER");
  env["SUDO_UID"] = "998";
  EXPECT_EQ(system_config_path(getenv, false), "/etc/countersign/countersignd.conf");
  env.erase("SUDO_UID");
  env["COUNTERSIGN_SYSTEM_CONFIG"] = "";
  EXPECT_EQ(system_config_path(getenv, false), "/etc/countersign/countersignd.conf");
}

// ---- snapshot ids, command lines, zfs output ----------------------------------------------

TEST(SnapshotId, MakeAndParse) {
  auto t = parse_rfc3339("2026-06-01T12:34:56Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(make_snapshot_id(*t, 0xdeadbeef), kId);
  EXPECT_EQ(make_snapshot_id(*t, 7), "cs-20260601T123456Z-00000007");
  auto back = parse_snapshot_id(kId);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *t);
  for (const char* bad :
       {"cs-20260601T123456Z-deadbeef ", "cs-20260601T123456Z_deadbeef", "xx-20260601T123456Z-deadbeef",
        "cs-20260601T243456Z-deadbeef", "cs-20260230T123456Z-deadbeef", "cs-2026060xT123456Z-deadbeef",
        "cs-20260601t123456Z-deadbeef", ""}) {
    EXPECT_FALSE(parse_snapshot_id(bad).ok()) << bad;
  }
}

TEST(SnapshotCommands, ExactArgv) {
  using V = std::vector<std::string>;
  EXPECT_EQ(btrfs_take_command("/var/lib/countersign/models", "/var/lib/countersign/snapshots/" + kId),
            (V{"btrfs", "subvolume", "snapshot", "-r", "/var/lib/countersign/models",
               "/var/lib/countersign/snapshots/" + kId}));
  EXPECT_EQ(btrfs_clone_command("/s/" + kId, "/v/.restore-" + kId),
            (V{"btrfs", "subvolume", "snapshot", "/s/" + kId, "/v/.restore-" + kId}));
  EXPECT_EQ(btrfs_delete_command("/v/.restore-" + kId),
            (V{"btrfs", "subvolume", "delete", "/v/.restore-" + kId}));
  EXPECT_EQ(zfs_take_command("tank/cs/models", kId), (V{"zfs", "snapshot", "tank/cs/models@" + kId}));
  EXPECT_EQ(zfs_list_command("tank/cs/models"),
            (V{"zfs", "list", "-H", "-p", "-t", "snapshot", "-o", "name,creation", "-s", "creation", "-d",
               "1", "tank/cs/models"}));
  EXPECT_EQ(zfs_rollback_command("tank/cs/models", kId),
            (V{"zfs", "rollback", "-r", "tank/cs/models@" + kId}));
}

TEST(ZfsList, ParsesOursOldestFirstAndSkipsOthers) {
  const std::string out =
      "tank/m@cs-20260602T000000Z-00000002\t1780358400\n"
      "tank/m@zfs-auto-snap_hourly-2026-06-01-1200\t1780315200\n"
      "tank/m@cs-20260601T000000Z-00000001\t1780272000\n"
      "\n";
  auto r = parse_zfs_list(out, "tank/m");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, "cs-20260601T000000Z-00000001");
  EXPECT_EQ((*r)[0].taken, 1780272000);
  EXPECT_EQ((*r)[0].backend, "zfs");
  EXPECT_EQ((*r)[1].id, "cs-20260602T000000Z-00000002");
  EXPECT_EQ((*r)[1].to_json(), (nlohmann::json{{"id", "cs-20260602T000000Z-00000002"},
                                               {"backend", "zfs"},
                                               {"taken", "2026-06-02T00:00:00Z"}}));
  EXPECT_TRUE(parse_zfs_list("", "tank/m")->empty());
}

TEST(ZfsList, RefusesUnexpectedLines) {
  for (const char* bad :
       {"tank/m@cs-20260601T000000Z-00000001 1780272000\n",  // space, not tab
        "tank/m@cs-20260601T000000Z-00000001\tyesterday\n", "tank/m@cs-20260601T000000Z-00000001\t1\t2\n",
        "tank/other@cs-20260601T000000Z-00000001\t1780272000\n",
        "tank/m/child@cs-20260601T000000Z-00000001\t1780272000\n"}) {
    auto r = parse_zfs_list(bad, "tank/m");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kMalformed);
  }
}

TEST(Mountinfo, FindsTheDatasetAtThePath) {
  const std::string info =
      "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "40 22 0:40 / /var/lib/countersign/models rw,noatime shared:20 - zfs tank/cs/models rw,xattr\n"
      "41 22 0:41 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
  auto mounts = parse_mountinfo(info);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[2].mount_point, "/mnt/with space");
  EXPECT_TRUE(check_zfs_mount(info, "tank/cs/models", "/var/lib/countersign/models").ok());
  auto other = check_zfs_mount(info, "tank/other", "/var/lib/countersign/models");
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(contains(other.error().message, "is zfs tank/cs/models, not the zfs dataset tank/other"));
  auto none = check_zfs_mount(info, "tank/cs/models", "/srv/models");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.error().message, "nothing is mounted at /srv/models"));
  // A later mount on the same point hides the dataset.
  auto hidden = check_zfs_mount(info + "50 40 0:50 / /var/lib/countersign/models rw - tmpfs none rw\n",
                                "tank/cs/models", "/var/lib/countersign/models");
  EXPECT_FALSE(hidden.ok());
}

// The zfs backend against a scripted runner: which command lines it runs, what it returns.
struct FakeZfs {
  std::vector<std::vector<std::string>> calls;
  std::string list_output;
  int fail_status = 0;
  CommandRunner runner() {
    return
        [this](const std::vector<std::string>& argv, const std::vector<int>& fds) -> Result<CommandOutput> {
          EXPECT_TRUE(fds.empty());
          calls.push_back(argv);
          CommandOutput out;
          if (fail_status != 0) {
            out.status = fail_status;
            out.err = "cannot create snapshot 'tank/m@x': out of space\nmore\n";
          } else if (argv.size() > 1 && argv[1] == "list") {
            out.out = list_output;
          }
          return out;
        };
  }
};

TEST(ZfsBackend, RunsTheCommandLines) {
  FakeZfs fake;
  const UnixTime now = *parse_rfc3339("2026-06-01T12:34:56Z");
  auto backend = make_zfs_backend(
      "tank/m", [&] { return now; }, [] { return 0xdeadbeefu; }, fake.runner());
  auto taken = backend->take();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->id, kId);
  EXPECT_EQ((*taken)->taken, now);
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0], zfs_take_command("tank/m", kId));

  fake.list_output = "tank/m@" + kId + "\t1780317296\n";
  auto missing = backend->restore("cs-20260601T000000Z-00000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(fake.calls.back(), zfs_list_command("tank/m"));  // no rollback was run

  auto restored = backend->restore(kId);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(fake.calls.back(), zfs_rollback_command("tank/m", kId));
}

TEST(ZfsBackend, ReportsTheToolsFirstErrorLine) {
  FakeZfs fake;
  fake.fail_status = 1;
  auto backend = make_zfs_backend(
      "tank/m", [] { return UnixTime{0}; }, [] { return 1u; }, fake.runner());
  auto taken = backend->take();
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().message,
            "zfs snapshot tank/m@cs-19700101T000000Z-00000001 failed: cannot create snapshot 'tank/m@x': out "
            "of space");
}

// ---- run_command ---------------------------------------------------------------------------

TEST(RunCommand, CapturesStatusAndOutputWithoutAShell) {
  auto r = run_command({"printf", "%s|%s", "a b", "$HOME;*"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->out, "a b|$HOME;*");  // arguments reach the program untouched
  auto f = run_command({"ls", "/nonexistent-countersign"});
  ASSERT_TRUE(f.ok());
  EXPECT_NE(f->status, 0);
  EXPECT_TRUE(contains(f->err, "nonexistent-countersign"));
  auto env = run_command({"env"});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n");
  auto missing = run_command({"countersign-no-such-tool"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_FALSE(run_command({"./relative/tool"}).ok());
}

TEST(RunCommand, KillsAtTheTimeout) {
  CommandOptions options;
  options.timeout_seconds = 1;
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command({"sleep", "30"}, options);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(RunCommand, HandsDirectoriesAsFd3) {
  test_util::TempDir tmp("runcmd");
  test_util::spit(tmp.path() / "marker", "x");
  int fd = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  CommandOptions options;
  options.inherit_fds = {fd};
  auto r = run_command({"ls", "/proc/self/fd/3/"}, options);
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "marker\n");
}

// ---- the helper binary -----------------------------------------------------------------------

class HelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = tmp_.path() / "state";
    models_ = state_ / "models";
    staging_ = models_ / ".staging";
    fs::create_directories(staging_);
    for (const auto& d : {state_, models_, staging_}) ::chmod(d.c_str(), 0755);
    config_ = tmp_.file("countersignd.conf");
    write_config("none");
  }
  void TearDown() override { test::make_writable(tmp_.path()); }

  void write_config(const std::string& snapshot) {
    test_util::spit(config_, test::config_text(state_, snapshot));
    ::chmod(config_.c_str(), 0644);
  }
  test::HelperRun helper(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return test::run_helper(config_, args, env);
  }
  // A refusal: exit 1, one line on stderr containing `expect`, nothing on stdout, no model.
  void expect_refused(const test::HelperRun& run, const std::string& hex, const std::string& expect) {
    EXPECT_EQ(run.status, 1) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
    EXPECT_TRUE(contains(run.err, expect)) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_FALSE(fs::exists(fs::symlink_status(models_ / hex)));
    EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));  // no .install- leftover
  }

  test_util::TempDir tmp_{"system"};
  fs::path state_, models_, staging_;
  std::string config_;
};

const Files kModel = {
    {"config.json", "{\"layers\": 2}"},
    {"tokenizer/vocab.txt", "a\nb\nc\n"},
    {"weights/model-00001-of-00002.safetensors", std::string(70000, 'w')},
    {"weights/model-00002-of-00002.safetensors", ""},
};

TEST_F(HelperTest, HelpAndUsageErrors) {
  auto help = helper({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(contains(help.out, "usage: countersign-system"));
  auto bad = helper({"model", "install", "ABC"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(bad.out.empty());
  EXPECT_TRUE(contains(bad.err, "countersign-system: \"ABC\" is not a manifest hash")) << bad.err;
  EXPECT_EQ(helper({}).status, 2);
  EXPECT_EQ(helper({"model", "install", kHex, "extra"}).status, 2);
}

TEST_F(HelperTest, InstallsAStagedModelReadOnlyAndRootOwned) {
  const std::string hex = test::stage(staging_, kModel);
  auto run = helper({"model", "install", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(run.err.empty()) << run.err;
  EXPECT_EQ(run.json, (nlohmann::json{{"hash", "sha256:" + hex}, {"path", models_.string() + "/" + hex}}));

  const fs::path model = models_ / hex;
  auto tree = test::read_tree(model);
  std::map<std::string, std::string> expected = {{"tokenizer", "<dir>"}, {"weights", "<dir>"}};
  for (const auto& [path, content] : kModel) expected[path] = content;
  EXPECT_EQ(tree, expected);
  EXPECT_EQ(test::mode_of(model), 0555u);
  for (const auto& [path, kind] : tree) {
    EXPECT_EQ(test::mode_of(model / path), kind == "<dir>" ? 0555u : 0444u) << path;
    if (::geteuid() == 0) {
      EXPECT_EQ(test::owner_of(model / path), 0u) << path;
    }
  }
  // Staging is empty again: the tree moved, the manifest copy is gone.
  EXPECT_TRUE(test::list_names(staging_).empty());
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", hex}));
}

TEST_F(HelperTest, RootOwnsTheModelEvenWhenTheDaemonStagedIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  const std::string hex = test::stage(staging_, kModel);
  for (const auto& e : fs::recursive_directory_iterator(staging_)) {
    ASSERT_EQ(::lchown(e.path().c_str(), 65534, 65534), 0) << e.path();
  }
  auto run = helper({"model", "install", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  for (const auto& e : fs::recursive_directory_iterator(models_ / hex)) {
    EXPECT_EQ(test::owner_of(e.path()), 0u) << e.path();
  }
  EXPECT_EQ(test::owner_of(models_ / hex), 0u);
}

TEST_F(HelperTest, RefusesAnExtraFile) {
  const std::string hex = test::stage(staging_, kModel);
  test_util::spit(staging_ / hex / "weights" / "extra.bin", "x");
  auto run = helper({"model", "install", hex});
  expect_refused(run, hex,
                 staging_.string() + "/" + hex + "/weights/extra.bin: not in the manifest (unexpected file)");
  // The refused tree is back where the daemon left it.
  EXPECT_TRUE(fs::exists(staging_ / hex / "weights" / "extra.bin"));
  EXPECT_TRUE(fs::exists(staging_ / (hex + ".manifest.json")));
}

TEST_F(HelperTest, RefusesAnExtraEmptyDirectory) {
  const std::string hex = test::stage(staging_, kModel);
  fs::create_directory(staging_ / hex / "empty");
  expect_refused(helper({"model", "install", hex}), hex,
                 "/empty: not in the manifest (unexpected directory)");
}

TEST_F(HelperTest, RefusesAMissingFile) {
  const std::string hex = test::stage(staging_, kModel);
  fs::remove(staging_ / hex / "tokenizer" / "vocab.txt");
  expect_refused(helper({"model", "install", hex}), hex,
                 "/tokenizer/vocab.txt: missing (the manifest lists it)");
}

TEST_F(HelperTest, RefusesAWrongSize) {
  const std::string hex = test::stage(staging_, kModel);
  test_util::spit(staging_ / hex / "config.json", "{\"layers\": 20}");
  expect_refused(helper({"model", "install", hex}), hex, "/config.json: 14 bytes; the manifest says 13");
}

TEST_F(HelperTest, RefusesASymlinkAndLeavesItsTargetAlone) {
  const std::string hex = test::stage(staging_, kModel);
  const fs::path target = tmp_.path() / "secret";
  test_util::spit(target, "{\"layers\": 2}");  // the declared size, to get past any size check
  ::chmod(target.c_str(), 0600);
  fs::remove(staging_ / hex / "config.json");
  fs::create_symlink(target, staging_ / hex / "config.json");
  expect_refused(helper({"model", "install", hex}), hex,
                 "/config.json: is a symbolic link; only regular files and directories are allowed");
  EXPECT_EQ(test::mode_of(target), 0600u);
  EXPECT_EQ(test_util::slurp(target), "{\"layers\": 2}");
}

TEST_F(HelperTest, RefusesASymlinkedStagingTreeAndLeavesItsTargetAlone) {
  const std::string hex = test::stage(staging_, kModel);
  const fs::path elsewhere = tmp_.path() / "elsewhere";
  fs::rename(staging_ / hex, elsewhere);
  ::chmod(elsewhere.c_str(), 0750);
  fs::create_directory_symlink(elsewhere, staging_ / hex);
  expect_refused(helper({"model", "install", hex}), hex, "is a symbolic link, not a directory");
  EXPECT_EQ(test::mode_of(elsewhere), 0750u);
  EXPECT_EQ(test::mode_of(elsewhere / "config.json"), test::mode_of(elsewhere / "tokenizer" / "vocab.txt"));
  EXPECT_NE(test::mode_of(elsewhere / "config.json"), 0444u);
  EXPECT_TRUE(fs::is_symlink(staging_ / hex));
}

TEST_F(HelperTest, RefusesAFifoWithoutOpeningIt) {
  const std::string hex = test::stage(staging_, kModel);
  fs::remove(staging_ / hex / "weights" / "model-00002-of-00002.safetensors");
  ASSERT_EQ(::mkfifo((staging_ / hex / "weights" / "model-00002-of-00002.safetensors").c_str(), 0644), 0);
  // Opening the FIFO for reading would block the helper; the run would hit its timeout.
  expect_refused(helper({"model", "install", hex}), hex,
                 "/weights/model-00002-of-00002.safetensors: is a FIFO");
}

TEST_F(HelperTest, RefusesAHardLinkAndLeavesTheOtherNameAlone) {
  const std::string hex = test::stage(staging_, kModel);
  const fs::path other = tmp_.path() / "other-name";
  fs::create_hard_link(staging_ / hex / "config.json", other);
  ::chmod(other.c_str(), 0640);
  expect_refused(helper({"model", "install", hex}), hex, "/config.json: has 2 hard links");
  EXPECT_EQ(test::mode_of(other), 0640u);
}

TEST_F(HelperTest, RefusesAManifestWhoseHashIsNotTheArgument) {
  const std::string hex = test::stage(staging_, kModel);
  // Another manifest under this name: the helper must not install hex with its file list.
  const Manifest other = test::manifest_for({{"config.json", "{\"layers\": 2}"}}, "other");
  test_util::spit(staging_ / (hex + ".manifest.json"), other.to_json().dump());
  expect_refused(helper({"model", "install", hex}), hex,
                 "the manifest's hash is " + digest_to_string(other.hash()) + ", not sha256:" + hex);
  EXPECT_TRUE(fs::exists(staging_ / hex / "config.json"));  // not even moved
}

TEST_F(HelperTest, RefusesASecondInstall) {
  const std::string hex = test::stage(staging_, kModel);
  ASSERT_EQ(helper({"model", "install", hex}).status, 0);
  test::stage(staging_, kModel);
  auto again = helper({"model", "install", hex});
  EXPECT_EQ(again.status, 1);
  EXPECT_TRUE(contains(again.err, "model sha256:" + hex + " is already installed")) << again.err;
  EXPECT_EQ(test::read_tree(models_ / hex).size(), 6u);
}

TEST_F(HelperTest, RefusesWhenNothingIsStaged) {
  const std::string hex = test::hex_of(test::manifest_for(kModel));
  auto run = helper({"model", "install", hex});
  expect_refused(run, hex, hex + ".manifest.json does not exist");
  test_util::spit(staging_ / (hex + ".manifest.json"), test::manifest_for(kModel).to_json().dump());
  expect_refused(helper({"model", "install", hex}), hex,
                 "there is no staging directory " + staging_.string() + "/" + hex);
}

TEST_F(HelperTest, RefusesAModelsDirectoryOutsideTheStateDirectory) {
  const fs::path real_models = tmp_.path() / "real-models";
  fs::rename(models_, real_models);
  fs::create_directory_symlink(real_models, models_);
  const std::string hex = test::stage(real_models / ".staging", kModel);
  auto run = helper({"model", "install", hex});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(
      run.err, models_.string() + " resolves to " + real_models.string() + ", not " + models_.string()))
      << run.err;
  EXPECT_EQ(test::list_names(real_models / ".staging"),
            (std::vector<std::string>{hex, hex + ".manifest.json"}));
  EXPECT_EQ(helper({"snapshot", "list"}).status, 1);
}

TEST_F(HelperTest, RefusesAStagingDirectoryOutsideTheStateDirectory) {
  const fs::path real_staging = tmp_.path() / "real-staging";
  fs::rename(staging_, real_staging);
  fs::create_directory_symlink(real_staging, staging_);
  const std::string hex = test::stage(real_staging, kModel);
  auto run = helper({"model", "install", hex});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, staging_.string() + " resolves to " + real_staging.string())) << run.err;
  EXPECT_FALSE(fs::exists(models_ / hex));
}

TEST_F(HelperTest, RefusesAModelsDirectoryOthersCanWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  ::chmod(models_.c_str(), 0775);
  const std::string hex = test::stage(staging_, kModel);
  auto run = helper({"model", "install", hex});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "must be owned by root and writable only by root (it is uid 0, mode 0775)"))
      << run.err;
  EXPECT_FALSE(fs::exists(models_ / hex));
}

TEST_F(HelperTest, RefusesAStateDirectoryTheDaemonCanWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  // Whoever can write the state directory can swap models/ or snapshots/ for their own.
  ASSERT_EQ(::chown(state_.c_str(), 65534, 65534), 0);
  const std::string hex = test::stage(staging_, kModel);
  auto run = helper({"model", "install", hex});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "the state directory " + state_.string() + " must be owned by root"))
      << run.err;
  EXPECT_FALSE(fs::exists(models_ / hex));
}

TEST_F(HelperTest, RefusesAConfigurationOthersCanWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  ::chmod(config_.c_str(), 0664);
  auto run = helper({"snapshot", "list"});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, config_ + " must be owned by root")) << run.err;
}

TEST_F(HelperTest, IgnoresTheConfigurationFromTheEnvironmentUnderSudo) {
  const std::string hex = test::stage(staging_, kModel);
  for (const char* var : {"SUDO_USER=countersign", "SUDO_UID=998"}) {
    auto run = helper({"model", "install", hex}, {var});
    EXPECT_NE(run.status, 0) << var;
    if (!fs::exists("/etc/countersign/countersignd.conf")) {
      EXPECT_TRUE(contains(run.err, "/etc/countersign/countersignd.conf")) << run.err;
    }
    EXPECT_FALSE(fs::exists(models_ / hex)) << var;
    EXPECT_TRUE(fs::exists(staging_ / hex / "config.json")) << var;
  }
  EXPECT_EQ(helper({"model", "install", hex}).status, 0);  // the same call without sudo's variables
}

TEST_F(HelperTest, ResumesAnInstallInterruptedAfterTheFirstMove) {
  const std::string hex = test::stage(staging_, kModel);
  fs::rename(staging_ / hex, models_ / (".install-" + hex));  // where a crash would leave it
  auto run = helper({"model", "install", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", hex}));
  EXPECT_EQ(test::mode_of(models_ / hex / "config.json"), 0444u);
}

TEST_F(HelperTest, RemovesAModel) {
  const std::string hex = test::stage(staging_, kModel);
  ASSERT_EQ(helper({"model", "install", hex}).status, 0);
  auto run = helper({"model", "remove", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json, (nlohmann::json{{"hash", "sha256:" + hex}, {"removed", true}}));
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));  // no .trash- left
  auto again = helper({"model", "remove", hex});
  EXPECT_EQ(again.status, 1);
  EXPECT_TRUE(contains(again.err, "model sha256:" + hex + " is not installed")) << again.err;
}

TEST_F(HelperTest, RemovesStagingAlsoAfterARefusedInstall) {
  const std::string hex = test::stage(staging_, kModel);
  test_util::spit(staging_ / hex / "extra.bin", "x");
  ASSERT_EQ(helper({"model", "install", hex}).status, 1);
  if (::geteuid() == 0) {
    // Locked down (root's, 0555) before the refusal: the daemon's user could not remove it.
    EXPECT_EQ(test::owner_of(staging_ / hex), 0u);
    EXPECT_EQ(test::mode_of(staging_ / hex), 0555u);
  }
  auto run = helper({"staging", "remove", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json, (nlohmann::json{{"hash", "sha256:" + hex}, {"removed", true}}));
  EXPECT_TRUE(test::list_names(staging_).empty());
  auto again = helper({"staging", "remove", hex});  // idempotent
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.json, run.json);
}

TEST_F(HelperTest, StagingRemoveRemovesLinksNotTheirTargets) {
  const std::string hex = test::hex_of(test::manifest_for(kModel));
  const fs::path elsewhere = tmp_.path() / "elsewhere";
  test::write_tree(elsewhere, kModel);
  fs::create_directory_symlink(elsewhere, staging_ / hex);
  fs::create_directory(staging_ / (hex + ".manifest.json"));
  fs::create_symlink(elsewhere / "config.json", staging_ / (hex + ".manifest.json") / "link");
  ASSERT_EQ(helper({"staging", "remove", hex}).status, 0);
  EXPECT_TRUE(test::list_names(staging_).empty());
  EXPECT_EQ(test::read_tree(elsewhere).size(), 6u);
}

TEST_F(HelperTest, NoSnapshotBackend) {
  auto take = helper({"snapshot", "take"});
  ASSERT_EQ(take.status, 0) << take.err;
  EXPECT_EQ(take.out, "{\"backend\":\"none\",\"id\":null,\"taken\":null}\n");
  auto list = helper({"snapshot", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
  auto restore = helper({"snapshot", "restore", kId});
  EXPECT_EQ(restore.status, 1);
  EXPECT_TRUE(contains(restore.err, "no snapshot backend configured")) << restore.err;
}

TEST_F(HelperTest, BtrfsBackendChecksWhatItProtects) {
  write_config("btrfs:" + state_.string());  // the whole state directory: would roll back the log
  auto wide = helper({"snapshot", "take"});
  EXPECT_EQ(wide.status, 1);
  EXPECT_TRUE(contains(wide.err, "the subvolume must be the models directory")) << wide.err;
  write_config("btrfs:" + models_.string() + "/");
  auto plain = helper({"snapshot", "take"});  // a plain directory (the test's /tmp is not btrfs)
  EXPECT_EQ(plain.status, 1);
  EXPECT_TRUE(contains(plain.err, "is not a btrfs subvolume")) << plain.err;
  EXPECT_FALSE(fs::exists(state_ / "snapshots"));
}

TEST_F(HelperTest, ZfsBackendChecksTheMount) {
  write_config("zfs:tank/countersign/models");
  auto run = helper({"snapshot", "list"});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "snapshot = zfs:tank/countersign/models: ")) << run.err;
}

}  // namespace
}  // namespace countersign::daemon
