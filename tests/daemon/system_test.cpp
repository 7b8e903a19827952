// countersign-system: argument validation, the configuration path rule and the snapshot
// command lines in process; then the helper binary as the trust anchor, run as the daemon
// runs it, against a temporary box: acceptance, installs, removals, the policy chain and the
// audit log, and every refusal a compromised daemon could try.
#include "system/system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/liveness.h"
#include "core/policy_chain.h"
#include "core/timeutil.h"
#include "core/unique_fd.h"
#include "system/command.h"
#include "system/log_writer.h"
#include "system/snapshot.h"
#include "tests/daemon/box_fixture.h"
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
      {{"accept"}, SystemAction::kAccept, ""},
      {{"snapshot", "list"}, SystemAction::kSnapshotList, ""},
      {{"snapshot", "take", kHex}, SystemAction::kSnapshotTake, kHex},
      {{"snapshot", "restore", kHex}, SystemAction::kSnapshotRestore, kHex},
      {{"model", "seal", kHex}, SystemAction::kModelSeal, kHex},
      {{"model", "install", kHex}, SystemAction::kModelInstall, kHex},
      {{"model", "remove", kHex}, SystemAction::kModelRemove, kHex},
      {{"packages", "install", kHex}, SystemAction::kPackagesInstall, kHex},
      {{"policy", "rotate", kHex}, SystemAction::kPolicyRotate, kHex},
      {{"proposal", "abandon", kHex}, SystemAction::kProposalAbandon, kHex},
      {{"staging", "remove", kHex}, SystemAction::kStagingRemove, kHex},
      {{"log", "append"}, SystemAction::kLogAppend, ""},
      {{"log", "checkpoint"}, SystemAction::kLogCheckpoint, ""},
      {{"veto"}, SystemAction::kVeto, ""},
      {{"prove"}, SystemAction::kProve, ""},
      {{"attest"}, SystemAction::kAttest, ""},
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
      {{"model"}, "model takes seal PROPOSAL, install PROPOSAL or remove PROPOSAL"},
      {{"packages", "remove", kHex}, "packages takes install PROPOSAL"},
      {{"packages", "install", kHex.substr(1)}, "is not a proposal id"},
      {{"model", "install"}, "takes exactly one proposal id"},
      {{"model", "install", kHex, "--force"}, "takes exactly one proposal id"},
      {{"model", "install", upper}, "is not a proposal id"},
      {{"model", "install", kHex.substr(1)}, "is not a proposal id"},
      {{"model", "install", kHex + "a"}, "is not a proposal id"},
      {{"model", "install", "sha256:" + kHex.substr(7)}, "is not a proposal id"},
      {{"model", "install", "../../../../etc/passwd"}, "is not a proposal id"},
      {{"model", "remove", std::string(63, 'a') + "g"}, "is not a proposal id"},
      {{"staging", "remove", kHex + "/"}, "is not a manifest hash"},
      {{"staging", "list"}, "staging takes remove MANIFEST"},
      {{"accept", kHex}, "accept takes no arguments"},
      {{"snapshot", "take"}, "takes exactly one proposal id"},
      {{"snapshot", "list", "-a"}, "snapshot list takes no arguments"},
      {{"snapshot", "restore", kId}, "is not a proposal id"},
      {{"snapshot", "delete", kHex}, "snapshot takes list, take PROPOSAL or restore PROPOSAL"},
      {{"policy", "rotate"}, "takes exactly one proposal id"},
      {{"proposal", "approve", kHex}, "proposal takes abandon PROPOSAL"},
      {{"log", "append", "install-complete"}, "log append takes no arguments"},
      {{"log", "truncate"}, "log takes append or checkpoint"},
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
  // The parent, so that the datasets a restore retired beside it are listed too.
  EXPECT_EQ(zfs_list_command("tank/cs/models"), (V{"zfs", "list", "-H", "-p", "-t", "snapshot", "-o",
                                                   "name,creation", "-s", "creation", "-r", "tank/cs"}));
  EXPECT_EQ(zfs_list_command("tank"), (V{"zfs", "list", "-H", "-p", "-t", "snapshot", "-o", "name,creation",
                                         "-s", "creation", "-d", "1", "tank"}));
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

// Listed from the parent: siblings, children and look-alikes are not ours and are skipped;
// the datasets a restore retired or was making are.
TEST(ZfsList, KeepsTheDatasetAndWhatItsRestoresRetired) {
  const std::string out =
      "tank/other@cs-20260601T000000Z-00000001\t1780272000\n"
      "tank/m/child@cs-20260601T000000Z-00000001\t1780272000\n"
      "tank/m-retired-x@cs-20260601T000000Z-00000001\t1780272000\n"
      "tank/mm@cs-20260601T000000Z-00000001\t1780272000\n"
      "tank/m-retired-cs-20260603T000000Z-00000003@cs-20260602T000000Z-00000002\t1780358400\n"
      "tank/m@cs-20260601T000000Z-00000001\t1780272000\n";
  auto r = parse_zfs_list(out, "tank/m");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].dataset, "tank/m");
  EXPECT_EQ((*r)[1].id, "cs-20260602T000000Z-00000002");
  EXPECT_EQ((*r)[1].dataset, "tank/m-retired-cs-20260603T000000Z-00000003");
}

TEST(ZfsList, RefusesUnexpectedLines) {
  for (const char* bad : {"tank/m@cs-20260601T000000Z-00000001 1780272000\n",  // space, not tab
                          "tank/m@cs-20260601T000000Z-00000001\tyesterday\n",
                          "tank/m@cs-20260601T000000Z-00000001\t1\t2\n", "tank/m\t1780272000\n"}) {
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
      "tank/m", "/var/lib/countersign/models", [&] { return now; }, [] { return 0xdeadbeefu; },
      fake.runner());
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
  EXPECT_EQ(fake.calls.back(), zfs_list_command("tank/m"));  // nothing else was run
}

// Restoring to an older snapshot keeps the safety snapshot the restore took and every later
// one: no rollback, no destroy; clone, promote, and the names swapped. A second restore to
// the safety snapshot finds it on the retired dataset and brings the newer state back.
TEST(ZfsBackend, RestoreKeepsTheSafetySnapshotAndEveryLaterOne) {
  using V = std::vector<std::string>;
  FakeZfs fake;
  std::uint32_t next = 0xa0;
  auto backend = make_zfs_backend(
      "tank/cs/models", "/var/lib/countersign/models", [] { return *parse_rfc3339("2026-06-03T00:00:00Z"); },
      [&] { return next++; }, fake.runner());
  const std::string older = "cs-20260601T000000Z-00000001", later = "cs-20260602T000000Z-00000002",
                    safety = "cs-20260603T000000Z-00000003";
  fake.list_output = "tank/cs/models@" + older + "\t1780272000\ntank/cs/models@" + later +
                     "\t1780358400\ntank/cs/models@" + safety + "\t1780444800\n";
  auto restored = backend->restore(older);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  const std::string x = "cs-20260603T000000Z-000000a0";
  const std::vector<V> expected = {
      zfs_list_command("tank/cs/models"),
      {"zfs", "clone", "-o", "canmount=noauto", "-o", "mountpoint=/var/lib/countersign/models",
       "tank/cs/models@" + older, "tank/cs/models-restore-" + x},
      {"zfs", "promote", "tank/cs/models-restore-" + x},
      {"zfs", "set", "canmount=noauto", "tank/cs/models"},
      {"zfs", "rename", "-u", "tank/cs/models", "tank/cs/models-retired-" + x},
      {"zfs", "rename", "-u", "tank/cs/models-restore-" + x, "tank/cs/models"},
      {"zfs", "set", "canmount=on", "tank/cs/models"},
      {"zfs", "mount", "-O", "tank/cs/models"},
  };
  EXPECT_EQ(fake.calls, expected);
  for (const auto& argv : fake.calls) {
    EXPECT_NE(argv[1], "rollback");
    EXPECT_NE(argv[1], "destroy");
  }

  // After the promote, zfs keeps the snapshots up to `older` on the restored dataset and the
  // later ones on the retired one: all of them are still listed.
  fake.list_output = "tank/cs/models@" + older + "\t1780272000\ntank/cs/models-retired-" + x + "@" + later +
                     "\t1780358400\ntank/cs/models-retired-" + x + "@" + safety + "\t1780444800\n";
  fake.calls.clear();
  auto all = backend->list();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].id, safety);
  auto back = backend->restore(safety);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_GE(fake.calls.size(), 3u);
  EXPECT_EQ(fake.calls[2],
            (V{"zfs", "clone", "-o", "canmount=noauto", "-o", "mountpoint=/var/lib/countersign/models",
               "tank/cs/models-retired-" + x + "@" + safety,
               "tank/cs/models-restore-cs-20260603T000000Z-000000a1"}));
}

