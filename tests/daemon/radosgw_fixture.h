// A real S3 server that enforces Object Lock, for the S3 archive tests:
// Ceph's radosgw from Debian 12 on a one-node cluster in a temp directory: one monitor, one
// OSD on memstore (RAM, no disk), radosgw with its beast frontend on 127.0.0.1, cephx off
// (auth none, loopback only). A user made with radosgw-admin gives the S3 access key and
// secret. The three daemons run in the foreground (-f) as this process's children; radosgw
// can be stopped and started again on the same port (an archive that is down a while).
//
//   RadosgwFixture rgw;                          // ~5-10 s: share one per test suite
//   CS_REQUIRE_OR_SKIP(rgw.running(), rgw.skip_reason());
//   config.s3_archive = rgw.url() + "/audit/archive";  // a bucket made with Object Lock
//
// The Ceph tools are found on PATH (scripts/setup.sh installs ceph-mon ceph-osd radosgw
// ceph-common).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon/nginx_fixture.h"
#include "tests/test_util.h"

namespace countersign::test_util {

class RadosgwFixture {
 public:
  static constexpr const char* kAccessKey = "COUNTERSIGNTESTKEY01";
  static constexpr const char* kSecretKey = "countersign-test-secret-key-not-a-real-one";

  RadosgwFixture() {
    for (const char* tool : {"ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"}) {
      if (std::system(("command -v " + std::string(tool) + " >/dev/null 2>&1").c_str()) != 0) {
        why_ = std::string(tool) +
               " is not installed (scripts/setup.sh installs ceph-mon ceph-osd radosgw ceph-common)";
        return;
      }
    }
    // A cluster id of its own: two suites running at once must never take each other's
    // daemons for theirs.
    fsid_ = slurp("/proc/sys/kernel/random/uuid");
    while (!fsid_.empty() && (fsid_.back() == '\n' || fsid_.back() == ' ')) fsid_.pop_back();
    if (fsid_.size() != 36) {
      why_ = "cannot read a fresh uuid from /proc/sys/kernel/random/uuid";
      return;
    }
    mon_port_ = free_port();
    rgw_port_ = free_port();
    const std::string d = dir_.path().string();
    for (const char* sub : {"mon", "osd", "rgw", "run", "log", "crash"})
      std::filesystem::create_directories(dir_.path() / sub);
    spit(dir_.path() / "ceph.conf",
         "[global]\n"
         "fsid = " +
             fsid_ +
             "\n"
             "mon host = v1:127.0.0.1:" +
             std::to_string(mon_port_) +
             "\n"
             "auth cluster required = none\nauth service required = none\nauth client required = none\n"
             "auth allow insecure global id reclaim = true\n"
             "osd pool default size = 1\nosd pool default min size = 1\nosd crush chooseleaf type = 0\n"
             "mon allow pool size one = true\nmon warn on pool no redundancy = false\n"
             "run dir = " +
             d + "/run\nlog file = " + d + "/log/$name.log\ncrash dir = " + d +
             "/crash\n"
             "admin socket =\nkeyring = " +
             d +
             "/keyring\n"
             "[mon.a]\nmon data = " +
             d +
             "/mon\n"
             "[osd.0]\nosd data = " +
             d +
             "/osd\nosd objectstore = memstore\nmemstore device bytes = 1073741824\n"
             // The fixture places the OSD in the CRUSH map itself: an OSD doing so at boot
             // sends mon commands that a loaded machine can race ahead of the monmap (the
             // mon refuses them as "wrong fsid" and the OSD exits).
             "osd crush update on start = false\nosd class update on start = false\n"
             "[client.rgw]\nrgw frontends = beast endpoint=127.0.0.1:" +
             std::to_string(rgw_port_) +
             "\n"
             "rgw data = " +
             d + "/rgw\n");
    const std::string c = " -c '" + conf() + "'";
    const std::string mkfs = "cd '" + d + "' && monmaptool --create --fsid " + fsid_ +
                             " --addv a '[v1:127.0.0.1:" + std::to_string(mon_port_) + "]' monmap" + c +
                             " >>setup.out 2>&1 && ceph-mon" + c +
                             " -i a --mkfs --monmap monmap >>setup.out 2>&1";
    if (std::system(mkfs.c_str()) != 0) {
      why_ = "ceph-mon --mkfs failed: " + slurp(dir_.path() / "setup.out");
      return;
    }
    if (!spawn({"ceph-mon", "-f", "-c", conf(), "-i", "a"}, mon_pid_)) return;
    const std::string osd = "cd '" + d + "' && timeout 60 ceph" + c +
                            " osd create >>setup.out 2>&1 && ceph-osd" + c + " -i 0 --mkfs >>setup.out 2>&1";
    if (std::system(osd.c_str()) != 0) {
      why_ = "creating the OSD failed: " + slurp(dir_.path() / "setup.out");
      stop_all();
      return;
    }
    if (!spawn({"ceph-osd", "-f", "-c", conf(), "-i", "0"}, osd_pid_)) return;
    const std::string crush = "cd '" + d + "' && timeout 60 ceph" + c +
                              " osd crush add osd.0 1.0 root=default host=localhost >>setup.out 2>&1";
    if (std::system(crush.c_str()) != 0) {
      why_ = "adding the OSD to the CRUSH map failed: " + slurp(dir_.path() / "setup.out");
      stop_all();
      return;
    }
    // Bounded (60 s): the OSD must be up before radosgw can create its pools.
    const std::string up = "cd '" + d + "' && timeout 10 ceph" + c + " osd stat 2>>setup.out";
    for (int i = 0;; ++i) {
      int status = 0;
      if (::waitpid(osd_pid_, &status, WNOHANG) == osd_pid_) {
        osd_pid_ = -1;
        why_ = "ceph-osd exited: " + tail(dir_.path() / "daemons.out");
        stop_all();
        return;
      }
      if (run_output(up).find("1 up") != std::string::npos) break;
      if (i == 120) {
        why_ = "ceph-osd is not up after 60 s: " + tail(dir_.path() / "daemons.out");
        stop_all();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!start_rgw()) return;
    const std::string user =
        "cd '" + d + "' && timeout 60 radosgw-admin" + c +
        " -n client.rgw user create --uid=box --display-name=box --access-key=" + kAccessKey +
        " --secret-key=" + kSecretKey + " >>setup.out 2>&1";
    if (std::system(user.c_str()) != 0) {
      why_ = "radosgw-admin user create failed: " + slurp(dir_.path() / "setup.out");
      stop_all();
      return;
    }
    ready_ = true;
  }
  ~RadosgwFixture() { stop_all(); }
  RadosgwFixture(const RadosgwFixture&) = delete;
  RadosgwFixture& operator=(const RadosgwFixture&) = delete;

  bool running() const { return ready_ && rgw_pid_ > 0; }
  const std::string& skip_reason() const { return why_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(rgw_port_); }
  std::uint16_t port() const { return rgw_port_; }
  std::string conf() const { return (dir_.path() / "ceph.conf").string(); }
  // The credentials file countersignd reads (two lines), written mode 0600 in `dir`.
  std::string write_credentials(const std::filesystem::path& dir) const {
    const auto p = dir / "s3-archive.credentials";
    spit(p, std::string(kAccessKey) + "\n" + kSecretKey + "\n");
    std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return p.string();
  }
  // radosgw's log (for failure messages).
  std::string log() const { return slurp(dir_.path() / "log" / "client.rgw.log"); }

  // Starts radosgw (again) on port(); waits (bounded: 90 s) until it answers HTTP.
  bool start_rgw() {
    if (rgw_pid_ > 0) return true;
    if (!spawn({"radosgw", "-f", "-c", conf(), "-n", "client.rgw"}, rgw_pid_)) return false;
    const std::string probe = "curl -s -o /dev/null --max-time 2 " + url() + "/";
    for (int i = 0; i < 180; ++i) {
      if (can_connect(rgw_port_) && std::system(probe.c_str()) == 0) return true;
      int status = 0;
      if (::waitpid(rgw_pid_, &status, WNOHANG) == rgw_pid_) {
        rgw_pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    why_ = "radosgw does not answer on " + url() + ": " + tail(dir_.path() / "daemons.out");
    stop_all();
    return false;
  }
  void stop_rgw() { stop(rgw_pid_); }

 private:
  // The last 2000 bytes of a log, for a failure message.
  static std::string tail(const std::filesystem::path& p) {
    const std::string all = slurp(p);
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }
  static std::string run_output(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      std::size_t n = 0;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      ::pclose(f);
    }
    return out;
  }
  bool spawn(std::vector<std::string> args, pid_t& pid) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out = (dir_.path() / "daemons.out").string();
    const std::string in = conf();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);  // no device of this machine
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid = -1;
      why_ = "cannot start " + args[0];
      stop_all();
      return false;
    }
    return true;
  }
  // SIGTERM, then SIGKILL after 10 s; reaps it.
  static void stop(pid_t& pid) {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
  void stop_all() {
    stop(rgw_pid_);
    stop(osd_pid_);
    stop(mon_pid_);
  }

  TempDir dir_{"radosgw"};
  std::string why_;
  std::string fsid_;
  std::uint16_t mon_port_ = 0, rgw_port_ = 0;
  pid_t mon_pid_ = -1, osd_pid_ = -1, rgw_pid_ = -1;
  bool ready_ = false;
};

}  // namespace countersign::test_util
