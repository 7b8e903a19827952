#include "daemon/log_shipper.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/merkle.h"
#include "core/secret.h"
#include "core/timeutil.h"
#include "core/untrusted_text.h"
#include "daemon/s3_archive.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kBatchBytes = 1u << 20;
constexpr auto kPollInterval = std::chrono::milliseconds(250);

// RFC 5424 PRINTUSASCII (%d33-126), at most `max` of them, at least one.
bool printusascii(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126) return false;
  }
  return true;
}

// An SD-PARAM value: '"', '\' and ']' escaped with a backslash (RFC 5424 section 6.3.3).
std::string sd_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("unknown TLS error") : out;
}

// One JSON line per entry, on a descriptor.
class JournalDestination final : public LogDestination {
 public:
  explicit JournalDestination(int fd) : fd_(fd) {}
  std::string name() const override { return "journal"; }
  std::string describe() const override { return "journal (standard output)"; }
  Result<void> deliver(std::uint64_t first, const std::vector<std::string>& entries) override {
    std::string out;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const std::string& e = entries[i];
      out += audit::export_line(first + i, e, merkle::leaf_hash(as_bytes(e))) + "\n";
    }
    std::string_view rest = out;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (n <= 0) return Error(Errc::kIo, std::string("writing to standard output: ") + std::strerror(errno));
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }

 private:
  int fd_;
};

