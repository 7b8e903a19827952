// Software signing keys for CI and air-gapped laptops (Ed25519, ECDSA P-256), kept in a
// passphrase-encrypted file:
//
//   {"schema": "countersign/secret-key/v1", "alg": "ed25519", "public_key": "<SPKI b64>",
//    "kdf": {"name": "argon2id13", "opslimit": N, "memlimit": N, "salt": "<b64>"},
//    "encryption": {"name": "xchacha20poly1305-ietf", "nonce": "<b64>", "ciphertext": "<b64>"}}
//
// The key for XChaCha20-Poly1305 comes from Argon2id (libsodium crypto_pwhash) over the
// passphrase; the additional data is the JCS of the document without "encryption", so the
// algorithm and public key cannot be swapped. The plaintext is the 32-byte Ed25519 seed or
// the 32-byte P-256 private scalar. Files are written 0600 via temp file, fsync, rename.
#pragma once

#include <memory>
#include <string>

#include "core/keys.h"
#include "core/secret.h"

namespace countersign {

class SoftwareKey final : public Signer {
 public:
  // Fresh random key (ed25519 or ecdsa-p256 only).
  static Result<SoftwareKey> generate(Alg alg);
  // Decrypts a key file. Wrong passphrase, or authenticated parts (alg, public_key, kdf,
  // nonce, ciphertext) changed to other well-formed values -> kWrongPassphrase; unknown,
  // missing or ill-formed fields -> kMalformed naming the field; another document's schema
  // -> kUnknownSchema; missing file -> kNotFound.
  static Result<SoftwareKey> load(const std::string& path, const SecretBytes& passphrase);
  // The public key a key file names, without the passphrase (for `key public` and policy
  // building). The file is checked as load() checks it, but the public key is only
  // authenticated by decryption: whoever can write the file can change what this returns
  // (load() would then fail). Errors as load(), except that messages do not name `path`.
  static Result<PublicKey> read_public(const std::string& path);
  // read_public on a key file's contents: every check load() makes before the key
  // derivation (tests/fuzz/key_file_fuzz.cpp).
  static Result<PublicKey> public_key_of_text(const std::string& text);
  // Raw private key material (seed or scalar) for Shamir backup / restore.
  static Result<SoftwareKey> from_secret(Alg alg, const SecretBytes& secret);

  ~SoftwareKey() override;
  SoftwareKey(SoftwareKey&&) noexcept;
  SoftwareKey& operator=(SoftwareKey&&) noexcept;

  // Encrypts with `passphrase` (must not be empty) and writes atomically with mode 0600.
  // Refuses to overwrite an existing file unless `overwrite` (kInvalidArgument "... already
  // exists"); the refusal holds even against a file created while we derive the key.
  Result<void> save(const std::string& path, const SecretBytes& passphrase, bool overwrite = false) const;
  // Interactive-strength Argon2id limits are used unless tests lower them.
  static void set_kdf_limits_for_tests(unsigned long long opslimit, std::size_t memlimit);

  const PublicKey& public_key() const override;
  Result<SignatureValue> sign(ByteView signing_input) override;
  // The private key material (32 bytes), for `key backup`.
  const SecretBytes& secret() const;

 private:
  struct State;
  explicit SoftwareKey(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Reads a passphrase the way every command does: from `file` when given (one trailing
// newline stripped), else from the environment variable `env_var` when set (may be null),
// else from a no-echo prompt on the terminal (asked twice when `confirm`; a mismatch is an
// error). An empty passphrase is always refused (kInvalidArgument).
// The environment variable is for CI only: the environment of a process is readable by the
// same user (and root) through /proc/<pid>/environ, is inherited by child processes, and the
// variable's copy in the environment cannot be wiped. Prefer the file on a tmpfs, or the prompt.
Result<SecretBytes> obtain_passphrase(const std::string& file, const char* env_var, const std::string& prompt,
                                      bool confirm);

}  // namespace countersign
