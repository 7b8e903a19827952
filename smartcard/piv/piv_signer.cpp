#include "smartcard/piv/piv_signer.h"

#include <openssl/evp.h>

#include "core/x509.h"

namespace countersign::piv {

namespace {
Result<Bytes> digest_for(Alg alg, ByteView input) {
  const EVP_MD* md = alg == Alg::kEcdsaP256 ? EVP_sha256() : EVP_sha384();
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), out.data(), &len, md, nullptr) != 1 || len != out.size()) {
    return make_error(Errc::kCrypto, "PivSigner: hashing the signing input failed");
  }
  return out;
}
}  // namespace

Result<PivSigner> PivSigner::create(PivCard& card, Slot slot, SecretBytes pin) {
  CS_TRY(Bytes cert, card.read_certificate(slot));
  CS_TRY(PublicKey key, x509::public_key_from_certificate(cert));
  // Only the algorithms GENERAL AUTHENTICATE is used for here (P-256, P-384).
  CS_TRY(std::uint8_t algorithm, piv_algorithm(key.alg()));
  (void)algorithm;
  return PivSigner(card, slot, std::move(key), std::move(cert), std::move(pin));
}

Result<SignatureValue> PivSigner::sign(ByteView signing_input) {
  CS_TRY(Bytes digest, digest_for(key_.alg(), signing_input));
  // One transaction: no other application can use the verified PIN between the two commands.
  CS_TRY(pcsc::Transaction tx, pcsc::Transaction::begin(card_->session()));
  if (!pin_.empty()) CS_TRY_VOID(card_->verify_pin(pin_));
  CS_TRY(Bytes sig, card_->sign_digest(slot_, key_.alg(), digest));
  SignatureValue v;
  v.signature = std::move(sig);
  return v;
}

Result<std::unique_ptr<CardSigner>> CardSigner::open(const std::optional<std::string>& reader, Slot slot,
                                                     const PinSource& pin) {
  std::unique_ptr<CardSigner> cs(new CardSigner());
  CS_TRY(cs->device_, PivDevice::open(reader));
  CS_TRY(SecretBytes p, pin(cs->device_->reader()));
  CS_TRY(PivSigner s, PivSigner::create(cs->device_->card(), slot, std::move(p)));
  cs->signer_.emplace(std::move(s));
  return cs;
}

std::string CardSigner::describe() const {
  return "slot " + slot_name(signer_->slot()) + " of the card in " + device_->reader();
}

}  // namespace countersign::piv
