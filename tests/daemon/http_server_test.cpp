// daemon/http_server.h under attack: who is talking (SO_PEERCRED, the TCP address, the client
// certificate), the limits (connections per peer, buffered bodies, total header and body
// deadlines) and HTTPS-only TCP (TLS 1.3, client certificates). Clients are raw sockets in
// the test process, a forked client under another uid, and the curl and openssl binaries
// against certificates made at test time with the openssl CLI.
#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using test_util::contains;
namespace fs = std::filesystem;

// What the handler saw, for the test to check.
struct Seen {
  std::mutex mu;
  std::vector<Peer> peers;
  std::vector<std::size_t> body_sizes;
  std::size_t calls() {
    std::lock_guard lock(mu);
    return peers.size();
  }
  Peer last() {
    std::lock_guard lock(mu);
    return peers.empty() ? Peer{} : peers.back();
  }
};

HttpHandler recording_handler(Seen& seen) {
  return [&seen](const HttpRequest& r) {
    {
      std::lock_guard lock(seen.mu);
      seen.peers.push_back(r.peer);
      seen.body_sizes.push_back(r.body.size());
    }
    Reply reply;
    reply.body = {{"path", r.path}, {"peer", r.peer.to_json()}};
    return reply;
  };
}

UniqueFd connect_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return UniqueFd();
  return fd;
}

// From `source` (another loopback address: another peer) when given.
UniqueFd connect_tcp(std::uint16_t port, const char* source = nullptr) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (source) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return UniqueFd();
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return UniqueFd();
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads one HTTP response (headers and a Content-Length body), or what came before the
// connection closed, waiting at most `timeout`.
std::string read_response(int fd, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto end = got.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = got.find("Content-Length: ");
      std::size_t want = cl != std::string::npos && cl < end ? std::stoul(got.substr(cl + 16)) : 0;
      if (got.size() >= end + 4 + want) return got;
    }
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string get_request(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: box\r\n\r\n"; }

// Whether the peer closed the connection (EOF or reset) within `timeout`; answers are discarded.
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    if (::recv(fd, buf, sizeof buf, 0) <= 0) return true;
  }
  return false;
}

// Sends `data` one byte every 200 ms until the server closes the connection; returns how long
// that took after the first byte, or nullopt if it stayed open for `limit`.
std::optional<std::chrono::milliseconds> trickle_until_closed(int fd, const std::string& data,
                                                              std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  std::size_t i = 0;
  while (Clock::now() - start < limit) {
    if (i < data.size() && ::send(fd, &data[i++], 1, MSG_NOSIGNAL) != 1) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    // The wait between bytes is the poll for the close.
    if (closed_within(fd, std::chrono::milliseconds(200))) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
  }
  return std::nullopt;
}

std::uint64_t peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6));
  }
  return 0;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServer::Options options() {
    HttpServer::Options o;
    o.unix_path = dir_.file("api.sock");
    return o;
  }
  Result<std::unique_ptr<HttpServer>> start(const HttpServer::Options& o) {
    return HttpServer::start(o, recording_handler(seen_));
  }

  test_util::TempDir dir_{"http-server"};
  Seen seen_;
};