TEST(ZfsBackend, APoolRootCannotBeRestoredAndNothingRuns) {
  FakeZfs fake;
  auto backend = make_zfs_backend(
      "tank", "/models", [] { return UnixTime{0}; }, [] { return 1u; }, fake.runner());
  auto r = backend->restore(kId);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnsupported);
  EXPECT_TRUE(contains(r.error().message, "pool's root dataset")) << r.error().message;
  EXPECT_TRUE(fake.calls.empty());
}

TEST(ZfsBackend, ReportsTheToolsFirstErrorLine) {
  FakeZfs fake;
  fake.fail_status = 1;
  auto backend = make_zfs_backend(
      "tank/m", "/models", [] { return UnixTime{0}; }, [] { return 1u; }, fake.runner());
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

// The daemon hands the helper bundles and reasons on stdin (daemon/privileged.cpp).
TEST(RunCommand, WritesInputToStdinAsTheChildReadsIt) {
  CommandOptions o;
  o.input = std::string(300000, 'x') + "end";  // more than a pipe holds
  auto r = run_command({"wc", "-c"}, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->out, "300003\n");
  // A child that exits without reading is not an error of ours (EPIPE ends the write).
  auto early = run_command({"true"}, o);
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_EQ(early->status, 0);
  // One that never reads and never exits is killed at the timeout, input or not.
  o.timeout_seconds = 1;
  auto stuck = run_command({"sleep", "30"}, o);
  ASSERT_FALSE(stuck.ok());
  EXPECT_EQ(stuck.error().code, Errc::kTimeout);
  // The environment: the fixed one, or this process's when asked.
  ::setenv("COUNTERSIGN_RUN_COMMAND_PROBE", "seen", 1);
  CommandOptions inherit;
  inherit.inherit_environment = true;
  auto env = run_command({"env"}, inherit);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(contains(env->out, "COUNTERSIGN_RUN_COMMAND_PROBE=seen\n")) << env->out;
  auto fixed = run_command({"env"});
  ASSERT_TRUE(fixed.ok());
  EXPECT_FALSE(contains(fixed->out, "COUNTERSIGN_RUN_COMMAND_PROBE")) << fixed->out;
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

// ---- the helper binary, as the trust anchor -----------------------------------------------
//
// These tests play a compromised daemon: they call the helper directly, with whatever the
// daemon's user could hand it, and check what a person would see: the exit status and
// message, what is (and is not) in models/, and what the audit log says the helper saw.

class HelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_.emplace(tmp_.path());
    state_ = box_->config().state_dir;
    models_ = state_ / "models";
    staging_ = models_ / ".staging";
    for (const auto& d : {state_, models_, staging_}) ::chmod(d.c_str(), 0755);
    config_ = box_->config_file();
  }
  void TearDown() override { test::make_writable(tmp_.path()); }

  void set_snapshot(const std::string& spec) {
    box_->config().snapshot = *SnapshotSpec::parse(spec);
    box_->write_config();
  }
  test::HelperRun helper(const std::vector<std::string>& args, const std::string& input = "",
                         const std::vector<std::string>& env = {}) {
    return test::run_helper(config_, args, env, input);
  }

  nlohmann::json install_bundle(const Files& files,
                                const std::vector<std::string>& signers = {"alice", "bob", "carol"},
                                const test_util::BoxFixture::ProposalOptions& o = {}) {
    const Manifest m = test::manifest_for(files);
    auto opts = o;
    opts.action = Action::kInstallModel;
    return box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), opts), m.to_json(), signers);
  }
  static std::string proposal_hex(const nlohmann::json& bundle) {
    return hex_encode(Bundle::parse(bundle)->proposal().id());
  }
  // Accepts `bundle` (it must be approved) and returns its proposal id as hex.
  std::string accept(const nlohmann::json& bundle) {
    auto run = helper({"accept"}, bundle.dump());
    EXPECT_EQ(run.status, 0) << run.err;
    return proposal_hex(bundle);
  }
  // A remove-model proposal for the manifest of `files`, accepted.
  std::string accept_remove(const Files& files) {
    const Manifest m = test::manifest_for(files);
    test_util::BoxFixture::ProposalOptions o;
    o.action = Action::kRemoveModel;
    return accept(
        box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(), {"alice", "bob"}));
  }

  // Every audit log entry, parsed.
  std::vector<nlohmann::json> entries() const {
    std::vector<nlohmann::json> out;
    auto log = audit::AuditLog::open(state_ / "log", audit::AuditLog::Mode::kReadOnly);
    if (!log.ok()) return out;
    for (std::uint64_t i = 0; i < log->size(); ++i) out.push_back(nlohmann::json::parse(*log->entry(i)));
    return out;
  }
  std::vector<nlohmann::json> entries_of(std::string_view event) const {
    std::vector<nlohmann::json> out;
    for (auto& e : entries()) {
      if (e["event"] == event) out.push_back(e);
    }
    return out;
  }
  std::vector<std::string> installed() const {
    std::vector<std::string> out;
    for (const auto& n : test::list_names(models_)) {
      if (n != ".staging") out.push_back(n);
    }
    return out;
  }

  // A refusal: exit 1, one line on stderr containing `expect`, the error as JSON on stdout,
  // and nothing installed.
  void expect_refused(const test::HelperRun& run, const std::string& expect) {
    EXPECT_EQ(run.status, 1) << run.err;
    EXPECT_TRUE(contains(run.err, expect)) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_TRUE(run.json.is_object() && run.json.contains("error")) << run.out;
    EXPECT_TRUE(installed().empty()) << test::list_names(models_).size();
  }

  test_util::TempDir tmp_{"system"};
  std::optional<test_util::BoxFixture> box_;
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
  EXPECT_TRUE(contains(bad.err, "countersign-system: \"ABC\" is not a proposal id")) << bad.err;
  EXPECT_EQ(helper({}).status, 2);
  EXPECT_EQ(helper({"model", "install", kHex, "extra"}).status, 2);
}

TEST_F(HelperTest, AcceptsAnApprovedBundleAndLogsWhatItVerified) {
  const auto bundle = install_bundle(kModel);
  auto run = helper({"accept"}, bundle.dump());
  ASSERT_EQ(run.status, 0) << run.err;
  const std::string id = "sha256:" + proposal_hex(bundle);
  EXPECT_EQ(run.json["proposal"], id);
  EXPECT_EQ(run.json["state"], "accepted");
  EXPECT_EQ(run.json["counted"], (nlohmann::json{"alice", "bob", "carol"}));
  auto verified = entries_of(audit::event::kBundleVerified);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_EQ(verified[0]["proposal"], id);
  EXPECT_EQ(verified[0]["counted"], (nlohmann::json{"alice", "bob", "carol"}));
  EXPECT_FALSE(verified[0].contains("reported_by"));  // the helper's own finding
  EXPECT_EQ(test_util::slurp(state_ / "system" / "executed"), id + "\n");
  // The log is signed by the helper: a checkpoint covers the approval.
  auto log = audit::AuditLog::open(state_ / "log", audit::AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->checkpoints()->size(), 1u);
}

