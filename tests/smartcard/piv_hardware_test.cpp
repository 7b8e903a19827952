// Opt-in test against a real PIV smartcard or YubiKey PIV applet, through the system pcscd.
// Built with -DCOUNTERSIGN_HARDWARE_TESTS=ON; runs only when COUNTERSIGN_PIV_PIN_FILE names a
// file holding the card's PIN (consent is explicit: a wrong PIN costs a try).
//   COUNTERSIGN_PIV_READER  the reader (default: the only one with a card; `countersign key list`)
//   COUNTERSIGN_PIV_SLOT    the slot whose key signs (default 9c); it must hold a certificate
//
// Not destructive: it reads the slot's certificate, verifies the PIN once and signs once
// (touch the YubiKey if its touch policy asks). It never generates or writes anything.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "core/keys.h"
#include "core/secret.h"
#include "core/x509.h"
#include "smartcard/attestation.h"
#include "smartcard/piv/piv_device.h"
#include "smartcard/piv/piv_signer.h"

namespace countersign::piv {
namespace {

TEST(PivHardware, ReadSlotSignAndVerifyWithARealCard) {
  const char* pin_file = std::getenv("COUNTERSIGN_PIV_PIN_FILE");
  if (pin_file == nullptr || *pin_file == '\0') GTEST_SKIP() << "set COUNTERSIGN_PIV_PIN_FILE to run";
  const char* reader = std::getenv("COUNTERSIGN_PIV_READER");
  const char* slot_name_env = std::getenv("COUNTERSIGN_PIV_SLOT");
  auto slot = slot_from_name(slot_name_env != nullptr ? slot_name_env : "9c");
  ASSERT_TRUE(slot.ok()) << slot.error().message;
  auto dev = PivDevice::open(reader != nullptr && *reader != '\0' ? std::optional<std::string>(reader)
                                                                  : std::nullopt);
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  auto cert = (*dev)->card().read_certificate(*slot);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  auto key = x509::public_key_from_certificate(*cert);
  ASSERT_TRUE(key.ok()) << key.error().message;

  auto pin = read_secret_file(pin_file, 64);
  ASSERT_TRUE(pin.ok()) << pin.error().message;
  auto signer = PivSigner::create((*dev)->card(), *slot, std::move(*pin));
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  const SigningInput input = signing_input(sha256(std::string_view("countersign PIV hardware test")));
  auto sig = signer->sign(input);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_TRUE(key->verify(input, sig->signature))
      << "the card's signature does not verify with its certificate's key";

  // On a YubiKey, the slot's attestation should verify against the pinned Yubico roots
  // (keys imported into the card cannot be attested; that is reported, not failed).
  if ((*dev)->card().yubikey_version()) {
    auto att = (*dev)->card().yubikey_attest(*slot);
    auto f9 = (*dev)->card().read_certificate_object(0x5FFF01);
    if (att && f9) {
      PolicyKey pk{*key, {}, false, Attestation{"yubikey-piv", {*att, *f9}, {}, {}, {}}};
      const attestation::Check c = attestation::check(pk, attestation::Roots::pinned());
      EXPECT_TRUE(c.verified) << c.detail;
      std::cerr << c.detail << "\n";
    } else {
      std::cerr << "no attestation for this slot (an imported key?)\n";
    }
  }
}

}  // namespace
}  // namespace countersign::piv
