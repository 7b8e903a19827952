// A real rsyslog (Debian's rsyslogd with rsyslog-gnutls) as a SIEM collector for the log
// shipping tests: imtcp on 127.0.0.1 with TLS (RFC 5425, octet-counted frames), a server
// certificate for IP 127.0.0.1 issued by a test CA made with the openssl command, and every
// message written raw (%rawmsg%, one line each) to received.log in its own temp directory.
// It can be stopped and started again on the same port (a collector that is down a while).
//
//   RsyslogFixture rsyslog;
//   CS_REQUIRE_OR_SKIP(rsyslog.running(), rsyslog.skip_reason());
//   config.syslog = "127.0.0.1:" + std::to_string(rsyslog.port()); config.syslog_ca = rsyslog.ca_file();
//
// rsyslogd is /usr/sbin/rsyslogd, or $COUNTERSIGN_RSYSLOGD.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/daemon/nginx_fixture.h"
#include "tests/test_util.h"

namespace countersign::test_util {

class RsyslogFixture {
 public:
  RsyslogFixture() {
    const char* env = std::getenv("COUNTERSIGN_RSYSLOGD");
    binary_ = env != nullptr ? env : "/usr/sbin/rsyslogd";
    if (::access(binary_.c_str(), X_OK) != 0) {
      why_ = binary_ + " is not installed (scripts/setup.sh installs rsyslog and rsyslog-gnutls)";
      return;
    }
    if (!std::filesystem::exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so") &&
        !std::filesystem::exists("/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so")) {
      why_ = "rsyslog's GnuTLS driver is not installed (rsyslog-gnutls)";
      return;
    }
    std::filesystem::create_directories(dir_.path() / "work");
    const std::string d = dir_.path().string();
    const std::string make_certs =
        "cd '" + d +
        "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout ca.key "
        "-out ca.pem -subj /CN=test-siem-ca 2>/dev/null && openssl req -new -newkey ec -pkeyopt "
        "ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=siem 2>/dev/null && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:siem.test\\n' > ext.cnf && openssl x509 -req -in server.csr "
        "-CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem 2>/dev/null";
    if (std::system(make_certs.c_str()) != 0) {
      why_ = "openssl could not make the test CA and server certificate";
      return;
    }
    port_ = free_port();
    spit(dir_.path() / "rsyslog.conf",
         "global(workDirectory=\"" + d +
             "/work\" maxMessageSize=\"128k\"\n"
             "       DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"" +
             d +
             "/ca.pem\"\n"
             "       DefaultNetstreamDriverCertFile=\"" +
             d +
             "/server.pem\"\n"
             "       DefaultNetstreamDriverKeyFile=\"" +
             d +
             "/server.key\")\n"
             "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" "
             "StreamDriver.AuthMode=\"anon\")\n"
             "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
             "ruleset(name=\"countersign\") {\n"
             "  action(type=\"omfile\" file=\"" +
             d +
             "/received.log\" template=\"raw\")\n"
             "}\n"
             "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
             std::to_string(port_) + "\" ruleset=\"countersign\")\n");
    start();
  }
  ~RsyslogFixture() { stop(); }
  RsyslogFixture(const RsyslogFixture&) = delete;
  RsyslogFixture& operator=(const RsyslogFixture&) = delete;

  bool running() const { return pid_ > 0; }
  const std::string& skip_reason() const { return why_; }
  std::uint16_t port() const { return port_; }
  std::string ca_file() const { return (dir_.path() / "ca.pem").string(); }
  std::string received_file() const { return (dir_.path() / "received.log").string(); }
  // What rsyslogd said on stderr (for failure messages).
  std::string output() const { return slurp(dir_.path() / "rsyslogd.out"); }

  // Every message received so far, one per line, in arrival order.
  std::vector<std::string> received() const {
    std::vector<std::string> out;
    std::ifstream f(received_file());
    for (std::string line; std::getline(f, line);) out.push_back(line);
    return out;
  }
  // Waits (bounded by `max`) until at least `n` messages arrived; returns them.
  std::vector<std::string> wait_for(std::size_t n,
                                    std::chrono::seconds max = std::chrono::seconds(30)) const {
    const auto until = std::chrono::steady_clock::now() + max;
    auto got = received();
    while (got.size() < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      got = received();
    }
    return got;
  }

  // Starts rsyslogd (again) on port(); false (with skip_reason) when it does not listen
  // within 10 s.
  bool start() {
    if (pid_ > 0) return true;
    const std::string conf = (dir_.path() / "rsyslog.conf").string();
    const std::string pid_file = (dir_.path() / "rsyslogd.pid").string();
    const std::string out = (dir_.path() / "rsyslogd.out").string();
    std::vector<std::string> args = {binary_, "-n", "-f", conf, "-i", pid_file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // stdin: its own configuration file (it reads nothing there; no device of this machine).
    posix_spawn_file_actions_addopen(&fa, 0, conf.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, binary_.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      why_ = "cannot start " + binary_;
      return false;
    }
    pid_ = pid;
    for (int i = 0; i < 200; ++i) {
      if (can_connect(port_)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    why_ = "rsyslogd does not listen on 127.0.0.1:" + std::to_string(port_) + ": " + output();
    stop();
    return false;
  }
  // SIGTERM, then SIGKILL after 10 s; reaps it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  TempDir dir_{"rsyslog"};
  std::string binary_;
  std::string why_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace countersign::test_util
