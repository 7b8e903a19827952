#include "tests/daemon/nginx_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

namespace countersign::test_util {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kStartAttempts = 5;          // fresh port each time nginx finds it taken
constexpr auto kStartTimeout = 10s;        // until nginx accepts a connection
constexpr auto kStopTimeout = 5s;          // after SIGTERM, before SIGKILL
constexpr auto kBackendReadTimeout = 10s;  // for a request's headers
constexpr std::uint64_t kEndlessCap = std::uint64_t{1} << 30;
constexpr int kPollMs = 50;

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A socket bound to 127.0.0.1:0, listening; returns -1 on failure.
int listen_loopback(std::uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

bool send_all(int fd, const char* data, std::size_t n, std::uint64_t* sent) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    if (sent != nullptr) *sent += static_cast<std::uint64_t>(w);
  }
  return true;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != prefix[i]) return false;
  }
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

// A port that was free a moment ago (nginx binds it itself; start retries on a conflict).
std::uint16_t free_port() {
  std::uint16_t port = 0;
  int fd = listen_loopback(&port);
  if (fd < 0) return 0;
  ::close(fd);
  return port;
}

bool can_connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The fixture's own upstream for the failure modes nginx cannot produce alone. nginx
// proxies /drop/, /endless/ and /stall/ here unbuffered, so what this server does reaches
// the client through nginx as it happens. One thread accepts; one thread per connection.
class NginxFixture::Backend {
 public:
  Backend(fs::path root) : root_(std::move(root)) {}
  ~Backend() { stop(); }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  bool start() {
    listen_fd_ = listen_loopback(&port_);
    if (listen_fd_ < 0) return false;
    acceptor_ = std::thread([this] { accept_loop(); });
    return true;
  }
  void stop() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  std::uint16_t port() const { return port_; }
  std::vector<BackendRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  // Reads up to the end of the request headers; false on timeout, close or stop.
  bool read_head(int fd, std::string* head) {
    auto deadline = Clock::now() + kBackendReadTimeout;
    char buf[4096];
    while (!stop_ && Clock::now() < deadline && head->size() < 16384) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      head->append(buf, static_cast<std::size_t>(n));
      if (head->find("\r\n\r\n") != std::string::npos) return true;
    }
    return false;
  }

  std::size_t record(const std::string& target, const std::string& range) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(BackendRequest{target, range, 0});
    return requests_.size() - 1;
  }
  void add_sent(std::size_t i, std::uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_[i].body_bytes_sent += n;
  }

  void serve(int fd) {
    std::string head;
    if (!read_head(fd, &head)) return;
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    std::istringstream first(line);
    std::string method, target;
    first >> method >> target;
    std::string range;
    while (std::getline(lines, line)) {
      if (iequals_prefix(line, "range:")) range = trim(std::string_view(line).substr(6));
    }
    std::size_t id = record(target, range);

    if (target.rfind("/stall/", 0) == 0) {
      // Never answer; leave when the client (nginx) goes away or the fixture stops.
      char c;
      while (!stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kPollMs) > 0 && ::recv(fd, &c, 1, 0) <= 0) return;
      }
      return;
    }
    if (target.rfind("/endless/", 0) == 0) {
      const std::string h =
          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
      if (!send_all(fd, h.data(), h.size(), nullptr)) return;
      std::string chunk(64 * 1024, 'E');
      std::uint64_t total = 0;
      while (!stop_ && total < kEndlessCap) {
        std::uint64_t sent = 0;
        bool ok = send_all(fd, chunk.data(), chunk.size(), &sent);
        add_sent(id, sent);
        total += sent;
        if (!ok) return;
      }
      return;
    }
    if (target.rfind("/drop/", 0) == 0) {
      serve_drop(fd, id, target.substr(6), range);
      return;
    }
    if (target.rfind("/overlong/", 0) == 0) {
      serve_overlong(fd, id, target.substr(10), range);
      return;
    }
    const std::string nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(fd, nf.data(), nf.size(), nullptr);
  }

  void serve_drop(int fd, std::size_t id, const std::string& name, const std::string& range) {
    const std::string nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (name.empty() || name.find("..") != std::string::npos || name.find('%') != std::string::npos) {
      send_all(fd, nf.data(), nf.size(), nullptr);
      return;
    }
    std::string body = read_all(root_ / name);
    std::error_code ec;
    if (!fs::is_regular_file(root_ / name, ec)) {
      send_all(fd, nf.data(), nf.size(), nullptr);
      return;
    }
    std::string h;
    std::size_t from = 0, to = body.size();
    std::size_t last = 0;
    if (closed_range(range, body.size(), &from, &last)) {
      // "bytes=N-M": the first request for each M gets half of its bytes, then the
      // connection closes; a later one (the resume, "bytes=N'-M") gets them all.
      bool first = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        first = dropped_ranges_.insert(name + "/" + std::to_string(last)).second;
      }
      const std::size_t count = last + 1 - from;
      h = "HTTP/1.1 206 Partial Content\r\nContent-Length: " + std::to_string(count) +
          "\r\nContent-Range: bytes " + std::to_string(from) + "-" + std::to_string(last) + "/" +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      to = first ? from + count / 2 : last + 1;
    } else if (range.rfind("bytes=", 0) == 0 && range.back() == '-') {
      from = static_cast<std::size_t>(std::strtoull(range.c_str() + 6, nullptr, 10));
      if (from >= body.size()) {
        h = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(fd, h.data(), h.size(), nullptr);
        return;
      }
      h = "HTTP/1.1 206 Partial Content\r\nContent-Length: " + std::to_string(body.size() - from) +
          "\r\nContent-Range: bytes " + std::to_string(from) + "-" + std::to_string(body.size() - 1) + "/" +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    } else {
      h = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n";
      to = body.size() / 2;  // then drop the connection
    }
    if (!send_all(fd, h.data(), h.size(), nullptr)) return;
    std::uint64_t sent = 0;
    send_all(fd, body.data() + from, to - from, &sent);
    add_sent(id, sent);
    // Closing with unread data in the receive buffer would send a reset; shut down the write
    // side first so the half body reaches nginx before the close.
    ::shutdown(fd, SHUT_WR);
  }

  // "/overlong/NAME" with "Range: bytes=N-M": a 206 that says N-M but sends everything from N
  // to the end of the file, without a Content-Length (nginx passes it on chunked): a source
  // that returns more than asked. Without a closed range, the whole file (200).
  void serve_overlong(int fd, std::size_t id, const std::string& name, const std::string& range) {
    const std::string nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    std::error_code ec;
    if (name.empty() || name.find("..") != std::string::npos || !fs::is_regular_file(root_ / name, ec)) {
      send_all(fd, nf.data(), nf.size(), nullptr);
      return;
    }
    std::string body = read_all(root_ / name);
    std::size_t from = 0, last = 0;
    std::string h;
    if (closed_range(range, body.size(), &from, &last)) {
      h = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
          std::to_string(last) + "/" + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    } else {
      from = 0;
      h = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n";
    }
    if (!send_all(fd, h.data(), h.size(), nullptr)) return;
    std::uint64_t sent = 0;
    send_all(fd, body.data() + from, body.size() - from, &sent);
    add_sent(id, sent);
    ::shutdown(fd, SHUT_WR);
  }

  // "bytes=N-M" with N <= M < size.
  static bool closed_range(const std::string& range, std::size_t size, std::size_t* from, std::size_t* last) {
    if (range.rfind("bytes=", 0) != 0) return false;
    const auto dash = range.find('-', 6);
    if (dash == std::string::npos || dash + 1 >= range.size() || dash == 6) return false;
    for (std::size_t i = 6; i < range.size(); ++i) {
      if (i != dash && (range[i] < '0' || range[i] > '9')) return false;
    }
    *from = static_cast<std::size_t>(std::strtoull(range.c_str() + 6, nullptr, 10));
    *last = static_cast<std::size_t>(std::strtoull(range.c_str() + dash + 1, nullptr, 10));
    return *from <= *last && *last < size;
  }

  std::set<std::string> dropped_ranges_;  // guarded by mu_
  fs::path root_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<BackendRequest> requests_;
};

