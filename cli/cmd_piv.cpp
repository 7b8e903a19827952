#include "cli/cmd_piv.h"

#include <cstdio>
#include <cstdlib>

#include "core/fileio.h"
#include "core/policy.h"
#include "core/secret.h"
#include "core/secret_prompt.h"
#include "core/x509.h"
#include "smartcard/piv/piv_device.h"
#include "smartcard/piv/piv_signer.h"

namespace countersign::cli {

namespace {

std::optional<std::string> reader_opt(const std::string& r) {
  if (r.empty()) return std::nullopt;
  return r;
}

}  // namespace

Result<nlohmann::json> list_piv(Io& io, bool print_text) {
  CS_TRY(auto readers, piv::list_readers());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : readers) {
    nlohmann::json j{{"reader", r.reader}, {"card", r.card_present}};
    if (r.card_present) {
      j["type"] = !r.piv ? "unknown" : r.yubikey_version ? "yubikey-piv" : "piv";
      if (!r.error.empty()) j["error"] = r.error;
      if (r.yubikey_version) j["firmware"] = piv::firmware_string(*r.yubikey_version);
      if (r.yubikey_serial) j["serial"] = *r.yubikey_serial;
      if (r.pin_retries >= 0) j["pin_retries"] = r.pin_retries;
      nlohmann::json slots = nlohmann::json::object();
      for (const auto& s : r.slots) {
        if (s.key) {
          slots[piv::slot_name(s.slot)] = {{"alg", alg_name(s.key->alg())}, {"key_id", s.key->id()}};
        } else {
          slots[piv::slot_name(s.slot)] = {{"empty", true}, {"note", s.note}};
        }
      }
      if (r.piv) j["slots"] = slots;
    }
    out.push_back(std::move(j));
  }
  if (!print_text) return out;
  if (readers.empty()) io.out << "no smartcard readers\n";
  for (const auto& r : readers) {
    io.out << r.reader << ": ";
    io.out << piv::describe_card(r);
    if (!r.card_present || !r.piv) {
      io.out << "\n";
      continue;
    }
    if (r.pin_retries >= 0) io.out << ", PIN tries left " << r.pin_retries;
    io.out << "\n";
    for (const auto& s : r.slots) {
      io.out << "  slot " << piv::slot_name(s.slot) << ": ";
      if (s.key) {
        io.out << alg_name(s.key->alg()) << " key " << s.key->id().substr(0, 16) << "\n";
      } else {
        io.out << s.note << "\n";
      }
    }
  }
  return out;
}

namespace {

// Where a YubiKey keeps the certificate of its attestation key (slot f9).
constexpr std::uint32_t kYubicoAttestationObject = 0x5FFF01;

}  // namespace

namespace {

// The management key: --management-key-file (hex), else kManagementKeyEnv (hex), else the
// factory default (with a warning: a card still on it can be changed by anyone holding it).
Result<SecretBytes> management_key(Io& io, const PivEnrollArgs& a, std::size_t want) {
  SecretBytes hex;
  if (!a.management_key_file.empty()) {
    CS_TRY(hex, read_secret_file(a.management_key_file, 256));
  } else if (const char* env = std::getenv(kManagementKeyEnv); env != nullptr && *env != '\0') {
    hex = SecretBytes::copy_of(as_bytes(env));
  } else {
    io.err << "note: using the factory default management key; change it (e.g. `ykman piv access "
              "change-management-key`) and pass --management-key-file\n";
    return piv::default_management_key();
  }
  CS_TRY(SecretBytes key, secret_from_hex(hex.view()));
  if (key.size() != want)
    return make_error(Errc::kInvalidArgument, "the management key must be " + std::to_string(want) +
                                                  " bytes (" + std::to_string(2 * want) +
                                                  " hex digits) for this algorithm");
  return key;
}

// `key enroll --piv --generate`: management key authentication, GENERATE with the policies,
// then (PIN verified) a self-signed certificate for the new key signed by the card and
// stored in the slot, so that the card, `sign --piv` and other PIV software find the key.
Result<void> generate_in_card(Io& io, piv::PivDevice& dev, piv::Slot slot, const PivEnrollArgs& a) {
  piv::PivCard& card = dev.card();
  CS_TRY(Alg alg, alg_from_name(a.alg));
  CS_TRY(piv::PinPolicy pin_policy, piv::pin_policy_from_name(a.pin_policy));
  CS_TRY(piv::TouchPolicy touch_policy, piv::touch_policy_from_name(a.touch_policy));
  if (!a.overwrite && card.read_certificate(slot)) {
    return make_error(Errc::kInvalidArgument,
                      "slot " + a.slot +
                          " already holds a key; --overwrite replaces it (the old key "
                          "is destroyed)");
  }
  const auto version = card.yubikey_version();
  if (!version && (pin_policy != piv::PinPolicy::kDefault || touch_policy != piv::TouchPolicy::kDefault))
    return make_error(Errc::kUnsupported,
                      "PIN and touch policies are YubiKey extensions; this card is not a YubiKey");
  piv::ManagementKeyAlg mk_alg = piv::ManagementKeyAlg::k3Des;
  if (!a.management_key_alg.empty()) {
    CS_TRY(mk_alg, piv::management_key_alg_from_name(a.management_key_alg));
  } else if (version && ((*version)[0] > 5 || ((*version)[0] == 5 && (*version)[1] >= 7))) {
    mk_alg = piv::ManagementKeyAlg::kAes192;  // YubiKey 5.7 and later ship an AES-192 key
  }
  {
    CS_TRY(SecretBytes mk, management_key(io, a, piv::management_key_length(mk_alg)));
    auto auth = card.authenticate_management_key(mk_alg, mk);
    mk.clear();
    if (!auth) return std::move(auth).error();
  }
  if (touch_policy == piv::TouchPolicy::kAlways || touch_policy == piv::TouchPolicy::kCached)
    io.err << "Touch your YubiKey when it blinks (certificate signing).\n";
  CS_TRY(PublicKey key, card.generate_key(slot, alg, pin_policy, touch_policy));
  io.err << "generated an " << alg_name(alg) << " key in slot " << a.slot << "\n";
  SecretBytes pin;
  if (!a.pin_file.empty()) {
    CS_TRY(pin, read_secret_file(a.pin_file, 64));
  } else {
    CS_TRY(pin, prompt_secret("PIV PIN for " + dev.reader() + " (to certify the new key): "));
  }
  auto verified = card.verify_pin(pin);
  pin.clear();
  if (!verified) return std::move(verified).error();
  CS_TRY(Bytes cert,
         x509::self_signed_certificate(key, "countersign " + a.name, io.now(),
                                       [&](ByteView digest) { return card.sign_digest(slot, alg, digest); }));
  return card.put_certificate(slot, cert);
}

}  // namespace

