// Fido2Signer: core's Signer for a credential on a FIDO2 authenticator (DESIGN.md "What
// exactly is signed": clientDataHash = SHA-256(signing input), RP id "countersign").
#pragma once

#include <functional>

#include "core/keys.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/secret.h"
#include "smartcard/fido2_device.h"

namespace countersign::fido2 {

class Fido2Signer : public Signer {
 public:
  // Asked for the PIN only when the key entry says "uv": true; may prompt the user.
  using PinSource = std::function<Result<SecretBytes>()>;

  // `key` is the policy key entry of the credential on `device` (a FIDO2 alg and a
  // credential id; else kInvalidArgument). The signer owns the device.
  static Result<Fido2Signer> create(Device device, PolicyKey key, PinSource pin_source);

  const PublicKey& public_key() const override { return key_.key; }
  // True when sign() will ask the PinSource (the key entry says "uv": true).
  bool requires_pin() const { return key_.uv; }

  // Asserts over clientDataHash = SHA-256(signing_input) with the key's credential id as the
  // allow list, user presence required, user verification (PIN) when the key says uv.
  // Returns the assertion signature and the raw authenticatorData. Errors from
  // fido2_error.h (wrong PIN with retries, PIN blocked, no credential, timeout, removed).
  Result<SignatureValue> sign(ByteView signing_input) override;

 private:
  Fido2Signer(Device device, PolicyKey key, PinSource pin_source)
      : device_(std::move(device)), key_(std::move(key)), pin_source_(std::move(pin_source)) {}
  Device device_;
  PolicyKey key_;
  PinSource pin_source_;
};

}  // namespace countersign::fido2
