#include "smartcard/fido2_convert.h"

#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "smartcard/cbor_reader.h"
#include "smartcard/fido2_handles.h"

namespace countersign::fido2 {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

}  // namespace

Result<PublicKey> public_key_from_libfido2(Alg alg, ByteView raw) {
  PkeyPtr pkey;
  if (alg == Alg::kFido2Es256) {
    Es256Ptr pk(es256_pk_new());
    if (!pk || es256_pk_from_ptr(pk.get(), raw.data(), raw.size()) != FIDO_OK)
      return make_error(Errc::kMalformed, "FIDO2 ES256 public key: not a P-256 point (x || y)");
    pkey.reset(es256_pk_to_EVP_PKEY(pk.get()));
  } else if (alg == Alg::kFido2EdDsa) {
    EddsaPtr pk(eddsa_pk_new());
    if (!pk || eddsa_pk_from_ptr(pk.get(), raw.data(), raw.size()) != FIDO_OK)
      return make_error(Errc::kMalformed, "FIDO2 EdDSA public key: not 32 bytes");
    pkey.reset(eddsa_pk_to_EVP_PKEY(pk.get()));
  } else {
    return make_error(Errc::kInvalidArgument, "not a FIDO2 algorithm: " + std::string(alg_name(alg)));
  }
  if (!pkey) return make_error(Errc::kMalformed, "FIDO2 public key: libfido2 could not convert it");
  const int n = i2d_PUBKEY(pkey.get(), nullptr);
  if (n <= 0) return make_error(Errc::kInternal, "i2d_PUBKEY failed");
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* out = der.data();
  if (i2d_PUBKEY(pkey.get(), &out) != n) return make_error(Errc::kInternal, "i2d_PUBKEY failed");
  return PublicKey::parse(alg, der);
}

Result<Bytes> unwrap_authenticator_data(ByteView cbor) {
  if (cbor.empty()) return make_error(Errc::kMalformed, "authenticatorData: empty");
  cbor::Reader r(cbor);
  auto bytes = r.bytes();
  if (!bytes.ok())
    return std::move(bytes).error().with_context("authenticatorData: not a definite CBOR byte string");
  if (!r.at_end())
    return make_error(Errc::kMalformed, "authenticatorData: trailing bytes after the CBOR item");
  return Bytes(bytes->begin(), bytes->end());
}

}  // namespace countersign::fido2
