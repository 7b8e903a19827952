#include "cli/cmd_piv.h"

#include <cstdio>

#include "core/policy.h"
#include "core/secret.h"
#include "smartcard/piv/piv_device.h"
#include "smartcard/piv/piv_signer.h"

namespace countersign::cli {

namespace {

std::optional<std::string> reader_opt(const std::string& r) {
  if (r.empty()) return std::nullopt;
  return r;
}

std::string version_string(const std::array<std::uint8_t, 3>& v) {
  return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
}

int list(Io& io, bool json) {
  auto readers = piv::list_readers();
  if (!readers) return report_error(io, readers.error(), json);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : *readers) {
    nlohmann::json j{{"reader", r.reader}, {"card", r.card_present}};
    if (r.card_present) {
      j["type"] = !r.piv ? "unknown" : r.yubikey_version ? "yubikey-piv" : "piv";
      if (!r.error.empty()) j["error"] = r.error;
      if (r.yubikey_version) j["firmware"] = version_string(*r.yubikey_version);
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
  if (json) {
    print_json(io, out);
    return kExitOk;
  }
  if (readers->empty()) io.out << "no smartcard readers\n";
  for (const auto& r : *readers) {
    io.out << r.reader << ": ";
    if (!r.card_present) {
      io.out << "no card\n";
      continue;
    }
    if (!r.piv) {
      io.out << "card without PIV (" << r.error << ")\n";
      continue;
    }
    if (r.yubikey_version) {
      io.out << "YubiKey PIV, firmware " << version_string(*r.yubikey_version);
      if (r.yubikey_serial) io.out << ", serial " << *r.yubikey_serial;
    } else {
      io.out << "PIV card";
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
  return kExitOk;
}

// Where a YubiKey keeps the certificate of its attestation key (slot f9).
constexpr std::uint32_t kYubicoAttestationObject = 0x5FFF01;

struct EnrollArgs {
  bool piv = false, json = false;
  std::string reader, slot = "9c", name;
};

int enroll(Io& io, const EnrollArgs& a) {
  if (!a.piv) {
    return report_error(io, Error(Errc::kInvalidArgument, "key enroll needs a device: --piv"), a.json);
  }
  auto slot = piv::slot_from_name(a.slot);
  if (!slot) return report_error(io, slot.error(), a.json);
  auto dev = piv::PivDevice::open(reader_opt(a.reader));
  if (!dev) return report_error(io, dev.error(), a.json);
  piv::PivCard& card = (*dev)->card();
  auto cert = card.read_certificate(*slot);
  if (!cert) return report_error(io, cert.error(), a.json);
  auto key = piv::public_key_from_certificate(*cert);
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
  print_json(io, policy_key_to_json(pk));
  io.err << "slot " << a.slot << " of " << (*dev)->reader() << ": " << alg_name(key->alg()) << " key "
         << key->id().substr(0, 16);
  if (!a.name.empty()) io.err << "; add the entry to the keys of approver \"" << a.name << "\"";
  io.err << "\n";
  return kExitOk;
}

class PivOpenedSigner final : public OpenedSigner {
 public:
  PivOpenedSigner(std::unique_ptr<piv::PivDevice> dev, piv::PivSigner s)
      : dev_(std::move(dev)), signer_(std::move(s)) {}
  Signer& signer() override { return signer_; }
  std::string describe() const override {
    return "slot " + piv::slot_name(signer_.slot()) + " of the card in " + dev_->reader();
  }

 private:
  std::unique_ptr<piv::PivDevice> dev_;
  piv::PivSigner signer_;
};

}  // namespace

Result<std::unique_ptr<OpenedSigner>> open_piv_signer(const PivOptions& o) {
  CS_TRY(piv::Slot slot, piv::slot_from_name(o.slot));
  CS_TRY(auto dev, piv::PivDevice::open(reader_opt(o.reader)));
  SecretBytes pin;
  if (!o.pin_file.empty()) {
    CS_TRY(pin, read_secret_file(o.pin_file, 64));
  } else {
    CS_TRY(pin, prompt_secret("PIV PIN for " + dev->reader() + ": "));
  }
  CS_TRY(piv::PivSigner s, piv::PivSigner::create(dev->card(), slot, std::move(pin)));
  return std::unique_ptr<OpenedSigner>(new PivOpenedSigner(std::move(dev), std::move(s)));
}

void add_piv_key_commands(CLI::App* key, Registry& r) {
  auto json = std::make_shared<bool>(false);
  auto* ls = key->add_subcommand(
      "list", "Smartcard readers and the PIV cards in them: type, serial, slots, PIN tries");
  ls->add_flag("--json", *json, "Print JSON");
  ls->callback([&io = r.io, &rc = r.rc, json] { rc = list(io, *json); });

  auto a = std::make_shared<EnrollArgs>();
  auto* en = key->add_subcommand("enroll", "Print the policy key entry of a key on a hardware device");
  en->footer(
      "--piv reads the slot's certificate (no PIN needed) and prints the entry (alg ecdsa-p256 or "
      "ecdsa-p384,\n"
      "public_key); on a YubiKey it adds the attestation (format yubikey-piv: the slot's attestation\n"
      "certificate and the attestation key's certificate).");
  en->add_flag("--piv", a->piv, "The key is in a PIV smartcard or YubiKey PIV slot")->required();
  en->add_option("--reader", a->reader, "PC/SC reader name (default: the only reader with a card)");
  en->add_option("--slot", a->slot, "PIV slot: 9a, 9c (default), 9d or 9e");
  en->add_option("--name", a->name, "Approver id the key is for (shown as a reminder)");
  en->add_flag("--json", a->json, "Errors as JSON too");
  en->callback([&io = r.io, &rc = r.rc, a] { rc = enroll(io, *a); });
}

}  // namespace countersign::cli
