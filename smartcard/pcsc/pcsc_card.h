// The PC/SC transport over PCSC-lite: the only code that calls SCardTransmit.
//
// PcscContext owns an SCARDCONTEXT (SCardEstablishContext / SCardReleaseContext);
// PcscCard owns an SCARDHANDLE (SCardConnect / SCardDisconnect). The pcscd socket is
// PCSC-lite's default, or the one named by the PCSCLITE_CSOCK_NAME environment variable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smartcard/pcsc/transport.h"

namespace countersign::pcsc {

struct ReaderState {
  std::string name;
  bool card_present = false;
  Bytes atr;  // empty when no card
};

class PcscCard;

class PcscContext {
 public:
  // Errors: kNoDevice when pcscd is not running (SCARD_E_NO_SERVICE) or has no readers.
  static Result<PcscContext> establish();
  ~PcscContext();
  PcscContext(PcscContext&& other) noexcept;
  PcscContext& operator=(PcscContext&& other) noexcept;
  PcscContext(const PcscContext&) = delete;
  PcscContext& operator=(const PcscContext&) = delete;

  // Reader names; an empty list (no error) when there are none.
  Result<std::vector<std::string>> list_readers() const;
  // Readers with whether a card is in each and its ATR.
  Result<std::vector<ReaderState>> reader_states() const;
  // Connects to the card in `reader` (shared mode, T=1 or T=0). Errors: kNoDevice when the
  // reader has no card or is unknown.
  Result<PcscCard> connect(const std::string& reader) const;

 private:
  PcscContext() = default;
  std::intptr_t ctx_ = 0;  // SCARDCONTEXT
  bool valid_ = false;
};

class PcscCard final : public CardTransport {
 public:
  ~PcscCard() override;
  PcscCard(PcscCard&& other) noexcept;
  PcscCard& operator=(PcscCard&&) = delete;
  PcscCard(const PcscCard&) = delete;
  PcscCard& operator=(const PcscCard&) = delete;

  const std::string& reader() const { return reader_; }

  Result<Transmitted> transmit(ByteView apdu) override;
  Result<CardEvent> begin_transaction() override;
  void end_transaction() override;
  Result<void> reconnect() override;
  // Resets the card (SCardReconnect with SCARD_RESET_CARD): the card forgets its verified
  // PIN and selected application, and every other connection to it sees SCARD_W_RESET_CARD
  // on its next command.
  Result<void> reset_card();

 private:
  friend class PcscContext;
  PcscCard(std::intptr_t handle, unsigned long protocol, std::string reader)
      : handle_(handle), protocol_(protocol), reader_(std::move(reader)) {}
  std::intptr_t handle_ = 0;  // SCARDHANDLE
  unsigned long protocol_ = 0;
  std::string reader_;
  bool valid_ = true;
};

// Maps a PC/SC return code to an error prefixed with `what`: removed or absent card, no
// reader and no service are kNoDevice, the rest kIo, each with pcsc_stringify_error's text.
Error pcsc_error(long rv, const std::string& what);

}  // namespace countersign::pcsc