// RFC 5425: syslog over TLS, one connection kept open, non-blocking with deadlines.
class SyslogDestination final : public LogDestination {
 public:
  static Result<std::unique_ptr<SyslogDestination>> create(const Config& config) {
    CS_TRY(HostPort hp, parse_host_port("syslog", *config.syslog));
    std::unique_ptr<SyslogDestination> d(new SyslogDestination(config, hp));
    d->ctx_ = SSL_CTX_new(TLS_client_method());
    if (d->ctx_ == nullptr) return Error(Errc::kIo, "syslog: " + openssl_error());
    SSL_CTX_set_min_proto_version(d->ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(d->ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(d->ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_load_verify_locations(d->ctx_, config.syslog_ca->c_str(), nullptr) != 1) {
      return Error(Errc::kIo,
                   "syslog_ca " + *config.syslog_ca + ": no CA certificate loads: " + openssl_error());
    }
    if (config.syslog_cert) {
      if (SSL_CTX_use_certificate_chain_file(d->ctx_, config.syslog_cert->c_str()) != 1) {
        return Error(Errc::kIo, "syslog_cert " + *config.syslog_cert + ": " + openssl_error());
      }
      CS_TRY(SecretBytes pem, read_private_secret_file(*config.syslog_key, 64 * 1024));
      BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      EVP_PKEY* key = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
      BIO_free(bio);
      const bool used = key != nullptr && SSL_CTX_use_PrivateKey(d->ctx_, key) == 1 &&
                        SSL_CTX_check_private_key(d->ctx_) == 1;
      EVP_PKEY_free(key);
      if (!used) {
        ERR_clear_error();  // its text may quote the key file's contents
        return Error(Errc::kInvalidArgument,
                     "syslog_key " + *config.syslog_key + ": not a PEM private key of syslog_cert");
      }
    }
    return d;
  }
  ~SyslogDestination() override {
    disconnect();
    SSL_CTX_free(ctx_);
  }

  std::string name() const override { return "syslog"; }
  std::string describe() const override { return "syslog " + *config_.syslog + " (TLS)"; }

  Result<void> deliver(std::uint64_t, const std::vector<std::string>& entries) override {
    if (ssl_ != nullptr && peer_closed()) disconnect();
    if (ssl_ == nullptr) {
      auto c = connect();
      if (!c.ok()) {
        disconnect();
        return c.error();
      }
    }
    std::string out;
    for (const auto& e : entries) out += octet_counted(syslog_message(e, config_.box_id));
    auto sent = send_all(out);
    if (sent.ok()) sent = wait_acknowledged();
    if (!sent.ok()) disconnect();
    return sent;
  }

 private:
  SyslogDestination(const Config& config, HostPort hp)
      : config_(config), hp_(std::move(hp)), name_(config.syslog_name.value_or(hp_.host)) {}

  SteadyClock::time_point deadline() const {
    return SteadyClock::now() + std::chrono::seconds(config_.stall_timeout_seconds);
  }
  static int remaining_ms(SteadyClock::time_point until) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, 1000));
  }
  // The shipper names the destination beside the message (its status, its stderr line).
  static Error failure(const std::string& what) { return Error(Errc::kIo, what); }

  Result<void> connect() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(hp_.port);
    if (int rc = ::getaddrinfo(hp_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return failure(std::string("cannot resolve ") + hp_.host + ": " + ::gai_strerror(rc));
    }
    std::string last = "no address";
    for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(config_.connect_timeout_seconds * 1000));
        int err = 0;
        socklen_t len = sizeof err;
        if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
          rc = 0;
        } else {
          errno = rc == 0 ? ETIMEDOUT : err;
          rc = -1;
        }
      }
      if (rc == 0) {
        fd_ = fd;
      } else {
        last = std::strerror(errno);
        ::close(fd);
      }
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return failure("cannot connect: " + last);

    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return failure(openssl_error());
    in6_addr ip6{};
    in_addr ip4{};
    const bool is_ip =
        ::inet_pton(AF_INET, name_.c_str(), &ip4) == 1 || ::inet_pton(AF_INET6, name_.c_str(), &ip6) == 1;
    if (is_ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name_.c_str()) != 1)
        return failure(openssl_error());
    } else {
      // SNI (SSL_set_tlsext_host_name is a macro over this call, with a C cast).
      if (SSL_set1_host(ssl_, name_.c_str()) != 1 ||
          SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name_.data()) != 1)
        return failure(openssl_error());
    }
    const auto until = deadline();
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return {};
      const int err = SSL_get_error(ssl_, rc);
      if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && wait_io(err, until)) continue;
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return failure(std::string("the collector's certificate does not verify for \"") + name_ +
                       "\": " + X509_verify_cert_error_string(verify));
      }
      return failure("TLS handshake failed: " + (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE
                                                     ? std::string("timed out")
                                                     : openssl_error()));
    }
  }

  // Waits for the socket to be ready for what SSL asked; false once `until` passed.
  bool wait_io(int ssl_error, SteadyClock::time_point until) const {
    while (SteadyClock::now() < until) {
      pollfd p{fd_, static_cast<short>(ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      const int rc = ::poll(&p, 1, remaining_ms(until));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
    return false;
  }

  Result<void> send_all(std::string_view data) {
    const auto until = deadline();
    while (!data.empty()) {
      std::size_t written = 0;
      const int rc = SSL_write_ex(ssl_, data.data(), data.size(), &written);
      if (rc == 1) {
        data.remove_prefix(written);
        continue;
      }
      const int err = SSL_get_error(ssl_, rc);
      if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && wait_io(err, until)) continue;
      if (err == SSL_ERROR_SYSCALL) {
        const int e = errno;
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        timespec zero{};
        ::sigtimedwait(&pipe, nullptr, &zero);  // a SIGPIPE left pending by this thread's write
        return failure(std::string("sending failed: ") + (e != 0 ? std::strerror(e) : "connection closed"));
      }
      return failure("sending failed: " + (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE
                                               ? std::string("timed out")
                                               : openssl_error()));
    }
    return {};
  }

  // Delivered: TCP has acknowledged every byte sent (the send queue is empty) while the
  // connection is still up.
  Result<void> wait_acknowledged() {
    const auto until = deadline();
    for (;;) {
      if (peer_closed()) return failure("the collector closed the connection before acknowledging");
      int queued = 0;
      if (::ioctl(fd_, SIOCOUTQ, &queued) != 0)
        return failure(std::string("SIOCOUTQ: ") + std::strerror(errno));
      if (queued == 0) {
        if (peer_closed()) return failure("the collector closed the connection before acknowledging");
        return {};
      }
      if (SteadyClock::now() >= until) {
        return failure(std::to_string(queued) + " bytes not acknowledged within stall_timeout (" +
                       std::to_string(config_.stall_timeout_seconds) + "s)");
      }
      pollfd p{fd_, POLLRDHUP, 0};
      ::poll(&p, 1, 5);
    }
  }

  // The collector closed or reset the connection (a syslog collector sends no data; what
  // can arrive is TLS: session tickets, which are read here, or a close_notify/alert).
  bool peer_closed() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) return true;
    char buf[256];
    for (;;) {
      std::size_t got = 0;
      const int rc = SSL_read_ex(ssl_, buf, sizeof buf, &got);
      if (rc == 1) continue;  // unexpected data: read and dropped
      const int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
      ERR_clear_error();
      return true;
    }
  }

  void disconnect() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);  // close_notify, best effort (non-blocking)
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ERR_clear_error();
  }

  const Config config_;  // a copy: the Config given to log_destinations() need not outlive it
  HostPort hp_;
  std::string name_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

}  // namespace

