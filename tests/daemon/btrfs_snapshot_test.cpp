// The btrfs snapshot backend for real: a btrfs image on a loop device (truncate + mkfs.btrfs
// + mount -o loop, as root), <state>/models a subvolume, models installed, snapshotted,
// removed, replaced and restored through the helper binary exactly as the daemon runs it.
// Skipped with the reason when it cannot run (not root, no btrfs-progs, no loop devices),
// unless COUNTERSIGN_REQUIRE_INTEGRATION=1. The mount and the loop device are released
// whatever happens in the test (LoopMount's destructor, bounded retries).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/bundle.h"
#include "core/bytes.h"
#include "core/snapshot_doc.h"
#include "core/timeutil.h"
#include "system/command.h"
#include "system/snapshot.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/loop_btrfs.h"
#include "tests/daemon/system_test_util.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using test::Files;
using test_util::contains;

class BtrfsSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(::geteuid() == 0, "loop-mounting a btrfs image needs root");
    CS_REQUIRE_OR_SKIP(find_program("mkfs.btrfs").ok() && find_program("btrfs").ok(),
                       "btrfs-progs (mkfs.btrfs, btrfs) is not installed");
    CS_REQUIRE_OR_SKIP(find_program("losetup").ok() && find_program("mount").ok(),
                       "mount/losetup are missing");
    tmp_ = std::make_unique<test_util::TempDir>("btrfs");
    const fs::path image = tmp_->path() / "btrfs.img";
    const fs::path mnt = tmp_->path() / "mnt";
    fs::create_directory(mnt);
    test_util::spit(image, "");
    fs::resize_file(image, std::uintmax_t{256} << 20);  // sparse
    auto mkfs = test::run_tool({"mkfs.btrfs", "-q", "-f", image.string()});
    CS_REQUIRE_OR_SKIP(mkfs.ok() && mkfs->status == 0,
                       "mkfs.btrfs failed: " + (mkfs.ok() ? first_line(mkfs->err) : mkfs.error().message));
    mount_ = std::make_unique<test::LoopMount>(image, mnt);
    const std::string why = mount_->mount();
    CS_REQUIRE_OR_SKIP(why.empty(), "cannot loop-mount a btrfs image here: " + why);

    state_ = mnt / "state";
    models_ = state_ / "models";
    staging_ = models_ / ".staging";
    fs::create_directory(state_);
    ::chmod(state_.c_str(), 0755);
    auto sub = test::run_tool({"btrfs", "subvolume", "create", models_.string()});
    ASSERT_TRUE(sub.ok() && sub->status == 0) << (sub.ok() ? sub->err : sub.error().message);
    ::chmod(models_.c_str(), 0755);
    fs::create_directory(staging_);
    ::chmod(staging_.c_str(), 0755);
    box_ = std::make_unique<test_util::BoxFixture>(tmp_->path() / "box");
    box_->config().state_dir = state_.string();
    box_->config().snapshot = *SnapshotSpec::parse("btrfs:" + models_.string());
    box_->write_config();
    config_ = box_->config_file();
  }

  // The mount goes before the directory holding the image.
  void TearDown() override {
    box_.reset();
    mount_.reset();
    tmp_.reset();
  }

  test::HelperRun helper(const std::vector<std::string>& args, const std::string& input = "") {
    return test::run_helper(config_, args, {}, input);
  }
  // Accepts an approved bundle for `subject` and returns the proposal id (hex).
  std::string accept(Action action, const Digest& subject_hash, const nlohmann::json& subject) {
    test_util::BoxFixture::ProposalOptions o;
    o.action = action;
    const auto bundle = box_->bundle(test_util::BoxFixture::make_proposal(subject_hash, o), subject,
                                     {"alice", "bob", "carol"});
    auto run = helper({"accept"}, bundle.dump());
    EXPECT_EQ(run.status, 0) << run.err;
    return hex_encode(Bundle::parse(bundle)->proposal().id());
  }
  struct Installed {
    std::string hex;       // the manifest
    std::string snapshot;  // taken by the helper before it
  };
  Installed install(const Files& files, const std::string& name) {
    const Manifest m = test::manifest_for(files, name);
    const std::string id = accept(Action::kInstallModel, m.hash(), m.to_json());
    const std::string hex = test::stage(staging_, files, name);
    auto run = helper({"model", "install", id});
    EXPECT_EQ(run.status, 0) << run.err;
    return {hex, run.json.value("snapshot", "")};
  }
  // An accepted restore-snapshot proposal for snapshot `id`.
  std::string accept_restore(const std::string& id) {
    auto taken = parse_snapshot_id(id);
    auto doc = SnapshotDoc::create({test_util::BoxFixture::kBox, "btrfs", id, taken.ok() ? *taken : 0, ""});
    EXPECT_TRUE(doc.ok());
    return accept(Action::kRestoreSnapshot, doc->hash(), doc->to_json());
  }
  std::vector<std::string> snapshot_ids() {
    auto list = helper({"snapshot", "list"});
    EXPECT_EQ(list.status, 0) << list.err;
    std::vector<std::string> out;
    for (const auto& s : list.json) out.push_back(s["id"]);
    return out;
  }

  std::unique_ptr<test_util::TempDir> tmp_;
  std::unique_ptr<test::LoopMount> mount_;
  std::unique_ptr<test_util::BoxFixture> box_;
  fs::path state_, models_, staging_;
  std::string config_;
};

