#include "tests/smartcard/piv/pcsc_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "smartcard/pcsc/pcsc_card.h"

extern char** environ;

namespace countersign::test_util {

namespace {

constexpr const char* kPcscd = "/usr/sbin/pcscd";
constexpr const char* kVpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

// PCSC-lite 1.9.9's client library honours PCSCLITE_CSOCK_NAME (read once, on the first
// call), but its daemon always listens on /run/pcscd/pcscd.comm. So, where we may (root,
// util-linux unshare), pcscd runs in a private mount namespace with a directory of ours
// bind-mounted on /run/pcscd, and this process points PCSCLITE_CSOCK_NAME at that
// directory: our pcscd is then invisible to, and undisturbed by, a system pcscd. Otherwise
// it uses the default socket and must be the only pcscd.
struct SocketPlan {
  bool isolated = false;
  std::string dir;  // holds pcscd.comm when isolated; removed at process exit
  ~SocketPlan() {
    if (isolated) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

const SocketPlan& socket_plan() {
  static const SocketPlan plan = [] {
    SocketPlan p;
    if (::geteuid() == 0 && ::access("/usr/bin/unshare", X_OK) == 0 &&
        std::filesystem::is_directory("/run/pcscd")) {
      p.isolated = true;
      p.dir = "/tmp/cs-pcscd-" + std::to_string(::getpid());
      std::filesystem::create_directories(p.dir);
      ::setenv("PCSCLITE_CSOCK_NAME", (p.dir + "/pcscd.comm").c_str(), 1);
    } else {
      ::unsetenv("PCSCLITE_CSOCK_NAME");
    }
    return p;
  }();
  return plan;
}

bool port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port p with p and p + 1 free (vpcd opens both), from the ephemeral-port allocator.
int free_port_pair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd);
      continue;
    }
    const int p = ntohs(a.sin_port);
    ::close(fd);
    if (p < 65535 && port_free(p) && port_free(p + 1)) return p;
  }
  return -1;
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// SIGTERM, up to 3 s for it to exit, then SIGKILL.
void stop(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 60; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

bool exited(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == pid; }

// The reader named `prefix`..., and whether it holds a card.
bool reader_with_card(const std::string& prefix, std::string& name, bool& present) {
  auto ctx = pcsc::PcscContext::establish();
  if (!ctx) return false;
  auto states = ctx->reader_states();
  if (!states) return false;
  for (const auto& s : *states) {
    if (s.name.rfind(prefix, 0) == 0) {
      name = s.name;
      present = s.card_present;
      return true;
    }
  }
  return false;
}

std::string card_program() {
  return std::string(COUNTERSIGN_BINARY_DIR) + "/tests/tools/virtual-piv-card/virtual-piv-card";
}

}  // namespace

std::unique_ptr<PcscFixture> PcscFixture::start(const std::string& dir, const std::string& state_file,
                                                std::string& reason) {
  if (::access(kPcscd, X_OK) != 0) {
    reason = "pcscd is not installed (Debian package pcscd)";
    return nullptr;
  }
  if (::access(kVpcdDriver, R_OK) != 0) {
    reason = "the vpcd driver is not installed (Debian package vsmartcard-vpcd)";
    return nullptr;
  }
  const std::string card_bin = card_program();
  if (::access(card_bin.c_str(), X_OK) != 0) {
    reason = "virtual-piv-card is not built: " + card_bin;
    return nullptr;
  }
  const SocketPlan& plan = socket_plan();
  if (!plan.isolated && std::filesystem::exists("/run/pcscd/pcscd.comm")) {
    reason =
        "another pcscd is running (/run/pcscd/pcscd.comm exists) and this user cannot isolate one (needs "
        "root and unshare)";
    return nullptr;
  }
  std::unique_ptr<PcscFixture> f(new PcscFixture());
  f->dir_ = dir;
  const int port = free_port_pair();
  if (port < 0) {
    reason = "no free TCP port pair for vpcd";
    return nullptr;
  }
  const std::string conf = dir + "/reader.conf.d";
  std::filesystem::create_directories(conf);
  {
    char channel[16];
    std::snprintf(channel, sizeof channel, "0x%04X", static_cast<unsigned>(port));
    std::ofstream c(conf + "/vpcd");
    c << "FRIENDLYNAME \"Countersign Virtual PCD\"\n"
      << "DEVICENAME   /dev/null:" << channel << "\n"
      << "LIBPATH      " << kVpcdDriver << "\n"
      << "CHANNELID    " << channel << "\n";
  }
  if (plan.isolated) {
    // unshare execs sh, which execs pcscd: the pid we hold is pcscd's own.
    f->pcscd_ = spawn({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                       "mount --bind \"$0\" /run/pcscd && exec " + std::string(kPcscd) + " -f -d -c \"$1\"",
                       plan.dir, conf},
                      dir + "/pcscd.log");
  } else {
    f->pcscd_ = spawn({kPcscd, "-f", "-d", "-c", conf}, dir + "/pcscd.log");
  }
  if (f->pcscd_ < 0) {
    reason = "cannot start pcscd";
    return nullptr;
  }
  f->port_ = port;
  f->card_ = spawn({card_bin, "--port", std::to_string(port), "--state", state_file}, dir + "/card.log");
  if (f->card_ < 0) {
    reason = "cannot start virtual-piv-card";
    return nullptr;
  }
  // Up to 15 s for pcscd to come up, vpcd to accept the card and the reader to show it.
  for (int i = 0; i < 150; ++i) {
    std::string name;
    bool present = false;
    if (reader_with_card("Countersign Virtual PCD 00 00", name, present) && present) {
      f->reader_ = name;
      return f;
    }
    if (exited(f->pcscd_)) {
      f->pcscd_ = -1;
      reason = "pcscd exited: " + f->pcscd_log();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reason = "the virtual card did not appear in pcscd within 15 s; pcscd log: " + f->pcscd_log();
  return nullptr;
}

std::string PcscFixture::insert_second_card(const std::string& state_file, std::string& reason) {
  // vpcd's driver serves two readers: "... 00 00" on port_ and "... 00 01" on port_ + 1.
  second_card_ = spawn({card_program(), "--port", std::to_string(port_ + 1), "--state", state_file},
                       dir_ + "/card2.log");
  if (second_card_ < 0) {
    reason = "cannot start a second virtual-piv-card";
    return "";
  }
  for (int i = 0; i < 150; ++i) {
    std::string name;
    bool present = false;
    if (reader_with_card("Countersign Virtual PCD 00 01", name, present) && present) return name;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  reason = "the second virtual card did not appear in pcscd within 15 s; pcscd log: " + pcscd_log();
  return "";
}

PcscFixture::~PcscFixture() {
  stop(second_card_);
  stop(card_);
  stop(pcscd_);
}

bool PcscFixture::remove_card() {
  stop(card_);
  for (int i = 0; i < 100; ++i) {
    std::string name;
    bool present = true;
    if (reader_with_card(reader_, name, present) && !present) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string PcscFixture::pcscd_log() const {
  std::ifstream in(dir_ + "/pcscd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 4000) s = s.substr(s.size() - 4000);
  return s;
}

}  // namespace countersign::test_util
