// ApduSession: the ISO 7816-4 exchange rules on top of a CardTransport.
//   - command chaining: data over 255 bytes goes in 255-byte pieces with CLA | 0x10 on all
//     but the last (ISO 7816-4 5.3.3; NIST SP 800-73-4 part 2, 3.2);
//   - response chaining: 61xx means xx (00: 256 or more) bytes wait; they are fetched with
//     GET RESPONSE (INS C0) until 9000 (ISO 7816-4 5.3.4);
//   - 6Cxx: wrong Le, the command is sent again once with Le = xx;
//   - card reset (another application reset the card): reconnect, run the restore hook
//     (re-select the applet), send the command again, once.
// Status words other than 9000 are left in the ResponseApdu for the caller to map with
// status_error(), so that e.g. VERIFY can treat 63Cx as an answer.
#pragma once

#include <functional>

#include "smartcard/pcsc/apdu.h"
#include "smartcard/pcsc/transport.h"

namespace countersign::pcsc {

class ApduSession {
 public:
  // `transport` must outlive the session.
  explicit ApduSession(CardTransport& transport) : transport_(transport) {}

  // Called after a reconnect caused by a card reset, before the command is sent again.
  // The applet layer re-selects its application here. State that needed a PIN is lost on a
  // reset; the repeated command then fails with 6982, which is the truth.
  void set_restore(std::function<Result<void>()> restore) { restore_ = std::move(restore); }

  // Sends `apdu` with chaining as needed and returns the full response data with the final
  // status word. Responses are capped at kMaxResponse bytes (kMalformed beyond that).
  // Errors: kNoDevice (card gone), kIo, kMalformed.
  Result<ResponseApdu> transmit(const CommandApdu& apdu);

  // Exclusive access across several commands (e.g. VERIFY then GENERAL AUTHENTICATE, so no
  // other application can use the verified PIN in between). Handles a reset seen at begin.
  Result<void> begin_transaction();
  void end_transaction() { transport_.end_transaction(); }

  static constexpr std::size_t kMaxResponse = 64 * 1024;

 private:
  Result<ResponseApdu> transmit_once(const CommandApdu& apdu, bool& reset);
  Result<ResponseApdu> exchange(const CommandApdu& apdu, bool& reset);
  Result<void> recover_from_reset();

  CardTransport& transport_;
  std::function<Result<void>()> restore_;
};

// RAII: begin_transaction() in create(), end_transaction() in the destructor.
class Transaction {
 public:
  static Result<Transaction> begin(ApduSession& session);
  ~Transaction();
  Transaction(Transaction&& other) noexcept : session_(other.session_) { other.session_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  explicit Transaction(ApduSession& s) : session_(&s) {}
  ApduSession* session_;
};

}  // namespace countersign::pcsc
