#include "smartcard/fido2_attestation.h"

#include <fido.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include "core/x509.h"
#include "smartcard/fido2_convert.h"
#include "smartcard/fido2_error.h"
#include "smartcard/fido2_handles.h"

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
using X509Ptr = x509::CertificatePtr;

X509Ptr parse_cert(const Bytes& der) { return x509::parse_certificate(der); }

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

  // 1 and 2 through libfido2's own packed-attestation check.
  CredPtr cred(fido_cred_new());
  if (!cred) return make_error(Errc::kInternal, "fido_cred_new failed");
  const std::string rp(rp_id);
  const int type = key.key.alg() == Alg::kFido2Es256 ? COSE_ES256 : COSE_EDDSA;
  int rc = fido_cred_set_type(cred.get(), type);
  if (rc == FIDO_OK) rc = fido_cred_set_fmt(cred.get(), "packed");
  if (rc == FIDO_OK) rc = fido_cred_set_rp(cred.get(), rp.c_str(), nullptr);
  if (rc == FIDO_OK)
    rc = fido_cred_set_clientdata_hash(cred.get(), att.client_data_hash.data(), att.client_data_hash.size());
  if (rc == FIDO_OK)
    rc = fido_cred_set_authdata_raw(cred.get(), att.authenticator_data.data(), att.authenticator_data.size());
  if (rc != FIDO_OK)
    return Error(Errc::kInvalidDocument,
                 std::string("attestation authenticatorData does not parse: ") + fido_strerr(rc));
  if (rc = fido_cred_set_x509(cred.get(), att.certificates[0].data(), att.certificates[0].size());
      rc == FIDO_OK)
    rc = fido_cred_set_sig(cred.get(), att.signature.data(), att.signature.size());
  if (rc != FIDO_OK) return map_error(rc, "attestation");

  const Bytes cred_id(fido_cred_id_ptr(cred.get()),
                      fido_cred_id_ptr(cred.get()) + fido_cred_id_len(cred.get()));
  if (cred_id != key.credential_id)
    return make_error(Errc::kInvalidDocument, "the attestation is for another credential id");
  CS_TRY(PublicKey attested,
         public_key_from_libfido2(
             key.key.alg(), ByteView(fido_cred_pubkey_ptr(cred.get()), fido_cred_pubkey_len(cred.get()))));
  if (attested.id() != key.key.id())
    return make_error(Errc::kInvalidDocument,
                      "the attestation is for another public key (" + attested.id() + ")");
  if (rc = fido_cred_verify(cred.get()); rc != FIDO_OK) {
    if (rc == FIDO_ERR_INVALID_PARAM)  // rpIdHash, flags or clientDataHash do not match
      return make_error(Errc::kInvalidDocument,
                        "the attestation is not for relying party " + rp + " with user presence");
    return Error(Errc::kCrypto, std::string("the attestation signature does not verify: ") + fido_strerr(rc));
  }

  // 3: the chain to a pinned root.
  X509Ptr leaf = parse_cert(att.certificates[0]);
  if (!leaf) return make_error(Errc::kMalformed, "the attestation certificate is not DER X.509");
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
  info.aaguid.assign(fido_cred_aaguid_ptr(cred.get()),
                     fido_cred_aaguid_ptr(cred.get()) + fido_cred_aaguid_len(cred.get()));
  char buf[256] = {};
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), buf, sizeof buf);
  info.subject = buf;
  return info;
}

}  // namespace countersign::fido2