const Files kModelA = {
    {"config.json", "{\"model\": \"a\"}"},
    {"weights/a-00001.safetensors", std::string(300000, 'a')},
    {"weights/nested/deep.bin", "deep"},
};
const Files kModelB = {{"b.bin", std::string(5000, 'b')}};

TEST_F(BtrfsSnapshotTest, RestoreBringsTheTreeBackExactly) {
  const std::string a = install(kModelA, "model-a").hex;
  const auto tree_a = test::read_tree(models_ / a);
  ASSERT_EQ(tree_a.size(), 5u);

  // The snapshot before removing A: a read-only subvolume under <state>/snapshots.
  const Manifest ma = test::manifest_for(kModelA, "model-a");
  const std::string remove = accept(Action::kRemoveModel, ma.hash(), ma.to_json());
  const UnixTime before = system_now();
  auto take = helper({"snapshot", "take", remove});
  ASSERT_EQ(take.status, 0) << take.err;
  EXPECT_EQ(take.json["backend"], "btrfs");
  const std::string id = take.json["id"];
  auto id_time = parse_snapshot_id(id);
  ASSERT_TRUE(id_time.ok()) << id;
  EXPECT_GE(*id_time, before);
  EXPECT_LE(*id_time, system_now());
  const fs::path snap = state_ / "snapshots" / id;
  struct stat st {};
  ASSERT_EQ(::stat(snap.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, 256u);  // a subvolume root
  test_util::spit(snap / "written-into-a-snapshot", "x");
  EXPECT_FALSE(fs::exists(snap / "written-into-a-snapshot"));  // read-only
  EXPECT_EQ(test::mode_of(state_ / "snapshots"), 0700u);

  // Change the models: remove A (after the snapshot already taken for it), install B.
  auto removed = helper({"model", "remove", remove});
  ASSERT_EQ(removed.status, 0) << removed.err;
  EXPECT_EQ(removed.json["snapshot"], id);
  const std::string b = install(kModelB, "model-b").hex;
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", b}));
  const auto ids = snapshot_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());

  // Restore: A is back bit for bit with its modes, B is gone, nothing is left over.
  auto restore = helper({"snapshot", "restore", accept_restore(id)});
  ASSERT_EQ(restore.status, 0) << restore.err;
  EXPECT_TRUE(restore.err.empty()) << restore.err;
  EXPECT_EQ(restore.json["snapshot"], id);
  EXPECT_EQ(restore.json["restored"], true);
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", a}));
  EXPECT_EQ(test::read_tree(models_ / a), tree_a);
  for (const auto& [path, kind] : tree_a) {
    EXPECT_EQ(test::mode_of(models_ / a / path), kind == "<dir>" ? 0555u : 0444u) << path;
    EXPECT_EQ(test::owner_of(models_ / a / path), 0u) << path;
  }
  // The old tree is deleted; the helper's records and the log are outside what is restored.
  EXPECT_EQ(test::list_names(state_), (std::vector<std::string>{"log", "models", "snapshots", "system"}));
  ASSERT_EQ(::stat(models_.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, 256u);  // still a subvolume, so the next snapshot works
  EXPECT_EQ(test::mode_of(models_), 0755u);
  EXPECT_EQ(test::owner_of(models_), 0u);

  // The restored models directory works as before: B installs again, with a snapshot first.
  auto again = install(kModelB, "model-b-again");
  EXPECT_FALSE(again.snapshot.empty());
  EXPECT_EQ(snapshot_ids().size(), ids.size() + 2);  // the restore's safety snapshot, and this one
}

TEST_F(BtrfsSnapshotTest, RestoreOfAnUnknownSnapshotChangesNothing) {
  const std::string a = install(kModelA, "model-a").hex;
  auto restore = helper({"snapshot", "restore", accept_restore("cs-20260601T000000Z-00000000")});
  EXPECT_EQ(restore.status, 1);
  EXPECT_TRUE(contains(restore.err, "there is no btrfs snapshot cs-20260601T000000Z-00000000"))
      << restore.err;
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", a}));
}

TEST_F(BtrfsSnapshotTest, ALeftoverFromAnInterruptedRestoreIsCleanedUp) {
  const auto a = install(kModelA, "model-a");
  const std::string id = a.snapshot;  // models/ before A: empty
  ASSERT_FALSE(id.empty());
  // A crash after the swap and before the delete leaves the old tree under the temporary name.
  auto leftover = test::run_tool({"btrfs", "subvolume", "create", (state_ / (".restore-" + id)).string()});
  ASSERT_TRUE(leftover.ok() && leftover->status == 0);
  auto restore = helper({"snapshot", "restore", accept_restore(id)});
  ASSERT_EQ(restore.status, 0) << restore.err;
  EXPECT_EQ(test::list_names(state_), (std::vector<std::string>{"log", "models", "snapshots", "system"}));
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));
}