// attested_image rules: the System component asks its own Nitro Secure Module; a box
// without one, or with something else at nsm_device, never meets such a rule (fail closed).
TEST_F(HelperTest, WithoutANitroSecureModuleAttestedImageRulesAreNeverMet) {
  auto doc = box_->make_policy_doc(1, {{"install-model", {{"threshold", 3}, {"attested_image", true}}},
                                       {"remove-model", {{"threshold", 2}}}});
  doc["images"] = {
      {{"name", "safebox-2026.11"}, {"platform", "aws-nitro"}, {"pcrs", {{"0", std::string(96, '1')}}}}};
  box_->set_policy_doc(doc);
  const std::string nsm = box_->config().nsm_device;

  auto attest = helper({"attest"}, "{}");
  EXPECT_EQ(attest.status, 1) << attest.err;
  EXPECT_EQ(attest.json["error"], "unsupported") << attest.out;
  EXPECT_TRUE(contains(attest.err, "no attestation available: this box has no Nitro Secure Module (" + nsm +
                                       " does not exist)"))
      << attest.err;

  const auto bundle = install_bundle(kModel);
  expect_refused(helper({"accept"}, bundle.dump()),
                 "attested_image: the rule for install-model requires an attested image, and this box's "
                 "attestation is not one: no attestation available: this box has no Nitro Secure Module");
  EXPECT_TRUE(entries_of(audit::event::kBundleVerified).empty());
  auto rejected = entries_of(audit::event::kBundleRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_TRUE(contains(rejected[0]["reasons"][0].get<std::string>(), "attested_image: "))
      << rejected[0].dump();
  expect_refused(helper({"model", "install", proposal_hex(bundle)}), "no accepted proposal");

  // Something at the path that is not a character device is not taken for the module.
  test_util::spit(nsm, "not a device");
  expect_refused(helper({"accept"}, bundle.dump()),
                 "is not a character device, so not a Nitro Secure Module");

  // Rules that do not ask are unaffected.
  const Manifest m = test::manifest_for(kModel);
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRemoveModel;
  auto remove = helper(
      {"accept"},
      box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(), {"alice", "bob"}).dump());
  EXPECT_EQ(remove.status, 0) << remove.err;
}

TEST_F(HelperTest, AttestTakesOnlyANonceOfOneTo1024Bytes) {
  for (const std::string bad : {R"({"nonce": "zz"})", R"({"nonce": ""})", R"({"other": "00"})", "[1]"}) {
    auto run = helper({"attest"}, bad);
    EXPECT_EQ(run.status, 1) << bad;
    EXPECT_TRUE(contains(run.err, "attest: ")) << bad << ": " << run.err;
  }
  auto big = helper({"attest"}, R"({"nonce": ")" + std::string(2050, 'a') + R"("})");
  EXPECT_TRUE(contains(big.err, "nonce must be 1 to 1024 bytes in hex")) << big.err;
}

TEST_F(HelperTest, RefusesBundlesMofNDidNotApprove) {
  struct Case {
    std::string what;
    nlohmann::json bundle;
    std::string expect;
  };
  test_util::BoxFixture::ProposalOptions expired, other_box, other_domain;
  expired.created = system_now() - 10 * 86400;
  expired.expires = system_now() - 86400;
  other_box.boxes = std::vector<std::string>{"box-other"};
  other_domain.domain = "acme-staging";
  const Case cases[] = {
      {"unsigned", install_bundle(kModel, {}), "threshold"},
      {"under threshold", install_bundle(kModel, {"alice", "bob"}), "threshold"},
      {"an outsider's signature", install_bundle(kModel, {"alice", "bob", "outsider"}), "threshold"},
      {"expired", install_bundle(kModel, {"alice", "bob", "carol"}, expired), "expired"},
      {"another box", install_bundle(kModel, {"alice", "bob", "carol"}, other_box), "box"},
      {"another domain", install_bundle(kModel, {"alice", "bob", "carol"}, other_domain), "domain"},
  };
  for (const auto& c : cases) {
    auto run = helper({"accept"}, c.bundle.dump());
    expect_refused(run, c.expect);
    EXPECT_TRUE(contains(run.err, "refused")) << c.what << ": " << run.err;
    const std::string id = "sha256:" + proposal_hex(c.bundle);
    bool logged = false;
    for (const auto& e : entries_of(audit::event::kBundleRejected)) {
      logged = logged || (e["proposal"] == id && !e.contains("reported_by"));
    }
    EXPECT_TRUE(logged) << c.what;
  }
  auto garbage = helper({"accept"}, "{\"schema\": \"countersign/bundle/v1\"}");
  expect_refused(garbage, "malformed bundle");
  EXPECT_TRUE(entries_of(audit::event::kBundleVerified).empty());
  EXPECT_FALSE(fs::exists(state_ / "system" / "executed") &&
               !test_util::slurp(state_ / "system" / "executed").empty());
}

TEST_F(HelperTest, RefusesAReplayEvenWhenTheDaemonForgot) {
  const auto bundle = install_bundle(kModel);
  accept(bundle);
  // The daemon's own records are the daemon's to lose; the helper keeps its own.
  fs::remove_all(state_ / "daemon");
  auto again = helper({"accept"}, bundle.dump());
  expect_refused(again, "replayed: proposal sha256:" + proposal_hex(bundle) + " was executed already");
  EXPECT_EQ(entries_of(audit::event::kBundleVerified).size(), 1u);
}

TEST_F(HelperTest, InstallsOnlyAnAcceptedProposalAfterReHashingEveryFile) {
  const auto bundle = install_bundle(kModel);
  const std::string id = accept(bundle);
  const std::string hex = test::stage(staging_, kModel);
  auto run = helper({"model", "install", id});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["manifest"], "sha256:" + hex);
  EXPECT_EQ(run.json["files"], kModel.size());

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
  EXPECT_TRUE(test::list_names(staging_).empty());
  auto complete = entries_of(audit::event::kInstallComplete);
  ASSERT_EQ(complete.size(), 1u);
  EXPECT_EQ(complete[0]["proposal"], "sha256:" + id);
  EXPECT_EQ(complete[0]["verified"], "every file re-hashed by countersign-system");
  EXPECT_FALSE(complete[0].contains("reported_by"));
  EXPECT_EQ(entries_of(audit::event::kSnapshotSkipped).size(), 1u);
  // The helper's record of it, which the daemon lists.
  auto record = nlohmann::json::parse(test_util::slurp(state_ / "system" / "installed" / (hex + ".json")));
  EXPECT_EQ(record["proposal"], "sha256:" + id);

  // Once: a second install of the same proposal is refused, and the model stays as it was.
  test::stage(staging_, kModel);
  auto again = helper({"model", "install", id});
  EXPECT_EQ(again.status, 1);
  EXPECT_TRUE(contains(again.err, "is done already")) << again.err;
  EXPECT_EQ(test::read_tree(model), expected);
  EXPECT_EQ(entries_of(audit::event::kInstallComplete).size(), 1u);
}

TEST_F(HelperTest, RefusesAnInstallNobodyApproved) {
  const std::string hex = test::stage(staging_, kModel);
  // With no bundle at all: the proposal id is unknown to the helper.
  expect_refused(helper({"model", "install", hex}), "no accepted proposal sha256:" + hex);
  // With a bundle the helper refused (two of three).
  const auto weak = install_bundle(kModel, {"alice", "bob"});
  EXPECT_EQ(helper({"accept"}, weak.dump()).status, 1);
  expect_refused(helper({"model", "install", proposal_hex(weak)}), "no accepted proposal");
  // Another box's bundle, approved there.
  test_util::BoxFixture::ProposalOptions other;
  other.boxes = std::vector<std::string>{"box-other"};
  const auto theirs = install_bundle(kModel, {"alice", "bob", "carol"}, other);
  EXPECT_EQ(helper({"accept"}, theirs.dump()).status, 1);
  expect_refused(helper({"model", "install", proposal_hex(theirs)}), "no accepted proposal");
  EXPECT_TRUE(fs::exists(staging_ / hex / "config.json"));  // not even touched
  EXPECT_EQ(entries_of(audit::event::kActionRefused).size(), 3u);
  EXPECT_TRUE(entries_of(audit::event::kInstallComplete).empty());
}

TEST_F(HelperTest, RefusesStagedBytesThatAreNotTheManifestsAndDeletesThem) {
  const Files files = {{"hello.txt", "hello\n"}};
  const std::string id = accept(install_bundle(files));
  const std::string hex = test::hex_of(test::manifest_for(files));
  test::write_tree(staging_ / hex, {{"hello.txt", "HELLO\n"}});  // the same size
  auto run = helper({"model", "install", id});
  expect_refused(run, "/hello.txt: SHA-256 is " + digest_to_string(sha256(std::string_view("HELLO\n"))));
  EXPECT_FALSE(fs::exists(staging_ / hex));
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));  // no .install- left
  auto refused = entries_of(audit::event::kInstallRefused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["proposal"], "sha256:" + id);
  EXPECT_TRUE(contains(refused[0]["reason"].get<std::string>(), "the manifest says")) << refused[0];
  EXPECT_TRUE(entries_of(audit::event::kInstallComplete).empty());
  // The proposal is still accepted: correct bytes staged again install.
  test::stage(staging_, files);
  EXPECT_EQ(helper({"model", "install", id}).status, 0);
}

