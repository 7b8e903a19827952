// A real nginx for the daemon's integration tests and benchmarks: a model mirror on
// 127.0.0.1 serving a document root the test fills, plus locations that fail the way real
// mirrors do (stall, drop the connection mid-file, stream without end, ignore Range, crawl,
// redirect). Each instance has its own temp directory (config, pid file, logs, nginx's temp
// paths, document root), its own free port, and is stopped and removed on destruction.
//
//   NginxFixture nginx;
//   CS_REQUIRE_OR_SKIP(nginx.running(), nginx.skip_reason());   // tests/daemon/integration.h
//   test_util::spit(nginx.root() / "a.bin", bytes);
//   fetch from nginx.base_url() + "a.bin", or nginx.drop_url() + "a.bin", ...
//
// The nginx binary is /usr/sbin/nginx (Debian's nginx-light), or $COUNTERSIGN_NGINX.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace countersign::test_util {

// One request as nginx logged it (access log, written when the request ends).
struct AccessLogEntry {
  std::string uri;               // $request_uri, as sent ("/drop/a.bin")
  int status = 0;                // $status
  std::string range;             // the Range request header, "" when none ("bytes=512-")
  std::uint64_t body_bytes = 0;  // $body_bytes_sent
  std::string host;              // $host: the Host header the client sent
  std::string authorization;     // the Authorization request header, "" when none
};

// One request that reached the fixture's own backend (drop, endless, stall locations).
struct BackendRequest {
  std::string target;                 // "/drop/a.bin"
  std::string range;                  // Range header value, "" when none
  std::uint64_t body_bytes_sent = 0;  // final once the connection closed
};

// Loopback helpers the other server fixtures (rsyslog) use too.
// A port on 127.0.0.1 that was free a moment ago (0 when none could be had).
std::uint16_t free_port();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool can_connect(std::uint16_t port);

class NginxFixture {
 public:
  struct Options {
    // Also serve root() over TLS on tls_port(), with a fresh self-signed certificate
    // (made with the openssl command) for tls_hosts(); ca_file() is its trust anchor.
    bool tls = false;
    // With tls: also pass /add-checkpoint on the TLS server to this upstream
    // ("http://127.0.0.1:PORT"), as a TLS proxy in front of a plain-HTTP witness.
    std::string tls_proxy;
  };
  // Starts nginx and waits (bounded) until it accepts connections. Never throws: on failure
  // running() is false and skip_reason() says why.
  NginxFixture() : NginxFixture(Options{}) {}
  explicit NginxFixture(Options options);
  // Stops nginx (SIGTERM, then SIGKILL after a bounded wait), stops the backend, and
  // removes the temp directory with everything in it.
  ~NginxFixture();
  NginxFixture(const NginxFixture&) = delete;
  NginxFixture& operator=(const NginxFixture&) = delete;

  bool running() const;
  const std::string& skip_reason() const;  // empty while running()
  std::uint16_t port() const;
  // The document root: files the test writes here are served by every file location.
  const std::filesystem::path& root() const;

  // Base URLs (each ends in '/'); append a path relative to root().
  std::string base_url() const;              // plain static files: 200, 206 for Range, 404 when missing
  std::string slow_url() const;              // static files at 64 KiB/s (limit_rate): progress, cancel
  std::string trickle_url() const;           // static files at 256 B/s: under any stall limit of 1 KiB/s
  std::string crawl_url() const;             // static files at 2 KiB/s: just over the stall limit
  std::string no_range_url() const;          // static files, Range ignored (max_ranges 0): always 200
  std::string drop_url() const;              // backend: without Range, headers with the full
                                             // Content-Length, half the body, then the connection closes;
                                             // with "Range: bytes=N-", a proper 206 from N;
  std::string endless_url() const;           // backend: 200 without Content-Length, bytes without end
                                             // (stops at 1 GiB or when the client goes away)
  std::string stall_url() const;             // backend: accepts the request and never answers
  std::string overlong_url() const;          // backend: "Range: bytes=N-M" answered 206 N-M with
                                             // every byte from N to the end; "bytes=N-M" on drop_url():
                                             // half of them then a close, the first time for each M
  std::string redirect_url() const;          // 302 to the same path under base_url()
  std::string redirect_to_file_url() const;  // 302 to file:///etc/hostname

  // With Options::tls: the TLS port, the certificate to trust, the host names it is valid
  // for, and the libcurl CONNECT_TO entry that sends "https://HOST/" to this server.
  std::uint16_t tls_port() const;
  std::string ca_file() const;
  static const std::vector<std::string>& tls_hosts();
  std::string connect_to(const std::string& host) const;

  // Requests nginx logged so far, oldest first.
  std::vector<AccessLogEntry> access_log() const;
  // Requests the backend received so far, oldest first.
  std::vector<BackendRequest> backend_requests() const;
  // nginx's error log, for failure messages.
  std::string error_log() const;

 private:
  class Backend;
  bool make_certificate(std::string* why);
  bool start_once(std::string* why, bool* retry);
  void stop_nginx();

  std::filesystem::path dir_;
  std::filesystem::path root_;
  std::unique_ptr<Backend> backend_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  bool tls_ = false;
  std::string tls_proxy_;  // Options::tls_proxy
  std::string skip_reason_;
};

}  // namespace countersign::test_util
