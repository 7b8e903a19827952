#include "core/signed_note.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>

#include "core/sha256.h"

namespace countersign::note {

namespace {

constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";  // U+2014 em dash, space
constexpr std::string_view kSkeyPrefix = "PRIVATE+KEY+";
constexpr std::string_view kCosignHeader = "cosignature/v1\n";

Error malformed(const std::string& what) { return Error(Errc::kMalformed, "signed note: " + what); }

// Decodes one UTF-8 code point at s[i]; returns its length or 0 if invalid (overlong,
// surrogate, above U+10FFFF, truncated).
std::size_t decode_utf8(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  std::uint8_t c = b(i);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2, cp = c & 0x1fu, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3, cp = c & 0x0fu, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4, cp = c & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

bool is_unicode_space(std::uint32_t cp) {
  // Unicode White_Space property.
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
         cp == 0x3000;
}

// signed-note "Format": valid UTF-8, no ASCII control characters other than newline.
Result<void> check_characters(std::string_view s) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0)
      return malformed("line " + std::to_string(line) + ": invalid UTF-8 at byte " + std::to_string(i));
    if (cp == '\n') {
      ++line;
    } else if (cp < 0x20 || cp == 0x7f) {
      return malformed("line " + std::to_string(line) + ": control character at byte " + std::to_string(i));
    }
    i += n;
  }
  return {};
}

std::string hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

Result<std::uint32_t> parse_hex32(std::string_view s) {
  if (!is_lower_hex(s, 8))
    return Error(Errc::kMalformed, "key id \"" + std::string(s) + "\" is not 8 lowercase hex digits");
  std::uint32_t v = 0;
  for (char c : s) v = (v << 4) | static_cast<std::uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::string cosigned_message(std::string_view text, std::uint64_t timestamp) {
  // tlog-cosignature "Ed25519 signed message".
  std::string m(kCosignHeader);
  m += "time " + std::to_string(timestamp) + "\n";
  m += text;
  return m;
}

Result<void> ed25519_verify(const Bytes& public_key, ByteView sig, std::string_view message) {
  if (sig.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return Error(Errc::kCrypto, "signature is " + std::to_string(sig.size()) + " bytes, expected 64");
  }
  ensure_sodium_initialized();
  if (crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(), public_key.data()) != 0) {
    return Error(Errc::kCrypto, "Ed25519 signature does not verify");
  }
  return {};
}

// Finds the signatures matching v's name and key id (spec: ignore all others).
std::vector<const Signature*> matching(const Note& note, const Verifier& v) {
  std::vector<const Signature*> out;
  for (const auto& s : note.signatures()) {
    if (s.name == v.name() && s.key_id == v.key_id()) out.push_back(&s);
  }
  return out;
}

std::string others(const Note& note) {
  std::string list;
  for (const auto& s : note.signatures()) list += (list.empty() ? "" : ", ") + s.name + "+" + hex32(s.key_id);
  return list.empty() ? "none" : list;
}

}  // namespace

std::string Signature::line() const {
  Bytes raw;
  put_u32(raw, key_id);
  raw.insert(raw.end(), signature.begin(), signature.end());
  return std::string(kSigPrefix) + name + " " + base64_encode(raw) + "\n";
}

bool is_valid_key_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size();) {
    std::uint32_t cp = 0;
    std::size_t n = decode_utf8(name, i, cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || cp == '+' || is_unicode_space(cp)) return false;
    i += n;
  }
  return true;
}

std::uint32_t key_id(std::string_view name, std::uint8_t type, ByteView public_key) {
  // signed-note "Signatures": SHA-256(key name || 0x0A || type || public key)[:4], big-endian.
  Sha256 h;
  h.update(as_bytes(name));
  const std::uint8_t sep[2] = {0x0a, type};
  h.update(ByteView(sep, 2));
  h.update(public_key);
  Digest d = h.finish();
  return (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) | (std::uint32_t{d[2]} << 8) | d[3];
}