TEST_F(HttpServerTest, TheHandlerSeesTheUnixClientsCredentials) {
  auto server = start(options());
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto fd = connect_unix(options().unix_path);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(send_all(fd.get(), get_request("/whoami")));
  auto reply = read_response(fd.get());
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  Peer peer = seen_.last();
  EXPECT_EQ(peer.transport, Peer::Transport::kUnix);
  EXPECT_EQ(peer.uid, ::getuid());
  EXPECT_EQ(peer.gid, ::getgid());
  EXPECT_EQ(peer.pid, ::getpid());
  EXPECT_TRUE(contains(reply, "\"pid\":" + std::to_string(::getpid()))) << reply;
  struct stat st {};
  ASSERT_EQ(::stat(options().unix_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

// A group other than root's to give the socket to and to run a second client in.
std::optional<gid_t> other_group(std::string& name) {
  for (const char* candidate : {"nogroup", "daemon", "users"}) {
    if (const group* g = ::getgrnam(candidate); g && g->gr_gid != 0) {
      name = candidate;
      return g->gr_gid;
    }
  }
  return std::nullopt;
}

TEST_F(HttpServerTest, TheSocketBelongsToSocketGroupAndAnUnknownGroupIsRefused) {
  std::string name;
  auto gid = other_group(name);
  if (!gid) GTEST_SKIP() << "no group other than root's on this system";
  auto o = options();
  o.socket_group = name;
  {
    auto server = start(o);
    ASSERT_TRUE(server.ok()) << server.error().message;
    struct stat st {};
    ASSERT_EQ(::stat(o.unix_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, *gid);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
  }
  o.socket_group = "no-such-group-cs";
  auto refused = start(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "socket_group: there is no group \"no-such-group-cs\" on this system");
  EXPECT_FALSE(fs::exists(o.unix_path)) << "nothing listens after a configuration error";
}

TEST_F(HttpServerTest, ThePeerLimitAnswers429ToOneUidWhileAnotherGetsThrough) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to run a client under another uid";
  std::string name;
  auto gid = other_group(name);
  if (!gid) GTEST_SKIP() << "no group other than root's on this system";
  auto o = options();
  o.socket_group = name;  // so that the other uid may connect
  o.max_connections_per_peer = 16;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  // 16 connections of this uid, each answered once and kept open.
  std::vector<UniqueFd> open;
  for (int i = 0; i < 16; ++i) {
    open.push_back(connect_unix(o.unix_path));
    ASSERT_TRUE(open.back().valid());
    ASSERT_TRUE(send_all(open.back().get(), get_request("/ok")));
    auto reply = read_response(open.back().get());
    ASSERT_TRUE(reply.starts_with("HTTP/1.1 200")) << i << ": " << reply;
  }
  auto seventeenth = connect_unix(o.unix_path);
  ASSERT_TRUE(seventeenth.valid());
  ASSERT_TRUE(send_all(seventeenth.get(), get_request("/ok")));
  auto refused = read_response(seventeenth.get());
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 429")) << refused;
  const std::string uid_key = "uid:" + std::to_string(::getuid());
  EXPECT_TRUE(contains(refused, uid_key + " already has 16 connections open (max_connections_per_peer)"))
      << refused;
  EXPECT_TRUE(closed_within(seventeenth.get(), std::chrono::milliseconds(5000)))
      << "a refused connection is closed";
  EXPECT_EQ(seen_.calls(), 16u) << "the handler never sees a refused request";

  // Another uid still gets through: a forked client as nobody (65534) in the socket's group.
  const std::string request = get_request("/other");
  const uid_t nobody = 65534;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(*gid) != 0 || ::setuid(nobody) != 0) ::_exit(3);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, o.unix_path.c_str(), o.unix_path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::_exit(4);
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) ::_exit(5);
    char buf[13] = {};
    if (::read(fd, buf, 12) != 12) ::_exit(6);
    ::_exit(std::memcmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : 7);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the other uid's request was not answered 200";
  Peer other = seen_.last();
  EXPECT_EQ(other.uid, nobody);
  EXPECT_EQ(other.gid, *gid);
  EXPECT_EQ(other.pid, child);
  EXPECT_EQ(other.key(), "uid:65534");
}

TEST_F(HttpServerTest, ConnectionsBeyondMaxConnectionsAreClosedAtAccept) {
  auto o = options();
  o.max_connections = 3;
  o.max_connections_per_peer = 3;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::vector<UniqueFd> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(connect_unix(o.unix_path));
    ASSERT_TRUE(send_all(open.back().get(), get_request("/ok")));
    ASSERT_TRUE(read_response(open.back().get()).starts_with("HTTP/1.1 200")) << i;
  }
  auto fourth = connect_unix(o.unix_path);  // the kernel accepts; libmicrohttpd closes it
  ASSERT_TRUE(fourth.valid());
  send_all(fourth.get(), get_request("/ok"));
  EXPECT_EQ(read_response(fourth.get()), "") << "the fourth connection was answered";
  EXPECT_EQ(seen_.calls(), 3u);
  open.pop_back();  // one closes: there is room again
  bool served = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(5); !served && Clock::now() < deadline;) {
    auto again = connect_unix(o.unix_path);
    served =
        send_all(again.get(), get_request("/ok")) && read_response(again.get()).starts_with("HTTP/1.1 200");
  }
  EXPECT_TRUE(served) << "no room after a connection closed";
}

