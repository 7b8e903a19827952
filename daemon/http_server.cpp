#include "daemon/http_server.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/config.h"

namespace countersign::daemon {
namespace {

struct Connection {
  std::string body;
  bool too_large = false;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 413: return "request body too large";
    default: return "";
  }
}

}  // namespace

struct HttpServer::Impl {
  Options options;
  HttpHandler handler;
  int unix_fd = -1;
  MHD_Daemon* unix_daemon = nullptr;
  MHD_Daemon* tcp_daemon = nullptr;

  ~Impl() {
    if (unix_daemon) MHD_stop_daemon(unix_daemon);
    if (tcp_daemon) MHD_stop_daemon(tcp_daemon);
    if (unix_fd >= 0) {
      ::close(unix_fd);
      ::unlink(options.unix_path.c_str());
    }
  }

  static MHD_Result send(MHD_Connection* c, const Reply& r) {
    std::string payload = r.text ? *r.text : r.body.dump() + "\n";
    MHD_Response* resp = MHD_create_response_from_buffer(payload.size(), payload.data(), MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r.text ? "text/plain; charset=utf-8" : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(r.status), resp);
    MHD_destroy_response(resp);
    return ret;
  }

  static MHD_Result collect_arg(void* cls, MHD_ValueKind, const char* key, const char* value) {
    auto* m = static_cast<std::map<std::string, std::string>*>(cls);
    if (key) (*m)[key] = value ? value : "";
    return MHD_YES;
  }

  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                               const char* upload_data, size_t* upload_data_size, void** con_cls) {
    auto* self = static_cast<Impl*>(cls);
    if (*con_cls == nullptr) {
      auto* conn = new Connection;
      *con_cls = conn;
      // Refuse an announced oversized body before reading any of it.
      if (const char* len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        char* end = nullptr;
        errno = 0;
        unsigned long long n = std::strtoull(len, &end, 10);
        if (errno != 0 || n > self->options.max_body) {
          conn->too_large = true;
          return send(c, error_reply(413, "too-large", "request body larger than the " +
                                                           std::to_string(self->options.max_body) + " bytes allowed"));
        }
      }
      return MHD_YES;
    }
    auto* conn = static_cast<Connection*>(*con_cls);
    if (*upload_data_size != 0) {
      if (!conn->too_large && conn->body.size() + *upload_data_size <= self->options.max_body) {
        conn->body.append(upload_data, *upload_data_size);
      } else {
        conn->too_large = true;
        conn->body.clear();
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (conn->too_large) {
      return send(c, error_reply(413, "too-large", std::string(reason_phrase(413)) + ": more than " +
                                                       std::to_string(self->options.max_body) + " bytes"));
    }
    HttpRequest req;
    req.method = method ? method : "";
    req.path = url ? url : "";
    req.body = std::move(conn->body);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &Impl::collect_arg, &req.query);
    Reply r;
    try {
      r = self->handler(req);
    } catch (const std::exception& e) {
      r = error_reply(500, "internal", std::string("internal error: ") + e.what());
    }
    return send(c, r);
  }

  static void on_completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Connection*>(*con_cls);
    *con_cls = nullptr;
  }

  // Serves on `listen_fd` (ours, already listening) or binds `addr`.
  MHD_Daemon* start_daemon(int listen_fd, const sockaddr* addr) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    // MHD_OPTION_SOCK_ADDR takes a sockaddr_in unless told the address is IPv6.
    if (addr && addr->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    MHD_OptionItem where = listen_fd >= 0 ? MHD_OptionItem{MHD_OPTION_LISTEN_SOCKET, listen_fd, nullptr}
                                          : MHD_OptionItem{MHD_OPTION_SOCK_ADDR, 0, const_cast<sockaddr*>(addr)};
    MHD_OptionItem options_array[] = {
        where,
        {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.connection_timeout_seconds), nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, 1024, nullptr},
        {MHD_OPTION_END, 0, nullptr},
    };
    return MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::on_request, this,
                            MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed, this,
                            MHD_OPTION_ARRAY, options_array, MHD_OPTION_END);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::start(const Options& options, HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  const std::string& path = options.unix_path;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    return Error(Errc::kInvalidArgument, "socket path \"" + path + "\" is empty or too long for a Unix socket");
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  // A socket file already there: a running daemon (refuse) or a stale one (replace).
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error(Errc::kInvalidArgument, path + " exists and is not a socket");
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return Error(Errc::kInvalidArgument, "another countersignd is already listening on " + path);
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error(Errc::kIo, std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    ::close(fd);
    return Error(Errc::kIo, "cannot bind " + path + ": " + std::strerror(e));
  }
  impl->unix_fd = fd;  // from here the destructor unlinks the path
  // Owner and group may talk to the box; the unit's group decides who that is.
  if (::chmod(path.c_str(), 0660) != 0 || ::listen(fd, 512) != 0) {
    return Error(Errc::kIo, "cannot listen on " + path + ": " + std::strerror(errno));
  }
  impl->unix_daemon = impl->start_daemon(fd, nullptr);
  if (!impl->unix_daemon) return Error(Errc::kIo, "libmicrohttpd could not start on " + path);

  if (options.tcp) {
    const std::string& hp = *options.tcp;
    CS_TRY(ListenAddress address, parse_listen_address(hp));
    impl->tcp_daemon = impl->start_daemon(-1, address.get());
    if (!impl->tcp_daemon) return Error(Errc::kIo, "cannot listen on " + hp);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::optional<std::uint16_t> HttpServer::tcp_port() const {
  if (!impl_->tcp_daemon) return std::nullopt;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl_->tcp_daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (!info) return std::nullopt;
  return info->port;
}

}  // namespace countersign::daemon
