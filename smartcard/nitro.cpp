#include "smartcard/nitro.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "core/x509.h"
#include "smartcard/attestation_roots.h"
#include "smartcard/cbor_reader.h"

namespace countersign::nitro {
namespace {

constexpr std::int64_t kCoseAlgEs384 = -35;  // RFC 9053 section 2.1
constexpr std::uint64_t kTagCoseSign1 = 18;  // RFC 9052 section 2
constexpr std::size_t kSignatureSize = 96;   // ES384: r || s, 48 bytes each (RFC 9053 2.1)

Error at_byte(Errc code, std::size_t at, const std::string& what) {
  return make_error(code, "nitro attestation: " + what + " at byte " + std::to_string(at));
}

// Reads the payload map; `base` is the payload's offset in the document, so that every
// error names a byte of the document.
class PayloadReader {
 public:
  PayloadReader(ByteView payload, std::size_t base) : r_(payload), base_(base) {}

  Result<void> read(Document& d) {
    const std::size_t map_at = where();
    CS_TRY(std::uint64_t n, wrap(r_.map(), "the payload"));
    if (n > kFieldCount)
      return at_byte(Errc::kInvalidDocument, map_at,
                     "the payload has " + std::to_string(n) + " fields, more than the 9 it may have");
    unsigned seen = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::size_t key_at = where();
      CS_TRY(ByteView key_bytes, wrap(r_.text(), "a payload key"));
      const std::string_view key(reinterpret_cast<const char*>(key_bytes.data()), key_bytes.size());
      const auto it = std::find(std::begin(kFields), std::end(kFields), key);
      if (it == std::end(kFields)) {
        return at_byte(Errc::kInvalidDocument, key_at, "unknown payload field \"" + printable(key) + "\"");
      }
      const auto index = static_cast<unsigned>(it - std::begin(kFields));
      if ((seen & (1u << index)) != 0) {
        return at_byte(Errc::kMalformed, key_at, "payload field \"" + std::string(key) + "\" repeated");
      }
      seen |= 1u << index;
      CS_TRY_VOID(field(index, d));
    }
    for (unsigned i = 0; i < kRequired; ++i) {
      if ((seen & (1u << i)) == 0) {
        return at_byte(Errc::kMalformed, map_at,
                       std::string("the payload has no \"") + std::string(kFields[i]) + "\"");
      }
    }
    if (!r_.at_end()) return at_byte(Errc::kMalformed, where(), "bytes after the payload map");
    return {};
  }

 private:
  // The first kRequired fields must be present; the rest may be.
  static constexpr std::string_view kFields[] = {"module_id",  "digest",      "timestamp",
                                                 "pcrs",       "certificate", "cabundle",
                                                 "public_key", "user_data",   "nonce"};
  static constexpr unsigned kRequired = 6;
  static constexpr std::uint64_t kFieldCount = std::size(kFields);

  std::size_t where() const { return base_ + r_.offset(); }

