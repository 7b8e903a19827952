#include "core/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/openssl_util.h"

namespace countersign {

struct Sha256::Ctx {
  detail::MdCtxPtr md;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md.reset(EVP_MD_CTX_new());
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(ByteView data) {
  if (EVP_DigestUpdate(ctx_->md.get(), data.data(), data.size()) != 1) std::abort();
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md.get(), d.data(), &len) != 1 || len != d.size()) std::abort();
  if (EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) != 1) std::abort();
  return d;
}

Digest sha256(ByteView data) {
  Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1) std::abort();
  return d;
}

Result<Digest> sha256_file(const std::string& path, void (*on_bytes)(std::uint64_t, void*), void* user) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "cannot open " + path + ": " + std::strerror(errno));
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256 h;
  std::vector<std::uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return make_error(Errc::kIo, "cannot read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
    if (on_bytes != nullptr) on_bytes(static_cast<std::uint64_t>(n), user);
  }
  ::close(fd);
  return h.finish();
}

std::string digest_to_string(const Digest& d) { return "sha256:" + hex_encode(d); }

Result<Digest> digest_from_string(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  Digest d{};
  if (text.substr(0, kPrefix.size()) != kPrefix || !decode_lower_hex(text.substr(kPrefix.size()), d)) {
    return make_error(Errc::kInvalidDocument, "expected \"sha256:\" followed by 64 lowercase hex digits");
  }
  return d;
}

}  // namespace countersign