NginxFixture::NginxFixture(Options options) : tls_(options.tls), tls_proxy_(options.tls_proxy) {
  const char* env = std::getenv("COUNTERSIGN_NGINX");
  const std::string nginx = env != nullptr && *env != '\0' ? env : "/usr/sbin/nginx";
  if (::access(nginx.c_str(), X_OK) != 0) {
    skip_reason_ = "nginx not found at " + nginx + " (Debian package nginx-light, or set COUNTERSIGN_NGINX)";
    return;
  }
  std::string tmpl = (fs::temp_directory_path() / "cs-nginx-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    skip_reason_ = "cannot create a temp directory: " + std::string(std::strerror(errno));
    return;
  }
  dir_ = tmpl;
  root_ = dir_ / "root";
  std::error_code ec;
  fs::create_directories(root_, ec);
  fs::create_directories(dir_ / "tmp", ec);
  // nginx's workers (user nobody when we are not root) must reach the document root.
  fs::permissions(dir_,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  if (tls_) {
    std::string why;
    if (!make_certificate(&why)) {
      skip_reason_ = why;
      return;
    }
  }
  backend_ = std::make_unique<Backend>(root_);
  if (!backend_->start()) {
    skip_reason_ = "cannot start the fixture's backend on 127.0.0.1";
    return;
  }
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    std::string why;
    bool retry = false;
    if (start_once(&why, &retry)) return;
    skip_reason_ = why;
    if (!retry) return;
  }
}