std::string syslog_message(std::string_view entry_bytes, std::string_view box_id) {
  json e = json::parse(entry_bytes, nullptr, false);
  if (!e.is_object()) e = json::object();
  const std::string time = e.contains("time") && e["time"].is_string() ? e["time"].get<std::string>() : "";
  const std::string event =
      e.contains("event") && e["event"].is_string() ? e["event"].get<std::string>() : "";
  std::string sd = "[countersign@32473";
  if (e.contains("seq") && e["seq"].is_number_unsigned())
    sd += " seq=\"" + std::to_string(e["seq"].get<std::uint64_t>()) + "\"";
  if (!event.empty()) sd += " event=\"" + sd_value(event) + "\"";
  if (e.contains("proposal") && e["proposal"].is_string())
    sd += " proposal=\"" + sd_value(e["proposal"].get<std::string>()) + "\"";
  sd += "]";
  const bool time_ok = parse_rfc3339(time).ok() && printusascii(time, 64);
  return "<110>1 " + (time_ok ? time : "-") + " " + (printusascii(box_id, 255) ? std::string(box_id) : "-") +
         " countersign - " + (printusascii(event, 32) ? event : "-") + " " + sd + " " +
         std::string(entry_bytes);
}

std::string octet_counted(std::string_view message) {
  return std::to_string(message.size()) + " " + std::string(message);
}

std::unique_ptr<LogDestination> journal_destination(int fd) {
  return std::make_unique<JournalDestination>(fd);
}

Result<std::vector<std::unique_ptr<LogDestination>>> log_destinations(const Config& config) {
  std::vector<std::unique_ptr<LogDestination>> out;
  if (config.syslog) {
    CS_TRY(auto d, SyslogDestination::create(config));
    out.push_back(std::move(d));
  }
  if (config.journal) out.push_back(journal_destination(STDOUT_FILENO));
  if (config.s3_archive) {
    CS_TRY(auto d, s3_archive_destination(config));
    out.push_back(std::move(d));
  }
  return out;
}

struct LogShipper::Impl {
  struct Worker {
    std::unique_ptr<LogDestination> destination;
    std::string cursor_file;
    std::uint64_t next = 0;
    std::optional<std::string> error;
    std::thread thread;
  };

  std::string log_dir;
  std::chrono::seconds retry{10};
  std::vector<std::unique_ptr<Worker>> workers;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool started = false;
  std::atomic<bool> flushing{false};  // drain(): destinations holding entries back deliver them

