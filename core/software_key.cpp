#include "core/software_key.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/fileio.h"
#include "core/jcs.h"
#include "core/json_reader.h"
#include "core/openssl_util.h"
#include "core/secret_prompt.h"

namespace countersign {

namespace {

constexpr std::string_view kSchema = "countersign/secret-key/v1";
constexpr std::string_view kKdfName = "argon2id13";
constexpr std::string_view kCipherName = "xchacha20poly1305-ietf";
constexpr std::size_t kSecretLen = 32;  // Ed25519 seed or P-256 scalar
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

// Argon2id cost bounds accepted when loading. The upper bounds (libsodium's "sensitive"
// memory, a generous number of passes) keep a crafted key file from making us allocate
// gigabytes or spin for minutes before the passphrase is even checked.
constexpr unsigned long long kMinOpslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
constexpr unsigned long long kMaxOpslimit = 32;
constexpr std::size_t kMinMemlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
constexpr std::size_t kMaxMemlimit = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;

std::atomic<unsigned long long> g_opslimit{crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE};
std::atomic<std::size_t> g_memlimit{crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};

using detail::BnCtxPtr;
using detail::EcGroupPtr;
using detail::EcPointPtr;
using detail::MdCtxPtr;
using detail::openssl_failure;
using detail::ParamBldPtr;
using detail::ParamPtr;
using detail::PkeyCtxPtr;
using detail::PkeyPtr;
using detail::SecretBnPtr;

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  randombytes_buf(out.data(), out.size());
  return out;
}

// Builds OpenSSL's P-256 key pair from the 32-byte big-endian scalar and returns it with
// the uncompressed public point. Refuses scalars outside [1, n-1].
Result<std::pair<PkeyPtr, Bytes>> make_p256_key(const SecretBytes& scalar) {
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  // BN_secure_new: secure heap where configured, and marks the number secret so copies
  // made by OSSL_PARAM_BLD are wiped too; BN_clear_free wipes it here.
  SecretBnPtr d(BN_secure_new());
  if (!group || !bn_ctx || !d) return openssl_failure("P-256 key setup");
  BN_set_flags(d.get(), BN_FLG_CONSTTIME);
  if (BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), d.get()) == nullptr) {
    return openssl_failure("BN_bin2bn");
  }
  // A comparison with the (public) group order; only rejection-sampling candidates and
  // damaged backups ever fail it.
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return make_error(Errc::kInvalidArgument, "not a P-256 private key: the scalar must be in 1..n-1");
  }
  EcPointPtr q(EC_POINT_new(group.get()));
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1) {
    return openssl_failure("EC_POINT_mul");
  }
  Bytes point(65);
  if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(),
                         bn_ctx.get()) != point.size()) {
    return openssl_failure("EC_POINT_point2oct");
  }

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return openssl_failure("OSSL_PARAM_BLD_push");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1)
    return openssl_failure("EVP_PKEY_fromdata_init");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return openssl_failure("EVP_PKEY_fromdata");
  }
  return std::make_pair(PkeyPtr(raw), std::move(point));
}

// ---------------------------------------------------------------------------------------
// Key file I/O.

Result<std::string> read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return make_error(e == ENOENT ? Errc::kNotFound : Errc::kIo,
                      "cannot open " + path + ": " + std::strerror(e));
  }
  std::string text(kMaxKeyFileSize + 1, '\0');
  std::size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = ::read(fd, text.data() + len, text.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return make_error(Errc::kIo, "cannot read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (len > kMaxKeyFileSize) return make_error(Errc::kMalformed, path + " is too large to be a key file");
  text.resize(len);
  return text;
}

// ---------------------------------------------------------------------------------------
// Key file parsing. The file is not a signed document, but it is read as strictly: every
// member known, typed and in range before the (slow) key derivation runs.

// Key files predate ObjectReader: their errors have always been kMalformed and name fields
// the way the file's documentation does ("kdf.salt: ..."). ObjectReader reports
// kInvalidDocument with a JSON pointer ("key file /kdf/salt: ..."); this is the one place
// that turns the one into the other.
constexpr std::string_view kDocName = "key file";

Error key_file_error(Error e) {
  if (e.code != Errc::kInvalidDocument) return e;
  e.code = Errc::kMalformed;
  // document_error wrote "<doc> <pointer>: <message>"; keep "<a.b>: <message>".
  const std::string prefix = std::string(kDocName) + " /";
  if (e.message.rfind(prefix, 0) == 0) {
    const std::size_t end = e.message.find(": ", prefix.size());
    std::string field =
        e.message.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size());
    std::replace(field.begin(), field.end(), '/', '.');
    e.message = field + (end == std::string::npos ? std::string() : e.message.substr(end));
  }
  return e;
}

