// C2SP signed notes (c2sp.org/signed-note), verifier keys, Ed25519 note signatures and
// Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, signature type 0x04).
//
// A note is UTF-8 text ending in a newline, a blank line, then one or more lines
//   "— <key name> base64(4-byte big-endian key id || signature)\n".
// Key id = SHA-256(name || 0x0A || type || public key)[:4] (signed-note "Signatures").
// Verifier key ("vkey") text:  <name>+<8 hex key id>+base64(type || 32-byte public key).
// Signer key ("skey") text:    PRIVATE+KEY+<name>+<8 hex key id>+base64(type || 32-byte seed)
// (the golang.org/x/mod/sumdb/note form), held only in SecretBytes.
//
// Only the types this project needs are supported: 0x01 (Ed25519 over the note text) and
// 0x04 (timestamped Ed25519 cosignature over "cosignature/v1\ntime T\n" || note text).
// Signatures by other keys are ignored, as the spec requires; a signature whose name and
// key id match the verifier but that does not verify rejects the note.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"

namespace countersign::note {

inline constexpr std::uint8_t kTypeEd25519 = 0x01;
inline constexpr std::uint8_t kTypeCosignatureV1 = 0x04;

// Limits a verifier applies before any crypto (the spec asks for at least 16 signatures).
inline constexpr std::size_t kMaxNoteSize = 64 * 1024;
inline constexpr std::size_t kMaxSignatures = 64;

struct Signature {
  std::string name;
  std::uint32_t key_id = 0;
  Bytes signature;  // what follows the key id: 64 bytes for 0x01, 8 + 64 for 0x04

  // "— <name> <base64>\n"
  std::string line() const;
};

// True when `name` may be a key name: non-empty, valid UTF-8, no Unicode space, no '+',
// no control character.
bool is_valid_key_name(std::string_view name);

std::uint32_t key_id(std::string_view name, std::uint8_t type, ByteView public_key);

class Note {
 public:
  // Splits and checks a signed note: valid UTF-8, no control characters but newline, text
  // and blank line, at least one well-formed signature line, at most kMaxSignatures and
  // kMaxNoteSize. kMalformed naming the line otherwise. Does not verify anything.
  static Result<Note> parse(std::string_view note);
  // An unsigned note over `text`, which must be non-empty, end in a newline and obey the
  // same character rules. Add signatures before serialize().
  static Result<Note> from_text(std::string text);

  const std::string& text() const { return text_; }
  const std::vector<Signature>& signatures() const { return signatures_; }
  void add_signature(Signature s) { signatures_.push_back(std::move(s)); }

  // text || "\n" || signature lines.
  std::string serialize() const;

 private:
  Note() = default;
  std::string text_;
  std::vector<Signature> signatures_;
};

class Verifier {
 public:
  // Parses a vkey; kMalformed for bad syntax, kUnsupported for a type other than 0x01/0x04,
  // kInvalidArgument when the key id does not match the name and key.
  static Result<Verifier> parse(std::string_view vkey);
  static Result<Verifier> create(std::string name, std::uint8_t type, ByteView public_key);

  const std::string& name() const { return name_; }
  std::uint32_t key_id() const { return key_id_; }
  std::uint8_t type() const { return type_; }
  const Bytes& public_key() const { return public_key_; }
  std::string vkey() const;
  // "name+hexid", how messages refer to the key.
  std::string label() const;

 private:
  Verifier() = default;
  std::string name_;
  std::uint32_t key_id_ = 0;
  std::uint8_t type_ = 0;
  Bytes public_key_;
};

// Accepts the note when it carries a verifying type-0x01 signature by `v`.
// kCrypto "no signature by NAME+ID" when none matches, or naming the key whose matching
// signature failed.
Result<void> verify(const Note& note, const Verifier& v);

// Accepts a type-0x04 cosignature by `v` on a checkpoint note; returns its timestamp.
Result<std::uint64_t> verify_cosignature(const Note& note, const Verifier& v);

class Signer {
 public:
  // A fresh Ed25519 key of the given type (0x01 for a log, 0x04 for a cosigner).
  static Result<Signer> generate(std::string name, std::uint8_t type = kTypeEd25519);
  // Parses skey text (one trailing newline allowed). kMalformed / kInvalidArgument naming
  // what is wrong; never echoes the key.
  static Result<Signer> parse(const SecretBytes& skey);

  Signer(Signer&&) noexcept = default;
  Signer& operator=(Signer&&) noexcept = default;

  const Verifier& verifier() const { return verifier_; }
  // The skey text, in guarded memory.
  SecretBytes skey() const;

  // Type 0x01: Ed25519 over `text`.
  Result<Signature> sign(std::string_view text) const;
  // Type 0x04: timestamped cosignature over "cosignature/v1\ntime <t>\n" || text.
  Result<Signature> cosign(std::string_view checkpoint_text, std::uint64_t timestamp) const;

 private:
  Signer(Verifier v, SecretBytes sk) : verifier_(std::move(v)), secret_key_(std::move(sk)) {}
  Verifier verifier_;
  SecretBytes secret_key_;  // libsodium's 64-byte seed || public key
};

}  // namespace countersign::note
