#include "core/secret.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/bytes.h"
#include "core/unique_fd.h"

namespace countersign {

namespace {
struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) std::abort();
  }
};
void ensure_sodium() { static SodiumInit init; }
}  // namespace

void ensure_sodium_initialized() { ensure_sodium(); }

SecretBytes::SecretBytes(std::size_t size) : size_(size) {
  ensure_sodium();
  if (size == 0) return;
  data_ = static_cast<std::uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) std::abort();
  sodium_memzero(data_, size);
}

SecretBytes SecretBytes::copy_of(std::span<const std::uint8_t> data) {
  SecretBytes s(data.size());
  if (!data.empty()) std::memcpy(s.data_, data.data(), data.size());
  return s;
}

SecretBytes::~SecretBytes() { clear(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::truncate(std::size_t n) {
  if (n > size_) std::abort();
  if (data_ != nullptr) sodium_memzero(data_ + n, size_ - n);
  size_ = n;
}

void SecretBytes::clear() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
  data_ = nullptr;
  size_ = 0;
}

namespace {
// Strips one trailing "\n" or "\r\n".
void strip_newline(SecretBytes& s) {
  std::size_t n = s.size();
  if (n > 0 && s.data()[n - 1] == '\n') {
    --n;
    if (n > 0 && s.data()[n - 1] == '\r') --n;
  }
  s.truncate(n);
}
}  // namespace

namespace {

// Mode bits of an open file that let anyone but its owner read or write it.
Result<void> check_private_fd(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return make_error(Errc::kIo, "cannot examine " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(Errc::kRejected, path + " holds a secret but is open to group or others (mode " +
                                           std::string(mode) + "): chmod 600 " + path);
  }
  return {};
}

Result<SecretBytes> read_secret_fd(int fd, const std::string& path, std::size_t max_size) {
  SecretBytes buf(max_size + 1);
  std::size_t len = 0;
  while (len < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::kIo, "cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > max_size) return make_error(Errc::kInvalidArgument, path + " is too large for a secret");
  buf.truncate(len);
  strip_newline(buf);
  return buf;
}

Result<SecretBytes> read_secret(const std::string& path, std::size_t max_size, bool owner_only) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "cannot open " + path + ": " + std::strerror(errno));
  UniqueFd guard(fd);
  if (owner_only) CS_TRY_VOID(check_private_fd(fd, path));
  return read_secret_fd(fd, path, max_size);
}

}  // namespace

Result<SecretBytes> read_secret_file(const std::string& path, std::size_t max_size) {
  return read_secret(path, max_size, false);
}

Result<SecretBytes> read_private_secret_file(const std::string& path, std::size_t max_size) {
  return read_secret(path, max_size, true);
}

Result<void> check_private_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "cannot open " + path + ": " + std::strerror(errno));
  UniqueFd guard(fd);
  return check_private_fd(fd, path);
}

Result<SecretBytes> secret_from_hex(std::span<const std::uint8_t> hex) {
  auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t b = 0, e = hex.size();
  while (b < e && space(hex[b])) ++b;
  while (e > b && space(hex[e - 1])) --e;
  if ((e - b) % 2 != 0) return make_error(Errc::kMalformed, "hex secret has an odd number of digits");
  SecretBytes out((e - b) / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(static_cast<char>(hex[b + 2 * i]));
    const int lo = hex_value(static_cast<char>(hex[b + 2 * i + 1]));
    if (hi < 0 || lo < 0) {
      return make_error(Errc::kMalformed, "hex secret: not a hex digit at offset " +
                                              std::to_string(b + 2 * i + (hi < 0 ? 0 : 1)));
    }
    out.data()[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<SecretBytes> read_secret_line(std::istream& in, std::size_t max_size) {
  SecretBytes buf(max_size);
  std::size_t len = 0;
  int c = 0;
  while ((c = in.get()) != std::char_traits<char>::eof() && c != '\n') {
    if (len == max_size) return make_error(Errc::kInvalidArgument, "secret is too long");
    buf.data()[len++] = static_cast<std::uint8_t>(c);
  }
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  buf.truncate(len);
  return buf;
}

}  // namespace countersign
