// CardTransport: the seam between the session layer and whatever moves bytes to a card.
// PcscCard (pcsc_card.h) is the real one, over PCSC-lite; tests use scripted transports.
#pragma once

#include "core/bytes.h"
#include "core/result.h"

namespace countersign::pcsc {

// Something happened to the card between our commands: another application or the reader
// reset it (PC/SC SCARD_W_RESET_CARD). The command was not executed; the caller must
// reconnect() and restore state (applet selection, PIN) before sending it again.
enum class CardEvent { kNone, kReset };

struct Transmitted {
  CardEvent event = CardEvent::kNone;
  Bytes response;  // the raw response with SW1SW2, when event == kNone
};

class CardTransport {
 public:
  virtual ~CardTransport() = default;
  // Sends one APDU, returns the raw response. Errors: kNoDevice when the card or reader is
  // gone, kIo for other transmission failures.
  virtual Result<Transmitted> transmit(ByteView apdu) = 0;
  // Exclusive access for a sequence of commands (SCardBeginTransaction). Returns kReset when
  // the card was reset since the last command (the transaction is then not held).
  virtual Result<CardEvent> begin_transaction() = 0;
  // Ends the transaction, leaving the card as it is (SCARD_LEAVE_CARD). Never fails loudly:
  // a card that is gone has no transaction to end.
  virtual void end_transaction() = 0;
  // Re-establishes the connection after a reset (SCardReconnect, SCARD_LEAVE_CARD).
  virtual Result<void> reconnect() = 0;
};

}  // namespace countersign::pcsc
