#include "smartcard/fido2_unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace countersign::fido2 {
namespace {

constexpr std::size_t kReport = 64;

struct Conn {
  int fd = -1;
};

void* sock_open(const char* path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof(addr.sun_path)) return nullptr;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return nullptr;
  }
  return new Conn{fd};
}

void sock_close(void* h) {
  auto* c = static_cast<Conn*>(h);
  ::close(c->fd);
  delete c;
}

// libfido2 hands over a report ID byte (0) and the 64-byte report (CTAP 2.1 section 11.2.4);
// the socket carries the report alone.
int sock_write(void* h, const unsigned char* buf, std::size_t len) {
  if (len != kReport + 1) return -1;
  const ssize_t n = ::send(static_cast<Conn*>(h)->fd, buf + 1, kReport, MSG_NOSIGNAL);
  return n == static_cast<ssize_t>(kReport) ? static_cast<int>(len) : -1;
}

// One report, waiting at most `ms` milliseconds (-1: no limit). -1 on timeout, error or a
// closed connection (the device is gone).
int sock_read(void* h, unsigned char* buf, std::size_t len, int ms) {
  pollfd p{static_cast<Conn*>(h)->fd, POLLIN, 0};
  int r = 0;
  do {
    r = ::poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return -1;
  const ssize_t n = ::recv(p.fd, buf, len, 0);
  return n == static_cast<ssize_t>(kReport) ? static_cast<int>(n) : -1;
}

const fido_dev_io_t kUnixIo = {sock_open, sock_close, sock_read, sock_write};

}  // namespace

const fido_dev_io_t* unix_socket_io() { return &kUnixIo; }

Result<Device> open_device(const std::string& spec, int timeout_ms) {
  if (spec.starts_with(kUnixSocketPrefix))
    return Device::open(spec.substr(kUnixSocketPrefix.size()), unix_socket_io(), timeout_ms);
  return Device::open(spec, nullptr, timeout_ms);
}

}  // namespace countersign::fido2
