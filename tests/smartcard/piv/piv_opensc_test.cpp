// Cross-check of the virtual card with tools nobody here wrote: OpenSC's opensc-tool and
// pkcs11-tool (PKCS#11 module opensc-pkcs11.so) must see the card as a PIV card, list its
// certificate and make a signature core accepts. If they disagree with the card, the card
// is wrong. Skipped (or failed under COUNTERSIGN_REQUIRE_INTEGRATION=1) without OpenSC.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/keys.h"
#include "core/x509.h"
#include "smartcard/piv/piv_card.h"
#include "tests/daemon/integration.h"
#include "tests/smartcard/piv/card_state.h"
#include "tests/smartcard/piv/pcsc_fixture.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

constexpr const char* kModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

// Runs a shell command (arguments are test-made paths without quotes), returns stdout+stderr.
std::string run(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  status = ::pclose(p);
  return out;
}

class OpenSc : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(::access("/usr/bin/pkcs11-tool", X_OK) == 0 && ::access(kModule, R_OK) == 0,
                       "OpenSC is not installed (Debian packages opensc, opensc-pkcs11)");
    cert_ = test_util::make_key_and_cert("P-256", dir_.file("9c.pem"), dir_.file("9c.der"));
    std::ofstream(dir_.file("card.state"))
        << "pin 123456\npin_retries 3\npin_max 3\nserial 1\nversion 5 4 3\n"
        << "slot 9c 11 " << dir_.file("9c.pem") << " " << dir_.file("9c.der") << "\n";
    std::string reason;
    fixture_ = test_util::PcscFixture::start(dir_.path().string(), dir_.file("card.state"), reason);
    CS_REQUIRE_OR_SKIP(fixture_ != nullptr, reason);
  }
  test_util::TempDir dir_{"piv-opensc"};
  Bytes cert_;
  std::unique_ptr<test_util::PcscFixture> fixture_;
};

TEST_F(OpenSc, Pkcs11ToolListsTheCertificateAndSignsWhatCoreVerifies) {
  int st = 0;
  const std::string base = std::string("pkcs11-tool --module ") + kModule;
  std::string objects = run(base + " --list-objects", st);
  ASSERT_EQ(st, 0) << objects;
  EXPECT_NE(objects.find("Certificate Object"), std::string::npos) << objects;
  EXPECT_NE(objects.find("virtual PIV"), std::string::npos) << objects;

  const SigningInput input = signing_input(sha256(std::string_view("a proposal")));
  std::ofstream(dir_.file("input.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
  std::string out =
      run(base + " --login --pin 123456 --sign --id 02 -m ECDSA-SHA256 --signature-format openssl" +
              " --input-file " + dir_.file("input.bin") + " --output-file " + dir_.file("sig.der"),
          st);
  ASSERT_EQ(st, 0) << out;
  std::ifstream in(dir_.file("sig.der"), std::ios::binary);
  const Bytes sig((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto key = x509::public_key_from_certificate(cert_);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_TRUE(key->verify(input, sig)) << "OpenSC's signature through the virtual card does not verify";
}

}  // namespace
}  // namespace countersign
