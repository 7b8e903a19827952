// Fuzz target: smartcard/fido2_convert — the COSE-derived public key through libfido2's
// es256_pk/eddsa_pk into SPKI, and the unwrapping of CBOR-wrapped authenticatorData.
// Input: first byte picks the function (bit 0: ES256 or EdDSA key; bit 1: authenticatorData);
// the rest is the payload. Properties: no crash; a key that converts re-parses from its SPKI
// to the same key id; unwrapped authenticatorData is never longer than its wrapping.
#include <cstdint>
#include <cstdlib>

#include "smartcard/fido2_convert.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace countersign;
  if (size < 1) return 0;
  const ByteView payload(data + 1, size - 1);
  if (data[0] & 0x02) {
    auto ad = fido2::unwrap_authenticator_data(payload);
    if (ad.ok() && ad->size() >= payload.size()) std::abort();
    return 0;
  }
  const Alg alg = (data[0] & 0x01) ? Alg::kFido2EdDsa : Alg::kFido2Es256;
  auto pk = fido2::public_key_from_libfido2(alg, payload);
  if (pk.ok()) {
    auto again = PublicKey::parse(alg, pk->spki());
    if (!again.ok() || again->id() != pk->id()) std::abort();
  }
  return 0;
}