bool NginxFixture::start_once(std::string* why, bool* retry) {
  port_ = free_port();
  tls_port_ = tls_ ? free_port() : 0;
  if (port_ == 0 || (tls_ && (tls_port_ == 0 || tls_port_ == port_))) {
    *why = "cannot find a free port on 127.0.0.1";
    return false;
  }
  const std::string d = dir_.string();
  const std::string r = root_.string();
  const std::string backend = "http://127.0.0.1:" + std::to_string(backend_->port());
  const std::string proxied = "      proxy_pass " + backend +
                              ";\n"
                              "      proxy_buffering off;\n"
                              "      proxy_read_timeout 120s;\n";
  std::ostringstream conf;
  conf << "daemon off;\n"
       << "worker_processes 1;\n"
       << "pid " << d << "/nginx.pid;\n"
       << "lock_file " << d << "/nginx.lock;\n"
       << "error_log " << d << "/error.log info;\n";
  // Only a master running as root may switch users; run workers as root so they read the
  // test's files whatever their mode (CI runs as root).
  if (::geteuid() == 0) conf << "user root root;\n";
  conf << "events { worker_connections 256; }\n"
       << "http {\n"
       << "  default_type application/octet-stream;\n"
       << "  log_format cs "
          "'$request_uri\\t$status\\t$http_range\\t$body_bytes_sent\\t$host\\t$http_authorization';\n"
       << "  access_log " << d << "/access.log cs;\n"
       << "  client_body_temp_path " << d << "/tmp/body;\n"
       << "  proxy_temp_path " << d << "/tmp/proxy;\n"
       << "  fastcgi_temp_path " << d << "/tmp/fastcgi;\n"
       << "  uwsgi_temp_path " << d << "/tmp/uwsgi;\n"
       << "  scgi_temp_path " << d << "/tmp/scgi;\n"
       << "  keepalive_timeout 10s;\n"
       << "  server {\n"
       << "    listen 127.0.0.1:" << port_ << ";\n"
       << "    root " << r << ";\n"
       << "    location / { }\n"
       << "    location /slow/ { alias " << r << "/; limit_rate 64k; }\n"
       << "    location /trickle/ { alias " << r << "/; limit_rate 256; }\n"
       << "    location /crawl/ { alias " << r << "/; limit_rate 2k; }\n"
       << "    location /norange/ { alias " << r << "/; max_ranges 0; }\n"
       << "    location /redirect/ { rewrite ^/redirect/(.*)$ /$1 redirect; }\n"
       << "    location /redirect-to-file/ { return 302 file:///etc/hostname; }\n"
       << "    location /drop/ {\n"
       << proxied << "    }\n"
       << "    location /endless/ {\n"
       << proxied << "    }\n"
       << "    location /stall/ {\n"
       << proxied << "    }\n"
       << "    location /overlong/ {\n"
       << proxied << "    }\n"
       << "  }\n";
  if (tls_) {
    conf << "  server {\n"
         << "    listen 127.0.0.1:" << tls_port_ << " ssl;\n"
         << "    ssl_certificate " << d << "/tls.crt;\n"
         << "    ssl_certificate_key " << d << "/tls.key;\n"
         << "    root " << r << ";\n"
         << "    location / { }\n";
    if (!tls_proxy_.empty()) conf << "    location = /add-checkpoint { proxy_pass " << tls_proxy_ << "; }\n";
    conf << "  }\n";
  }
  conf << "}\n";
  const fs::path conf_path = dir_ / "nginx.conf";
  {
    std::ofstream f(conf_path, std::ios::trunc);
    f << conf.str();
    if (!f) {
      *why = "cannot write " + conf_path.string();
      return false;
    }
  }
  const char* env = std::getenv("COUNTERSIGN_NGINX");
  const std::string nginx = env != nullptr && *env != '\0' ? env : "/usr/sbin/nginx";
  const std::string prefix = d + "/";
  const std::string conf_s = conf_path.string();
  const std::string out_s = (dir_ / "nginx.out").string();
  std::vector<char*> argv = {const_cast<char*>(nginx.c_str()),  const_cast<char*>("-p"),
                             const_cast<char*>(prefix.c_str()), const_cast<char*>("-c"),
                             const_cast<char*>(conf_s.c_str()), nullptr};
  int out = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    *why = "cannot create " + out_s;
    return false;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    *why = "fork failed: " + std::string(std::strerror(errno));
    return false;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls. nginx dies with the test process.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out);
  pid_ = pid;

  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::string log = read_all(dir_ / "nginx.out") + read_all(dir_ / "error.log");
      *retry = log.find("Address already in use") != std::string::npos;
      *why = "nginx exited at start: " + log;
      return false;
    }
    if (can_connect(port_)) return true;
    std::this_thread::sleep_for(20ms);
  }
  stop_nginx();
  *why = "nginx did not accept connections on 127.0.0.1:" + std::to_string(port_) + " within 10 s";
  return false;
}

