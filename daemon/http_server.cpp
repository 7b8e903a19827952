#include "daemon/http_server.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/fileio.h"
#include "core/secret.h"
#include "core/sha256.h"
#include "daemon/config.h"

namespace countersign::daemon {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTooManyRequests = 429, kTooLarge = 413, kBusy = 503;
// What a client told "busy" waits before trying again (RFC 9110, 10.2.3).
constexpr const char* kRetryAfterSeconds = "5";
// TLS 1.3 only (RFC 8446); GnuTLS priority strings, gnutls_priority_init(3).
constexpr const char* kTlsPriorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
// Largest PEM file we read (a certificate chain, a key, a CA bundle).
constexpr std::size_t kMaxPemSize = 1u << 20;

// One open connection, from MHD_CONNECTION_NOTIFY_STARTED to _CLOSED (its socket_context).
struct Conn {
  int fd = -1;
  Peer peer;
  // When the reaper closes it: accept (or the end of the last request) + header_timeout,
  // then headers + body_timeout; none while the handler runs.
  Clock::time_point deadline = Clock::time_point::max();
  bool reaped = false;           // shut down by the reaper
  bool counted = false;          // holds a slot in Impl::per_peer
  bool over_peer_limit = false;  // answered 429 and closed
  bool tls_checked = false;      // its client certificate was verified
};

// One request, from its headers to MHD_OPTION_NOTIFY_COMPLETED (its con_cls).
struct Request {
  std::string body;
  std::uint64_t reserved = 0;  // bytes of Impl::body_memory this request holds
  bool too_large = false;      // over max_body: 413
  bool busy = false;           // does not fit in max_body_memory: 503
  bool answered = false;       // a response is queued already
};

struct GnutlsCredentials {
  gnutls_certificate_credentials_t cred = nullptr;
  GnutlsCredentials() { gnutls_certificate_allocate_credentials(&cred); }
  ~GnutlsCredentials() {
    if (cred) gnutls_certificate_free_credentials(cred);
  }
  GnutlsCredentials(const GnutlsCredentials&) = delete;
  GnutlsCredentials& operator=(const GnutlsCredentials&) = delete;
};

gnutls_datum_t datum(const void* data, std::size_t size) {
  return {static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<unsigned>(size)};
}

// The numeric address and port of a TCP client.
void fill_address(const sockaddr* sa, Peer& peer) {
  char host[NI_MAXHOST] = "";
  char serv[NI_MAXSERV] = "";
  socklen_t len = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    peer.address = host;
    peer.port = static_cast<std::uint16_t>(std::strtoul(serv, nullptr, 10));
  }
}

// Who is on the other end, as the kernel says: SO_PEERCRED (unix(7)) or the TCP address.
Peer peer_of(MHD_Connection* c, int fd, Peer::Transport transport) {
  Peer peer;
  peer.transport = transport;
  if (transport == Peer::Transport::kUnix) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (fd >= 0 && ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
      peer.uid = cred.uid;
      peer.gid = cred.gid;
      peer.pid = cred.pid;
    }
  } else if (const MHD_ConnectionInfo* i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
             i && i->client_addr) {
    fill_address(i->client_addr, peer);
  }
  return peer;
}

// With tls_client_ca: the client's certificate verified against it (GnuTLS checks the chain
// against the trust list MHD_OPTION_HTTPS_MEM_TRUST loaded, the validity period and, asked
// with GNUTLS_DT_KEY_PURPOSE_OID, that it may be used for TLS client authentication), and
// its fingerprint, "sha256:<hex>" of the DER.
Result<std::string> verified_client_certificate(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!info || !info->tls_session) return Error(Errc::kRejected, "no TLS session");
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned n = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &n);
  if (!chain || n == 0) return Error(Errc::kRejected, "no client certificate");
  gnutls_typed_vdata_st purpose{};
  purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
  purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
  unsigned status = 0;
  int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
  if (rc != GNUTLS_E_SUCCESS)
    return Error(Errc::kRejected, std::string("verification failed: ") + gnutls_strerror(rc));
  if (status != 0) {
    gnutls_datum_t why{};
    std::string reason = "not trusted";
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) == 0) {
      reason = std::string(reinterpret_cast<const char*>(why.data), why.size);
      gnutls_free(why.data);
    }
    return Error(Errc::kRejected, "client certificate refused: " + reason);
  }
  return digest_to_string(sha256(ByteView(chain[0].data, chain[0].size)));
}

}  // namespace