struct KdfParams {
  unsigned long long opslimit = 0;
  std::size_t memlimit = 0;
  Bytes salt;
};

Result<SecretBytes> derive_key(const SecretBytes& passphrase, const KdfParams& kdf) {
  SecretBytes key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(passphrase.data()),
                    passphrase.size(), kdf.salt.data(), kdf.opslimit, kdf.memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(Errc::kInternal,
                      "cannot derive the key from the passphrase: out of memory (Argon2id needs " +
                          std::to_string(kdf.memlimit / (1024 * 1024)) + " MiB)");
  }
  return key;
}

nlohmann::json kdf_json(const KdfParams& kdf) {
  return {{"name", kKdfName},
          {"opslimit", static_cast<std::uint64_t>(kdf.opslimit)},
          {"memlimit", static_cast<std::uint64_t>(kdf.memlimit)},
          {"salt", base64_encode(kdf.salt)}};
}

// The additional data: the JCS bytes of the document without "encryption".
Result<std::string> additional_data(const nlohmann::json& doc) {
  nlohmann::json header = doc;
  header.erase("encryption");
  auto aad = jcs::serialize(header);
  if (!aad.ok()) return std::move(aad).error().with_context("key file");
  return std::move(aad).value();
}

}  // namespace

// ---------------------------------------------------------------------------------------

struct SoftwareKey::State {
  Alg alg = Alg::kEd25519;
  SecretBytes secret;      // the 32-byte seed or scalar: what backups and the file hold
  SecretBytes ed25519_sk;  // libsodium's 64-byte form (seed || public key), Ed25519 only
  PkeyPtr ec;              // OpenSSL's copy of the P-256 key; EVP_PKEY_free clears it
  std::optional<PublicKey> pub;
};

SoftwareKey::SoftwareKey(std::unique_ptr<State> s) : s_(std::move(s)) {}
SoftwareKey::~SoftwareKey() = default;
SoftwareKey::SoftwareKey(SoftwareKey&&) noexcept = default;
SoftwareKey& SoftwareKey::operator=(SoftwareKey&&) noexcept = default;

void SoftwareKey::set_kdf_limits_for_tests(unsigned long long opslimit, std::size_t memlimit) {
  g_opslimit = opslimit;
  g_memlimit = memlimit;
}

const PublicKey& SoftwareKey::public_key() const { return *s_->pub; }
const SecretBytes& SoftwareKey::secret() const { return s_->secret; }

