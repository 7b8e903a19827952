#include "app/model/hardware_signers.h"

#include <algorithm>

#include "app/model/workspace.h"
#include "smartcard/fido2_unix_socket.h"
#include "smartcard/piv/piv_device.h"
#include "smartcard/piv/piv_signer.h"

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
                                      const SecretBytes* pin, std::optional<std::string> signer, UnixTime now,
                                      std::shared_ptr<fido2::Canceller> cancel) {
  CS_TRY_VOID(proposal.refuse_if_expired(now));
  if (match.needs_pin() && pin == nullptr) return Error(Errc::kInvalidArgument, "this key needs its PIN");
  CS_TRY(fido2::Device dev, fido2::open_device(match.device));
  if (cancel) dev.set_canceller(std::move(cancel));
  CS_TRY(fido2::Fido2Signer fs,
         fido2::Fido2Signer::create(std::move(dev), match.key, [pin]() -> Result<SecretBytes> {
           if (pin == nullptr) return Error(Errc::kInvalidArgument, "no PIN given");
           return SecretBytes::copy_of(pin->view());
         }));
  return sign_proposal(fs, proposal.id(), std::move(signer), now);
}

namespace {

// A YubiKey may hold a key with touch policy "always" or "cached"; its attestation says
// which (Yubico's extension 1.3.6.1.4.1.41482.3.8), and only a verified one is believed.
bool may_need_touch(const piv::ReaderInfo& card, const PolicyKey& key, const attestation::Roots& roots) {
  if (!card.yubikey_version) return false;  // touch policies are a YubiKey extension
  return attestation::check(key, roots).piv.touch_policy != "never";
}

}  // namespace

Result<PivSearch> find_piv_signers(const Policy& policy, const std::string& reader,
                                   const attestation::Roots& roots) {
  CS_TRY(std::vector<piv::ReaderInfo> readers, piv::list_readers());
  if (!reader.empty() && std::none_of(readers.begin(), readers.end(),
                                      [&](const piv::ReaderInfo& r) { return r.reader == reader; })) {
    std::string names;
    for (const auto& r : readers) names += "\n  " + r.reader;
    return Error(Errc::kNotFound,
                 "no smartcard reader is called \"" + reader + "\"" +
                     (names.empty() ? "; pcscd sees no reader" : "; the readers are:" + names));
  }
  PivSearch out;
  for (const auto& r : readers) {
    if (!r.card_present || (!reader.empty() && r.reader != reader)) continue;
    const std::string card = piv::describe_card(r);
    const std::size_t before = out.matches.size();
    for (const auto& slot : r.slots) {
      if (!slot.key) continue;
      const auto ref = policy.find_key(slot.key->id());
      if (!ref) continue;
      out.matches.push_back({r.reader, card, slot.slot, ref->approver->id, *ref->key, r.pin_retries,
                             may_need_touch(r, *ref->key, roots)});
    }
    if (out.matches.size() == before)
      out.other_cards.push_back(r.reader + ": " + card + " — no key of this policy");
  }
  return out;
}

Result<SignatureFile> sign_with_piv(const Proposal& proposal, const PivMatch& match, const SecretBytes& pin,
                                    std::optional<std::string> signer, UnixTime now) {
  CS_TRY_VOID(proposal.refuse_if_expired(now));
  CS_TRY(std::unique_ptr<piv::CardSigner> card,
         piv::CardSigner::open(match.reader, match.slot, [&pin](const std::string&) -> Result<SecretBytes> {
           return SecretBytes::copy_of(pin.view());
         }));
  if (card->public_key().id() != match.key.key.id()) {
    return Error(Errc::kNoDevice, card->describe() + " no longer holds " + match.approver +
                                      "'s key (another card?); insert that card and look for cards again");
  }
  return sign_proposal(*card, proposal.id(), std::move(signer), now);
}

}  // namespace countersign::app