  static std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
      const auto u = static_cast<unsigned char>(c);
      out += (u >= 0x20 && u < 0x7f && c != '\\' && c != '"') ? std::string(1, c)
                                                              : "\\x" + hex_encode(ByteView(&u, 1));
    }
    return s.size() > 64 ? out + "..." : out;
  }

  // A reader error, in terms of the document.
  template <typename T>
  Result<T> wrap(Result<T> r, const std::string& what) const {
    if (r.ok()) return r;
    return make_error(r.error().code, "nitro attestation: " + what + ": " + r.error().message +
                                          " of the payload, which starts at byte " + std::to_string(base_));
  }

  Result<ByteView> bounded_bytes(const char* name, std::size_t min, std::size_t max) {
    const std::size_t at = where();
    CS_TRY(ByteView b, wrap(r_.bytes(), std::string("\"") + name + "\""));
    if (b.size() < min || b.size() > max) {
      return at_byte(Errc::kInvalidDocument, at,
                     std::string("\"") + name + "\" of " + std::to_string(b.size()) +
                         " bytes (allowed: " + std::to_string(min) + " to " + std::to_string(max) + ")");
    }
    return b;
  }

  Result<std::optional<Bytes>> optional_bytes(const char* name) {
    if (r_.skip_null()) return std::optional<Bytes>{};
    CS_TRY(ByteView b, bounded_bytes(name, 0, kMaxOptionalField));
    return std::optional<Bytes>(Bytes(b.begin(), b.end()));
  }

  Result<void> field(unsigned index, Document& d) {
    const std::size_t at = where();
    switch (index) {
      case 0: {
        CS_TRY(ByteView t, wrap(r_.text(), "\"module_id\""));
        if (t.empty() || t.size() > kMaxModuleId) {
          return at_byte(Errc::kInvalidDocument, at,
                         "\"module_id\" of " + std::to_string(t.size()) + " bytes (allowed: 1 to " +
                             std::to_string(kMaxModuleId) + ")");
        }
        d.module_id.assign(t.begin(), t.end());
        return {};
      }
      case 1: {
        CS_TRY(ByteView t, wrap(r_.text(), "\"digest\""));
        const std::string_view v(reinterpret_cast<const char*>(t.data()), t.size());
        if (v != "SHA384")
          return at_byte(Errc::kUnsupported, at, "\"digest\" is \"" + printable(v) + "\", not \"SHA384\"");
        return {};
      }
      case 2: {
        CS_TRY(cbor::Head h, wrap(r_.head(), "\"timestamp\""));
        if (h.major != cbor::Major::kUnsigned || h.argument == 0 || h.argument > (std::uint64_t{1} << 53)) {
          return at_byte(Errc::kMalformed, at, "\"timestamp\" is not a positive integer of milliseconds");
        }
        d.timestamp_ms = static_cast<std::int64_t>(h.argument);
        return {};
      }
      case 3:
        return pcrs(d);
      case 4: {
        CS_TRY(ByteView c, bounded_bytes("certificate", 1, kMaxCertificate));
        d.certificate.assign(c.begin(), c.end());
        return {};
      }
      case 5: {
        CS_TRY(std::uint64_t n, wrap(r_.array(), "\"cabundle\""));
        if (n < 1 || n > kMaxCabundle) {
          return at_byte(Errc::kInvalidDocument, at,
                         "\"cabundle\" of " + std::to_string(n) + " certificates (allowed: 1 to " +
                             std::to_string(kMaxCabundle) + ")");
        }
        for (std::uint64_t i = 0; i < n; ++i) {
          CS_TRY(ByteView c, bounded_bytes("cabundle", 1, kMaxCertificate));
          d.cabundle.emplace_back(c.begin(), c.end());
        }
        return {};
      }
      case 6: {
        CS_TRY(d.public_key, optional_bytes("public_key"));
        return {};
      }
      case 7: {
        CS_TRY(d.user_data, optional_bytes("user_data"));
        return {};
      }
      default: {
        CS_TRY(d.nonce, optional_bytes("nonce"));
        return {};
      }
    }
  }

  Result<void> pcrs(Document& d) {
    const std::size_t at = where();
    CS_TRY(std::uint64_t n, wrap(r_.map(), "\"pcrs\""));
    if (n < 1 || n > kPcrCount) {
      return at_byte(Errc::kInvalidDocument, at,
                     "\"pcrs\" of " + std::to_string(n) + " entries (allowed: 1 to 32)");
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::size_t key_at = where();
      CS_TRY(cbor::Head h, wrap(r_.head(), "a \"pcrs\" index"));
      if (h.major != cbor::Major::kUnsigned || h.argument >= kPcrCount) {
        return at_byte(Errc::kMalformed, key_at, "a \"pcrs\" index that is not 0 to 31");
      }
      const auto index = static_cast<unsigned>(h.argument);
      if (d.pcrs.count(index) != 0)
        return at_byte(Errc::kMalformed, key_at, "PCR " + std::to_string(index) + " repeated");
      const std::string name = "pcrs/" + std::to_string(index);
      CS_TRY(ByteView v, bounded_bytes(name.c_str(), kPcrSize, kPcrSize));
      Pcr pcr{};
      std::copy(v.begin(), v.end(), pcr.begin());
      d.pcrs.emplace(index, pcr);
    }
    return {};
  }

  cbor::Reader r_;
  std::size_t base_;
};

// An error of the outer reader, in the words of this file.
template <typename T>
Result<T> outer(Result<T> r, const std::string& what) {
  if (r.ok()) return r;
  return make_error(r.error().code, "nitro attestation: " + what + ": " + r.error().message);
}

