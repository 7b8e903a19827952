// PivSigner: core's Signer for a key in a PIV card slot (ecdsa-p256 or ecdsa-p384).
//
// sign(input) hashes the signing input (SHA-256 for P-256, SHA-384 for P-384; DESIGN.md
// "What exactly is signed"), then in one PC/SC transaction VERIFYs the PIN and asks the card
// for GENERAL AUTHENTICATE over the digest. The PIN is verified for every signature because
// slot 9c has the "PIN always" policy (SP 800-73-4 part 1, 3.2.2).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/keys.h"
#include "core/secret.h"
#include "smartcard/piv/piv_card.h"
#include "smartcard/piv/piv_device.h"

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

// A PivSigner together with the card connection it signs through, for callers that open a
// card only to sign with it (the CLI's `sign --piv`, the app's Sign view). Not movable: the
// signer points into the device it owns.
class CardSigner final : public Signer {
 public:
  // Asked for the PIN once the card is open; gets the reader's name
  // (for the prompt). Its error (e.g. the user gave up) is open()'s error.
  using PinSource = std::function<Result<SecretBytes>(const std::string& reader)>;

  // Opens the card in `reader`, or the only reader with a card (PivDevice::open), takes the
  // PIN from `pin` and reads the key in `slot` (PivSigner::create). Errors: those of
  // PivDevice::open, `pin` and PivSigner::create.
  static Result<std::unique_ptr<CardSigner>> open(const std::optional<std::string>& reader, Slot slot,
                                                  const PinSource& pin);

  const PublicKey& public_key() const override { return signer_->public_key(); }
  // PivSigner::sign: kWrongPin (Error::retries), kPinLocked, kRejected (touch not given),
  // kNoDevice (card removed).
  Result<SignatureValue> sign(ByteView signing_input) override { return signer_->sign(signing_input); }

  const std::string& reader() const { return device_->reader(); }
  Slot slot() const { return signer_->slot(); }
  // "slot 9c of the card in READER", for messages.
  std::string describe() const;

  CardSigner(const CardSigner&) = delete;
  CardSigner& operator=(const CardSigner&) = delete;

 private:
  CardSigner() = default;
  std::unique_ptr<PivDevice> device_;
  std::optional<PivSigner> signer_;
};

}  // namespace countersign::piv