// Bodies without Content-Length (chunked) are counted against max_body_memory as they grow.
TEST_F(HttpServerTest, AChunkedBodyThatOutgrowsMaxBodyMemoryGets503) {
  auto o = options();
  o.max_body = 1u << 20;
  o.max_body_memory = 1u << 20;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  // One request holds 768 KiB of the 1 MiB by its Content-Length and waits.
  auto holder = connect_unix(o.unix_path);
  ASSERT_TRUE(send_all(holder.get(), "POST /a HTTP/1.1\r\nHost: box\r\nContent-Length: 786432\r\n\r\n"));
  // Wait until the holder's headers are in (its 503 would come at once if it did not fit).
  EXPECT_EQ(read_response(holder.get(), std::chrono::milliseconds(300)), "");
  auto chunked = connect_unix(o.unix_path);
  std::string request = "POST /b HTTP/1.1\r\nHost: box\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) request += "10000\r\n" + std::string(0x10000, 'c') + "\r\n";  // 512 KiB
  request += "0\r\n\r\n";
  ASSERT_TRUE(send_all(chunked.get(), request));
  auto busy = read_response(chunked.get());
  EXPECT_TRUE(busy.starts_with("HTTP/1.1 503")) << busy;
  EXPECT_TRUE(contains(busy, "Retry-After: 5")) << busy;
  ASSERT_TRUE(send_all(holder.get(), std::string(786432, 'h')));
  EXPECT_TRUE(read_response(holder.get()).starts_with("HTTP/1.1 200"));
  EXPECT_EQ(seen_.calls(), 1u);
  // With the holder done (its memory is released once its response is sent: retry, as
  // Retry-After says, for a bounded while), the same chunked body fits.
  std::string reply;
  for (auto deadline = Clock::now() + std::chrono::seconds(5);
       !reply.starts_with("HTTP/1.1 200") && Clock::now() < deadline;) {
    auto later = connect_unix(o.unix_path);
    ASSERT_TRUE(send_all(later.get(), request));
    reply = read_response(later.get());
  }
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_EQ(seen_.body_sizes.back(), 512u * 1024);
}

TEST_F(HttpServerTest, SlowlorisIsClosedAtTheHeaderDeadline) {
  auto o = options();
  o.header_timeout_seconds = 1;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto fd = connect_unix(o.unix_path);
  ASSERT_TRUE(fd.valid());
  // One header byte every 200 ms: never idle for MHD's idle timeout, never complete.
  auto closed =
      trickle_until_closed(fd.get(), "GET / HTTP/1.1\r\nHost: box\r\nX-Slow: " + std::string(100, 'a'),
                           std::chrono::milliseconds(6000));
  ASSERT_TRUE(closed.has_value()) << "still open after 6 s";
  EXPECT_LT(closed->count(), 2000) << "closed after " << closed->count() << " ms, deadline 1 s";
  EXPECT_GE(closed->count(), 800) << "closed before the deadline";
  EXPECT_EQ(seen_.calls(), 0u);
}

