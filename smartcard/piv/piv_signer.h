// PivSigner: core's Signer for a key in a PIV card slot (ecdsa-p256 or ecdsa-p384).
//
// sign(input) hashes the signing input (SHA-256 for P-256, SHA-384 for P-384; DESIGN.md
// "What exactly is signed"), then in one PC/SC transaction VERIFYs the PIN and asks the card
// for GENERAL AUTHENTICATE over the digest. The PIN is verified for every signature because
// slot 9c has the "PIN always" policy (SP 800-73-4 part 1, 3.2.2).
#pragma once

#include <optional>

#include "core/keys.h"
#include "core/secret.h"
#include "smartcard/piv/piv_card.h"

namespace countersign::piv {

class PivSigner final : public Signer {
 public:
  // Reads the slot's certificate to learn the public key. `card` must outlive the signer.
  // `pin` is kept (in SecretBytes) for the signer's lifetime; pass an empty SecretBytes when
  // the PIN was verified elsewhere and the slot needs it only once.
  // Errors: kNotFound for an empty slot, kUnsupported for a key that is not P-256/P-384.
  static Result<PivSigner> create(PivCard& card, Slot slot, SecretBytes pin);

  const PublicKey& public_key() const override { return key_; }
  // Errors: those of PivCard::verify_pin and sign_digest (kWrongPin with retries,
  // kPinLocked, kRejected, kNoDevice when the card is removed).
  Result<SignatureValue> sign(ByteView signing_input) override;

  Slot slot() const { return slot_; }
  const Bytes& certificate() const { return certificate_; }

 private:
  PivSigner(PivCard& card, Slot slot, PublicKey key, Bytes cert, SecretBytes pin)
      : card_(&card),
        slot_(slot),
        key_(std::move(key)),
        certificate_(std::move(cert)),
        pin_(std::move(pin)) {}
  PivCard* card_;
  Slot slot_;
  PublicKey key_;
  Bytes certificate_;
  SecretBytes pin_;
};

}  // namespace countersign::piv