Result<Note> Note::parse(std::string_view s) {
  if (s.size() > kMaxNoteSize) return malformed("larger than " + std::to_string(kMaxNoteSize) + " bytes");
  CS_TRY_VOID(check_characters(s));
  if (s.empty() || s.back() != '\n') return malformed("does not end in a newline");
  // The text is separated from the signatures by the last empty line.
  std::size_t split = s.rfind("\n\n");
  if (split == std::string_view::npos) return malformed("no blank line before the signatures");
  Note note;
  note.text_ = std::string(s.substr(0, split + 1));
  std::string_view sigs = s.substr(split + 2);
  if (sigs.empty()) return malformed("no signature lines");
  std::size_t line_no = static_cast<std::size_t>(std::count(note.text_.begin(), note.text_.end(), '\n')) + 2;
  while (!sigs.empty()) {
    std::size_t nl = sigs.find('\n');  // present: the note ends in a newline
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    std::string where = "signature line " + std::to_string(line_no++);
    if (note.signatures_.size() >= kMaxSignatures) {
      return malformed("more than " + std::to_string(kMaxSignatures) + " signatures");
    }
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix)
      return malformed(where + ": does not start with \"— \"");
    line.remove_prefix(kSigPrefix.size());
    std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return malformed(where + ": no space between key name and signature");
    std::string_view name = line.substr(0, sp);
    if (!is_valid_key_name(name))
      return malformed(where + ": invalid key name \"" + std::string(name) + "\"");
    auto raw = base64_decode(line.substr(sp + 1));
    if (!raw.ok()) return malformed(where + ": signature is not base64");
    if (raw->size() < 5) return malformed(where + ": signature shorter than a key id and one byte");
    Signature sig;
    sig.name = std::string(name);
    sig.key_id = (std::uint32_t{(*raw)[0]} << 24) | (std::uint32_t{(*raw)[1]} << 16) |
                 (std::uint32_t{(*raw)[2]} << 8) | (*raw)[3];
    sig.signature.assign(raw->begin() + 4, raw->end());
    note.signatures_.push_back(std::move(sig));
  }
  return note;
}

Result<Note> Note::from_text(std::string text) {
  CS_TRY_VOID(check_characters(text));
  if (text.empty() || text.back() != '\n') return malformed("note text must end in a newline");
  if (text.size() >= 2 && text.substr(text.size() - 2) == "\n\n") {
    return malformed("note text must not end in a blank line");
  }
  Note n;
  n.text_ = std::move(text);
  return n;
}

std::string Note::serialize() const {
  std::string out = text_ + "\n";
  for (const auto& s : signatures_) out += s.line();
  return out;
}

Result<Verifier> Verifier::create(std::string name, std::uint8_t type, ByteView public_key) {
  if (!is_valid_key_name(name)) return Error(Errc::kInvalidArgument, "invalid key name \"" + name + "\"");
  if (type != kTypeEd25519 && type != kTypeCosignatureV1) {
    return Error(Errc::kUnsupported, "signature type 0x" + hex_encode(ByteView(&type, 1)) +
                                         " is not supported (only 0x01 Ed25519 and 0x04 cosignature/v1)");
  }
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return Error(Errc::kInvalidArgument,
                 "Ed25519 public key is " + std::to_string(public_key.size()) + " bytes, expected 32");
  }
  Verifier v;
  v.name_ = std::move(name);
  v.type_ = type;
  v.public_key_.assign(public_key.begin(), public_key.end());
  v.key_id_ = note::key_id(v.name_, type, public_key);
  return v;
}

