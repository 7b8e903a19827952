#include "cli/witness_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "core/unique_fd.h"

namespace countersign::cli {

namespace {

// One request's body as it arrives (MHD's con_cls).
struct Upload {
  std::string body;
  bool too_large = false;
};

struct Context {
  Io& io;
  const witness::Witness& w;
  std::mutex log_mutex;  // io.err, from the polling thread while main waits for a signal
};

void say(Context& ctx, const std::string& line) {
  std::lock_guard<std::mutex> lock(ctx.log_mutex);
  ctx.io.err << line << "\n";
  ctx.io.err.flush();
}

MHD_Result answer(MHD_Connection* c, unsigned status, const std::string& body,
                  const char* type = "text/plain; charset=utf-8") {
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

std::string peer(MHD_Connection* c) {
  const MHD_ConnectionInfo* i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!i || !i->client_addr) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  const sockaddr* sa = i->client_addr;
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, host, sizeof host);
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, host, sizeof host);
  }
  return host;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                      const char* upload_data, size_t* upload_data_size, void** con_cls) {
  auto& ctx = *static_cast<Context*>(cls);
  if (*con_cls == nullptr) {
    // Headers only: refuse what is not add-checkpoint before reading a body.
    if (std::strcmp(url, "/add-checkpoint") != 0) return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (std::strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "add-checkpoint takes POST\n");
    }
    const char* len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len && std::strtoull(len, nullptr, 10) > witness::kMaxRequestSize) {
      return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
    }
    *con_cls = new Upload();
    return MHD_YES;
  }
  auto* up = static_cast<Upload*>(*con_cls);
  if (*upload_data_size > 0) {
    if (up->body.size() + *upload_data_size > witness::kMaxRequestSize) {
      up->too_large = true;
    } else {
      up->body.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (up->too_large) return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");

  const std::string from = "add-checkpoint from " + peer(c) + ": ";
  auto req = witness::Request::parse(up->body);
  if (!req.ok()) {
    say(ctx, from + "400 " + req.error().message);
    return answer(c, MHD_HTTP_BAD_REQUEST, req.error().message + "\n");
  }
  UnixTime now = ctx.io.now();
  auto out = ctx.w.add_checkpoint(*req, static_cast<std::uint64_t>(now < 0 ? 0 : now));
  if (!out.ok()) {
    say(ctx, from + "500 " + out.error().message);
    return answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "the witness cannot read or write its state\n");
  }
  const int status = witness::http_status(out->status);
  say(ctx, from + std::to_string(status) + " " + out->message);
  if (out->status == witness::Status::kCosigned) {
    std::string lines;
    for (const auto& s : out->cosignatures) lines += s.line();
    return answer(c, MHD_HTTP_OK, lines);
  }
  if (out->status == witness::Status::kConflict) {
    // tlog-witness: the body is the size of the latest cosigned checkpoint.
    return answer(c, MHD_HTTP_CONFLICT, std::to_string(out->known_size) + "\n", "text/x.tlog.size");
  }
  return answer(c, static_cast<unsigned>(status), out->message + "\n");
}

void on_completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Upload*>(*con_cls);
  *con_cls = nullptr;
}

// "HOST:PORT" with an IPv4 host or "[IPv6]:PORT".
Result<sockaddr_storage> parse_listen(const std::string& s, socklen_t& len) {
  auto bad = [&] {
    return Error(Errc::kInvalidArgument,
                 "--listen " + s + ": expected IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:8080");
  };
  std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return bad();
  std::string host = s.substr(0, colon), port_text = s.substr(colon + 1);
  for (char ch : port_text)
    if (ch < '0' || ch > '9') return bad();
  unsigned long port = std::strtoul(port_text.c_str(), nullptr, 10);
  if (port > 65535 || port_text.size() > 5) return bad();
  sockaddr_storage ss{};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1) return bad();
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return bad();
    len = sizeof(sockaddr_in);
  }
  return ss;
}

}  // namespace

int serve_witness(Io& io, const witness::Witness& w, const WitnessServeOptions& options) {
  socklen_t len = 0;
  auto addr = parse_listen(options.listen, len);
  if (!addr.ok()) return report_error(io, addr.error(), false);
  UniqueFd fd(::socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  if (fd.get() < 0 || ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), len) != 0 || ::listen(fd.get(), 64) != 0) {
    return report_error(
        io, Error(Errc::kIo, "cannot listen on " + options.listen + ": " + std::strerror(errno)), false);
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  std::uint16_t port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::string host = options.listen.substr(0, options.listen.rfind(':'));

  // SIGTERM and SIGINT are taken by sigwait() below; blocked before MHD starts its thread,
  // which inherits the mask, so that only this thread sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &stop, &old);

  Context ctx{io, w, {}};
  MHD_Daemon* d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, nullptr, nullptr, &on_request, &ctx,
      MHD_OPTION_LISTEN_SOCKET, fd.get(), MHD_OPTION_CONNECTION_LIMIT, options.max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, options.connection_timeout_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, &on_completed, nullptr, MHD_OPTION_END);
  if (!d) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return report_error(io, Error(Errc::kIo, "cannot start the HTTP server on " + options.listen), false);
  }
  (void)fd.release();  // MHD owns the socket now and closes it on stop
  {
    std::lock_guard<std::mutex> lock(ctx.log_mutex);
    io.out << "witness " << w.cosigner().label() << " listening on http://" << host << ":" << port
           << "/add-checkpoint\n";
    io.out.flush();
  }
  int sig = 0;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  say(ctx, std::string("stopped on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  return kExitOk;
}

}  // namespace countersign::cli