Result<void> read_protected(ByteView header, std::size_t base) {
  cbor::Reader r(header);
  auto fail = [base](const std::string& what, std::size_t at) {
    return at_byte(Errc::kMalformed, base + at, "the protected header: " + what);
  };
  auto n = r.map();
  if (!n.ok() || *n != 1) return fail("not a map of one entry {1: alg}", 0);
  auto key = r.integer();
  if (!key.ok() || *key != 1) return fail("its only entry is not the algorithm (label 1)", 1);
  const std::size_t alg_at = r.offset();
  auto alg = r.integer();
  if (!alg.ok()) return fail("the algorithm is not an integer", alg_at);
  if (*alg != kCoseAlgEs384) {
    return at_byte(Errc::kUnsupported, base + alg_at,
                   "the protected header's algorithm is " + std::to_string(*alg) + ", not ES384 (-35)");
  }
  if (!r.at_end()) return fail("bytes after its map", r.offset());
  return {};
}

struct X509StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct X509StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

std::string subject_of(X509* cert) {
  if (cert == nullptr) return "(no certificate)";
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

// The chain cabundle -> leaf, against `roots` only, at `at`.
Result<void> verify_chain(const Document& d, const std::vector<Bytes>& roots, UnixTime at) {
  std::unique_ptr<X509_STORE, X509StoreFree> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), X509StackFree> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, X509StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return make_error(Errc::kInternal, "nitro attestation: out of memory");
  for (const Bytes& root : roots) {
    x509::CertificatePtr c = x509::parse_certificate(root);
    if (!c || X509_STORE_add_cert(store.get(), c.get()) != 1) {
      ERR_clear_error();
      return make_error(Errc::kInternal, "nitro attestation: a pinned root does not parse");
    }
  }
  for (std::size_t i = 0; i < d.cabundle.size(); ++i) {
    x509::CertificatePtr c = x509::parse_certificate(d.cabundle[i]);
    if (!c)
      return make_error(Errc::kMalformed,
                        "nitro attestation: cabundle[" + std::to_string(i) + "] is not one DER certificate");
    if (sk_X509_push(untrusted.get(), c.get()) == 0)
      return make_error(Errc::kInternal, "nitro attestation: out of memory");
    c.release();  // owned by the stack now
  }
  x509::CertificatePtr leaf = x509::parse_certificate(d.certificate);
  if (!leaf)
    return make_error(Errc::kMalformed, "nitro attestation: \"certificate\" is not one DER certificate");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return make_error(Errc::kInternal, "nitro attestation: X509_STORE_CTX_init failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  // Only the pinned roots are trusted: no partial chains to an intermediate in the store.
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  const int ok = X509_verify_cert(ctx.get());
  if (ok == 1) return {};
  const int err = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  const std::string who = subject_of(X509_STORE_CTX_get_current_cert(ctx.get()));
  ERR_clear_error();
  return make_error(Errc::kRejected, "nitro attestation: certificate chain does not verify at " +
                                         format_rfc3339(at) + ": " + X509_verify_cert_error_string(err) +
                                         " (" + who + ", depth " + std::to_string(depth) + ")");
}

// r || s (48 bytes each) as a DER ECDSA-Sig-Value, as OpenSSL verifies it.
Result<Bytes> der_signature(ByteView raw) {
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(raw.data(), 48, nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(raw.data() + 48, 48, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return make_error(Errc::kInternal, "nitro attestation: out of memory");
  }
  r.release();
  s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) {
    ERR_clear_error();
    return make_error(Errc::kInternal, "nitro attestation: i2d_ECDSA_SIG failed");
  }
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<void> verify_signature(const Document& d) {
  x509::CertificatePtr leaf = x509::parse_certificate(d.certificate);
  if (!leaf)
    return make_error(Errc::kMalformed, "nitro attestation: \"certificate\" is not one DER certificate");
  EVP_PKEY* key = X509_get0_pubkey(leaf.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 384) {
    ERR_clear_error();
    return make_error(Errc::kUnsupported, "nitro attestation: the leaf certificate's key is not ECDSA P-384");
  }
  CS_TRY(Bytes der, der_signature(d.signature));
  const Bytes tbs = sig_structure(d.protected_header, d.payload);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha384(), nullptr, key) == 1 &&
                  EVP_DigestVerify(md.get(), der.data(), der.size(), tbs.data(), tbs.size()) == 1;
  ERR_clear_error();
  if (!ok) {
    return make_error(
        Errc::kCrypto,
        "nitro attestation: the ES384 signature does not verify with the key of " + subject_of(leaf.get()));
  }
  return {};
}

void put_head(Bytes& out, std::uint8_t major, std::uint64_t n) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<std::uint8_t>(m | n));
    return;
  }
  int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffff ? 4 : 8;
  out.push_back(static_cast<std::uint8_t>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
}

}  // namespace

