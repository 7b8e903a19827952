#pragma once

// Internal to countersign (core and shamir), not a public header: RAII owners for the
// OpenSSL handles we use and the one way an OpenSSL failure becomes an Error. Every
// OpenSSL handle in the project is held by one of these aliases (STYLE.md: RAII for every
// C handle).

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace countersign::detail {

// Deleter calling OpenSSL's free function for the handle type.
template <auto Free>
struct OpensslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslFree<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslFree<EVP_MD_CTX_free>>;
// BN_clear_free: these numbers hold private scalars, wiped on release.
using SecretBnPtr = std::unique_ptr<BIGNUM, OpensslFree<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OpensslFree<BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, OpensslFree<EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, OpensslFree<EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpensslFree<OSSL_PARAM_BLD_free>>;
// OSSL_PARAM_free wipes the "secure" block where OSSL_PARAM_BLD puts a private key (it
// goes there when the BIGNUM carries BN_FLG_SECURE).
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpensslFree<OSSL_PARAM_free>>;

// OpenSSL reports failures on a per-thread error queue. We turn every failure into a
// Result, so drop what it queued; otherwise it would surface in an unrelated later call.
inline void clear_openssl_errors() { ERR_clear_error(); }

// An OpenSSL call that should not fail did: clears the error queue and returns kInternal
// "<what> failed".
inline Error openssl_failure(std::string_view what) {
  clear_openssl_errors();
  return make_error(Errc::kInternal, std::string(what) + " failed");
}

}  // namespace countersign::detail
