// The commands that talk to the box tell "the box refused" (exit 1, with its reasons) from
// "could not reach the box" (exit 3, naming the socket and what failed), against scripted
// servers on Unix sockets: no socket, nobody listening, a connection closed without an
// answer, an answer that is not countersignd's API, no answer in time, and real refusals.
#include "cli/box_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

using test_util::CliRun;
using test_util::contains;

int bound_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ADD_FAILURE() << "cannot bind " << path << ": " << std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Reads one HTTP request (headers, then Content-Length bytes of body); false on EOF.
bool read_request(int fd) {
  std::string in;
  char buf[4096];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || in.size() < need) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    in.append(buf, static_cast<std::size_t>(n));
    std::size_t end = in.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      std::size_t len = 0;
      std::size_t cl = in.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::stoul(in.substr(cl + 16));
      need = end + 4 + len;
    }
  }
  return true;
}

// A server on a Unix socket that answers every request with `answer` (raw bytes, then it
// closes the connection); an empty answer closes without one. With `hold`, it reads the
// request and keeps the connection open, silent, until it is destroyed.
class ScriptedServer {
 public:
  ScriptedServer(const std::string& path, std::string answer, bool hold = false)
      : fd_(bound_socket(path)), answer_(std::move(answer)), hold_(hold) {
    if (fd_ < 0 || ::listen(fd_, 8) != 0) return;
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (stop_) {
          ::close(c);
          return;
        }
        bool got = read_request(c);
        if (hold_) {
          held_.push_back(c);
          continue;
        }
        if (got && !answer_.empty()) (void)!::write(c, answer_.data(), answer_.size());
        ::close(c);
      }
    });
  }
  ~ScriptedServer() {
    stop_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    if (thread_.joinable()) thread_.join();
    for (int c : held_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
  std::string answer_;
  bool hold_;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

std::string http(int status, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

class BoxClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_LT(socket_.size(), sizeof(sockaddr_un{}.sun_path)) << socket_;
    test_util::spit(dir_.path() / "bundle.json", R"({"schema": "countersign/bundle/v1"})");
  }
  CliRun cli(std::vector<std::string> args) {
    args.push_back("--socket");
    args.push_back(socket_);
    return test_util::run_cli(args, system_now);
  }
  std::string bundle() const { return dir_.file("bundle.json"); }

  test_util::TempDir dir_{"bc"};
  const std::string socket_ = dir_.file("s.sock");
};

TEST_F(BoxClientTest, NoSocketAtThePathIsUnreachableNamingThePath) {
  auto sub = cli({"submit", bundle()});
  EXPECT_EQ(sub.rc, kExitUnreachable) << sub;
  EXPECT_TRUE(contains(sub.err, "cannot reach countersignd at " + socket_ + ": no socket there")) << sub;
  auto status = cli({"box", "status", "--json"});
  EXPECT_EQ(status.rc, 3) << status;
  EXPECT_TRUE(contains(status.out, "\"code\": \"unreachable\"")) << status;
  auto exp = cli({"box", "log", "export", "-o", dir_.file("log.jsonl")});
  EXPECT_EQ(exp.rc, 3) << exp;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "log.jsonl"));
}

TEST_F(BoxClientTest, ASocketNobodyListensOnIsConnectionRefused) {
  int fd = bound_socket(socket_);  // bound, never listening: connect() is refused
  ASSERT_GE(fd, 0);
  auto sub = cli({"submit", bundle()});
  ::close(fd);
  EXPECT_EQ(sub.rc, 3) << sub;
  EXPECT_TRUE(contains(sub.err, "cannot reach countersignd at " + socket_ + ": connection refused")) << sub;
}

TEST_F(BoxClientTest, AConnectionClosedWithoutAnAnswerIsUnreachable) {
  ScriptedServer server(socket_, "");
  auto sub = cli({"submit", bundle()});
  EXPECT_EQ(sub.rc, 3) << sub;
  EXPECT_TRUE(contains(sub.err, socket_ + ": the connection closed without an answer")) << sub;
  auto job = cli({"box", "job", std::string(64, 'a')});
  EXPECT_EQ(job.rc, 3) << job;
  auto cp = cli({"box", "log", "checkpoint"});
  EXPECT_EQ(cp.rc, 3) << cp;
}