Bytes sig_structure(ByteView protected_header, ByteView payload) {
  static constexpr std::string_view kContext = "Signature1";
  Bytes out;
  out.reserve(protected_header.size() + payload.size() + 32);
  put_head(out, 4, 4);
  put_head(out, 3, kContext.size());
  out.insert(out.end(), kContext.begin(), kContext.end());
  put_head(out, 2, protected_header.size());
  out.insert(out.end(), protected_header.begin(), protected_header.end());
  put_head(out, 2, 0);  // external_aad: empty
  put_head(out, 2, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Result<Document> parse(ByteView cose) {
  if (cose.size() > kMaxDocument) {
    return make_error(Errc::kInvalidDocument, "nitro attestation: a document of " +
                                                  std::to_string(cose.size()) + " bytes, more than " +
                                                  std::to_string(kMaxDocument));
  }
  cbor::Reader r(cose);
  r.skip_tag(kTagCoseSign1);  // RFC 9052 section 4.2: COSE_Sign1_Tagged, or untagged
  const std::size_t array_at = r.offset();
  CS_TRY(std::uint64_t n, outer(r.array(), "the COSE_Sign1"));
  if (n != 4)
    return at_byte(Errc::kMalformed, array_at, "a COSE_Sign1 of " + std::to_string(n) + " items, not 4");

  Document d;
  CS_TRY(ByteView prot, outer(r.bytes(), "the protected header"));
  CS_TRY_VOID(read_protected(prot, r.offset() - prot.size()));
  d.protected_header.assign(prot.begin(), prot.end());

  const std::size_t unprotected_at = r.offset();
  CS_TRY(std::uint64_t u, outer(r.map(), "the unprotected header"));
  if (u != 0)
    return at_byte(Errc::kInvalidDocument, unprotected_at, "an unprotected header that is not empty");

  CS_TRY(ByteView payload, outer(r.bytes(), "the payload"));
  const std::size_t payload_at = r.offset() - payload.size();
  d.payload.assign(payload.begin(), payload.end());

  const std::size_t signature_at = r.offset();
  CS_TRY(ByteView sig, outer(r.bytes(), "the signature"));
  if (sig.size() != kSignatureSize) {
    return at_byte(Errc::kMalformed, signature_at,
                   "a signature of " + std::to_string(sig.size()) + " bytes, not 96 (ES384 r || s)");
  }
  d.signature.assign(sig.begin(), sig.end());
  if (!r.at_end()) {
    return at_byte(Errc::kMalformed, r.offset(),
                   std::to_string(r.remaining()) + " bytes after the COSE_Sign1");
  }

  PayloadReader pr(payload, payload_at);
  CS_TRY_VOID(pr.read(d));
  return d;
}

Result<Report> verify(ByteView cose, const std::vector<Bytes>& roots, UnixTime at) {
  CS_TRY(Document d, parse(cose));
  CS_TRY_VOID(verify_chain(d, roots, at));
  CS_TRY_VOID(verify_signature(d));
  Report rep;
  rep.module_id = d.module_id;
  rep.timestamp_ms = d.timestamp_ms;
  rep.pcrs = d.pcrs;
  rep.debug = true;
  for (unsigned i = 0; i < 3; ++i) {
    const auto it = d.pcrs.find(i);
    if (it != d.pcrs.end() &&
        std::any_of(it->second.begin(), it->second.end(), [](std::uint8_t b) { return b != 0; })) {
      rep.debug = false;
    }
  }
  rep.public_key = d.public_key;
  rep.user_data = d.user_data;
  rep.nonce = d.nonce;
  rep.leaf_subject = x509::subject_line(d.certificate);
  return rep;
}

std::vector<Bytes> pinned_roots() { return attestation::pinned_nitro_roots(); }

}  // namespace countersign::nitro
