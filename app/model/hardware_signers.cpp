#include "app/model/hardware_signers.h"

#include "smartcard/fido2_device.h"
#include "smartcard/fido2_unix_socket.h"

namespace countersign::app {

Result<std::vector<Fido2Match>> find_fido2_signers(const Policy& policy, const std::string& device) {
  std::vector<fido2::DeviceListing> devices;
  if (!device.empty()) {
    devices.push_back({device, "", "", 0, 0});
  } else {
    CS_TRY(devices, fido2::list_devices());
  }
  std::vector<Fido2Match> out;
  for (const auto& d : devices) {
    auto dev = fido2::open_device(d.path);
    if (!dev.ok()) continue;
    for (const auto& approver : policy.approvers()) {
      for (const auto& key : approver.keys) {
        if (!is_fido2(key.key.alg()) || key.credential_id.empty()) continue;
        auto held = dev->has_credential(key.credential_id);
        if (held.ok() && *held) out.push_back({d.path, d.product, approver.id, key});
      }
    }
  }
  return out;
}

Result<SignatureFile> sign_with_fido2(const Proposal& proposal, const Fido2Match& match,
                                      const SecretBytes* pin, std::optional<std::string> signer,
                                      UnixTime now) {
  if (now >= proposal.expires()) {
    return Error(Errc::kRejected, "the proposal expired at " + format_rfc3339(proposal.expires()) +
                                      "; ask for a new one rather than signing this");
  }
  if (match.needs_pin() && pin == nullptr) return Error(Errc::kInvalidArgument, "this key needs its PIN");
  CS_TRY(fido2::Device dev, fido2::open_device(match.device));
  CS_TRY(fido2::Fido2Signer fs,
         fido2::Fido2Signer::create(std::move(dev), match.key, [pin]() -> Result<SecretBytes> {
           if (pin == nullptr) return Error(Errc::kInvalidArgument, "no PIN given");
           return SecretBytes::copy_of(pin->view());
         }));
  return sign_proposal(fs, proposal.id(), std::move(signer), now);
}

}  // namespace countersign::app
