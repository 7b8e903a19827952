// Opt-in test against a real FIDO2 security key (a YubiKey, or any CTAP2 authenticator).
// Built with -DCOUNTERSIGN_HARDWARE_TESTS=ON; runs only when COUNTERSIGN_FIDO2_DEVICE names
// the key (a hidraw path from `countersign key list`, so consent is explicit). If the key has
// a PIN, put it in a file named by COUNTERSIGN_FIDO2_PIN_FILE.
//
// Not destructive: it makes one non-resident credential (nothing is stored on the key; the
// signature counter goes up) and signs once; touch the key twice when it blinks.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/secret.h"
#include "core/sha256.h"
#include "smartcard/fido2_signer.h"

namespace countersign::fido2 {
namespace {

TEST(Fido2Hardware, EnrolAndSignWithARealKey) {
  const char* path = std::getenv("COUNTERSIGN_FIDO2_DEVICE");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "set COUNTERSIGN_FIDO2_DEVICE=/dev/hidrawN to run";
  auto dev = Device::open(path);
  ASSERT_TRUE(dev.ok()) << dev.error().message;
  auto info = dev->info();
  ASSERT_TRUE(info.ok()) << info.error().message;
  std::optional<SecretBytes> pin;
  if (info->pin_set) {
    const char* pin_file = std::getenv("COUNTERSIGN_FIDO2_PIN_FILE");
    ASSERT_NE(pin_file, nullptr) << "the key has a PIN: set COUNTERSIGN_FIDO2_PIN_FILE";
    auto p = read_secret_file(pin_file);
    ASSERT_TRUE(p.ok()) << p.error().message;
    pin = std::move(*p);
  }
  std::cerr << "Touch the security key (enrolment)\n";
  auto key = dev->make_credential({Alg::kFido2Es256, pin.has_value(), false, "countersign-hardware-test"},
                                  pin ? &*pin : nullptr);
  ASSERT_TRUE(key.ok()) << key.error().message;
  const bool uv = key->uv;
  auto signer = Fido2Signer::create(
      std::move(*dev), *key, [&]() -> Result<SecretBytes> { return SecretBytes::copy_of(pin->view()); });
  ASSERT_TRUE(signer.ok()) << signer.error().message;
  const SigningInput input = signing_input(sha256(std::string_view("hardware test proposal")));
  std::cerr << "Touch the security key (signature)\n";
  auto sig = signer->sign(input);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_TRUE(key->key.verify(input, sig->signature, sig->authenticator_data, uv).ok());
}

}  // namespace
}  // namespace countersign::fido2