Result<SoftwareKey> SoftwareKey::from_secret(Alg alg, const SecretBytes& secret) {
  ensure_sodium_initialized();
  if (alg != Alg::kEd25519 && alg != Alg::kEcdsaP256) {
    return make_error(Errc::kUnsupported,
                      "software keys are ed25519 or ecdsa-p256, not " + std::string(alg_name(alg)));
  }
  if (secret.size() != kSecretLen) {
    return make_error(
        Errc::kInvalidArgument,
        "a " + std::string(alg_name(alg)) + " private key is 32 bytes, not " + std::to_string(secret.size()));
  }
  auto s = std::make_unique<State>();
  s->alg = alg;
  s->secret = SecretBytes::copy_of(secret.view());
  if (alg == Alg::kEd25519) {
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
    s->ed25519_sk = SecretBytes(crypto_sign_SECRETKEYBYTES);
    if (crypto_sign_seed_keypair(pk.data(), s->ed25519_sk.data(), s->secret.data()) != 0) {
      return make_error(Errc::kInternal, "crypto_sign_seed_keypair failed");
    }
    CS_TRY(PublicKey pub, PublicKey::from_raw(alg, pk));
    s->pub.emplace(std::move(pub));
  } else {
    CS_TRY(auto key_and_point, make_p256_key(s->secret));
    s->ec = std::move(key_and_point.first);
    CS_TRY(PublicKey pub, PublicKey::from_raw(alg, key_and_point.second));
    s->pub.emplace(std::move(pub));
  }
  return SoftwareKey(std::move(s));
}

Result<SoftwareKey> SoftwareKey::generate(Alg alg) {
  ensure_sodium_initialized();
  if (alg != Alg::kEd25519 && alg != Alg::kEcdsaP256) {
    return make_error(Errc::kUnsupported, "software keys are ed25519 or ecdsa-p256; " +
                                              std::string(alg_name(alg)) + " keys live on hardware");
  }
  // Ed25519 takes any 32-byte seed. A P-256 scalar must be below the group order; a random
  // 32 bytes is not about once in 2^32 tries, so draw again (rejection sampling keeps the
  // scalar uniform).
  for (int attempt = 0; attempt < 64; ++attempt) {
    SecretBytes secret(kSecretLen);
    randombytes_buf(secret.data(), secret.size());
    auto key = from_secret(alg, secret);
    if (key.ok() || key.error().code != Errc::kInvalidArgument) return key;
  }
  return make_error(Errc::kInternal, "the random number generator keeps producing invalid P-256 scalars");
}

Result<SignatureValue> SoftwareKey::sign(ByteView signing_input) {
  SignatureValue out;
  if (s_->alg == Alg::kEd25519) {
    out.signature.resize(crypto_sign_BYTES);
    if (crypto_sign_detached(out.signature.data(), nullptr, signing_input.data(), signing_input.size(),
                             s_->ed25519_sk.data()) != 0) {
      return make_error(Errc::kInternal, "crypto_sign_detached failed");
    }
  } else {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, s_->ec.get()) != 1) {
      return openssl_failure("EVP_DigestSignInit");
    }
    std::size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, signing_input.data(), signing_input.size()) != 1) {
      return openssl_failure("EVP_DigestSign");
    }
    out.signature.resize(len);
    if (EVP_DigestSign(ctx.get(), out.signature.data(), &len, signing_input.data(), signing_input.size()) !=
        1) {
      return openssl_failure("EVP_DigestSign");
    }
    out.signature.resize(len);  // DER length varies with the values of r and s
  }
  // Check before releasing: a fault or bug that yields a bad signature must not pass as a
  // vote (and a faulty ECDSA signature can leak the key to whoever sees it).
  auto check = s_->pub->verify(signing_input, out.signature);
  if (!check.ok())
    return make_error(Errc::kInternal, "the signature just made does not verify; not using it");
  return out;
}

