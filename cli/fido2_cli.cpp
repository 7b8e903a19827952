#include "cli/fido2_cli.h"

#include "core/software_key.h"
#include "smartcard/fido2_unix_socket.h"

namespace countersign::cli {

Result<fido2::Device> open_fido2(const std::string& device) {
  if (!device.empty()) return fido2::open_device(device);
  CS_TRY(auto found, fido2::list_devices());
  if (found.empty()) return make_error(Errc::kNoDevice, "no FIDO2 security key is connected");
  if (found.size() > 1) {
    std::string names;
    for (const auto& d : found) names += "\n  " + d.path + " (" + d.product + ")";
    return make_error(Errc::kInvalidArgument,
                      "several FIDO2 security keys are connected; choose one with --device:" + names);
  }
  return fido2::open_device(found[0].path);
}

Result<SecretBytes> obtain_pin(const std::string& pin_file) {
  return obtain_passphrase(pin_file, kPinEnv, "PIN of the security key: ", false);
}

}  // namespace countersign::cli
