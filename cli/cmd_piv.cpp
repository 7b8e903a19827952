#include "cli/cmd_piv.h"

#include <cstdio>

#include "core/fileio.h"
#include "core/policy.h"
#include "core/secret.h"
#include "core/x509.h"
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

}  // namespace

Result<nlohmann::json> list_piv(Io& io, bool print_text) {
  CS_TRY(auto readers, piv::list_readers());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : readers) {
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
  if (!print_text) return out;
  if (readers.empty()) io.out << "no smartcard readers\n";
  for (const auto& r : readers) {
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
  return out;
}

namespace {

// Where a YubiKey keeps the certificate of its attestation key (slot f9).
constexpr std::uint32_t kYubicoAttestationObject = 0x5FFF01;

}  // namespace

int enroll_piv(Io& io, const PivEnrollArgs& a) {
  auto slot = piv::slot_from_name(a.slot);
  if (!slot) return report_error(io, slot.error(), a.json);
  auto dev = piv::PivDevice::open(reader_opt(a.reader));
  if (!dev) return report_error(io, dev.error(), a.json);
  piv::PivCard& card = (*dev)->card();
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

namespace {

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

}  // namespace countersign::cli