  // One batch from the worker's cursor: true when something was delivered. `log_failed`
  // tells a failure to read the log (which can be passing: the helper may be between the
  // writes of one append) from the destination's.
  Result<bool> ship_once(Worker& w, bool& log_failed) {
    log_failed = true;
    CS_TRY(audit::AuditLog log, audit::AuditLog::open(log_dir, audit::AuditLog::Mode::kReadOnly));
    const std::uint64_t size = log.size();
    std::uint64_t next = 0;
    {
      std::lock_guard lock(mu);
      next = w.next;
    }
    if (next > size) {
      return Error(Errc::kInvalidDocument, "its cursor " + w.cursor_file + " says " + std::to_string(next) +
                                               " entries were delivered, the log has " +
                                               std::to_string(size));
    }
    const std::size_t limit = std::max<std::size_t>(1, w.destination->batch_limit());
    const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(size - next, limit));
    if (available == 0 || !w.destination->ready(next, available, flushing.load())) {
      log_failed = false;
      CS_TRY_VOID(w.destination->after(log, next));
      return false;
    }
    std::vector<std::string> batch;
    std::size_t bytes = 0;
    for (std::uint64_t i = next; i < size && batch.size() < available && bytes < kBatchBytes; ++i) {
      CS_TRY(std::string e, log.entry(i));
      bytes += e.size();
      batch.push_back(std::move(e));
    }
    log_failed = false;
    CS_TRY_VOID(w.destination->deliver(next, batch));
    const std::uint64_t delivered = next + batch.size();
    CS_TRY_VOID(write_file_atomic(w.cursor_file, json{{"delivered", delivered}}.dump() + "\n", 0640));
    {
      std::lock_guard lock(mu);
      w.next = delivered;
    }
    CS_TRY_VOID(w.destination->after(log, delivered));
    std::lock_guard lock(mu);
    w.error.reset();
    return true;
  }

  void run(Worker& w) {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);  // a closed connection is an error, not a signal
    std::string reported;
    int log_failures = 0;  // in a row
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      bool log_failed = false;
      auto r = ship_once(w, log_failed);
      std::unique_lock lock(mu);
      log_failures = !r.ok() && log_failed ? log_failures + 1 : 0;
      if (!r.ok() && log_failed && log_failures < 4) {
        cv.wait_for(lock, kPollInterval, [this] { return stopping; });  // read it again in a moment
      } else if (!r.ok()) {
        w.error = r.error().message;
        if (reported != r.error().message) {
          reported = r.error().message;
          std::fprintf(stderr, "countersignd: audit log to %s: %s (trying again every %llds)\n",
                       w.destination->describe().c_str(), escape_untrusted(reported, 400).c_str(),
                       static_cast<long long>(retry.count()));
        }
        cv.wait_for(lock, retry, [this] { return stopping; });
      } else if (!*r) {
        if (!reported.empty()) {
          std::fprintf(stderr, "countersignd: audit log to %s: delivering again\n",
                       w.destination->describe().c_str());
          reported.clear();
        }
        cv.wait_for(lock, kPollInterval, [this] { return stopping; });
      }
    }
  }
};

LogShipper::LogShipper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogShipper::~LogShipper() { stop(); }

Result<std::unique_ptr<LogShipper>> LogShipper::open(
    const Config& config, std::vector<std::unique_ptr<LogDestination>> destinations) {
  auto impl = std::make_unique<Impl>();
  impl->log_dir = config.log_dir();
  impl->retry = std::chrono::seconds(config.ship_retry_seconds);
  const std::string dir = config.daemon_dir() + "/ship";
  if (!destinations.empty() && ::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Error(Errc::kIo, "cannot create " + dir + ": " + std::strerror(errno));
  }
  for (auto& d : destinations) {
    auto w = std::make_unique<Impl::Worker>();
    w->cursor_file = dir + "/" + d->name() + ".json";
    w->destination = std::move(d);
    struct stat st {};
    if (::lstat(w->cursor_file.c_str(), &st) == 0) {
      CS_TRY(std::string text, read_file(w->cursor_file, 4096));
      json j = json::parse(text, nullptr, false);
      if (!j.is_object() || !j.contains("delivered") || !j["delivered"].is_number_unsigned()) {
        return Error(Errc::kInvalidDocument, w->cursor_file +
                                                 ": not a cursor ({\"delivered\": N}); remove it to send the "
                                                 "log from its start");
      }
      w->next = j["delivered"].get<std::uint64_t>();
    } else if (errno != ENOENT) {
      return Error(Errc::kIo, "cannot inspect " + w->cursor_file + ": " + std::strerror(errno));
    }
    impl->workers.push_back(std::move(w));
  }
  return std::unique_ptr<LogShipper>(new LogShipper(std::move(impl)));
}

void LogShipper::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  for (auto& w : impl_->workers) {
    Impl::Worker* worker = w.get();
    w->thread = std::thread([this, worker] { impl_->run(*worker); });
  }
}

void LogShipper::drain(std::uint64_t size, std::chrono::milliseconds max) {
  impl_->flushing = true;
  std::unique_lock lock(impl_->mu);
  if (!impl_->started) return;
  const auto until = SteadyClock::now() + max;
  auto done = [&] {
    for (const auto& w : impl_->workers) {
      if (w->next < size && !w->error) return false;
    }
    return true;
  };
  while (!done() && SteadyClock::now() < until) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
  }
}

void LogShipper::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<ShipStatus> LogShipper::status() const {
  std::lock_guard lock(impl_->mu);
  std::vector<ShipStatus> out;
  for (const auto& w : impl_->workers) out.push_back({w->destination->describe(), w->next, w->error});
  return out;
}

}  // namespace countersign::daemon