TEST_F(BoxClientTest, AnAnswerThatIsNotTheApisIsUnreachable) {
  ScriptedServer server(socket_, http(502, "text/html", "<html>Bad Gateway</html>"));
  auto sub = cli({"submit", bundle()});
  EXPECT_EQ(sub.rc, 3) << sub;
  EXPECT_TRUE(contains(sub.err, "countersignd at " + socket_ + " answered HTTP 502 (24 bytes)")) << sub;
  EXPECT_TRUE(contains(sub.err, "which is not its API's answer")) << sub;
  auto cp = cli({"box", "log", "checkpoint"});
  EXPECT_EQ(cp.rc, 3) << cp;
}

TEST_F(BoxClientTest, ASuccessThatIsNotJsonIsUnreachable) {
  ScriptedServer server(socket_, http(200, "text/plain", "hello"));
  auto status = cli({"box", "status"});
  EXPECT_EQ(status.rc, 3) << status;
  EXPECT_TRUE(contains(status.err, "answered HTTP 200 (5 bytes) with a body that is not a JSON object"))
      << status;
}

TEST_F(BoxClientTest, NoAnswerInTimeIsATimeoutNamingThePath) {
  ScriptedServer server(socket_, "", /*hold=*/true);
  auto r = box_request({socket_, std::nullopt, std::nullopt}, "GET", "/v1/status", {}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
  EXPECT_TRUE(contains(r.error().message, "cannot reach countersignd at " + socket_ + ": no answer in time"))
      << r.error().message;
}

TEST_F(BoxClientTest, ARefusedBundleIsExitOneWithEveryReason) {
  ScriptedServer server(socket_,
                        http(403, "application/json",
                             R"({"error":"rejected","reasons":["threshold not met: 1 of 3","expired"]})"));
  auto sub = cli({"submit", bundle()});
  EXPECT_EQ(sub.rc, 1) << sub;
  EXPECT_TRUE(contains(sub.err, "the box rejected the bundle:\n  - threshold not met: 1 of 3\n  - expired"))
      << sub;
  auto json = cli({"submit", bundle(), "--json"});
  EXPECT_EQ(json.rc, 1) << json;
  EXPECT_TRUE(contains(json.out, "\"error\": \"rejected\"")) << json;
}

TEST_F(BoxClientTest, AMalformedRequestTheBoxRefusesIsExitTwo) {
  ScriptedServer server(
      socket_,
      http(400, "application/json",
           R"({"error":"malformed","reason":"query parameter \"start\" missing or not a whole number"})"));
  auto exp = cli({"box", "log", "export", "-o", dir_.file("log.jsonl")});
  EXPECT_EQ(exp.rc, 2) << exp;
  EXPECT_TRUE(contains(exp.err, "countersignd: query parameter \"start\"")) << exp;
}

TEST_F(BoxClientTest, NotFoundAndServerErrorsFromTheBoxAreExitOne) {
  ScriptedServer server(
      socket_, http(500, "application/json", R"({"error":"helper","reason":"countersign-system: exit 1"})"));
  auto snaps = cli({"box", "snapshots"});
  EXPECT_EQ(snaps.rc, 1) << snaps;
  EXPECT_TRUE(contains(snaps.err, "countersignd: countersign-system: exit 1")) << snaps;
}

TEST(BoxClientHelp, ExitCodesAreInTheHelpOfEveryBoxCommand) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"submit", "--help"},
                                       {"box", "status", "--help"},
                                       {"box", "log", "export", "--help"}}) {
    auto r = test_util::run_cli(cmd, system_now);
    EXPECT_EQ(r.rc, 0) << r;
    EXPECT_TRUE(contains(r.out, "3  could not reach the box")) << r;
    EXPECT_TRUE(contains(r.out, "1  the box refused")) << r;
  }
}

}  // namespace
}  // namespace countersign::cli
