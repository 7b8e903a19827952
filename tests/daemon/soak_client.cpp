// The flood of the soak test (DaemonProcessTest.SoakOfFloodsWhileAValidBundleIsInstalled,
// docs/benchmarks.md): one process of attacking clients on countersignd's Unix socket, run as
// its own user so that the daemon counts it as its own peer.
//
//   soak_client SOCKET SECONDS THREADS UID TEMPLATE
//
// UID: when running as root, the process takes that uid and gid (keeping group 0, the socket's
// group, as a supplementary group) before anything else; "-" keeps the caller's. TEMPLATE: a
// JSON file {"refused": <a bundle the box refuses>, "pending": {"proposal", "manifest"}}.
// Each thread loops until SECONDS pass, doing by its number: garbage bodies, an announced
// oversized body, a header sent one byte at a time (slowloris), a body sent slowly, a valid
// but refused bundle, new pending proposals, garbage signatures. Every request is bounded in
// time. Prints one JSON line: {"requests": N, "statuses": {"400": n, ...}, "closed": n}, where
// "closed" counts connections the daemon ended without an answer (deadlines, limits).
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Totals {
  std::mutex mu;
  std::map<int, long> statuses;
  long requests = 0;
  long closed = 0;
  void add(int status) {
    std::lock_guard lock(mu);
    ++requests;
    if (status > 0) {
      ++statuses[status];
    } else {
      ++closed;
    }
  }
};

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};  // no single read or write waits longer
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// The status of the answer, 0 when the connection ended without one.
int read_status(int fd) {
  char buf[4096];
  std::string got;
  while (got.find("\r\n") == std::string::npos && got.size() < sizeof buf) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  if (got.rfind("HTTP/1.", 0) == 0 && got.size() > 12) status = std::atoi(got.c_str() + 9);
  return status;
}

std::string request(const std::string& method, const std::string& path, const std::string& body) {
  return method + " " + path +
         " HTTP/1.1\r\nHost: box\r\nConnection: close\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

int one_shot(const std::string& socket, const std::string& data) {
  int fd = connect_unix(socket);
  if (fd < 0) return 0;
  int status = send_all(fd, data) ? read_status(fd) : 0;
  ::close(fd);
  return status;
}

// Sends `data` a piece at a time with a pause between pieces, until sent, the daemon closes,
// or `until`; then reads the answer, if any.
int trickle(const std::string& socket, const std::string& data, std::size_t piece,
            std::chrono::milliseconds pause, Clock::time_point until) {
  int fd = connect_unix(socket);
  if (fd < 0) return 0;
  std::size_t off = 0;
  while (off < data.size() && Clock::now() < until) {
    const std::size_t n = std::min(piece, data.size() - off);
    if (!send_all(fd, data.substr(off, n))) break;
    off += n;
    pollfd p{fd, POLLIN, 0};  // an early answer or close ends the trickle
    if (::poll(&p, 1, static_cast<int>(pause.count())) > 0) break;
  }
  int status = read_status(fd);
  ::close(fd);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: soak_client SOCKET SECONDS THREADS UID|- TEMPLATE\n");
    return 2;
  }
  const std::string socket = argv[1];
  const auto seconds = std::chrono::seconds(std::atoi(argv[2]));
  const int threads = std::atoi(argv[3]);
  if (std::string(argv[4]) != "-" && ::geteuid() == 0) {
    const auto id = static_cast<uid_t>(std::atol(argv[4]));
    const gid_t groups[] = {0};
    if (::setgroups(1, groups) != 0 || ::setgid(id) != 0 || ::setuid(id) != 0) {
      std::perror("soak_client: cannot change user");
      return 1;
    }
  }
  std::ifstream in(argv[5]);
  std::stringstream text;
  text << in.rdbuf();
  const json tmpl = json::parse(text.str(), nullptr, false);
  if (!tmpl.is_object()) {
    std::fprintf(stderr, "soak_client: %s is not the JSON template\n", argv[5]);
    return 1;
  }
  const std::string refused = tmpl["refused"].dump();
  const Clock::time_point until = Clock::now() + seconds;
  Totals totals;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<std::uint32_t>(t * 7919 + ::getpid()));
      long n = 0;
      while (Clock::now() < until) {
        ++n;
        switch (t % 7) {
          case 0: {  // garbage of up to 64 KiB
            std::string junk(std::uniform_int_distribution<std::size_t>(1, 65536)(rng), '\0');
            for (auto& c : junk) c = static_cast<char>(rng());
            totals.add(one_shot(socket, request("POST", "/v1/bundles", junk)));
            break;
          }
          case 1:  // announces 100 MiB: answered 413 before any of it is read
            totals.add(one_shot(
                socket, "POST /v1/bundles HTTP/1.1\r\nHost: box\r\nContent-Length: 104857600\r\n\r\n"));
            break;
          case 2:  // slowloris: the header one byte every 300 ms
            totals.add(
                trickle(socket, request("GET", "/v1/status", ""), 1, std::chrono::milliseconds(300), until));
            break;
          case 3: {  // a 256 KiB body at 4 KiB a second
            std::string body(256 << 10, ' ');
            totals.add(trickle(socket, request("POST", "/v1/bundles", body), 4096,
                               std::chrono::milliseconds(1000), until));
            break;
          }
          case 4:  // a well-formed bundle the box refuses (not enough signatures)
            totals.add(one_shot(socket, request("POST", "/v1/bundles", refused)));
            break;
          case 5: {  // a new pending proposal each time: the cap answers once it is full
            json p = tmpl["pending"];
            p["proposal"]["note"] =
                "soak " + std::to_string(::getpid()) + "-" + std::to_string(t) + "-" + std::to_string(n);
            totals.add(one_shot(socket, request("POST", "/v1/proposals", p.dump())));
            break;
          }
          default:  // a signature that does not parse, for a proposal that does not exist
            totals.add(one_shot(
                socket,
                request("POST", "/v1/proposals/" + std::string(64, 'a') + "/signatures", "not a signature")));
            break;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  json out = {{"requests", totals.requests}, {"closed", totals.closed}, {"statuses", json::object()}};
  for (const auto& [status, count] : totals.statuses) out["statuses"][std::to_string(status)] = count;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