TEST_F(HelperTest, RefusesAFileTheDaemonStillHoldsOpen) {
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::stage(staging_, kModel);
  // A descriptor opened for writing before the seal would let the daemon change the bytes
  // after the re-hash.
  UniqueFd writer(::open((staging_ / hex / "config.json").c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(writer.valid());
  auto run = helper({"model", "install", id});
  expect_refused(run, "/config.json: is open in another process");
  writer.reset();
  EXPECT_EQ(entries_of(audit::event::kInstallRefused).size(), 1u);
}

TEST_F(HelperTest, RefusesTreesThatAreNotExactlyTheManifest) {
  struct Case {
    std::string what;
    std::function<void(const fs::path&)> tamper;
    std::string expect;
  };
  const fs::path outside = tmp_.path() / "outside";
  test_util::spit(outside, "{\"layers\": 2}");  // the declared size of config.json
  ::chmod(outside.c_str(), 0600);
  const Case cases[] = {
      {"an extra file", [](const fs::path& t) { test_util::spit(t / "weights" / "extra.bin", "x"); },
       "/weights/extra.bin: not in the manifest (unexpected file)"},
      {"an extra directory", [](const fs::path& t) { fs::create_directory(t / "empty"); },
       "/empty: not in the manifest (unexpected directory)"},
      {"a missing file", [](const fs::path& t) { fs::remove(t / "tokenizer" / "vocab.txt"); },
       "/tokenizer/vocab.txt: missing (the manifest lists it)"},
      {"a wrong size", [](const fs::path& t) { test_util::spit(t / "config.json", "{\"layers\": 20}"); },
       "/config.json: 14 bytes; the manifest says 13"},
      {"a symlink",
       [&](const fs::path& t) {
         fs::remove(t / "config.json");
         fs::create_symlink(outside, t / "config.json");
       },
       "/config.json: is a symbolic link; only regular files and directories are allowed"},
      {"a hard link",
       [&](const fs::path& t) { fs::create_hard_link(t / "config.json", tmp_.path() / "other-name"); },
       "/config.json: has 2 hard links"},
      {"a FIFO",
       [](const fs::path& t) {
         const auto f = t / "weights" / "model-00002-of-00002.safetensors";
         fs::remove(f);
         ASSERT_EQ(::mkfifo(f.c_str(), 0644), 0);
       },
       "/weights/model-00002-of-00002.safetensors: is a FIFO"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string id = accept(install_bundle(kModel, {"alice", "bob", "carol"}, {}));
    const std::string hex = test::stage(staging_, kModel);
    c.tamper(staging_ / hex);
    expect_refused(helper({"model", "install", id}), c.expect);
    EXPECT_FALSE(fs::exists(fs::symlink_status(staging_ / hex)));
    EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));
    ASSERT_EQ(helper({"proposal", "abandon", id}, "test\n").status, 0);
    fs::remove(tmp_.path() / "other-name");
  }
  // What the links pointed at is untouched.
  EXPECT_EQ(test::mode_of(outside), 0600u);
  EXPECT_EQ(test_util::slurp(outside), "{\"layers\": 2}");
  EXPECT_EQ(entries_of(audit::event::kInstallRefused).size(), std::size(cases));
}

TEST_F(HelperTest, ReHashesAModelThatIsAlreadyThereBeforeCountingIt) {
  // A models/<hash> that exists already (planted, restored from an old snapshot, or left by
  // a crash) is not trusted by its name.
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::hex_of(test::manifest_for(kModel));
  test::write_tree(models_ / hex, kModel);
  test_util::spit(models_ / hex / "config.json", "{\"layers\": 9}");  // same size, other bytes
  ::chmod((models_ / hex / "config.json").c_str(), 0666);
  // No staging: the damaged copy is removed and the install waits for the bytes.
  auto first = helper({"model", "install", id});
  EXPECT_EQ(first.status, 1);
  EXPECT_TRUE(contains(first.err, "there is no staging directory")) << first.err;
  EXPECT_FALSE(fs::exists(models_ / hex));
  auto damaged = entries_of(audit::event::kModelDamaged);
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_TRUE(contains(damaged[0]["reason"].get<std::string>(), "/config.json: SHA-256 is")) << damaged[0];
  // Fetched again: installed, re-hashed.
  test::stage(staging_, kModel);
  ASSERT_EQ(helper({"model", "install", id}).status, 0);
  EXPECT_EQ(test_util::slurp(models_ / hex / "config.json"), "{\"layers\": 2}");
  EXPECT_EQ(test::mode_of(models_ / hex / "config.json"), 0444u);

  // A correct copy already there counts after its re-hash, and is sealed.
  const auto again = install_bundle(kModel, {"bob", "carol", "dave"});
  const std::string id2 = accept(again);
  auto run = helper({"model", "install", id2});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["already_installed"], true);
  EXPECT_EQ(entries_of(audit::event::kInstallComplete).size(), 2u);
}

TEST_F(HelperTest, FilesSealedAheadAreNotReadAgainUnlessTheyChanged) {
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::hex_of(test::manifest_for(kModel));
  // Half the model has arrived: the helper seals and hashes what is complete.
  test::write_tree(staging_ / hex, {kModel[0], kModel[1]});
  auto seal = helper({"model", "seal", id});
  ASSERT_EQ(seal.status, 0) << seal.err;
  EXPECT_EQ(seal.json["sealed"], 2);
  EXPECT_EQ(test::mode_of(staging_ / hex / "config.json"), 0444u);
  if (::geteuid() == 0) {
    EXPECT_EQ(test::owner_of(staging_ / hex / "config.json"), 0u);
  }
  EXPECT_NE(test::mode_of(staging_ / hex / "tokenizer"), 0555u);  // directories stay the daemon's
  EXPECT_EQ(helper({"model", "seal", id}).json["sealed"], 0);     // nothing new
  // The rest arrives; the daemon swaps a sealed file for a copy of its own (same bytes).
  test::write_tree(staging_ / hex, {kModel[2], kModel[3]});
  fs::remove(staging_ / hex / "tokenizer" / "vocab.txt");
  test_util::spit(staging_ / hex / "tokenizer" / "vocab.txt", kModel[1].second);
  auto run = helper({"model", "install", id});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["hashed_ahead"], 1);  // config.json; the swapped file was read again
  EXPECT_FALSE(fs::exists(state_ / "system" / "proposals" / (id + ".sealed")));
}

TEST_F(HelperTest, AFileSwappedAfterItsSealIsCheckedAgainAndRefusedWhenWrong) {
  const Files files = {{"a.bin", "aaaa"}, {"b.bin", "bbbb"}};
  const std::string id = accept(install_bundle(files));
  const std::string hex = test::hex_of(test::manifest_for(files));
  test::write_tree(staging_ / hex, files);
  ASSERT_EQ(helper({"model", "seal", id}).json["sealed"], 2);
  fs::remove(staging_ / hex / "a.bin");
  test_util::spit(staging_ / hex / "a.bin", "AAAA");  // same size, other bytes
  // Sealing again reports it, without refusing anything yet.
  auto again = helper({"model", "seal", id});
  ASSERT_EQ(again.status, 0) << again.err;
  ASSERT_TRUE(again.json.contains("mismatches")) << again.out;
  EXPECT_TRUE(contains(again.json["mismatches"].dump(), "/a.bin: SHA-256 is")) << again.out;
  expect_refused(helper({"model", "install", id}), "/a.bin: SHA-256 is");
  EXPECT_EQ(entries_of(audit::event::kInstallRefused).size(), 1u);
}

TEST_F(HelperTest, RemovesOnlyWithAnAcceptedRemoveProposal) {
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::stage(staging_, kModel);
  ASSERT_EQ(helper({"model", "install", id}).status, 0);
  // The install's own id, or a random one, is no licence to remove.
  EXPECT_EQ(helper({"model", "remove", id}).status, 1);
  EXPECT_EQ(helper({"model", "remove", kHex}).status, 1);
  EXPECT_TRUE(fs::exists(models_ / hex));
  const std::string rid = accept_remove(kModel);
  auto run = helper({"model", "remove", rid});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["removed"], true);
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));  // no .trash- left
  EXPECT_EQ(entries_of(audit::event::kModelRemoved).size(), 1u);
  EXPECT_FALSE(fs::exists(state_ / "system" / "installed" / (hex + ".json")));
}