Result<Verifier> Verifier::parse(std::string_view vkey) {
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) vkey.remove_suffix(1);
  auto bad = [&](const std::string& why) { return Error(Errc::kMalformed, "verifier key: " + why); };
  std::size_t p1 = vkey.find('+');
  std::size_t p2 = p1 == std::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos) return bad("expected NAME+KEYID+BASE64KEY");
  std::string_view name = vkey.substr(0, p1);
  auto id = parse_hex32(vkey.substr(p1 + 1, p2 - p1 - 1));
  if (!id.ok()) return bad(id.error().message);
  auto raw = base64_decode(vkey.substr(p2 + 1));
  if (!raw.ok() || raw->empty()) return bad("key is not base64");
  Bytes key(raw->begin() + 1, raw->end());
  auto v = create(std::string(name), (*raw)[0], key);
  if (!v.ok()) return v.error().with_context("verifier key");
  if (v->key_id() != *id) {
    return Error(Errc::kInvalidArgument, "verifier key: key id " + hex32(*id) +
                                             " does not match the name and key (" + hex32(v->key_id()) + ")");
  }
  return v;
}

std::string Verifier::vkey() const {
  Bytes raw{type_};
  raw.insert(raw.end(), public_key_.begin(), public_key_.end());
  return label() + "+" + base64_encode(raw);
}

std::string Verifier::label() const { return name_ + "+" + hex32(key_id_); }

Result<void> verify(const Note& note, const Verifier& v) {
  if (v.type() != kTypeEd25519)
    return Error(Errc::kInvalidArgument, v.label() + " is not an Ed25519 note key (type 0x01)");
  auto sigs = matching(note, v);
  if (sigs.empty()) {
    return Error(Errc::kCrypto, "no signature by " + v.label() + " (signed by: " + others(note) + ")");
  }
  for (const Signature* s : sigs) {
    auto ok = ed25519_verify(v.public_key(), s->signature, note.text());
    if (!ok.ok()) return Error(Errc::kCrypto, "signature by " + v.label() + " does not verify");
  }
  return {};
}

Result<std::uint64_t> verify_cosignature(const Note& note, const Verifier& v) {
  if (v.type() != kTypeCosignatureV1) {
    return Error(Errc::kInvalidArgument, v.label() + " is not a cosigner key (type 0x04)");
  }
  auto sigs = matching(note, v);
  if (sigs.empty())
    return Error(Errc::kCrypto, "no cosignature by " + v.label() + " (signed by: " + others(note) + ")");
  std::uint64_t ts = 0;
  for (const Signature* s : sigs) {
    // timestamped_signature: u64 big-endian timestamp || 64-byte Ed25519 signature.
    if (s->signature.size() != 8 + crypto_sign_BYTES) {
      return Error(Errc::kCrypto, "cosignature by " + v.label() + " is " +
                                      std::to_string(s->signature.size()) + " bytes, expected 72");
    }
    ts = 0;
    for (int i = 0; i < 8; ++i) ts = (ts << 8) | s->signature[static_cast<std::size_t>(i)];
    if (ts > (std::uint64_t{1} << 63) - 1)
      return Error(Errc::kCrypto, "cosignature timestamp exceeds 2^63-1");
    auto ok =
        ed25519_verify(v.public_key(), ByteView(s->signature).subspan(8), cosigned_message(note.text(), ts));
    if (!ok.ok()) return Error(Errc::kCrypto, "cosignature by " + v.label() + " does not verify");
  }
  return ts;
}

Result<Signer> Signer::generate(std::string name, std::uint8_t type) {
  ensure_sodium_initialized();
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  Bytes pk(crypto_sign_PUBLICKEYBYTES);
  if (crypto_sign_keypair(pk.data(), sk.data()) != 0)
    return Error(Errc::kInternal, "crypto_sign_keypair failed");
  CS_TRY(Verifier v, Verifier::create(std::move(name), type, pk));
  return Signer(std::move(v), std::move(sk));
}

