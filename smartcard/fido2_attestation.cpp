#include "smartcard/fido2_attestation.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include "core/sha256.h"
#include "core/x509.h"
#include "smartcard/fido2_authdata.h"

namespace countersign::fido2 {
namespace {

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using X509Ptr = x509::CertificatePtr;

X509Ptr parse_cert(const Bytes& der) { return x509::parse_certificate(der); }

// The packed attestation signature (WebAuthn Level 2, 8.2, with x5c): `sig` by the
// certificate's key over authenticatorData || clientDataHash. The attestation statement's
// alg is not kept in a policy, so it is ES256 (COSE -7): ECDSA with SHA-256, the signature
// in DER, as libfido2's fido_cred_verify takes it when no alg is set (es256_verify_sig: any
// EC key). OpenSSL refuses a signature that is not exactly DER.
Result<void> verify_packed_signature(X509* cert, const Attestation& att) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    ERR_clear_error();
    return make_error(Errc::kCrypto,
                      "the attestation signature does not verify: the attestation certificate's key is not "
                      "an EC key");
  }
  Bytes signed_data = att.authenticator_data;
  signed_data.insert(signed_data.end(), att.client_data_hash.begin(), att.client_data_hash.end());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    ERR_clear_error();
    return make_error(Errc::kInternal, "EVP_DigestVerifyInit failed");
  }
  const int ok = EVP_DigestVerify(ctx.get(), att.signature.data(), att.signature.size(), signed_data.data(),
                                  signed_data.size());
  ERR_clear_error();
  if (ok != 1)
    return make_error(Errc::kCrypto,
                      "the attestation signature does not verify: not an ECDSA/SHA-256 signature by the "
                      "attestation certificate over authenticatorData || clientDataHash");
  return {};
}

}  // namespace

Result<AttestationInfo> verify_attestation(const PolicyKey& key, std::string_view rp_id,
                                           const std::vector<Bytes>& roots_der) {
  if (!key.attestation) return make_error(Errc::kInvalidArgument, "the key carries no attestation");
  const Attestation& att = *key.attestation;
  if (att.format != "fido2-packed")
    return make_error(Errc::kInvalidArgument, "attestation format " + att.format + " is not fido2-packed");
  if (!is_fido2(key.key.alg())) return make_error(Errc::kInvalidArgument, "not a FIDO2 key");
  if (att.certificates.empty() || att.signature.empty() || att.authenticator_data.empty() ||
      att.client_data_hash.size() != 32)
    return make_error(Errc::kInvalidDocument,
                      "attestation lacks the certificate, signature, authenticatorData or clientDataHash");

  // 1: what the authenticator says it made, and for whom.
  auto ad = parse_attested_authenticator_data(key.key.alg(), att.authenticator_data);
  if (!ad.ok())
    return make_error(Errc::kInvalidDocument,
                      "attestation authenticatorData does not parse: " + ad.error().message);
  if (ad->credential_id != key.credential_id)
    return make_error(Errc::kInvalidDocument, "the attestation is for another credential id");
  if (ad->public_key.id() != key.key.id())
    return make_error(Errc::kInvalidDocument,
                      "the attestation is for another public key (" + ad->public_key.id() + ")");
  const std::string rp(rp_id);
  if (ad->rp_id_hash != sha256(rp) || (ad->flags & kFlagUserPresent) == 0)
    return make_error(Errc::kInvalidDocument,
                      "the attestation is not for relying party " + rp + " with user presence");

  // 2: the authenticator's attestation key signed it.
  X509Ptr leaf = parse_cert(att.certificates[0]);
  if (!leaf) return make_error(Errc::kMalformed, "the attestation certificate is not DER X.509");
  CS_TRY_VOID(verify_packed_signature(leaf.get(), att));

  // 3: the chain to a pinned root.
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), StackFree> chain(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !chain || !ctx) return make_error(Errc::kInternal, "OpenSSL allocation failed");
  for (const Bytes& der : roots_der) {
    X509Ptr root = parse_cert(der);
    if (!root || X509_STORE_add_cert(store.get(), root.get()) != 1)
      return make_error(Errc::kInvalidArgument, "a pinned root is not a DER X.509 certificate");
  }
  for (std::size_t i = 1; i < att.certificates.size(); ++i) {
    X509Ptr c = parse_cert(att.certificates[i]);
    if (!c)
      return make_error(Errc::kMalformed,
                        "attestation certificate " + std::to_string(i) + " is not DER X.509");
    if (sk_X509_push(chain.get(), c.get()) == 0) return make_error(Errc::kInternal, "sk_X509_push failed");
    c.release();
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get()) != 1)
    return make_error(Errc::kInternal, "X509_STORE_CTX_init failed");
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    return make_error(Errc::kRejected,
                      std::string("the attestation certificate does not chain to a pinned root: ") +
                          X509_verify_cert_error_string(err));
  }

  AttestationInfo info;
  info.aaguid = ad->aaguid;
  char buf[256] = {};
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), buf, sizeof buf);
  info.subject = buf;
  return info;
}

}  // namespace countersign::fido2
