#include "core/keys.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <algorithm>
#include <string>

#include "core/openssl_util.h"
#include "core/secret.h"

namespace countersign {

namespace {

using detail::clear_openssl_errors;
using detail::MdCtxPtr;
using detail::openssl_failure;
using detail::PkeyCtxPtr;
using detail::PkeyPtr;

// The one DER encoding of a SubjectPublicKeyInfo we accept for each key type: everything
// before the key bytes is fixed (AlgorithmIdentifier with a named curve, BIT STRING header
// and, for EC, the 0x04 "uncompressed" marker). OpenSSL would also decode compressed or
// hybrid points and explicit curve parameters; each would give the same key a second key
// id, which would let one key pass as two approvers' keys (DESIGN.md: policy keys unique).
constexpr std::uint8_t kEd25519SpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                               0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 00 04 ... }
constexpr std::uint8_t kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
// SEQUENCE { SEQUENCE { id-ecPublicKey, secp384r1 }, BIT STRING 00 04 ... }
constexpr std::uint8_t kP384SpkiPrefix[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                            0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                            0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04};

enum class KeyType { kEd25519, kP256, kP384 };

KeyType key_type_for(Alg alg) {
  switch (alg) {
    case Alg::kEd25519:
    case Alg::kFido2EdDsa:
      return KeyType::kEd25519;
    case Alg::kEcdsaP256:
    case Alg::kFido2Es256:
      return KeyType::kP256;
    case Alg::kEcdsaP384:
      return KeyType::kP384;
  }
  std::abort();  // unreachable: every enumerator is handled above
}

struct SpkiShape {
  ByteView prefix;
  std::size_t key_bytes;  // bytes after the prefix
};

SpkiShape spki_shape(KeyType t) {
  switch (t) {
    case KeyType::kEd25519:
      return {kEd25519SpkiPrefix, 32};
    case KeyType::kP256:
      return {kP256SpkiPrefix, 64};
    case KeyType::kP384:
      return {kP384SpkiPrefix, 96};
  }
  std::abort();
}

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::kEd25519:
      return "an Ed25519 key";
    case KeyType::kP256:
      return "an EC key on P-256 (prime256v1)";
    case KeyType::kP384:
      return "an EC key on P-384 (secp384r1)";
  }
  std::abort();
}

// For error messages: what kind of key OpenSSL decoded.
std::string describe_key(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return "an Ed25519 key";
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1)
      return "an EC key with explicit parameters";
    std::string g(group, len);
    if (g == "prime256v1") return "an EC key on P-256 (prime256v1)";
    if (g == "secp384r1") return "an EC key on P-384 (secp384r1)";
    return "an EC key on " + g;
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return std::string("a key of type ") + (name != nullptr ? name : "unknown");
}

bool key_matches(EVP_PKEY* key, KeyType t) {
  if (t == KeyType::kEd25519) return EVP_PKEY_is_a(key, "ED25519") == 1;
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return false;
  std::string_view g(group, len);
  return t == KeyType::kP256 ? g == "prime256v1" : g == "secp384r1";
}

Error verify_failed() { return make_error(Errc::kCrypto, "signature does not verify"); }

// ECDSA over `message` with the curve's hash; the signature must be DER. OpenSSL decodes
// the signature, re-encodes it and compares, so BER variants (long-form lengths, extra
// leading zeros, trailing bytes) are refused, as Wycheproof checks.
Result<void> verify_ecdsa(EVP_PKEY* key, KeyType t, ByteView message, ByteView signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(Errc::kInternal, "out of memory (EVP_MD_CTX_new)");
  const EVP_MD* md = t == KeyType::kP384 ? EVP_sha384() : EVP_sha256();
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    return openssl_failure("verify_ecdsa: EVP_DigestVerifyInit");
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  clear_openssl_errors();
  if (rc != 1) return verify_failed();
  return {};
}

Result<void> verify_ed25519(const std::array<std::uint8_t, 32>& key, ByteView message, ByteView signature) {
  if (signature.size() != crypto_sign_BYTES) return verify_failed();
  // libsodium (1.0.18, not ED25519_COMPAT) also refuses non-canonical S, small-order R and
  // small-order or non-canonical public keys: the strict verification RFC 8032 permits.
  if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) != 0) {
    return verify_failed();
  }
  return {};
}

}  // namespace

