#include "smartcard/piv/piv_device.h"

#include "core/x509.h"

namespace countersign::piv {

Result<std::unique_ptr<PivDevice>> PivDevice::open(const std::optional<std::string>& reader) {
  std::unique_ptr<PivDevice> d(new PivDevice());
  CS_TRY(pcsc::PcscContext ctx, pcsc::PcscContext::establish());
  d->ctx_.emplace(std::move(ctx));
  std::string name;
  if (reader) {
    name = *reader;
  } else {
    CS_TRY(auto states, d->ctx_->reader_states());
    std::vector<std::string> with_card;
    for (const auto& s : states) {
      if (s.card_present) with_card.push_back(s.name);
    }
    if (with_card.empty()) {
      return make_error(Errc::kNoDevice,
                        states.empty() ? "no smartcard reader found" : "no card in any reader");
    }
    if (with_card.size() > 1) {
      std::string list;
      for (const auto& n : with_card) list += "\n  " + n;
      return make_error(Errc::kInvalidArgument, "several cards are present; name one with --reader:" + list);
    }
    name = with_card.front();
  }
  CS_TRY(pcsc::PcscCard conn, d->ctx_->connect(name));
  d->conn_.emplace(std::move(conn));
  d->session_.emplace(*d->conn_);
  CS_TRY(PivCard piv, PivCard::select(*d->session_));
  d->piv_.emplace(piv);
  return d;
}

Result<std::vector<ReaderInfo>> list_readers() {
  CS_TRY(pcsc::PcscContext ctx, pcsc::PcscContext::establish());
  CS_TRY(auto states, ctx.reader_states());
  std::vector<ReaderInfo> out;
  for (const auto& s : states) {
    ReaderInfo info;
    info.reader = s.name;
    info.card_present = s.card_present;
    if (s.card_present) {
      auto dev = PivDevice::open(s.name);
      if (!dev) {
        info.error = dev.error().message;
      } else {
        PivCard& card = (*dev)->card();
        info.piv = true;
        if (auto v = card.yubikey_version()) info.yubikey_version = *v;
        if (auto sn = card.yubikey_serial()) info.yubikey_serial = *sn;
        if (auto r = card.pin_retries()) info.pin_retries = *r;
        for (Slot slot :
             {Slot::kAuthentication, Slot::kSignature, Slot::kKeyManagement, Slot::kCardAuthentication}) {
          SlotInfo si{slot, std::nullopt, {}};
          auto cert = card.read_certificate(slot);
          if (!cert) {
            si.note = cert.error().code == Errc::kNotFound ? "empty" : cert.error().message;
          } else if (auto key = x509::public_key_from_certificate(*cert)) {
            si.key = *key;
          } else {
            si.note = key.error().message;
          }
          info.slots.push_back(std::move(si));
        }
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::string firmware_string(const std::array<std::uint8_t, 3>& version) {
  return std::to_string(version[0]) + "." + std::to_string(version[1]) + "." + std::to_string(version[2]);
}

std::string describe_card(const ReaderInfo& info) {
  if (!info.card_present) return "no card";
  if (!info.piv) return "card without PIV (" + info.error + ")";
  if (!info.yubikey_version) return "PIV card";
  std::string s = "YubiKey PIV, firmware " + firmware_string(*info.yubikey_version);
  if (info.yubikey_serial) s += ", serial " + std::to_string(*info.yubikey_serial);
  return s;
}

}  // namespace countersign::piv
