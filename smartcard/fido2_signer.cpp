#include "smartcard/fido2_signer.h"

#include "core/sha256.h"

namespace countersign::fido2 {

Result<Fido2Signer> Fido2Signer::create(Device device, PolicyKey key, PinSource pin_source) {
  if (!is_fido2(key.key.alg()))
    return make_error(Errc::kInvalidArgument, "FIDO2 signer: key " + key.key.id() + " is not a FIDO2 key");
  if (key.credential_id.empty())
    return make_error(Errc::kInvalidArgument, "FIDO2 signer: key " + key.key.id() + " has no credential_id");
  return Fido2Signer(std::move(device), std::move(key), std::move(pin_source));
}

Result<SignatureValue> Fido2Signer::sign(ByteView signing_input) {
  const Digest cdh = sha256(signing_input);
  std::optional<SecretBytes> pin;
  if (key_.uv) {
    if (!pin_source_) return make_error(Errc::kInvalidArgument, "FIDO2 signer: this key requires the PIN");
    CS_TRY(auto p, pin_source_());
    pin = std::move(p);
  }
  CS_TRY(auto a, device_.get_assertion(cdh, key_.credential_id, key_.uv, pin ? &*pin : nullptr));
  return SignatureValue{std::move(a.signature), std::move(a.authenticator_data)};
}

}  // namespace countersign::fido2