TEST_F(HelperTest, RefusesAForgedLogEntry) {
  // The daemon may report what it saw, marked as its report...
  auto ok =
      helper({"log", "append"},
             R"({"event": "source-failed", "path": "a", "source": "https://x/", "reason": "HTTP 404"})");
  ASSERT_EQ(ok.status, 0) << ok.err;
  auto reported = entries_of(audit::event::kSourceFailed);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0]["reported_by"], "daemon");
  // ... but never claim a privileged action, nor pass itself off as the helper.
  const std::string forged = R"({"event": "install-complete", "proposal": "sha256:)" + kHex +
                             R"(", "manifest": "sha256:)" + kHex + R"("})";
  auto run = helper({"log", "append"}, forged);
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "the daemon may not report \"install-complete\"")) << run.err;
  EXPECT_TRUE(entries_of(audit::event::kInstallComplete).empty());
  EXPECT_EQ(entries_of(audit::event::kActionRefused).size(), 1u);
  auto masked =
      helper({"log", "append"}, R"({"event": "bundle-received", "reported_by": "system", "seq": 0})");
  ASSERT_EQ(masked.status, 0) << masked.err;
  EXPECT_EQ(entries_of(audit::event::kBundleReceived)[0]["reported_by"], "daemon");
  // Entries the daemon reports are bounded in size.
  auto huge = helper({"log", "append"},
                     nlohmann::json{{"event", "bundle-rejected"},
                                    {"reasons", std::vector<std::string>(25, std::string(2000, 'r'))}}
                         .dump());
  ASSERT_EQ(huge.status, 0) << huge.err;
  const nlohmann::json e = entries_of(audit::event::kBundleRejected).back();
  EXPECT_LE(e.dump().size(), kMaxReportedEntry + 200);
  // The daemon cannot write the log or read its key at all when the box runs as packaged
  // (tests/packaging/install_test.sh checks that as the daemon's user).
}

TEST_F(HelperTest, RateLimitsWhatTheDaemonReports) {
  // An empty bucket that refilled for 10 s: five reports go in, the sixth is counted.
  fs::create_directories(state_ / "system");
  test_util::spit(state_ / "system" / "report-budget.json",
                  nlohmann::json{{"tokens", 0}, {"updated", system_now() - 10}, {"suppressed", 0}}.dump());
  const std::string report = R"({"event": "bundle-received"})";
  int written = 0, suppressed = 0;
  for (int i = 0; i < 7; ++i) {
    auto run = helper({"log", "append"}, report);
    ASSERT_EQ(run.status, 0) << run.err;
    (run.json.contains("seq") ? written : suppressed)++;
  }
  EXPECT_GE(written, 5);
  EXPECT_LE(written, 6);  // a second may pass during the loop
  EXPECT_EQ(written + suppressed, 7);
  // When reports flow again, the count of those dropped comes first.
  test_util::spit(state_ / "system" / "report-budget.json",
                  nlohmann::json{{"tokens", 0},
                                 {"updated", system_now() - 4},
                                 {"suppressed", suppressed},
                                 {"suppressed_since", system_now() - 4}}
                      .dump());
  ASSERT_EQ(helper({"log", "append"}, report).status, 0);
  auto dropped = entries_of(audit::event::kReportsSuppressed);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["count"], suppressed);
}

TEST_F(HelperTest, KeepsThePolicyChainAndRefusesToStartWhenItIsBroken) {
  // Rotate to version 2 (without carol), signed under v1 and by v2's own rule.
  nlohmann::json v2 = box_->make_policy_doc(2, box_->policy_doc()["rules"], {"alice", "bob", "dave", "erin"});
  const Policy next = *Policy::parse(v2);
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  const auto rotation =
      box_->bundle(test_util::BoxFixture::make_proposal(next.hash(), o), v2, {"alice", "bob", "dave"});
  const std::string rid = accept(rotation);
  auto run = helper({"policy", "rotate", rid});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["to_version"], 2);
  ASSERT_TRUE(fs::exists(state_ / "system" / "policy" / "rotation-2.json"));
  EXPECT_EQ(entries_of(audit::event::kPolicyRotated).size(), 1u);

  // In force now: carol's signature no longer counts.
  const auto with_carol = install_bundle(kModel, {"alice", "carol", "erin"});
  expect_refused(helper({"accept"}, with_carol.dump()), "threshold");
  accept(install_bundle(kModel, {"alice", "dave", "erin"}));

  // Deleting the rotation (falling back to v1) or replacing it is refused, never used.
  const fs::path chain = state_ / "system" / "policy";
  const std::string kept = test_util::slurp(chain / "rotation-2.json");
  fs::rename(chain / "rotation-2.json", tmp_.path() / "rotation-2.json");
  expect_refused(helper({"accept"}, with_carol.dump()), "a rotation file is missing");
  nlohmann::json forged = nlohmann::json::parse(kept);
  forged["manifest"]["approvers"].erase(0);  // alice gone: not what was approved
  test_util::spit(chain / "rotation-2.json", forged.dump());
  expect_refused(helper({"accept"}, with_carol.dump()), "rotation-2.json");
  fs::rename(tmp_.path() / "rotation-2.json", chain / "rotation-2.json");
  test_util::spit(chain / "rotation-3.json", kept);
  expect_refused(helper({"accept"}, with_carol.dump()), "rotation-3.json");
  fs::remove(chain / "rotation-3.json");
  EXPECT_EQ(helper({"accept"}, install_bundle(kModel, {"bob", "dave", "erin"}).dump()).status, 0);
}

TEST_F(HelperTest, ReVerifiesAQueuedInstallAfterARotationRevokedItsSigners) {
  // Accepted under v1 with carol's vote; v2 drops carol before the install runs.
  const std::string id = accept(install_bundle(kModel, {"alice", "bob", "carol"}));
  nlohmann::json v2 = box_->make_policy_doc(2, box_->policy_doc()["rules"], {"alice", "bob", "dave", "erin"});
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRotatePolicy;
  const std::string rid = accept(box_->bundle(
      test_util::BoxFixture::make_proposal(Policy::parse(v2)->hash(), o), v2, {"alice", "bob", "dave"}));
  ASSERT_EQ(helper({"policy", "rotate", rid}).status, 0);
  test::stage(staging_, kModel);
  expect_refused(helper({"model", "install", id}), "is no longer approved under policy version 2");
}

TEST_F(HelperTest, AbandonsOnlyWhatWaitsAndSaysWhoGaveTheReason) {
  const auto bundle = install_bundle(kModel);
  const std::string id = accept(bundle);
  auto run = helper({"proposal", "abandon", id}, "no source gave the right bytes\n");
  ASSERT_EQ(run.status, 0) << run.err;
  auto aborted = entries_of(audit::event::kInstallAborted);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0]["reason"], "no source gave the right bytes");
  EXPECT_EQ(aborted[0]["reported_by"], "daemon");
  test::stage(staging_, kModel);
  expect_refused(helper({"model", "install", id}), "is failed already");
  EXPECT_EQ(helper({"proposal", "abandon", id}).status, 1);
}

TEST_F(HelperTest, RefusesAModelsDirectoryOutsideTheStateDirectory) {
  const std::string id = accept(install_bundle(kModel));
  const fs::path real_models = tmp_.path() / "real-models";
  fs::rename(models_, real_models);
  fs::create_directory_symlink(real_models, models_);
  const std::string hex = test::stage(real_models / ".staging", kModel);
  auto run = helper({"model", "install", id});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(
      run.err, models_.string() + " resolves to " + real_models.string() + ", not " + models_.string()))
      << run.err;
  EXPECT_EQ(test::list_names(real_models / ".staging"), (std::vector<std::string>{hex}));
  EXPECT_EQ(helper({"snapshot", "list"}).status, 1);
}

TEST_F(HelperTest, RefusesAStagingDirectoryOutsideTheStateDirectory) {
  const std::string id = accept(install_bundle(kModel));
  const fs::path real_staging = tmp_.path() / "real-staging";
  fs::rename(staging_, real_staging);
  fs::create_directory_symlink(real_staging, staging_);
  const std::string hex = test::stage(real_staging, kModel);
  auto run = helper({"model", "install", id});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, staging_.string() + " resolves to " + real_staging.string())) << run.err;
  EXPECT_FALSE(fs::exists(models_ / hex));
}

