// The PIV applet (NIST SP 800-73-4 part 2) and the YubiKey PIV extensions, over an
// ApduSession. Every method sends its own APDUs; none caches the PIN.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/keys.h"
#include "core/secret.h"
#include "smartcard/pcsc/session.h"

namespace countersign::piv {

// Key slots (SP 800-73-4 part 1, table 4b) and the data object holding each one's certificate.
enum class Slot : std::uint8_t {
  kAuthentication = 0x9A,      // 5FC105
  kSignature = 0x9C,           // 5FC10A
  kKeyManagement = 0x9D,       // 5FC10B
  kCardAuthentication = 0x9E,  // 5FC101
};

// "9a", "9c", "9d", "9e" and back. Errors: kInvalidArgument for any other name.
Result<Slot> slot_from_name(std::string_view name);
std::string slot_name(Slot slot);

// PIV cryptographic algorithm identifiers (SP 800-78-4, table 6-2) for our ECDSA algorithms:
// 0x11 P-256, 0x14 P-384. Errors: kUnsupported for other algorithms.
Result<std::uint8_t> piv_algorithm(Alg alg);

inline constexpr std::array<std::uint8_t, 5> kPivAid{0xA0, 0x00, 0x00, 0x03, 0x08};

// The card management key (key reference 9B) and its algorithm (SP 800-78-4 table 6-2).
enum class ManagementKeyAlg : std::uint8_t { k3Des = 0x03, kAes128 = 0x08, kAes192 = 0x0A, kAes256 = 0x0C };
// "3des", "aes128", "aes192", "aes256" and back; key length in bytes (24, 16, 24, 32).
Result<ManagementKeyAlg> management_key_alg_from_name(std::string_view name);
std::size_t management_key_length(ManagementKeyAlg alg);
// The factory default management key of PIV applets (YubiKey, most test cards):
// 010203040506070801020304050607080102030405060708, 3DES before YubiKey 5.7, AES-192 since.
SecretBytes default_management_key();

// YubiKey PIN and touch policies for a generated key (Yubico "PIV extensions"); kDefault
// leaves the card's default for the slot.
enum class PinPolicy : std::uint8_t { kDefault = 0, kNever = 1, kOnce = 2, kAlways = 3 };
enum class TouchPolicy : std::uint8_t { kDefault = 0, kNever = 1, kAlways = 2, kCached = 3 };
Result<PinPolicy> pin_policy_from_name(std::string_view name);      // default|never|once|always
Result<TouchPolicy> touch_policy_from_name(std::string_view name);  // default|never|always|cached

class PivCard {
 public:
  // SELECTs the PIV application and registers the re-select with the session for recovery
  // after a card reset. `session` must outlive the PivCard and must not be shared with
  // another PivCard. Errors: kNotFound when the card has no PIV application.
  static Result<PivCard> select(pcsc::ApduSession& session);

  // VERIFY with the PIV card application PIN (key reference 80), padded with FF to 8 bytes.
  // Errors: kInvalidArgument for a PIN that is not 6 to 8 bytes, kWrongPin (retries set),
  // kPinLocked.
  Result<void> verify_pin(const SecretBytes& pin);
  // PIN tries left, asked with an empty VERIFY (SP 800-73-4 part 2, 3.2.1). Returns -1 when
  // the PIN is already verified in this session (the card does not say then).
  Result<int> pin_retries();

  // The X.509 certificate (DER) in `slot`, from GET DATA (tag 53 -> 70 certificate,
  // 71 CertInfo; a compressed certificate is kUnsupported). Errors: kNotFound for an empty slot.
  Result<Bytes> read_certificate(Slot slot);
  // The same for a certificate in any data object (e.g. YubiKey's 5FFF01, the certificate
  // of the attestation key in slot f9).
  Result<Bytes> read_certificate_object(std::uint32_t object_tag);
  // Any data object by its tag (e.g. 5FC102 CHUID, 7E discovery): the value inside tag 53
  // (or the 7E object itself for discovery).
  Result<Bytes> get_data(std::uint32_t object_tag);

  // PUT DATA (INS DB): writes `value` as data object `object_tag`, wrapped in tag 53; long
  // objects go by command chaining. Needs management key authentication first (kRejected
  // otherwise).
  Result<void> put_data(std::uint32_t object_tag, ByteView value);

  // Mutual authentication with the card management key (GENERAL AUTHENTICATE, key 9B,
  // SP 800-73-4 part 2, appendix A.1/A.2 as YubiKeys do it): the card's encrypted witness is
  // decrypted and returned with a challenge of ours, which the card must answer encrypted.
  // Needed before PUT DATA and GENERATE. Errors: kRejected for a wrong key (6982) and
  // kCrypto when the card's answer to our challenge is wrong (not the card we think).
  Result<void> authenticate_management_key(ManagementKeyAlg alg, const SecretBytes& key);

  // GENERATE ASYMMETRIC KEY PAIR (INS 47) in `slot`: ecdsa-p256 or ecdsa-p384, with the
  // YubiKey PIN and touch policies when not kDefault. Returns the new public key. Needs
  // management key authentication (kRejected otherwise). The slot's old key is gone.
  Result<PublicKey> generate_key(Slot slot, Alg alg, PinPolicy pin_policy, TouchPolicy touch_policy);

  // Writes `certificate_der` as the certificate of `slot` (PUT DATA of its object: 70
  // certificate, 71 00 uncompressed, FE LRC). Needs management key authentication.
  Result<void> put_certificate(Slot slot, ByteView certificate_der);

  // GENERAL AUTHENTICATE (INS 87): the card signs `digest` with the key in `slot`; returns
  // its DER ECDSA signature. `digest` is SHA-256 (P-256) or SHA-384 (P-384) of the message.
  // Errors: kRejected (6982) when the PIN is not verified or touch was not given,
  // kNotFound for an empty slot, kMalformed for an answer without 7C/82.
  Result<Bytes> sign_digest(Slot slot, Alg alg, ByteView digest);

  // YubiKey extensions (Yubico "PIV extensions"): firmware version (INS FD), serial (INS F8,
  // firmware 5+), attestation certificate for a slot's key (INS F9). On other cards these
  // fail with kUnsupported.
  Result<std::array<std::uint8_t, 3>> yubikey_version();
  Result<std::uint32_t> yubikey_serial();
  Result<Bytes> yubikey_attest(Slot slot);

  pcsc::ApduSession& session() { return *session_; }

 private:
  explicit PivCard(pcsc::ApduSession& s) : session_(&s) {}
  pcsc::ApduSession* session_;
};

}  // namespace countersign::piv