// Same semantics as the zfs backend (system/snapshot.h): a restore to an older snapshot keeps
// its own safety snapshot and every later one, and a second restore to the safety snapshot
// brings the newer state back.
TEST_F(BtrfsSnapshotTest, RestoreKeepsTheSafetySnapshotAndEveryLaterOne) {
  const auto a = install(kModelA, "model-a");  // snapshot: models/ empty
  const auto b = install(kModelB, "model-b");  // snapshot: A only
  const auto newer_tree = test::read_tree(models_);
  const auto before = snapshot_ids();
  ASSERT_EQ(before.size(), 2u);

  auto restore = helper({"snapshot", "restore", accept_restore(a.snapshot)});
  ASSERT_EQ(restore.status, 0) << restore.err;
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging"}));
  const std::string safety = restore.json.value("safety_snapshot", "");
  ASSERT_FALSE(safety.empty()) << restore.json.dump();
  // Taken within a second of each other, so compared as sets (ids of one second sort by their
  // random part).
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto after = sorted(snapshot_ids());
  EXPECT_EQ(after, sorted({a.snapshot, b.snapshot, safety}));
  for (const auto& id : after) EXPECT_TRUE(fs::exists(state_ / "snapshots" / id)) << id;

  auto back = helper({"snapshot", "restore", accept_restore(safety)});
  ASSERT_EQ(back.status, 0) << back.err;
  EXPECT_EQ(test::read_tree(models_), newer_tree);
  EXPECT_EQ(test::list_names(models_), (std::vector<std::string>{".staging", a.hex, b.hex}));
  const auto last = snapshot_ids();
  ASSERT_EQ(last.size(), 4u);  // and the second restore's own safety snapshot
  for (const auto& id : after) EXPECT_NE(std::find(last.begin(), last.end(), id), last.end()) << id;
}

}  // namespace
}  // namespace countersign::daemon