TEST_F(HelperTest, RefusesStateTheDaemonCouldWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  const std::string id = accept(install_bundle(kModel));
  test::stage(staging_, kModel);
  struct Case {
    fs::path path;
    std::string expect;
  };
  for (const auto& c : std::vector<Case>{{models_, "the models directory"},
                                         {state_, "the state directory " + state_.string()},
                                         {state_ / "system", state_.string() + "/system"},
                                         {state_ / "log", "the log directory"}}) {
    ASSERT_EQ(::chown(c.path.c_str(), 65534, 65534), 0);
    auto run = helper({"model", "install", id});
    EXPECT_EQ(run.status, 1);
    EXPECT_TRUE(contains(run.err, c.expect)) << run.err;
    EXPECT_TRUE(contains(run.err, "must be owned by root")) << run.err;
    EXPECT_TRUE(installed().empty());
    ASSERT_EQ(::chown(c.path.c_str(), 0, 0), 0);
  }
  EXPECT_EQ(helper({"model", "install", id}).status, 0);
}

TEST_F(HelperTest, RefusesALogKeyOthersCanRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  ::chmod(box_->config().log_key.c_str(), 0640);
  auto run = helper({"log", "checkpoint"});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "must be owned by root and readable only by root (it is uid 0, mode 0640)"))
      << run.err;
}

TEST_F(HelperTest, RefusesAConfigurationOthersCanWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "the ownership checks apply when running as root";
  ::chmod(config_.c_str(), 0664);
  auto run = helper({"snapshot", "list"});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, config_ + " must be owned by root")) << run.err;
}

TEST_F(HelperTest, IgnoresTheConfigurationFromTheEnvironmentUnderSudo) {
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::stage(staging_, kModel);
  for (const char* var : {"SUDO_USER=countersign", "SUDO_UID=998"}) {
    auto run = helper({"model", "install", id}, "", {var});
    EXPECT_NE(run.status, 0) << var;
    if (!fs::exists("/etc/countersign/countersignd.conf")) {
      EXPECT_TRUE(contains(run.err, "/etc/countersign/countersignd.conf")) << run.err;
    }
    EXPECT_FALSE(fs::exists(models_ / hex)) << var;
  }
  EXPECT_EQ(helper({"model", "install", id}).status, 0);  // the same call without sudo's variables
}

TEST_F(HelperTest, ResumesAnInstallInterruptedAfterTheFirstMove) {
  const std::string id = accept(install_bundle(kModel));
  const std::string hex = test::stage(staging_, kModel);
  fs::rename(staging_ / hex, models_ / (".install-" + hex));  // where a crash would leave it
  auto run = helper({"model", "install", id});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", hex}));
  EXPECT_EQ(test::mode_of(models_ / hex / "config.json"), 0444u);
}

TEST_F(HelperTest, StagingRemoveRemovesLinksNotTheirTargets) {
  const std::string hex = test::hex_of(test::manifest_for(kModel));
  const fs::path elsewhere = tmp_.path() / "elsewhere";
  test::write_tree(elsewhere, kModel);
  fs::create_directory_symlink(elsewhere, staging_ / hex);
  fs::create_directory(staging_ / (hex + ".parts"));
  fs::create_symlink(elsewhere / "config.json", staging_ / (hex + ".parts") / "0");
  auto run = helper({"staging", "remove", hex});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json, (nlohmann::json{{"hash", "sha256:" + hex}, {"removed", true}}));
  EXPECT_TRUE(test::list_names(staging_).empty());
  EXPECT_EQ(test::read_tree(elsewhere).size(), 6u);
  EXPECT_EQ(helper({"staging", "remove", hex}).status, 0);  // idempotent
}

TEST_F(HelperTest, NoSnapshotBackend) {
  const std::string id = accept(install_bundle(kModel));
  auto take = helper({"snapshot", "take", id});
  ASSERT_EQ(take.status, 0) << take.err;
  EXPECT_EQ(take.json["id"], nullptr);
  EXPECT_EQ(take.json["backend"], "none");
  EXPECT_EQ(helper({"snapshot", "take", id}).json, take.json);  // asked again: the same answer
  EXPECT_EQ(entries_of(audit::event::kSnapshotSkipped).size(), 1u);
  auto list = helper({"snapshot", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(list.out, "[]\n");
  // A snapshot only for an accepted proposal waiting for its step.
  expect_refused(helper({"snapshot", "take", kHex}), "no accepted proposal");
}

TEST_F(HelperTest, BtrfsBackendChecksWhatItProtects) {
  const std::string id = accept(install_bundle(kModel));
  set_snapshot("btrfs:" + state_.string());  // the whole state directory: would roll back the log
  auto wide = helper({"snapshot", "take", id});
  EXPECT_EQ(wide.status, 1);
  EXPECT_TRUE(contains(wide.err, "the subvolume must be the models directory")) << wide.err;
  set_snapshot("btrfs:" + models_.string() + "/");
  auto plain = helper({"snapshot", "take", id});  // a plain directory (the test's /tmp is not btrfs)
  EXPECT_EQ(plain.status, 1);
  EXPECT_TRUE(contains(plain.err, "is not a btrfs subvolume")) << plain.err;
  EXPECT_FALSE(fs::exists(state_ / "snapshots"));
  EXPECT_EQ(entries_of(audit::event::kSnapshotFailed).size(), 2u);
}

TEST_F(HelperTest, ZfsBackendChecksTheMount) {
  set_snapshot("zfs:tank/countersign/models");
  auto run = helper({"snapshot", "list"});
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "snapshot = zfs:tank/countersign/models: ")) << run.err;
}

// ---- vetoes and liveness proofs -----------------------------------------------------------

class GovernanceTest : public HelperTest {
 protected:
  void SetUp() override {
    HelperTest::SetUp();
    box_->set_policy_doc(box_->make_policy_doc(
        1, {{"install-model", {{"threshold", 3}, {"veto", 2}}}, {"remove-model", {{"threshold", 2}}}}));
  }
  nlohmann::json proposal_of(const nlohmann::json& bundle) { return bundle["proposal"]; }
  Digest id_of(const nlohmann::json& bundle) { return Bundle::parse(bundle)->proposal().id(); }
  test::HelperRun veto(const nlohmann::json& bundle, const nlohmann::json& veto_file) {
    return helper({"veto"}, nlohmann::json{{"proposal", proposal_of(bundle)}, {"veto", veto_file}}.dump());
  }
  test::HelperRun veto_by(const nlohmann::json& bundle, const std::string& approver) {
    return veto(bundle, box_->sign_statement(approver, Statement::kVeto, id_of(bundle)).to_json());
  }
  Challenge challenge(const std::string& box = test_util::BoxFixture::kBox, UnixTime issued = 0) {
    return *Challenge::create({test_util::BoxFixture::kDomain, box, {}, issued ? issued : system_now()});
  }
  test::HelperRun prove(const Challenge& c, const nlohmann::json& proof) {
    return helper({"prove"}, nlohmann::json{{"challenge", c.to_json()}, {"proof", proof}}.dump());
  }
};

TEST_F(GovernanceTest, VetoesEndAQueuedInstall) {
  const auto bundle = install_bundle(kModel);
  const std::string id = accept(bundle);
  const std::string hex = test::stage(staging_, kModel);

  const auto dave = box_->sign_statement("dave", Statement::kVeto, id_of(bundle)).to_json();
  auto first = veto(bundle, dave);
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.json["approver"], "dave");
  EXPECT_EQ(first.json["vetoes"], 1);
  EXPECT_EQ(first.json["veto"], 2);
  EXPECT_EQ(first.json["vetoed"], false);
  // Not dead yet: one veto of two.
  auto received = entries_of(audit::event::kVetoReceived);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0]["proposal"], "sha256:" + id);
  EXPECT_EQ(received[0]["approver"], "dave");
  EXPECT_TRUE(entries_of(audit::event::kProposalVetoed).empty());

  // The same file again does not count twice; a second veto signed by the same approver is refused.
  auto again = veto(bundle, dave);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.json["vetoes"], 1);
  auto resigned =
      veto(bundle, box_->sign_statement("dave", Statement::kVeto, id_of(bundle), system_now() + 5).to_json());
  EXPECT_NE(resigned.status, 0);
  EXPECT_NE(resigned.err.find("approver \"dave\" has already vetoed"), std::string::npos) << resigned.err;
  EXPECT_EQ(entries_of(audit::event::kVetoReceived).size(), 1u);

  auto second = veto_by(bundle, "erin");
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(second.json["vetoed"], true);
  EXPECT_EQ(second.json["vetoed_by"], nlohmann::json({"dave", "erin"}));
  auto vetoed = entries_of(audit::event::kProposalVetoed);
  ASSERT_EQ(vetoed.size(), 1u);
  EXPECT_EQ(vetoed[0]["proposal"], "sha256:" + id);
  EXPECT_EQ(vetoed[0]["vetoed_by"], nlohmann::json({"dave", "erin"}));

  // The queued install is refused at its privileged step; nothing is installed.
  expect_refused(helper({"model", "install", id}), "was vetoed by dave, erin");
  expect_refused(helper({"model", "seal", id}), "was vetoed by dave, erin");
  EXPECT_TRUE(fs::exists(staging_ / hex));
}

