// Internal to smartcard/: RAII owners for libfido2's handles (STYLE.md: RAII for every C
// handle). libfido2's free functions take a pointer to the pointer and set it to null.
#pragma once

#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>

#include <memory>

namespace countersign::fido2 {

template <auto Free>
struct FidoFree {
  template <typename T>
  void operator()(T* p) const {
    Free(&p);
  }
};
using CredPtr = std::unique_ptr<fido_cred_t, FidoFree<fido_cred_free>>;
using AssertPtr = std::unique_ptr<fido_assert_t, FidoFree<fido_assert_free>>;
using InfoPtr = std::unique_ptr<fido_cbor_info_t, FidoFree<fido_cbor_info_free>>;
using Es256Ptr = std::unique_ptr<es256_pk_t, FidoFree<es256_pk_free>>;
using EddsaPtr = std::unique_ptr<eddsa_pk_t, FidoFree<eddsa_pk_free>>;

}  // namespace countersign::fido2