struct HttpServer::Impl {
  // The callbacks' cls: which listener a connection came in on.
  struct Listener {
    Impl* impl = nullptr;
    Peer::Transport transport = Peer::Transport::kUnknown;
  };

  Options options;
  HttpHandler handler;
  int unix_fd = -1;
  Listener unix_listener{this, Peer::Transport::kUnix};
  Listener tcp_listener{this, Peer::Transport::kTcp};
  MHD_Daemon* unix_daemon = nullptr;
  MHD_Daemon* tcp_daemon = nullptr;
  // TLS material, NUL-terminated as MHD wants it; the key stays in guarded memory for as
  // long as the daemon that read it runs.
  std::string tls_cert_pem;
  std::string tls_trust_pem;
  SecretBytes tls_key_pem;

  // Open connections and the per-peer counts (Unix socket; TCP is MHD's per-IP limit).
  std::mutex mu;
  std::unordered_set<Conn*> conns;
  std::map<std::string, unsigned> per_peer;
  std::atomic<unsigned> open_connections{0};
  // Bytes of request bodies held or promised (a declared Content-Length) right now.
  std::atomic<std::uint64_t> body_memory{0};

  // The reaper (see start_reaper).
  std::thread reaper;
  std::condition_variable reaper_wake;
  bool stopping = false;

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    reaper_wake.notify_all();
    if (reaper.joinable()) reaper.join();
    if (unix_daemon) MHD_stop_daemon(unix_daemon);
    if (tcp_daemon) MHD_stop_daemon(tcp_daemon);
    if (unix_fd >= 0) {
      ::close(unix_fd);
      ::unlink(options.unix_path.c_str());
    }
  }

  bool reserve_body_memory(std::uint64_t n) {
    std::uint64_t now = body_memory.load();
    do {
      if (n > options.max_body_memory || now > options.max_body_memory - n) return false;
    } while (!body_memory.compare_exchange_weak(now, now + n));
    return true;
  }

  void set_deadline(Conn* conn, unsigned seconds) {
    std::lock_guard lock(mu);
    conn->deadline = seconds == 0 ? Clock::time_point::max() : Clock::now() + std::chrono::seconds(seconds);
  }

  static Conn* conn_of(MHD_Connection* c) {
    const MHD_ConnectionInfo* i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? static_cast<Conn*>(i->socket_context) : nullptr;
  }

  static MHD_Result send(MHD_Connection* c, const Reply& r,
                         std::initializer_list<std::pair<const char*, const char*>> headers = {}) {
    std::string payload = r.text ? *r.text : r.body.dump() + "\n";
    MHD_Response* resp =
        MHD_create_response_from_buffer(payload.size(), payload.data(), MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r.text ? "text/plain; charset=utf-8" : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (const auto& [name, value] : headers) MHD_add_response_header(resp, name, value);
    MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(r.status), resp);
    MHD_destroy_response(resp);
    return ret;
  }

  static MHD_Result collect_arg(void* cls, MHD_ValueKind, const char* key, const char* value) {
    auto* m = static_cast<std::map<std::string, std::string>*>(cls);
    if (key) (*m)[key] = value ? value : "";
    return MHD_YES;
  }

  // Accept policy: the total over all listeners, checked before MHD reads a byte. The count
  // is kept by on_connection (STARTED/CLOSED, which MHD always pairs), so connections
  // accepted at the same moment by several pool threads may pass it together: the total can
  // exceed max_connections by at most the number of threads, and each listener's own
  // MHD_OPTION_CONNECTION_LIMIT caps it hard.
  static MHD_Result on_accept(void* cls, const sockaddr*, socklen_t) {
    Impl* self = static_cast<Listener*>(cls)->impl;
    return self->open_connections.load() < self->options.max_connections ? MHD_YES : MHD_NO;
  }

  static void on_connection(void* cls, MHD_Connection* c, void** socket_context,
                            MHD_ConnectionNotificationCode code) {
    auto* listener = static_cast<Listener*>(cls);
    Impl* self = listener->impl;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* conn = new Conn;
      const MHD_ConnectionInfo* fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      conn->fd = fd ? fd->connect_fd : -1;
      conn->peer = peer_of(c, conn->fd, listener->transport);
      conn->deadline = Clock::now() + std::chrono::seconds(self->options.header_timeout_seconds);
      std::lock_guard lock(self->mu);
      self->conns.insert(conn);
      ++self->open_connections;
      // Unix clients all come from the same "address": count them by uid here. TCP clients
      // are counted by MHD's per-IP limit, which closes them at accept.
      if (listener->transport == Peer::Transport::kUnix) {
        unsigned& n = self->per_peer[conn->peer.key()];
        if (n >= self->options.max_connections_per_peer) {
          conn->over_peer_limit = true;
        } else {
          ++n;
          conn->counted = true;
        }
      }
      *socket_context = conn;
      return;
    }
    auto* conn = static_cast<Conn*>(*socket_context);
    if (code != MHD_CONNECTION_NOTIFY_CLOSED || !conn) return;
    {
      // MHD closes the descriptor only after this: once the connection is out of `conns`
      // under the lock, the reaper cannot touch a descriptor that was reused.
      std::lock_guard lock(self->mu);
      self->conns.erase(conn);
      --self->open_connections;
      if (conn->counted) {
        auto it = self->per_peer.find(conn->peer.key());
        if (it != self->per_peer.end() && --it->second == 0) self->per_peer.erase(it);
      }
    }
    delete conn;
    *socket_context = nullptr;
  }

  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                               const char* upload_data, size_t* upload_data_size, void** con_cls) {
    Impl* self = static_cast<Listener*>(cls)->impl;
    Conn* conn = conn_of(c);
    if (!conn) return MHD_NO;
    if (*con_cls == nullptr) {
      // The headers are complete: from here the body has body_timeout.
      if (!self->tls_trust_pem.empty() && conn->peer.transport == Peer::Transport::kTcp &&
          !conn->tls_checked) {
        auto fingerprint = verified_client_certificate(c);
        if (!fingerprint.ok()) {
          std::cerr << "countersignd: refused TLS client " << conn->peer.address << ":" << conn->peer.port
                    << ": " << fingerprint.error().message << "\n";
          return MHD_NO;  // closed without an answer; the handler never sees it
        }
        conn->peer.client_certificate = *fingerprint;
        conn->tls_checked = true;
      }
      self->set_deadline(conn, self->options.body_timeout_seconds);
      auto* req = new Request;
      *con_cls = req;
      if (conn->over_peer_limit) {
        req->answered = true;
        return send(c,
                    error_reply(kTooManyRequests, "too-many-connections",
                                conn->peer.key() + " already has " +
                                    std::to_string(self->options.max_connections_per_peer) +
                                    " connections open (max_connections_per_peer); close some and retry"),
                    {{"Connection", "close"}});
      }
      // Refuse an announced oversized body, or one that does not fit now, before reading it.
      if (const char* len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        char* end = nullptr;
        errno = 0;
        unsigned long long n = std::strtoull(len, &end, 10);
        if (errno != 0 || n > self->options.max_body) {
          req->answered = true;
          return send(c, error_reply(kTooLarge, "too-large",
                                     "request body larger than the " +
                                         std::to_string(self->options.max_body) + " bytes allowed"));
        }
        if (!self->reserve_body_memory(n)) {
          req->answered = true;
          return send(c, busy_reply(), {{"Retry-After", kRetryAfterSeconds}, {"Connection", "close"}});
        }
        req->reserved = n;
      }
      return MHD_YES;
    }
    auto* req = static_cast<Request*>(*con_cls);
    if (*upload_data_size != 0) {
      const std::uint64_t size = *upload_data_size;
      *upload_data_size = 0;
      if (req->answered || req->too_large || req->busy) return MHD_YES;  // discarded
      if (req->body.size() + size > self->options.max_body) {
        req->too_large = true;
        req->body = std::string();
        return MHD_YES;
      }
      // A body without Content-Length (chunked) is counted as it grows.
      const std::uint64_t need = req->body.size() + size;
      if (need > req->reserved) {
        if (!self->reserve_body_memory(need - req->reserved)) {
          req->busy = true;
          req->body = std::string();
          return MHD_YES;
        }
        req->reserved = need;
      }
      req->body.append(upload_data, size);
      return MHD_YES;
    }
    if (req->answered) return MHD_YES;
    req->answered = true;
    if (req->too_large) {
      return send(c, error_reply(kTooLarge, "too-large",
                                 "request body too large: more than " +
                                     std::to_string(self->options.max_body) + " bytes"));
    }
    if (req->busy)
      return send(c, busy_reply(), {{"Retry-After", kRetryAfterSeconds}, {"Connection", "close"}});
    self->set_deadline(conn, 0);  // the request is complete; the handler takes its time
    HttpRequest http;
    http.method = method ? method : "";
    http.path = url ? url : "";
    http.body = std::move(req->body);
    http.peer = conn->peer;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &Impl::collect_arg, &http.query);
    Reply r;
    try {
      r = self->handler(http);
    } catch (const std::exception& e) {
      r = error_reply(500, "internal", std::string("internal error: ") + e.what());
    }
    return send(c, r);
  }

  static Reply busy_reply() {
    return error_reply(
        kBusy, "busy",
        "busy: the box is buffering as many request bodies as it may (max_body_memory); retry later");
  }

  static void on_completed(void* cls, MHD_Connection* c, void** con_cls, MHD_RequestTerminationCode) {
    Impl* self = static_cast<Listener*>(cls)->impl;
    auto* req = static_cast<Request*>(*con_cls);
    if (req) self->body_memory -= req->reserved;
    delete req;
    *con_cls = nullptr;
    // A kept-alive connection has header_timeout for its next request.
    if (Conn* conn = conn_of(c)) self->set_deadline(conn, self->options.header_timeout_seconds);
  }

  // Deadlines are total, not idle: MHD's own CONNECTION_TIMEOUT restarts with every byte, so
  // a client trickling one byte a second would hold its connection (and any body it is
  // promised) for ever. A reaper thread looks at every connection ten times a second and
  // shuts down (shutdown(2), not close) the socket of one past its deadline: MHD then sees
  // the end of the stream in its own thread and closes the connection through its normal
  // path (NOTIFY_CLOSED, the per-IP count). The reaper holds `mu`, which NOTIFY_CLOSED takes
  // before MHD closes the descriptor, so it never shuts down a reused one.
  // A deadline holds the client to account, not the server: bytes still unread in the
  // socket's receive queue (FIONREAD) mean the pool thread serving it is busy in a handler,
  // so such a connection waits until MHD has read them; a trickling client gains nothing, as
  // a thread that is free reads each byte as it comes.
  void start_reaper() {
    reaper = std::thread([this] {
      std::unique_lock lock(mu);
      while (!stopping) {
        reaper_wake.wait_for(lock, std::chrono::milliseconds(100));
        const auto now = Clock::now();
        for (Conn* conn : conns) {
          if (conn->reaped || conn->fd < 0 || now < conn->deadline) continue;
          int unread = 0;
          if (::ioctl(conn->fd, FIONREAD, &unread) == 0 && unread > 0) continue;
          ::shutdown(conn->fd, SHUT_RDWR);
          conn->reaped = true;
        }
      }
    });
  }

  // Serves on `listen_fd` (ours, already listening) or binds `addr` (the TCP listener, TLS).
  MHD_Daemon* start_daemon(int listen_fd, const sockaddr* addr) {
    Listener* listener = listen_fd >= 0 ? &unix_listener : &tcp_listener;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    // MHD_OPTION_SOCK_ADDR takes a sockaddr_in unless told the address is IPv6.
    if (addr && addr->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    std::vector<MHD_OptionItem> items = {
        listen_fd >= 0 ? MHD_OptionItem{MHD_OPTION_LISTEN_SOCKET, listen_fd, nullptr}
                       : MHD_OptionItem{MHD_OPTION_SOCK_ADDR, 0, const_cast<sockaddr*>(addr)},
        {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.connection_timeout_seconds), nullptr},
        {MHD_OPTION_CONNECTION_LIMIT,
         static_cast<intptr_t>(std::max(options.max_connections, options.threads)), nullptr},
    };
    if (addr) {  // the Unix socket is plain HTTP; its peers are counted by on_connection
      flags |= MHD_USE_TLS;
      items.push_back({MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                       static_cast<intptr_t>(options.max_connections_per_peer), nullptr});
      items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert_pem.data()});
      items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem.data()});
      items.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
      // With a trust list MHD asks every client for a certificate (GNUTLS_CERT_REQUEST);
      // on_request verifies it before anything else.
      if (!tls_trust_pem.empty()) items.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, tls_trust_pem.data()});
    }
    items.push_back({MHD_OPTION_END, 0, nullptr});
    return MHD_start_daemon(flags, 0, &Impl::on_accept, listener, &Impl::on_request, listener,
                            MHD_OPTION_NOTIFY_COMPLETED, &Impl::on_completed, listener,
                            MHD_OPTION_NOTIFY_CONNECTION, &Impl::on_connection, listener, MHD_OPTION_ARRAY,
                            items.data(), MHD_OPTION_END);
  }

  // Reads tls_cert, tls_key (owner-only, into SecretBytes) and tls_client_ca, and checks with
  // GnuTLS that the key belongs to the certificate and that the CA file holds certificates,
  // so a mistake is named here rather than as "libmicrohttpd could not start".
  Result<void> load_tls() {
    if (!options.tls_cert || !options.tls_key) {
      return Error(Errc::kInvalidArgument,
                   "listen: the TCP listener is HTTPS only and needs tls_cert and tls_key (PEM files)");
    }
    auto cert = read_file(*options.tls_cert, kMaxPemSize);
    if (!cert.ok())
      return Error(cert.error().code, "tls_cert " + *options.tls_cert + ": " + cert.error().message);
    tls_cert_pem = std::move(*cert);
    auto key = read_private_secret_file(*options.tls_key, kMaxPemSize);
    if (!key.ok()) return Error(key.error().code, "tls_key: " + key.error().message);
    tls_key_pem = SecretBytes(key->size() + 1);  // zeroed: NUL-terminated
    std::memcpy(tls_key_pem.data(), key->data(), key->size());
    {
      GnutlsCredentials check;
      gnutls_datum_t c = datum(tls_cert_pem.data(), tls_cert_pem.size());
      gnutls_datum_t k = datum(key->data(), key->size());
      int rc = gnutls_certificate_set_x509_key_mem2(check.cred, &c, &k, GNUTLS_X509_FMT_PEM, nullptr, 0);
      if (rc < 0) {
        return Error(Errc::kInvalidArgument, "tls_cert " + *options.tls_cert + " and tls_key " +
                                                 *options.tls_key + ": not a PEM certificate and its key (" +
                                                 gnutls_strerror(rc) + ")");
      }
    }
    if (options.tls_client_ca) {
      auto ca = read_file(*options.tls_client_ca, kMaxPemSize);
      if (!ca.ok()) {
        return Error(ca.error().code, "tls_client_ca " + *options.tls_client_ca + ": " + ca.error().message);
      }
      GnutlsCredentials check;
      gnutls_datum_t d = datum(ca->data(), ca->size());
      int n = gnutls_certificate_set_x509_trust_mem(check.cred, &d, GNUTLS_X509_FMT_PEM);
      if (n <= 0) {
        return Error(Errc::kInvalidArgument, "tls_client_ca " + *options.tls_client_ca +
                                                 ": no PEM CA certificate in it" +
                                                 (n < 0 ? std::string(" (") + gnutls_strerror(n) + ")" : ""));
      }
      tls_trust_pem = std::move(*ca);
    }
    return {};
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
    return Error(Errc::kInvalidArgument,
                 "socket path \"" + path + "\" is empty or too long for a Unix socket");
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  // Everything that can be wrong in the configuration is found before anything listens.
  std::optional<gid_t> socket_gid;
  if (options.socket_group) {
    std::vector<char> buf(16384);
    struct group g {};
    struct group* found = nullptr;
    int rc = ::getgrnam_r(options.socket_group->c_str(), &g, buf.data(), buf.size(), &found);
    if (rc != 0 || !found) {
      return Error(Errc::kInvalidArgument, "socket_group: there is no group \"" + *options.socket_group +
                                               "\" on this system" +
                                               (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : ""));
    }
    socket_gid = found->gr_gid;
  }
  if (options.tcp) CS_TRY_VOID(impl->load_tls());
  // A socket file already there: a running daemon (refuse) or a stale one (replace).
  struct stat st {};
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
  // Owner and group may talk to the box: socket_group (API users only, not the daemon's own
  // group, which may read its secrets: DESIGN.md "Box-side daemon"), else the daemon's.
  if (socket_gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *socket_gid) != 0) {
    return Error(Errc::kIo,
                 "cannot give " + path + " to group " + *options.socket_group + ": " + std::strerror(errno));
  }
  if (::chmod(path.c_str(), 0660) != 0 || ::listen(fd, 512) != 0) {
    return Error(Errc::kIo, "cannot listen on " + path + ": " + std::strerror(errno));
  }
  impl->start_reaper();
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
