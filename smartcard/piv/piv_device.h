// PivDevice: one connected PIV card, with the PC/SC context, connection, session and applet
// held together in the order they depend on each other. The CLI and app open a card
// through this; tests may assemble the layers themselves.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smartcard/pcsc/pcsc_card.h"
#include "smartcard/pcsc/session.h"
#include "smartcard/piv/piv_card.h"

namespace countersign::piv {

class PivDevice {
 public:
  // Connects to the card in `reader`, or, when none is named, to the only reader with a
  // card in it, and selects PIV. Errors: kNoDevice (no pcscd, no reader, no card),
  // kInvalidArgument when several cards are present and none is named (the message lists
  // them), kNotFound when the card has no PIV application.
  static Result<std::unique_ptr<PivDevice>> open(const std::optional<std::string>& reader);

  PivCard& card() { return *piv_; }
  pcsc::PcscCard& connection() { return *conn_; }
  const std::string& reader() const { return conn_->reader(); }

  PivDevice(const PivDevice&) = delete;
  PivDevice& operator=(const PivDevice&) = delete;

 private:
  PivDevice() = default;
  std::optional<pcsc::PcscContext> ctx_;
  std::optional<pcsc::PcscCard> conn_;
  std::optional<pcsc::ApduSession> session_;
  std::optional<PivCard> piv_;
};

// What `countersign key list` shows for one reader.
struct SlotInfo {
  Slot slot;
  std::optional<PublicKey> key;  // from the slot's certificate; empty when unreadable
  std::string note;              // why there is no key ("empty", "RSA key: not supported")
};
struct ReaderInfo {
  std::string reader;
  bool card_present = false;
  bool piv = false;   // the card answered SELECT PIV
  std::string error;  // why the card could not be read, if it could not
  std::optional<std::array<std::uint8_t, 3>> yubikey_version;
  std::optional<std::uint32_t> yubikey_serial;
  int pin_retries = -1;         // -1 when unknown
  std::vector<SlotInfo> slots;  // 9a, 9c, 9d, 9e
};

// Every reader pcscd knows and what is in it. Reads certificates only; needs no PIN.
// Errors: kNoDevice when pcscd is not running.
Result<std::vector<ReaderInfo>> list_readers();

// "5.7.1": a YubiKey firmware version as people and `key list --json` write it.
std::string firmware_string(const std::array<std::uint8_t, 3>& version);
// What the card in `info` is, for people: "YubiKey PIV, firmware 5.7.1, serial 7654321",
// "PIV card", "card without PIV (why)" or "no card" (the CLI's `key list`, the app's Sign view).
std::string describe_card(const ReaderInfo& info);

}  // namespace countersign::piv