std::string_view alg_name(Alg alg) {
  switch (alg) {
    case Alg::kEd25519:
      return "ed25519";
    case Alg::kEcdsaP256:
      return "ecdsa-p256";
    case Alg::kEcdsaP384:
      return "ecdsa-p384";
    case Alg::kFido2Es256:
      return "fido2-es256";
    case Alg::kFido2EdDsa:
      return "fido2-eddsa";
  }
  std::abort();
}

Result<Alg> alg_from_name(std::string_view name) {
  for (Alg a : {Alg::kEd25519, Alg::kEcdsaP256, Alg::kEcdsaP384, Alg::kFido2Es256, Alg::kFido2EdDsa}) {
    if (alg_name(a) == name) return a;
  }
  return make_error(Errc::kMalformed,
                    "unknown algorithm \"" + std::string(name) +
                        "\" (expected ed25519, ecdsa-p256, ecdsa-p384, fido2-es256 or fido2-eddsa)");
}

bool is_fido2(Alg alg) { return alg == Alg::kFido2Es256 || alg == Alg::kFido2EdDsa; }

namespace {
constexpr std::string_view kVetoContext = "countersign/veto/v1";
constexpr std::string_view kLivenessContext = "countersign/liveness/v1";
}  // namespace

std::string_view signing_context(Statement s) {
  switch (s) {
    case Statement::kApproval:
      return kSigningContext;
    case Statement::kVeto:
      return kVetoContext;
    case Statement::kLiveness:
      return kLivenessContext;
  }
  return kSigningContext;
}

std::string_view statement_noun(Statement s) {
  switch (s) {
    case Statement::kApproval:
      return "approval";
    case Statement::kVeto:
      return "veto";
    case Statement::kLiveness:
      return "liveness proof";
  }
  return "approval";
}

SigningInput signing_input(Statement statement, const Digest& digest) {
  const std::string_view context = signing_context(statement);
  SigningInput out(context.begin(), context.end());
  out.push_back(0x00);
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

Result<PublicKey> PublicKey::parse(Alg alg, ByteView spki_der) {
  const KeyType want = key_type_for(alg);
  // Far above any key we accept; keeps the length within OpenSSL's `long`.
  if (spki_der.empty() || spki_der.size() > 4096) {
    return make_error(Errc::kMalformed, "public key is not SubjectPublicKeyInfo DER (length " +
                                            std::to_string(spki_der.size()) + ")");
  }
  const unsigned char* p = spki_der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) {
    clear_openssl_errors();
    return make_error(Errc::kMalformed,
                      "public key is not SubjectPublicKeyInfo DER, or its point is not on the curve");
  }
  const auto consumed = static_cast<std::size_t>(p - spki_der.data());
  if (consumed != spki_der.size()) {
    return make_error(Errc::kMalformed, "public key has " + std::to_string(spki_der.size() - consumed) +
                                            " trailing bytes after the SubjectPublicKeyInfo");
  }
  if (!key_matches(key.get(), want)) {
    return make_error(Errc::kInvalidArgument, "algorithm " + std::string(alg_name(alg)) + " needs " +
                                                  key_type_name(want) + ", but the public key is " +
                                                  describe_key(key.get()));
  }
  const SpkiShape shape = spki_shape(want);
  if (spki_der.size() != shape.prefix.size() + shape.key_bytes ||
      !std::equal(shape.prefix.begin(), shape.prefix.end(), spki_der.begin())) {
    return make_error(Errc::kMalformed,
                      "public key is not in canonical form (DER SubjectPublicKeyInfo with a named curve and, "
                      "for EC, an uncompressed point)");
  }

  PublicKey out;
  if (want == KeyType::kEd25519) {
    std::size_t len = out.ed25519_raw_.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), out.ed25519_raw_.data(), &len) != 1 ||
        len != out.ed25519_raw_.size()) {
      return openssl_failure("PublicKey::parse: EVP_PKEY_get_raw_public_key");
    }
    ensure_sodium_initialized();
    // OpenSSL takes any 32 bytes as an Ed25519 key. Honest key generation only yields
    // canonical encodings of prime-order points; anything else (small order, mixed order,
    // not on the curve) can only come from a mistake or an attack.
    if (crypto_core_ed25519_is_valid_point(out.ed25519_raw_.data()) != 1) {
      return make_error(Errc::kCrypto, "Ed25519 public key is not a valid point of the prime-order subgroup");
    }
  } else {
    // OpenSSL 3 already checks on decode that the point is on the curve; the full check
    // also refuses the point at infinity and points outside the prime-order group.
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!ctx) {
      clear_openssl_errors();
      return make_error(Errc::kInternal, "out of memory (EVP_PKEY_CTX_new_from_pkey)");
    }
    if (EVP_PKEY_public_check(ctx.get()) != 1) {
      clear_openssl_errors();
      return make_error(Errc::kCrypto, "EC public key is not a valid point of the curve");
    }
  }
  out.alg_ = alg;
  out.spki_.assign(spki_der.begin(), spki_der.end());
  out.id_ = hex_encode(sha256(ByteView(out.spki_)));
  out.pkey_ = std::shared_ptr<EVP_PKEY>(std::move(key));
  return out;
}