Result<void> SoftwareKey::save(const std::string& path, const SecretBytes& passphrase, bool overwrite) const {
  if (passphrase.empty()) {
    return make_error(Errc::kInvalidArgument, "refusing to encrypt a key file with an empty passphrase");
  }
  struct stat st {};
  if (!overwrite && ::lstat(path.c_str(), &st) == 0) {
    // Checked here too so that the user hears it before the slow key derivation.
    return make_error(Errc::kInvalidArgument, path + " already exists; not overwriting it");
  }
  KdfParams kdf{g_opslimit.load(), g_memlimit.load(), random_bytes(crypto_pwhash_SALTBYTES)};
  nlohmann::json doc = {{"schema", kSchema},
                        {"alg", alg_name(s_->alg)},
                        {"public_key", base64_encode(s_->pub->spki())},
                        {"kdf", kdf_json(kdf)}};
  CS_TRY(std::string aad, additional_data(doc));
  CS_TRY(SecretBytes key, derive_key(passphrase, kdf));
  const Bytes nonce = random_bytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  Bytes ciphertext(s_->secret.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(ciphertext.data(), &clen, s_->secret.data(), s_->secret.size(),
                                             as_bytes(aad).data(), aad.size(), nullptr, nonce.data(),
                                             key.data());
  ciphertext.resize(static_cast<std::size_t>(clen));
  doc["encryption"] = {
      {"name", kCipherName}, {"nonce", base64_encode(nonce)}, {"ciphertext", base64_encode(ciphertext)}};
  return write_file_atomic(path, doc.dump(2) + "\n", 0600, /*exclusive=*/!overwrite);
}

namespace {

// A key file's contents, checked but not yet decrypted.
struct KeyFile {
  Alg alg = Alg::kEd25519;
  Bytes spki;  // public key as the file claims it (validated); authenticated only by decryption
  KdfParams kdf;
  Bytes nonce;
  Bytes ciphertext;
  std::string aad;
};

// Base64 member of an exact decoded length.
Result<Bytes> sized_base64(ObjectReader& obj, std::string_view key, std::size_t want_len) {
  CS_TRY(Bytes bytes, obj.base64(key));
  if (bytes.size() != want_len) {
    return obj.error(key,
                     "expected " + std::to_string(want_len) + " bytes, got " + std::to_string(bytes.size()));
  }
  return bytes;
}

// The key file's members, read with ObjectReader.
Result<KeyFile> read_key_fields(const nlohmann::json& doc) {
  CS_TRY(ObjectReader top, ObjectReader::open(doc, kDocName, ""));
  // Schema first, so that some other document given by mistake is named as such.
  CS_TRY_VOID(top.expect_schema(kSchema));

  KeyFile out;
  CS_TRY(std::string alg_text, top.string("alg"));
  auto alg = alg_from_name(alg_text);
  if (!alg.ok()) return top.error("alg", alg.error().message);
  if (*alg != Alg::kEd25519 && *alg != Alg::kEcdsaP256) {
    return top.error("alg", "software keys are ed25519 or ecdsa-p256, not " + alg_text);
  }
  out.alg = *alg;
  CS_TRY(out.spki, top.base64("public_key"));
  auto pub = PublicKey::parse(out.alg, out.spki);
  if (!pub.ok()) return top.error("public_key", pub.error().message);

  CS_TRY(const nlohmann::json* kdf_doc, top.object("kdf"));
  CS_TRY(ObjectReader kdf, ObjectReader::open(*kdf_doc, kDocName, top.child("kdf")));
  CS_TRY(std::string kdf_name, kdf.string("name"));
  if (kdf_name != kKdfName) {
    return kdf.error("name", "unknown key derivation \"" + kdf_name + "\" (expected argon2id13)");
  }
  CS_TRY(std::uint64_t ops, kdf.integer("opslimit", kMinOpslimit, kMaxOpslimit));
  CS_TRY(std::uint64_t mem, kdf.integer("memlimit", kMinMemlimit, kMaxMemlimit));
  CS_TRY(out.kdf.salt, sized_base64(kdf, "salt", crypto_pwhash_SALTBYTES));
  CS_TRY_VOID(kdf.finish());
  out.kdf.opslimit = static_cast<unsigned long long>(ops);
  out.kdf.memlimit = static_cast<std::size_t>(mem);

  CS_TRY(const nlohmann::json* enc_doc, top.object("encryption"));
  CS_TRY(ObjectReader enc, ObjectReader::open(*enc_doc, kDocName, top.child("encryption")));
  CS_TRY(std::string enc_name, enc.string("name"));
  if (enc_name != kCipherName) {
    return enc.error("name", "unknown cipher \"" + enc_name + "\" (expected xchacha20poly1305-ietf)");
  }
  CS_TRY(out.nonce, sized_base64(enc, "nonce", crypto_aead_xchacha20poly1305_ietf_NPUBBYTES));
  CS_TRY(out.ciphertext,
         sized_base64(enc, "ciphertext", kSecretLen + crypto_aead_xchacha20poly1305_ietf_ABYTES));
  CS_TRY_VOID(enc.finish());
  CS_TRY_VOID(top.finish());
  CS_TRY(out.aad, additional_data(doc));
  return out;
}

// Errors name the field but not the file; callers add the path.
Result<KeyFile> parse_key_file(const std::string& text) {
  auto parsed = jcs::parse(text);
  if (!parsed.ok()) return make_error(Errc::kMalformed, parsed.error().message);
  auto file = read_key_fields(*parsed);
  if (!file.ok()) return key_file_error(std::move(file).error());
  return file;
}

}  // namespace

Result<PublicKey> SoftwareKey::read_public(const std::string& path) {
  CS_TRY(std::string text, read_key_file(path));
  return public_key_of_text(text);
}

Result<PublicKey> SoftwareKey::public_key_of_text(const std::string& text) {
  CS_TRY(KeyFile file, parse_key_file(text));
  return PublicKey::parse(file.alg, file.spki);
}

Result<SoftwareKey> SoftwareKey::load(const std::string& path, const SecretBytes& passphrase) {
  ensure_sodium_initialized();
  CS_TRY(std::string text, read_key_file(path));
  auto parsed = parse_key_file(text);
  if (!parsed.ok()) return parsed.error().with_context(path);
  const KeyFile& file = *parsed;

  // Every field is checked before the deliberately slow key derivation.
  CS_TRY(SecretBytes key, derive_key(passphrase, file.kdf));
  SecretBytes secret(kSecretLen);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret.data(), &mlen, nullptr, file.ciphertext.data(),
                                                 file.ciphertext.size(), as_bytes(file.aad).data(),
                                                 file.aad.size(), file.nonce.data(), key.data()) != 0 ||
      mlen != kSecretLen) {
    return make_error(Errc::kWrongPassphrase, path + ": wrong passphrase (or the key file was modified)");
  }
  CS_TRY(SoftwareKey loaded, from_secret(file.alg, secret));
  // Authenticated, so this only fails for a file written inconsistently by someone who had
  // the passphrase; still, never sign under a key other than the one the file names.
  if (loaded.public_key().spki() != file.spki) {
    return make_error(Errc::kMalformed, "public_key: does not match the private key").with_context(path);
  }
  return loaded;
}

