// Fuzz target: the parsers the box runs on FIDO2 attestations (smartcard/cbor_reader.h,
// cose_key.h, fido2_authdata.h) and the device side's unwrapping of CBOR-wrapped
// authenticatorData (fido2_convert.h), which reads with the same reader.
// Input: the first byte picks the function (bits 0-1: 0 authenticatorData, 1 COSE_Key,
// 2 unwrap, 3 a walk over CBOR heads and byte strings; bit 2: EdDSA rather than ES256);
// the rest is the payload. Properties: no crash, no allocation a length merely declares
// (ASan's allocation limit would report one); accepted authenticatorData has 1 to 1023
// bytes of credential id, the AT flag, no ED flag, and ends with the COSE_Key, whose key
// re-parses from its SPKI to the same key id; a COSE_Key reads the same from exactly the
// bytes it took; unwrapped authenticatorData is shorter than its wrapping; the reader
// only moves forward and never past the end.
#include <cstdint>
#include <cstdlib>

#include "smartcard/cbor_reader.h"
#include "smartcard/cose_key.h"
#include "smartcard/fido2_authdata.h"
#include "smartcard/fido2_convert.h"

namespace {

using namespace countersign;

void check(bool ok) {
  if (!ok) std::abort();
}

void authenticator_data(Alg alg, ByteView in) {
  auto ad = fido2::parse_attested_authenticator_data(alg, in);
  if (!ad.ok()) return;
  check(!ad->credential_id.empty() && ad->credential_id.size() <= 1023);
  check((ad->flags & fido2::kFlagAttestedCredential) != 0 && (ad->flags & fido2::kFlagExtensions) == 0);
  auto again = PublicKey::parse(alg, ad->public_key.spki());
  check(again.ok() && again->id() == ad->public_key.id());
  const ByteView tail = in.subspan(55 + ad->credential_id.size());
  auto cose = fido2::parse_cose_key(alg, tail);
  check(cose.ok() && cose->length == tail.size() && cose->key.id() == ad->public_key.id());
}

void cose_key(Alg alg, ByteView in) {
  auto k = fido2::parse_cose_key(alg, in);
  if (!k.ok()) return;
  check(k->length <= in.size());
  auto exact = fido2::parse_cose_key(alg, in.first(k->length));
  check(exact.ok() && exact->length == k->length && exact->key.id() == k->key.id());
}

void walk(ByteView in) {
  cbor::Reader r(in);
  std::size_t at = 0;
  while (!r.at_end()) {
    const bool ok = (in[r.offset()] & 0x01) != 0 ? r.bytes().ok() : r.head().ok();
    if (!ok) return;
    check(r.offset() > at && r.offset() <= in.size());
    at = r.offset();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const ByteView payload(data + 1, size - 1);
  const Alg alg = (data[0] & 0x04) != 0 ? Alg::kFido2EdDsa : Alg::kFido2Es256;
  switch (data[0] & 0x03) {
    case 0:
      authenticator_data(alg, payload);
      break;
    case 1:
      cose_key(alg, payload);
      break;
    case 2: {
      auto ad = fido2::unwrap_authenticator_data(payload);
      check(!ad.ok() || ad->size() < payload.size());
      break;
    }
    default:
      walk(payload);
      break;
  }
  return 0;
}