void NginxFixture::stop_nginx() {
  if (pid_ <= 0) return;
  // SIGTERM is nginx's fast shutdown: it does not wait for open requests (a stalled one
  // would hold a graceful SIGQUIT shutdown for proxy_read_timeout).
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  int status = 0;
  while (Clock::now() < deadline) {
    pid_t w = ::waitpid(pid_, &status, WNOHANG);
    if (w == pid_ || (w < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

NginxFixture::~NginxFixture() {
  stop_nginx();
  if (backend_) backend_->stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool NginxFixture::running() const { return pid_ > 0; }
const std::string& NginxFixture::skip_reason() const { return skip_reason_; }
std::uint16_t NginxFixture::port() const { return port_; }
const fs::path& NginxFixture::root() const { return root_; }

std::string NginxFixture::base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
std::string NginxFixture::slow_url() const { return base_url() + "slow/"; }
std::string NginxFixture::trickle_url() const { return base_url() + "trickle/"; }
std::string NginxFixture::crawl_url() const { return base_url() + "crawl/"; }
std::string NginxFixture::no_range_url() const { return base_url() + "norange/"; }
std::string NginxFixture::drop_url() const { return base_url() + "drop/"; }
std::string NginxFixture::endless_url() const { return base_url() + "endless/"; }
std::string NginxFixture::overlong_url() const { return base_url() + "overlong/"; }
std::string NginxFixture::stall_url() const { return base_url() + "stall/"; }
std::string NginxFixture::redirect_url() const { return base_url() + "redirect/"; }
std::string NginxFixture::redirect_to_file_url() const { return base_url() + "redirect-to-file/"; }

std::vector<AccessLogEntry> NginxFixture::access_log() const {
  std::vector<AccessLogEntry> out;
  std::istringstream in(read_all(dir_ / "access.log"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t tab = line.find('\t'); tab != std::string::npos; tab = line.find('\t', start)) {
      f.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    f.push_back(line.substr(start));
    if (f.size() != 6) continue;
    AccessLogEntry e;
    e.uri = f[0];
    e.status = std::atoi(f[1].c_str());
    e.range = f[2] == "-" ? "" : f[2];
    e.body_bytes = std::strtoull(f[3].c_str(), nullptr, 10);
    e.host = f[4];
    e.authorization = f[5] == "-" ? "" : f[5];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<BackendRequest> NginxFixture::backend_requests() const {
  return backend_ ? backend_->requests() : std::vector<BackendRequest>{};
}

std::uint16_t NginxFixture::tls_port() const { return tls_port_; }
std::string NginxFixture::ca_file() const { return (dir_ / "tls.crt").string(); }

const std::vector<std::string>& NginxFixture::tls_hosts() {
  static const std::vector<std::string> hosts = {"huggingface.co", "mirror.internal", "*.s3.amazonaws.com",
                                                 "*.s3.eu-west-1.amazonaws.com"};
  return hosts;
}

std::string NginxFixture::connect_to(const std::string& host) const {
  return host + ":443:127.0.0.1:" + std::to_string(tls_port_);
}

// A self-signed P-256 certificate for tls_hosts(), valid for a day, made by the openssl
// command so the fixture needs no OpenSSL API code of its own.
bool NginxFixture::make_certificate(std::string* why) {
  std::string san = "subjectAltName=IP:127.0.0.1";
  for (const auto& h : tls_hosts()) san += ",DNS:" + h;
  const std::string crt = (dir_ / "tls.crt").string();
  const std::string key = (dir_ / "tls.key").string();
  const std::string log = (dir_ / "openssl.out").string();
  std::vector<std::string> args = {"openssl",
                                   "req",
                                   "-x509",
                                   "-newkey",
                                   "ec",
                                   "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1",
                                   "-nodes",
                                   "-days",
                                   "1",
                                   "-subj",
                                   "/CN=countersign test mirror",
                                   "-addext",
                                   san,
                                   "-keyout",
                                   key,
                                   "-out",
                                   crt};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    *why = "cannot create " + log;
    return false;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, STDIN_FILENO);  // never wait for a prompt
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *why = "cannot make a TLS certificate with the openssl command: " + read_all(log);
    return false;
  }
  return true;
}

std::string NginxFixture::error_log() const { return read_all(dir_ / "error.log"); }

}  // namespace countersign::test_util
