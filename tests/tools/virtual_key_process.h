// VirtualKeyProcess: one tests/tools/virtual-fido2 process listening on a Unix socket
// (reach it as "unix:" + socket), stopped with SIGTERM and waited for when destroyed.
// Needs COUNTERSIGN_BINARY_DIR (cs_test defines it) and the virtual-fido2 target built.
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace countersign::test_util {

class VirtualKeyProcess {
 public:
  // `extra`: virtual-fido2 options such as {"--pin", "123456"} or {"--ca-out", FILE}.
  VirtualKeyProcess(const std::string& socket, const std::vector<std::string>& extra) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<std::string> args{COUNTERSIGN_BINARY_DIR "/tests/smartcard/virtual-fido2", "--socket", socket,
                                  "--idle-exit", "120"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    // Wait (at most 10 s) for "ready": it is listening.
    pollfd p{fds[0], POLLIN, 0};
    char buf[16] = {};
    if (pid_ > 0 && ::poll(&p, 1, 10'000) == 1 && ::read(fds[0], buf, sizeof buf - 1) > 0)
      ready_ = std::string(buf).starts_with("ready");
    ::close(fds[0]);
  }
  ~VirtualKeyProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  VirtualKeyProcess(const VirtualKeyProcess&) = delete;
  VirtualKeyProcess& operator=(const VirtualKeyProcess&) = delete;
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace countersign::test_util