TEST_F(GovernanceTest, VetoedIsNeverAccepted) {
  const auto bundle = install_bundle(kModel);
  ASSERT_EQ(veto_by(bundle, "dave").status, 0);
  ASSERT_EQ(veto_by(bundle, "erin").status, 0);
  auto run = helper({"accept"}, bundle.dump());
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "vetoed by dave, erin")) << run.err;
  auto rejected = entries_of(audit::event::kBundleRejected);
  ASSERT_FALSE(rejected.empty());
  EXPECT_TRUE(contains(rejected.back()["reasons"].dump(), "vetoed")) << rejected.back().dump();
  EXPECT_TRUE(entries_of(audit::event::kBundleVerified).empty());
}

TEST_F(GovernanceTest, RefusesAnOutsidersVeto) {
  const auto bundle = install_bundle(kModel);
  auto run = veto_by(bundle, "outsider");
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "veto not counted")) << run.err;
  EXPECT_TRUE(entries_of(audit::event::kVetoReceived).empty());
  EXPECT_FALSE(entries_of(audit::event::kActionRefused).empty());
}

TEST_F(GovernanceTest, NoReplayAcrossKinds) {
  const auto bundle = install_bundle(kModel);
  const Proposal p = *Proposal::parse(bundle["proposal"]);
  // An approval relabelled as a veto: its signature is over the approval's input.
  nlohmann::json relabelled = box_->sign("dave", p).to_json();
  relabelled["schema"] = std::string(kVetoSchema);
  auto run = veto(bundle, relabelled);
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "not counted: invalid")) << run.err;
  // An approval as it is, sent as a veto.
  auto approval = veto(bundle, box_->sign("dave", p).to_json());
  EXPECT_EQ(approval.status, 1);
  EXPECT_TRUE(contains(approval.err, "approval")) << approval.err;
  EXPECT_TRUE(entries_of(audit::event::kVetoReceived).empty());

  // Vetoes relabelled as approvals do not approve: the bundle falls short.
  nlohmann::json forged = bundle;
  forged["signatures"] = nlohmann::json::array();
  for (const std::string who : {"alice", "bob", "carol"}) {
    nlohmann::json v = box_->sign_statement(who, Statement::kVeto, p.id()).to_json();
    v["schema"] = std::string(kSignatureSchema);
    forged["signatures"].push_back(v);
  }
  auto accepted = helper({"accept"}, forged.dump());
  EXPECT_EQ(accepted.status, 1) << accepted.out;
  EXPECT_TRUE(entries_of(audit::event::kBundleVerified).empty());
}

TEST_F(GovernanceTest, TooLateAfterExecution) {
  const auto bundle = install_bundle(kModel);
  const std::string id = accept(bundle);
  test::stage(staging_, kModel);
  ASSERT_EQ(helper({"model", "install", id}).status, 0);
  auto run = veto_by(bundle, "dave");
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "too late: proposal sha256:" + id + " was executed at ")) << run.err;
  EXPECT_TRUE(entries_of(audit::event::kVetoReceived).empty());
  auto refused = entries_of(audit::event::kActionRefused);
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.back()["subcommand"], "veto");
}

TEST_F(GovernanceTest, RuleWithoutVetoes) {
  const Manifest m = test::manifest_for(kModel);
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRemoveModel;
  const auto remove = box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(), {"alice"});
  auto run = veto_by(remove, "dave");
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "takes no vetoes for remove-model")) << run.err;
}

TEST_F(GovernanceTest, RecordsAProof) {
  const Challenge c = challenge();
  auto run = prove(c, box_->sign_statement("carol", Statement::kLiveness, c.hash()).to_json());
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.json["approver"], "carol");
  auto proved = entries_of(audit::event::kApproverProved);
  ASSERT_EQ(proved.size(), 1u);
  EXPECT_EQ(proved[0]["approver"], "carol");
  EXPECT_EQ(proved[0]["challenge"], digest_to_string(c.hash()));
  EXPECT_EQ(proved[0]["issued"], format_rfc3339(c.issued()));
  EXPECT_TRUE(proved[0].contains("key"));
}

TEST_F(GovernanceTest, RefusesBadProofs) {
  const Challenge other = challenge("box-other");
  auto run = prove(other, box_->sign_statement("carol", Statement::kLiveness, other.hash()).to_json());
  EXPECT_EQ(run.status, 1);
  EXPECT_TRUE(contains(run.err, "box-other")) << run.err;

  const Challenge old = challenge(test_util::BoxFixture::kBox, system_now() - 8 * 86400);
  auto stale = prove(old, box_->sign_statement("carol", Statement::kLiveness, old.hash()).to_json());
  EXPECT_EQ(stale.status, 1);
  EXPECT_FALSE(stale.err.empty());

  const Challenge c = challenge();
  auto outsider = prove(c, box_->sign_statement("outsider", Statement::kLiveness, c.hash()).to_json());
  EXPECT_EQ(outsider.status, 1);
  // A veto over the challenge's hash is no proof.
  auto veto_file = prove(c, box_->sign_statement("carol", Statement::kVeto, c.hash()).to_json());
  EXPECT_EQ(veto_file.status, 1);
  EXPECT_TRUE(contains(veto_file.err, "veto")) << veto_file.err;
  auto junk = helper({"prove"}, "{\"challenge\": 1}");
  EXPECT_EQ(junk.status, 1);
  EXPECT_TRUE(entries_of(audit::event::kApproverProved).empty());
}

}  // namespace
}  // namespace countersign::daemon

namespace countersign::daemon {
namespace {

// ---- the policy chain, in process (core/policy_chain.h) ----------------------------------------

class PolicyChainTest : public ::testing::Test {
 protected:
  // A rotation from version `to - 1` to `to` approved by `signers` (under both policies).
  nlohmann::json rotation(std::uint64_t to, const std::vector<std::string>& signers,
                          const std::vector<std::string>& approvers = test_util::BoxFixture::kApprovers) {
    nlohmann::json next = box_.make_policy_doc(to, box_.policy_doc()["rules"], approvers);
    test_util::BoxFixture::ProposalOptions o;
    o.action = Action::kRotatePolicy;
    return box_.bundle(test_util::BoxFixture::make_proposal(Policy::parse(next)->hash(), o), next, signers);
  }
  void put(std::uint64_t version, const nlohmann::json& bundle) {
    fs::create_directories(dir_);
    test_util::spit(dir_ / rotation_file_name(version), bundle.dump());
  }
  void put_head(std::uint64_t version, const nlohmann::json& bundle) {
    const Policy p = *Bundle::parse(bundle)->new_policy();
    test_util::spit(dir_ / kPolicyHeadFile,
                    nlohmann::json{{"version", version}, {"policy", digest_to_string(p.hash())}}.dump());
  }
  Result<PolicyChain> load() {
    return load_policy_chain(*Policy::parse(box_.policy_doc()), dir_.string(), test_util::BoxFixture::kBox,
                             [](const PolicyKey&) { return false; });
  }
  void expect_broken(const std::string& expect) {
    auto c = load();
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, Errc::kInvalidDocument);
    EXPECT_TRUE(contains(c.error().message, expect)) << c.error().message;
  }

  test_util::TempDir tmp_{"chain"};
  test_util::BoxFixture box_{tmp_.path()};
  fs::path dir_ = tmp_.path() / "policy";
};

TEST_F(PolicyChainTest, NoChainIsTheRootPolicy) {
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->current.version(), 1u);
  EXPECT_TRUE(c->rotations.empty());
}

