// SecretBytes: the one home for secrets (private keys, passphrases, PINs, Shamir shares).
//
// Backed by sodium_malloc (guard pages, canary, mlock where allowed) and wiped with
// sodium_memzero when freed or cleared. Never logged, never formatted. To find every read
// of a secret, grep for `SecretBytes`. Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <span>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace countersign {

// Runs sodium_init() once per process (thread-safe; aborts if libsodium cannot start).
// Call before any other libsodium function; SecretBytes calls it itself.
void ensure_sodium_initialized();

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates `size` zeroed bytes in guarded memory. Aborts if the allocation fails
  // (sodium_malloc failing means the process cannot keep secrets safely).
  explicit SecretBytes(std::size_t size);
  // Copies `data` into guarded memory. The caller remains responsible for wiping `data`.
  static SecretBytes copy_of(std::span<const std::uint8_t> data);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::uint8_t> view() const { return {data_, size_}; }
  std::span<std::uint8_t> span() { return {data_, size_}; }

  // Shrinks the logical size (the tail is wiped). Precondition: n <= size().
  void truncate(std::size_t n);
  // Wipes and frees now.
  void clear();

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Reads a secret from a file: the whole content, less one trailing "\n" (or "\r\n"), which
// is not part of the secret. Used for --passphrase-file / --pin-file. Refuses files larger
// than `max_size`.
Result<SecretBytes> read_secret_file(const std::string& path, std::size_t max_size = 4096);

// The same for a secret only its owner may read (a box's credentials, its log key, its TLS
// key): refused (kRejected) when the file is readable or writable by group or others,
// naming the file, its mode and the fix ("chmod 600 FILE").
Result<SecretBytes> read_private_secret_file(const std::string& path, std::size_t max_size = 4096);

// That check alone, for a file read some other way. Errors: kIo when it cannot be examined,
// kRejected as above.
Result<void> check_private_file(const std::string& path);

// Decodes a secret written in hex (a card management key in a file), into guarded memory.
// Surrounding whitespace is ignored. Errors: kMalformed naming the offset of a bad digit,
// never quoting the secret.
Result<SecretBytes> secret_from_hex(std::span<const std::uint8_t> hex);

// Reads one line (without its newline) from a stream into guarded memory.
Result<SecretBytes> read_secret_line(std::istream& in, std::size_t max_size = 4096);

// The terminal prompt, prompt_secret(), is in core/secret_prompt.h: signing tools only, so that
// the box (core's verify side) has no termios code.

}  // namespace countersign
