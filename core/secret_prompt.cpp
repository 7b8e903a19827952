#include "core/secret_prompt.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace countersign {

Result<SecretBytes> prompt_secret(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(Errc::kNoDevice,
                      "no terminal to ask for a secret on; use a file or environment variable instead");
  }
  termios old_attr{};
  bool restore = false;
  if (tcgetattr(fd, &old_attr) == 0) {
    termios no_echo = old_attr;
    no_echo.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    no_echo.c_lflag |= ECHONL;
    restore = tcsetattr(fd, TCSAFLUSH, &no_echo) == 0;
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  SecretBytes buf(4096);
  std::size_t len = 0;
  bool too_long = false;
  for (;;) {
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (len == buf.size()) {
      too_long = true;
      continue;
    }
    buf.data()[len++] = static_cast<std::uint8_t>(c);
  }
  if (restore) tcsetattr(fd, TCSAFLUSH, &old_attr);
  ::close(fd);
  if (too_long) return make_error(Errc::kInvalidArgument, "secret is too long");
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  buf.truncate(len);
  return buf;
}

}  // namespace countersign
