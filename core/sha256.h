// SHA-256 (OpenSSL EVP; one implementation for the whole project) and the `sha256:<hex>`
// text form of DESIGN.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(ByteView data);
inline Digest sha256(std::string_view data) { return sha256(as_bytes(data)); }

// Incremental hashing for large files and streams.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(ByteView data);
  // Finishes; the object is reset and can be reused.
  Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Hashes a file's bytes; reports progress through `on_bytes` (may be null) as it reads.
Result<Digest> sha256_file(const std::string& path, void (*on_bytes)(std::uint64_t, void*) = nullptr,
                           void* user = nullptr);

// "sha256:" + 64 lowercase hex.
std::string digest_to_string(const Digest& d);
// Parses exactly "sha256:" + 64 lowercase hex.
Result<Digest> digest_from_string(std::string_view text);

}  // namespace countersign
