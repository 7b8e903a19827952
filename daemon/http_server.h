// HTTP/1.1 server for countersignd's API on a Unix socket (and optionally TCP), built on
// libmicrohttpd: Debian 12's cpp-httplib (0.11) cannot serve a Unix socket, libmicrohttpd
// takes any listening socket (which also allows systemd socket activation later) and is
// what systemd-journal-remote uses. Requests are handled by a small thread pool.
//
// Under attack (docs/daemon.md "The HTTP listener"): connections are bounded in total and
// per peer (per uid on the Unix socket: 429; per IP on TCP: closed at accept); the bodies
// buffered at once are bounded (a request that does not fit gets 503 with Retry-After before
// its body is read); bodies over max_body get 413 without being read; a connection that has
// not sent its headers within header_timeout of connecting, or its body within body_timeout
// of its headers, is closed, however steadily it trickles. TCP is HTTPS only (TLS 1.3), with
// optional client certificates. Every request carries its Peer (daemon/peer.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "daemon/api_reply.h"
#include "daemon/peer.h"

namespace countersign::daemon {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string body;
  Peer peer;  // who sent it (daemon/peer.h)
};

using HttpHandler = std::function<Reply(const HttpRequest&)>;

class HttpServer {
 public:
  struct Options {
    std::string unix_path;                     // required
    std::optional<std::string> socket_group;   // chown the socket to this group (mode 0660)
    std::optional<std::string> tcp;            // "HOST:PORT", numeric host; needs tls_cert and tls_key
    std::optional<std::string> tls_cert;       // PEM certificate (chain) file
    std::optional<std::string> tls_key;        // PEM key file, readable only by its owner
    std::optional<std::string> tls_client_ca;  // PEM CA file: TCP clients must present a cert from it
    std::uint64_t max_body = 16u << 20;
    std::uint64_t max_body_memory = 64u << 20;  // all buffered bodies together
    unsigned max_connections = 256;             // all listeners together
    unsigned max_connections_per_peer = 16;     // per Peer::key()
    unsigned header_timeout_seconds = 10;       // accept to complete headers, total
    unsigned body_timeout_seconds = 60;         // headers to complete body, total
    unsigned threads = 4;
    unsigned connection_timeout_seconds = 30;  // idle, while a response is being sent
  };
  // Binds and starts serving. A live daemon already on `unix_path` is an error; a stale
  // socket file left by a crash is replaced. Errors (nothing is left listening): an unknown
  // socket_group (kInvalidArgument naming it); tcp without tls_cert/tls_key
  // (kInvalidArgument); a TLS key others may read (kRejected, core/secret.h); certificate,
  // key or CA files that cannot be read or do not parse (naming the file); kIo when a
  // socket cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(const Options& options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The TCP port actually bound (when tcp ends in ":0").
  std::optional<std::uint16_t> tcp_port() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace countersign::daemon