Result<SecretBytes> obtain_passphrase(const std::string& file, const char* env_var, const std::string& prompt,
                                      bool confirm) {
  if (!file.empty()) {
    CS_TRY(SecretBytes s, read_secret_file(file));
    if (s.empty()) return make_error(Errc::kInvalidArgument, "the passphrase file " + file + " is empty");
    return s;
  }
  if (env_var != nullptr) {
    // getenv's string stays in the process environment; we cannot wipe it, only avoid
    // making more copies of it outside guarded memory.
    if (const char* value = std::getenv(env_var); value != nullptr) {
      SecretBytes s = SecretBytes::copy_of(as_bytes(value));
      if (s.empty()) {
        return make_error(Errc::kInvalidArgument,
                          "the environment variable " + std::string(env_var) + " is empty");
      }
      return s;
    }
  }
  CS_TRY(SecretBytes first, prompt_secret(prompt));
  if (first.empty())
    return make_error(Errc::kInvalidArgument, "the passphrase is empty; a key needs a passphrase");
  if (confirm) {
    CS_TRY(SecretBytes second, prompt_secret("Repeat to confirm: "));
    if (!constant_time_equal(first.view(), second.view())) {
      return make_error(Errc::kInvalidArgument, "the two passphrases do not match");
    }
  }
  return first;
}

}  // namespace countersign