TEST_F(PolicyChainTest, ReplaysEveryRotationInOrder) {
  const auto r2 = rotation(2, {"alice", "bob", "carol"});
  const auto r3 = rotation(3, {"bob", "carol", "dave"});
  put(2, r2);
  put(3, r3);
  put_head(3, r3);
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->current.version(), 3u);
  EXPECT_EQ(c->rotations.size(), 2u);
}

TEST_F(PolicyChainTest, RefusesEveryBrokenShape) {
  const auto r2 = rotation(2, {"alice", "bob", "carol"});
  const auto r3 = rotation(3, {"bob", "carol", "dave"});
  put(2, r2);
  expect_broken("head.json: is missing while rotation files exist");
  put_head(3, r3);
  expect_broken("says version 3 is in force, but the rotation files reach version 2");
  put(3, r3);
  put_head(3, r2);  // names v2's hash as version 3
  expect_broken("names policy");
  put_head(3, r3);
  fs::remove(dir_ / rotation_file_name(2));
  expect_broken("rotation-3.json: does not follow on from version 1");
  put(2, rotation(2, {"alice", "bob"}));  // under threshold
  expect_broken("rotation-2.json: does not verify under policy version 1");
  put(2, r3);  // a bundle of the wrong version under this name
  expect_broken("rotation-2.json: does not hold policy version 2");
  put(2, r2);
  test_util::spit(dir_ / "rotation-02.json", r2.dump());
  expect_broken("rotation-02.json: is not a rotation file name");
  fs::remove(dir_ / "rotation-02.json");
  EXPECT_TRUE(load().ok());
}

// ---- crash windows (COUNTERSIGN_SYSTEM_CRASH_AT) -------------------------------------------
//
// CrashAt.Step, for every named step: the real helper dies there (exit 137, as a power cut would leave
// it), then what the daemon would do next is done again: accept the bundle once more, run
// the privileged step. Whatever the crash point: at most one install / removal in the log,
// every one after its proposal's bundle-verified, and the model ends up as approved.

class CrashAt : public HelperTest, public ::testing::WithParamInterface<std::string> {
 protected:
  // Counts `event` for `proposal` and checks each comes after a bundle-verified of it.
  int actions(std::string_view event, const std::string& proposal) {
    bool verified = false;
    int count = 0;
    for (const auto& e : entries()) {
      if (e.value("proposal", "") != proposal) continue;
      if (e["event"] == "bundle-verified") verified = true;
      if (e["event"] == event) {
        ++count;
        EXPECT_TRUE(verified) << event << " without a bundle-verified before it";
      }
    }
    return count;
  }
  std::vector<std::string> crash_env() const { return {"COUNTERSIGN_SYSTEM_CRASH_AT=" + GetParam()}; }
  bool step_is(std::string_view prefix) const { return GetParam().starts_with(prefix); }
};

TEST_P(CrashAt, Step) {
  const auto bundle = install_bundle(kModel);
  const std::string id = proposal_hex(bundle);
  const std::string proposal = "sha256:" + id;
  const std::string hex = test::stage(staging_, kModel);

  // Accept (crashing there for the accept steps), then accept again as the daemon would.
  if (step_is("accept-")) {
    auto crashed = helper({"accept"}, bundle.dump(), crash_env());
    ASSERT_EQ(crashed.status, 137) << crashed.err;
    // Nothing may act on an acceptance cut short before the executed set.
    if (GetParam() != "accept-executed") {
      EXPECT_EQ(helper({"model", "install", id}).status, 1);
      EXPECT_TRUE(installed().empty());
    }
  }
  auto accepted = helper({"accept"}, bundle.dump());
  if (GetParam() == "accept-executed") {
    EXPECT_EQ(accepted.status, 1) << "executed already: a replay";
    EXPECT_TRUE(contains(accepted.err, "replayed")) << accepted.err;
  } else {
    ASSERT_EQ(accepted.status, 0) << accepted.err;
  }
  EXPECT_EQ(helper({"accept"}, bundle.dump()).status, 1);  // and never again

  if (step_is("install-")) {
    auto crashed = helper({"model", "install", id}, "", crash_env());
    ASSERT_EQ(crashed.status, 137) << crashed.err;
  }
  auto install = helper({"model", "install", id});
  ASSERT_EQ(install.status, 0) << install.err;
  EXPECT_EQ(installed(), (std::vector<std::string>{hex}));
  EXPECT_EQ(helper({"model", "install", id}).status, 1);  // done: not a second time
  EXPECT_EQ(actions("install-complete", proposal), 1);
  EXPECT_EQ(entries_of("bundle-verified").size(), GetParam() == "accept-logged" ? 2u : 1u);

  // Then a removal of it, crashing at the remove steps.
  const Manifest m = test::manifest_for(kModel);
  test_util::BoxFixture::ProposalOptions o;
  o.action = Action::kRemoveModel;
  const std::string rid =
      accept(box_->bundle(test_util::BoxFixture::make_proposal(m.hash(), o), m.to_json(), {"alice", "bob"}));
  if (step_is("remove-")) {
    auto crashed = helper({"model", "remove", rid}, "", crash_env());
    ASSERT_EQ(crashed.status, 137) << crashed.err;
  }
  auto removed = helper({"model", "remove", rid});
  ASSERT_EQ(removed.status, 0) << removed.err;
  EXPECT_TRUE(installed().empty()) << test::list_names(models_).size();
  EXPECT_EQ(helper({"model", "remove", rid}).status, 1);
  EXPECT_EQ(actions("model-removed", "sha256:" + rid), 1);
}

INSTANTIATE_TEST_SUITE_P(Each, CrashAt,
                         ::testing::ValuesIn(std::vector<std::string>(std::begin(kCrashSteps),
                                                                      std::end(kCrashSteps))),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

// The fault injection is for tests only: through sudo (or set-id) it is ignored.
TEST(SystemCrashStep, HonouredOnlyWhereTheConfigurationOverrideIs) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  EXPECT_EQ(system_crash_step(env({{kSystemCrashEnv, "accept-logged"}}), false), "accept-logged");
  EXPECT_EQ(system_crash_step(env({{kSystemCrashEnv, "accept-logged"}}), true), "");
  EXPECT_EQ(system_crash_step(env({{kSystemCrashEnv, "accept-logged"}, {"SUDO_USER", "countersign"}}), false),
            "");
  EXPECT_EQ(system_crash_step(env({{kSystemCrashEnv, "accept-logged"}, {"SUDO_UID", "998"}}), false), "");
  EXPECT_EQ(system_crash_step(env({}), false), "");
}

// `check` changes nothing and says what is wrong, by path.
TEST_F(HelperTest, CheckPassesOnAGoodBoxNamesWhatIsWrongAndChangesNothing) {
  accept(install_bundle(kModel));  // a log with entries
  const auto log_before = test::read_tree(state_ / "log");
  const auto system_before = test::read_tree(state_ / "system");
  auto good = helper({"check"});
  ASSERT_EQ(good.status, 0) << good.err << good.out;
  EXPECT_EQ(good.json["ok"], true);
  ASSERT_TRUE(good.json["checks"].is_array());
  EXPECT_GE(good.json["checks"].size(), 6u);
  for (const auto& c : good.json["checks"]) EXPECT_EQ(c["ok"], true) << c.dump();

  fs::remove(staging_);
  auto missing = helper({"check"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.json["ok"], false);
  EXPECT_TRUE(contains(missing.err, staging_.string())) << missing.err;
  bool named = false;
  for (const auto& c : missing.json["checks"]) {
    if (c["path"] == staging_.string()) named = c["ok"] == false;
  }
  EXPECT_TRUE(named) << missing.out;
  fs::create_directory(staging_);

  ::chmod(box_->config().log_key.c_str(), 0644);
  auto key = helper({"check"});
  EXPECT_EQ(key.status, 1);
  EXPECT_TRUE(contains(key.err, box_->config().log_key)) << key.err;
  ::chmod(box_->config().log_key.c_str(), 0600);

  EXPECT_EQ(test::read_tree(state_ / "log"), log_before);
  EXPECT_EQ(test::read_tree(state_ / "system"), system_before);
}

}  // namespace
}  // namespace countersign::daemon
