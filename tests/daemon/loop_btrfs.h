// A btrfs image on a loop device for the daemon's integration tests (snapshots for real):
// mounted with `mount -o loop` (root), unmounted and detached when destroyed, with bounded
// retries while a just-finished btrfs command keeps the file system busy.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "system/command.h"
#include "tests/daemon/system_test_util.h"

namespace countersign::daemon::test {

namespace fs = std::filesystem;

// A btrfs image mounted through a loop device; unmounted and detached when destroyed.
class LoopMount {
 public:
  LoopMount(fs::path image, fs::path mount_point)
      : image_(std::move(image)), mount_point_(std::move(mount_point)) {}
  ~LoopMount() { release(); }
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;

  // "" on success, else why it could not be mounted.
  std::string mount() {
    auto r = test::run_tool({"mount", "-o", "loop", image_.string(), mount_point_.string()});
    if (!r.ok()) return r.error().message;
    if (r->status != 0) return "mount -o loop failed: " + first_line(r->err);
    mounted_ = true;
    return "";
  }

  void release() {
    if (mounted_) {
      // A just-finished btrfs command can hold the file system busy for a moment.
      for (int attempt = 0; attempt < 20 && mounted_; ++attempt) {
        auto r = test::run_tool({"umount", mount_point_.string()}, 60);
        if (r.ok() && r->status == 0) {
          mounted_ = false;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
      }
      if (mounted_) {
        ADD_FAILURE() << "could not unmount " << mount_point_ << "; detaching lazily";
        (void)test::run_tool({"umount", "-l", mount_point_.string()}, 60);
        mounted_ = false;
      }
    }
    // mount -o loop sets autoclear, but detach explicitly whatever is still bound to the image.
    auto loops = test::run_tool({"losetup", "-j", image_.string()}, 60);
    if (!loops.ok()) return;
    std::string text = loops->out;
    for (std::size_t pos = 0; pos < text.size();) {
      auto end = text.find('\n', pos);
      std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? text.size() : end + 1;
      auto colon = line.find(':');
      if (colon != std::string::npos && line.starts_with("/dev/loop")) {
        (void)test::run_tool({"losetup", "-d", line.substr(0, colon)}, 60);
      }
    }
  }

 private:
  fs::path image_, mount_point_;
  bool mounted_ = false;
};

}  // namespace countersign::daemon::test