Result<PublicKey> PublicKey::from_raw(Alg alg, ByteView raw) {
  const KeyType t = key_type_for(alg);
  const SpkiShape shape = spki_shape(t);
  // For EC the prefix ends with the 0x04 marker, which `raw` carries itself.
  const std::size_t want = t == KeyType::kEd25519 ? shape.key_bytes : shape.key_bytes + 1;
  if (raw.size() != want || (t != KeyType::kEd25519 && raw[0] != 0x04)) {
    return make_error(Errc::kMalformed, "raw public key for " + std::string(alg_name(alg)) + " must be " +
                                            std::to_string(want) +
                                            (t == KeyType::kEd25519 ? " bytes" : " bytes (0x04 || X || Y)") +
                                            ", got " + std::to_string(raw.size()) + " bytes");
  }
  Bytes der(shape.prefix.begin(), shape.prefix.end());
  der.insert(der.end(), raw.begin() + (t == KeyType::kEd25519 ? 0 : 1), raw.end());
  return parse(alg, der);
}

namespace detail {

Result<void> verify_primitive(const PublicKey& key, ByteView message, ByteView signature) {
  const KeyType t = key_type_for(key.alg_);
  if (t == KeyType::kEd25519) {
    ensure_sodium_initialized();
    return verify_ed25519(key.ed25519_raw_, message, signature);
  }
  return verify_ecdsa(key.pkey_.get(), t, message, signature);
}

}  // namespace detail

Result<void> PublicKey::verify(ByteView signing_input, ByteView signature, ByteView authenticator_data,
                               bool require_uv) const {
  if (!is_fido2(alg_)) {
    if (!authenticator_data.empty()) {
      return make_error(Errc::kCrypto, "authenticator data is only valid with FIDO2 signatures, not " +
                                           std::string(alg_name(alg_)));
    }
    return detail::verify_primitive(*this, signing_input, signature);
  }

  // WebAuthn Level 2, 6.1 "Authenticator Data": rpIdHash (32) || flags (1) || signCount (4)
  // || optional attested credential data and extensions, all covered by the signature.
  constexpr std::size_t kRpIdHashLen = 32;
  constexpr std::size_t kMinAuthDataLen = kRpIdHashLen + 1 + 4;
  constexpr std::uint8_t kFlagUserPresent = 0x01;
  constexpr std::uint8_t kFlagUserVerified = 0x04;
  // Structure and flags are checked before any crypto (STYLE.md "Signed bytes"); a tampered
  // authenticatorData that passes them still fails the signature below.
  if (authenticator_data.size() < kMinAuthDataLen) {
    return make_error(Errc::kCrypto, "authenticator data too short (" +
                                         std::to_string(authenticator_data.size()) + " bytes, at least " +
                                         std::to_string(kMinAuthDataLen) + " needed)");
  }
  const Digest rp_hash = sha256(kFido2RpId);
  const ByteView got_rp = authenticator_data.first(kRpIdHashLen);
  if (!std::equal(rp_hash.begin(), rp_hash.end(), got_rp.begin())) {
    return make_error(Errc::kCrypto, "authenticator data is for relying party with rpIdHash " +
                                         hex_encode(got_rp) + ", not " + std::string(kFido2RpId));
  }
  const std::uint8_t flags = authenticator_data[kRpIdHashLen];
  if ((flags & kFlagUserPresent) == 0) return make_error(Errc::kCrypto, "user presence flag not set");
  if (require_uv && (flags & kFlagUserVerified) == 0) {
    return make_error(Errc::kCrypto,
                      "user verification required by the policy key but the UV flag is not set");
  }

  // The authenticator signs authenticatorData || clientDataHash; our clientDataHash is
  // SHA-256(signing input) (DESIGN.md "What exactly is signed").
  const Digest client_data_hash = sha256(signing_input);
  Bytes message(authenticator_data.begin(), authenticator_data.end());
  message.insert(message.end(), client_data_hash.begin(), client_data_hash.end());
  return detail::verify_primitive(*this, message, signature);
}

}  // namespace countersign
