// One `countersign log witness serve` process (the auditor's witness as a service,
// cli/witness_server.h) for the tests: its state in DIR/NAME-state, its cosigner key
// DIR/NAME.key (the test makes it), stdout and stderr in DIR/NAME.out / .err; stopped with
// SIGTERM when destroyed.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

extern char** environ;

namespace countersign::test_util {

class WitnessProcess {
 public:
  // `listen`: HOST:PORT (port 0: the kernel picks one; port() says which).
  WitnessProcess(const std::filesystem::path& dir, const std::string& name, const std::string& log_pub,
                 const std::string& listen = "127.0.0.1:0")
      : dir_(dir), name_(name) {
    const std::string binary = COUNTERSIGN_BINARY_DIR "/cli/countersign";
    std::vector<std::string> args{binary,      "log",
                                  "witness",   "serve",
                                  "--listen",  listen,
                                  "--state",   (dir / (name + "-state")).string(),
                                  "--key",     (dir / (name + ".key")).string(),
                                  "--log-key", log_pub};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_EQ(posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    // "witness NAME+ID listening on http://127.0.0.1:PORT/add-checkpoint"
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::string o = std::filesystem::exists(out()) ? slurp(out()) : "";
      std::size_t at = o.find("http://127.0.0.1:");
      if (at != std::string::npos && o.find("/add-checkpoint", at) != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(o.substr(at + 17)));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
    EXPECT_NE(port_, 0) << slurp(err());
  }
  ~WitnessProcess() {
    if (pid_ > 0) stop();
  }
  // SIGTERM; returns the exit status.
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::uint16_t port() const { return port_; }
  std::string out() const { return (dir_ / (name_ + ".out")).string(); }
  std::string err() const { return (dir_ / (name_ + ".err")).string(); }

 private:
  std::filesystem::path dir_;
  std::string name_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace countersign::test_util