TEST_F(HttpServerTest, ASlowBodyIsClosedAtTheBodyDeadline) {
  auto o = options();
  o.body_timeout_seconds = 1;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto fd = connect_unix(o.unix_path);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(send_all(fd.get(), "POST /v1/bundles HTTP/1.1\r\nHost: box\r\nContent-Length: 1000\r\n\r\n"));
  auto closed = trickle_until_closed(fd.get(), std::string(1000, 'x'), std::chrono::milliseconds(6000));
  ASSERT_TRUE(closed.has_value()) << "still open after 6 s";
  EXPECT_LT(closed->count(), 2000) << "closed after " << closed->count() << " ms, deadline 1 s";
  EXPECT_EQ(seen_.calls(), 0u);
}

TEST_F(HttpServerTest, BodiesBeyondMaxBodyMemoryGet503AndAreNotBuffered) {
  constexpr std::size_t kBody = 4u << 20, kClients = 20;
  auto o = options();
  o.max_body = kBody;
  o.max_body_memory = 2 * kBody;  // room for two
  o.max_connections_per_peer = 32;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::string body(kBody, 'b');
  const std::string headers =
      "POST /v1/bundles HTTP/1.1\r\nHost: box\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n";
  // Peak RSS from here (proc(5), /proc/PID/clear_refs "5").
  std::ofstream("/proc/self/clear_refs") << "5";
  const std::uint64_t before = peak_rss_kib();

  std::vector<UniqueFd> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(connect_unix(o.unix_path));
    ASSERT_TRUE(clients.back().valid());
    ASSERT_TRUE(send_all(clients.back().get(), headers));
  }
  // 18 are told "busy" before they send a byte of their bodies; two wait for theirs.
  std::vector<std::string> replies(kClients);
  std::vector<bool> waiting(kClients, true);
  std::size_t busy = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    replies[i] = read_response(clients[i].get(), std::chrono::milliseconds(busy + 2 < kClients ? 1500 : 300));
    if (replies[i].empty()) continue;
    waiting[i] = false;
    EXPECT_TRUE(replies[i].starts_with("HTTP/1.1 503")) << replies[i];
    EXPECT_TRUE(contains(replies[i], "Retry-After: 5")) << replies[i];
    EXPECT_TRUE(contains(replies[i], "max_body_memory")) << replies[i];
    ++busy;
  }
  EXPECT_EQ(busy, kClients - 2);
  // The refused ones send their bodies anyway; the two others then send theirs and are served.
  for (std::size_t i = 0; i < kClients; ++i) {
    if (waiting[i]) continue;
    timeval tv{2, 0};
    ::setsockopt(clients[i].get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    send_all(clients[i].get(), body);  // fails once the server has closed it
  }
  for (std::size_t i = 0; i < kClients; ++i) {
    if (!waiting[i]) continue;
    ASSERT_TRUE(send_all(clients[i].get(), body));
    auto reply = read_response(clients[i].get());
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  }
  const std::uint64_t grown_kib = peak_rss_kib() - before;
  // Two bodies buffered (and the string growing) is some 16 MiB; 18 more would be 72 MiB.
  EXPECT_LT(grown_kib, 40u * 1024) << "peak RSS grew by " << grown_kib << " KiB";
  EXPECT_EQ(seen_.calls(), 2u);
}

// ---- HTTPS on TCP ---------------------------------------------------------------------------