Result<Signer> Signer::parse(const SecretBytes& skey) {
  std::string_view s(reinterpret_cast<const char*>(skey.data()), skey.size());
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  auto bad = [](const std::string& why) { return Error(Errc::kMalformed, "signer key: " + why); };
  if (s.substr(0, kSkeyPrefix.size()) != kSkeyPrefix) return bad("does not start with PRIVATE+KEY+");
  s.remove_prefix(kSkeyPrefix.size());
  std::size_t p1 = s.find('+');
  std::size_t p2 = p1 == std::string_view::npos ? p1 : s.find('+', p1 + 1);
  if (p2 == std::string_view::npos) return bad("expected PRIVATE+KEY+NAME+KEYID+BASE64KEY");
  std::string name(s.substr(0, p1));
  auto id = parse_hex32(s.substr(p1 + 1, p2 - p1 - 1));
  if (!id.ok()) return bad(id.error().message);
  std::string_view b64 = s.substr(p2 + 1);
  // Decode straight into guarded memory (type byte || 32-byte seed).
  ensure_sodium_initialized();
  SecretBytes raw(1 + crypto_sign_SEEDBYTES);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(raw.data(), raw.size(), b64.data(), b64.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size() || len != raw.size()) {
    return bad("key is not base64 of a type byte and a 32-byte seed");
  }
  std::uint8_t type = raw.data()[0];
  SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  Bytes pk(crypto_sign_PUBLICKEYBYTES);
  if (crypto_sign_seed_keypair(pk.data(), sk.data(), raw.data() + 1) != 0) {
    return Error(Errc::kInternal, "crypto_sign_seed_keypair failed");
  }
  auto v = Verifier::create(std::move(name), type, pk);
  if (!v.ok()) return v.error().with_context("signer key");
  if (v->key_id() != *id)
    return Error(Errc::kInvalidArgument, "signer key: key id does not match the name and key");
  return Signer(std::move(v).value(), std::move(sk));
}

SecretBytes Signer::skey() const {
  // base64(type || seed); the seed is the first 32 bytes of libsodium's secret key.
  SecretBytes raw(1 + crypto_sign_SEEDBYTES);
  raw.data()[0] = verifier_.type();
  std::copy(secret_key_.data(), secret_key_.data() + crypto_sign_SEEDBYTES, raw.data() + 1);
  std::size_t b64_len = sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL);
  SecretBytes b64(b64_len);
  sodium_bin2base64(reinterpret_cast<char*>(b64.data()), b64_len, raw.data(), raw.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  std::string head = std::string(kSkeyPrefix) + verifier_.label() + "+";
  SecretBytes out(head.size() + b64_len - 1 + 1);  // without the NUL, with a newline
  std::copy(head.begin(), head.end(), out.data());
  std::copy(b64.data(), b64.data() + b64_len - 1, out.data() + head.size());
  out.data()[out.size() - 1] = '\n';
  return out;
}

Result<Signature> Signer::sign(std::string_view text) const {
  if (verifier_.type() != kTypeEd25519)
    return Error(Errc::kInvalidArgument, verifier_.label() + " is a cosigner key");
  Signature s;
  s.name = verifier_.name();
  s.key_id = verifier_.key_id();
  s.signature.resize(crypto_sign_BYTES);
  crypto_sign_detached(s.signature.data(), nullptr, reinterpret_cast<const unsigned char*>(text.data()),
                       text.size(), secret_key_.data());
  return s;
}

Result<Signature> Signer::cosign(std::string_view checkpoint_text, std::uint64_t timestamp) const {
  if (verifier_.type() != kTypeCosignatureV1) {
    return Error(Errc::kInvalidArgument, verifier_.label() + " is not a cosigner key (type 0x04)");
  }
  if (timestamp > (std::uint64_t{1} << 63) - 1)
    return Error(Errc::kInvalidArgument, "timestamp exceeds 2^63-1");
  std::string msg = cosigned_message(checkpoint_text, timestamp);
  Signature s;
  s.name = verifier_.name();
  s.key_id = verifier_.key_id();
  for (int shift = 56; shift >= 0; shift -= 8)
    s.signature.push_back(static_cast<std::uint8_t>(timestamp >> shift));
  s.signature.resize(8 + crypto_sign_BYTES);
  crypto_sign_detached(s.signature.data() + 8, nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size(), secret_key_.data());
  return s;
}

}  // namespace countersign::note