int enroll_piv(Io& io, const PivEnrollArgs& a) {
  auto slot = piv::slot_from_name(a.slot);
  if (!slot) return report_error(io, slot.error(), a.json);
  auto dev = piv::PivDevice::open(reader_opt(a.reader));
  if (!dev) return report_error(io, dev.error(), a.json);
  piv::PivCard& card = (*dev)->card();
  if (a.generate) {
    auto g = generate_in_card(io, **dev, *slot, a);
    if (!g) return report_error(io, g.error(), a.json);
  }
  auto cert = card.read_certificate(*slot);
  if (!cert) return report_error(io, cert.error(), a.json);
  auto key = x509::public_key_from_certificate(*cert);
  if (!key) return report_error(io, key.error().with_context("slot " + a.slot), a.json);
  if (key->alg() != Alg::kEcdsaP256 && key->alg() != Alg::kEcdsaP384) {
    return report_error(
        io,
        Error(Errc::kUnsupported, "slot " + a.slot + " holds an " + std::string(alg_name(key->alg())) +
                                      " key; PIV signing here is ecdsa-p256 or ecdsa-p384"),
        a.json);
  }
  PolicyKey pk{*key, {}, false, std::nullopt};
  // A YubiKey proves the key was made in it: the slot's attestation certificate, signed by
  // the attestation key whose certificate is in object 5FFF01 (Yubico PIV attestation).
  if (card.yubikey_version()) {
    auto att = card.yubikey_attest(*slot);
    if (!att) {
      io.err << "note: no attestation (" << att.error().message
             << "); a key imported into the card cannot be attested\n";
    } else {
      auto f9 = card.read_certificate_object(kYubicoAttestationObject);
      if (!f9) return report_error(io, f9.error().with_context("attestation certificate (5FFF01)"), a.json);
      Attestation at;
      at.format = "yubikey-piv";
      at.certificates = {*att, *f9};
      pk.attestation = std::move(at);
    }
  }
  auto written = write_output(io, a.out, to_pretty_json(policy_key_to_json(pk)), true);
  if (!written.ok()) return report_error(io, written.error(), a.json);
  io.err << "slot " << a.slot << " of " << (*dev)->reader() << ": " << alg_name(key->alg()) << " key "
         << key->id().substr(0, 16);
  if (!a.name.empty()) io.err << "; add the entry to the keys of approver \"" << a.name << "\"";
  io.err << "\n";
  return kExitOk;
}

Result<std::unique_ptr<piv::CardSigner>> open_piv_signer(const PivOptions& o) {
  CS_TRY(piv::Slot slot, piv::slot_from_name(o.slot));
  return piv::CardSigner::open(reader_opt(o.reader), slot,
                               [&o](const std::string& reader) -> Result<SecretBytes> {
                                 if (!o.pin_file.empty()) return read_secret_file(o.pin_file, 64);
                                 return prompt_secret("PIV PIN for " + reader + ": ");
                               });
}

}  // namespace countersign::cli
