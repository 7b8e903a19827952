// virtual-fido2: the test tree's virtual CTAP2 authenticator (tests/smartcard/virtual_fido2.h)
// served on a Unix socket, so that the countersign CLI reaches it with
// `--device unix:PATH` (smartcard/fido2_unix_socket.h) and no hardware. For tests and demos
// only: its keys live in memory and die with the process.
//
//   virtual-fido2 --socket PATH [--pin PIN] [--no-touch] [--wait-touch FILE] [--idle-exit SECONDS]
//                 [--ca-out FILE]
//
// --wait-touch FILE: an assertion that needs a touch waits for one that never comes, as a
// key nobody touches: KEEPALIVE (user presence needed) every 100 ms until the host sends
// CTAPHID_CANCEL (answered with CTAP2_ERR_KEEPALIVE_CANCEL) or for 30 s (then
// USER_ACTION_TIMEOUT). FILE is created when an assertion starts waiting, so that a test
// acts (cancels) at that moment.
// --ca-out writes the DER certificate of the test CA that issued its attestation certificate
// (made at start), to pass to `--attestation-root`.
// Prints "ready" on stdout once it listens. Serves one connection at a time (libfido2 opens
// the device for each operation). Exits after --idle-exit seconds (default 600) without a
// connection, or on SIGTERM/SIGINT.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "tests/smartcard/virtual_fido2.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int usage() {
  std::cerr << "usage: virtual-fido2 --socket PATH [--pin PIN] [--no-touch] [--wait-touch FILE] [--idle-exit "
               "SECONDS] [--ca-out FILE]\n";
  return 2;
}

// Feeds the connection's reports to the device and sends back what it queues. While an
// assertion waits for a touch (--wait-touch), keeps the host informed every 100 ms.
void serve(countersign::testing::VirtualFido2& dev, int fd, const std::string& wait_file) {
  unsigned char in[65];
  unsigned char out[64];
  constexpr int kKeepaliveMs = 100, kMaxKeepalives = 300;  // 30 s
  int keepalives = 0;
  auto flush = [&] {
    while (dev.read_report(out, sizeof out) == 64)
      if (::send(fd, out, sizeof out, MSG_NOSIGNAL) != 64) return false;
    return true;
  };
  while (g_stop == 0) {
    const bool waiting = dev.waiting_for_touch();
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, waiting ? kKeepaliveMs : 60'000);  // a client silent for a minute is gone
    if (r == 0 && waiting) {
      if (++keepalives > kMaxKeepalives) {
        dev.stop_waiting();
      } else {
        dev.keepalive();
      }
      if (!flush()) return;
      continue;
    }
    if (r <= 0) return;
    const ssize_t n = ::recv(fd, in + 1, 64, 0);
    if (n != 64) return;
    in[0] = 0;  // the report ID libfido2 would have written
    if (dev.write_report(in, sizeof in) < 0) return;
    if (!waiting && dev.waiting_for_touch()) {
      keepalives = 0;
      std::ofstream(wait_file) << "waiting for a touch\n";
    }
    if (!flush()) return;
    if (dev.unplugged) {
      dev.unplugged = false;  // "re-inserted" for the next connection
      dev.unplug_on_assertion = false;
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path, pin, ca_out, wait_file;
  bool no_touch = false;
  int idle_exit = 600;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc)
      socket_path = argv[++i];
    else if (a == "--pin" && i + 1 < argc)
      pin = argv[++i];
    else if (a == "--no-touch")
      no_touch = true;
    else if (a == "--wait-touch" && i + 1 < argc)
      wait_file = argv[++i];
    else if (a == "--ca-out" && i + 1 < argc)
      ca_out = argv[++i];
    else if (a == "--idle-exit" && i + 1 < argc)
      idle_exit = std::stoi(argv[++i]);
    else
      return usage();
  }
  if (socket_path.empty()) return usage();
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  countersign::testing::VirtualFido2 dev;
  if (!pin.empty()) dev.set_pin(pin);
  dev.no_touch = no_touch;
  dev.wait_for_touch = !wait_file.empty();
  if (!ca_out.empty()) {
    std::ofstream f(ca_out, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(dev.ca_certificate().data()),
            static_cast<std::streamsize>(dev.ca_certificate().size()));
    if (!f) {
      std::cerr << "virtual-fido2: cannot write " << ca_out << "\n";
      return 1;
    }
  }

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return usage();
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  const int ls = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  ::unlink(socket_path.c_str());
  if (ls < 0 || ::bind(ls, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(ls, 4) != 0) {
    std::cerr << "virtual-fido2: cannot listen on " << socket_path << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "ready" << std::endl;
  while (g_stop == 0) {
    pollfd p{ls, POLLIN, 0};
    const int r = ::poll(&p, 1, idle_exit * 1000);
    if (r <= 0) break;  // idle too long, or a signal
    const int fd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve(dev, fd, wait_file);
    ::close(fd);
    // The host went away: what it left waiting or unread is not for the next one.
    dev.stop_waiting();
    unsigned char drain[64];
    while (dev.read_report(drain, sizeof drain) == 64) {
    }
  }
  ::close(ls);
  ::unlink(socket_path.c_str());
  return 0;
}
