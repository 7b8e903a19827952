// HTTP/1.1 server for countersignd's API on a Unix socket (and optionally TCP), built on
// libmicrohttpd: Debian 12's cpp-httplib (0.11) cannot serve a Unix socket, libmicrohttpd
// takes any listening socket (which also allows systemd socket activation later) and is
// what systemd-journal-remote uses. Requests are handled by a small thread pool; bodies
// over the limit get 413 without being read; idle connections time out.
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
    std::string unix_path;           // required
    std::optional<std::string> tcp;  // "HOST:PORT", numeric host
    std::uint64_t max_body = 16u << 20;
    unsigned threads = 4;
    unsigned connection_timeout_seconds = 30;
  };
  // Binds and starts serving. A live daemon already on `unix_path` is an error; a stale
  // socket file left by a crash is replaced.
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