// Runs a shell command; its output goes to `log`. Returns the exit status.
int run(const std::string& command, const std::string& log) {
  int rc = std::system(("(" + command + ") >>'" + log + "' 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

class HttpsTest : public HttpServerTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(run("command -v openssl && command -v curl", log()), 0) << "openssl and curl are needed";
    // Two CAs; a server certificate for 127.0.0.1, client certificates from each CA.
    make_ca("ca");
    make_ca("other-ca");
    make_leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    make_leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
    make_leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n");
  }
  std::string log() { return dir_.file("commands.log"); }
  std::string in_dir(const std::string& command) { return "cd '" + dir_.path().string() + "' && " + command; }
  void make_ca(const std::string& name) {
    ASSERT_EQ(
        run(in_dir("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout " +
                   name + ".key -out " + name + ".pem -subj /CN=" + name),
            log()),
        0)
        << test_util::slurp(log());
  }
  void make_leaf(const std::string& name, const std::string& ca, const std::string& extensions) {
    test_util::spit(dir_.path() / (name + ".ext"), "basicConstraints=CA:FALSE\n" + extensions);
    ASSERT_EQ(
        run(in_dir("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
                   ".key -out " + name + ".csr -subj /CN=" + name + " && openssl x509 -req -in " + name +
                   ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -set_serial " + std::to_string(++serial_) +
                   " -days 2 -out " + name + ".pem -extfile " + name + ".ext"),
            log()),
        0)
        << test_util::slurp(log());
    fs::permissions(dir_.path() / (name + ".key"), fs::perms::owner_read | fs::perms::owner_write);
  }
  HttpServer::Options tls_options() {
    auto o = options();
    o.tcp = "127.0.0.1:0";
    o.tls_cert = dir_.file("server.pem");
    o.tls_key = dir_.file("server.key");
    return o;
  }
  // curl's exit status; its output (the body) in `out`.
  int curl(std::uint16_t port, const std::string& extra, std::string& out) {
    const std::string body = dir_.file("curl.out");
    fs::remove(body);
    int rc = run(in_dir("curl -sS --max-time 10 --tlsv1.3 --cacert ca.pem " + extra + " -o '" + body +
                        "' https://127.0.0.1:" + std::to_string(port) + "/hello"),
                 log());
    out = test_util::slurp(body);
    return rc;
  }
  // "sha256:<hex>" of a certificate's DER, as openssl computes it.
  std::string fingerprint(const std::string& name) {
    const std::string out = dir_.file(name + ".fp");
    EXPECT_EQ(
        run(in_dir("openssl x509 -in " + name + ".pem -noout -fingerprint -sha256 > '" + out + "'"), log()),
        0);
    std::string text = test_util::slurp(out);  // "sha256 Fingerprint=AB:CD:...\n"
    std::string hex;
    for (char c : text.substr(text.find('=') + 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    }
    return "sha256:" + hex;
  }
  int serial_ = 0;
};

TEST_F(HttpsTest, CurlWithTls13GetsTheAnswerAndThePeerIsTheAddress) {
  auto server = start(tls_options());
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto port = (*server)->tcp_port();
  ASSERT_TRUE(port.has_value());
  std::string out;
  ASSERT_EQ(curl(*port, "", out), 0) << test_util::slurp(log());
  EXPECT_TRUE(contains(out, "\"transport\":\"tcp\"")) << out;
  Peer peer = seen_.last();
  EXPECT_EQ(peer.transport, Peer::Transport::kTcp);
  EXPECT_EQ(peer.address, "127.0.0.1");
  EXPECT_NE(peer.port, 0);
  EXPECT_EQ(peer.key(), "ip:127.0.0.1");
  EXPECT_FALSE(peer.client_certificate.has_value());
}

// Per IP address on TCP: closed at accept (before a TLS handshake costs anything).
TEST_F(HttpsTest, ThePeerLimitClosesOneAddressWhileAnotherGetsThrough) {
  auto o = tls_options();
  o.max_connections_per_peer = 2;
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::uint16_t port = *(*server)->tcp_port();
  auto a1 = connect_tcp(port), a2 = connect_tcp(port);
  ASSERT_TRUE(a1.valid() && a2.valid());
  auto a3 = connect_tcp(port);
  ASSERT_TRUE(a3.valid());
  EXPECT_TRUE(closed_within(a3.get(), std::chrono::milliseconds(3000)))
      << "a third from 127.0.0.1 stayed open";
  auto b = connect_tcp(port, "127.0.0.2");
  ASSERT_TRUE(b.valid()) << "cannot connect from 127.0.0.2";
  EXPECT_FALSE(closed_within(b.get(), std::chrono::milliseconds(500))) << "127.0.0.2 was closed too";
  EXPECT_FALSE(closed_within(a1.get(), std::chrono::milliseconds(10)));
}

TEST_F(HttpsTest, OnlyTls13Handshakes) {
  auto server = start(tls_options());
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::string port = std::to_string(*(*server)->tcp_port());
  test_util::spit(dir_.path() / "empty", "");
  const std::string s_client = "openssl s_client -connect 127.0.0.1:" + port + " -CAfile ca.pem < empty ";
  EXPECT_NE(run(in_dir(s_client + "-tls1_2"), log()), 0) << "TLS 1.2 handshook";
  const std::string before = test_util::slurp(log());
  EXPECT_EQ(run(in_dir(s_client + "-tls1_3"), log()), 0) << test_util::slurp(log());
  EXPECT_TRUE(contains(test_util::slurp(log()).substr(before.size()), "TLSv1.3")) << test_util::slurp(log());
}

TEST_F(HttpsTest, PlainHttpGetsNoHttpAnswer) {
  auto server = start(tls_options());
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto fd = connect_tcp(*(*server)->tcp_port());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(send_all(fd.get(), get_request("/hello")));
  auto reply = read_response(fd.get(), std::chrono::milliseconds(3000));
  EXPECT_FALSE(contains(reply, "HTTP/")) << reply;
  EXPECT_EQ(seen_.calls(), 0u);
}

TEST_F(HttpsTest, WithAClientCaOnlyItsCertificatesAreServed) {
  auto o = tls_options();
  o.tls_client_ca = dir_.file("ca.pem");
  auto server = start(o);
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::uint16_t port = *(*server)->tcp_port();
  std::string out;
  EXPECT_NE(curl(port, "", out), 0) << "answered without a client certificate: " << out;
  EXPECT_NE(curl(port, "--cert stranger.pem --key stranger.key", out), 0)
      << "answered another CA's client: " << out;
  EXPECT_EQ(seen_.calls(), 0u) << "the handler saw a refused client";
  ASSERT_EQ(curl(port, "--cert client.pem --key client.key", out), 0) << test_util::slurp(log());
  const std::string expected = fingerprint("client");
  ASSERT_EQ(expected.size(), 7u + 64u);
  EXPECT_EQ(seen_.last().client_certificate, expected);
  EXPECT_TRUE(contains(out, "\"client_certificate\":\"" + expected + "\"")) << out;
  EXPECT_EQ(seen_.calls(), 1u);
}

TEST_F(HttpsTest, TlsSettingsThatCannotWorkAreRefusedAtStart) {
  auto o = tls_options();
  o.tls_cert.reset();
  auto no_cert = start(o);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_TRUE(contains(no_cert.error().message, "needs tls_cert and tls_key")) << no_cert.error().message;

  fs::permissions(dir_.path() / "server.key", fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
  auto readable = start(tls_options());
  ASSERT_FALSE(readable.ok());
  EXPECT_EQ(readable.error().code, Errc::kRejected);
  EXPECT_TRUE(contains(readable.error().message, "chmod 600 " + dir_.file("server.key")))
      << readable.error().message;
  fs::permissions(dir_.path() / "server.key", fs::perms::owner_read | fs::perms::owner_write);

  o = tls_options();
  o.tls_key = dir_.file("client.key");  // not the certificate's key
  auto mismatched = start(o);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_TRUE(contains(mismatched.error().message, "tls_cert " + dir_.file("server.pem") + " and tls_key " +
                                                       dir_.file("client.key") +
                                                       ": not a PEM certificate and its key"))
      << mismatched.error().message;

  o = tls_options();
  o.tls_client_ca = dir_.file("client.key");
  auto bad_ca = start(o);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_TRUE(contains(bad_ca.error().message,
                       "tls_client_ca " + dir_.file("client.key") + ": no PEM CA certificate"))
      << bad_ca.error().message;
  EXPECT_FALSE(fs::exists(o.unix_path)) << "nothing listens after a configuration error";
}

}  // namespace
}  // namespace countersign::daemon
