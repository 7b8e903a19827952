#include "smartcard/pcsc/session.h"

#include <openssl/crypto.h>

namespace countersign::pcsc {

namespace {
constexpr std::uint8_t kInsGetResponse = 0xC0;
constexpr std::size_t kChunk = 255;
// GET RESPONSE rounds for one command: kMaxResponse / 256 plus slack. Bounds a card that
// answers 61xx forever.
constexpr int kMaxGetResponse = static_cast<int>(ApduSession::kMaxResponse / 256) + 2;
}  // namespace

Result<void> ApduSession::recover_from_reset() {
  CS_TRY_VOID(transport_.reconnect());
  if (restore_) CS_TRY_VOID(restore_());
  return {};
}

Result<void> ApduSession::begin_transaction() {
  CS_TRY(CardEvent ev, transport_.begin_transaction());
  if (ev == CardEvent::kNone) return {};
  CS_TRY_VOID(transport_.reconnect());
  CS_TRY(CardEvent again, transport_.begin_transaction());
  if (again != CardEvent::kNone)
    return make_error(Errc::kIo, "begin_transaction: the card keeps being reset");
  if (restore_) {
    auto r = restore_();
    if (!r) {
      transport_.end_transaction();
      return std::move(r).error();
    }
  }
  return {};
}

// Wipes a command buffer that may have held a PIN when it goes out of scope.
struct WipeOnExit {
  Bytes& bytes;
  ~WipeOnExit() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// One raw exchange; sets `reset` when the transport saw a card reset instead.
Result<ResponseApdu> ApduSession::exchange(const CommandApdu& apdu, bool& reset) {
  CS_TRY(Bytes raw, encode_short(apdu));
  auto sent = transport_.transmit(raw);
  // The command may carry a PIN (VERIFY); no copy of it outlives the exchange.
  OPENSSL_cleanse(raw.data(), raw.size());
  CS_TRY(Transmitted t, std::move(sent));
  if (t.event == CardEvent::kReset) {
    reset = true;
    return ResponseApdu{};
  }
  return decode_response(t.response);
}

Result<ResponseApdu> ApduSession::transmit_once(const CommandApdu& apdu, bool& reset) {
  // Command chaining: every piece but the last carries CLA | 0x10 and must answer 9000.
  std::size_t off = 0;
  while (apdu.data.size() - off > kChunk) {
    CommandApdu piece{static_cast<std::uint8_t>(apdu.cla | 0x10),
                      apdu.ins,
                      apdu.p1,
                      apdu.p2,
                      Bytes(apdu.data.begin() + static_cast<std::ptrdiff_t>(off),
                            apdu.data.begin() + static_cast<std::ptrdiff_t>(off + kChunk)),
                      std::nullopt};
    CS_TRY(ResponseApdu r, exchange(piece, reset));
    if (reset || !r.ok()) return r;
    off += kChunk;
  }
  CommandApdu last = apdu;
  WipeOnExit wipe_last{last.data};
  last.data.assign(apdu.data.begin() + static_cast<std::ptrdiff_t>(off), apdu.data.end());
  CS_TRY(ResponseApdu r, exchange(last, reset));
  if (reset) return r;
  if ((r.sw & 0xFF00) == 0x6C00) {  // wrong Le: ISO 7816-4 says send it again with Le = SW2
    const std::size_t le = (r.sw & 0xFF) == 0 ? 256 : (r.sw & 0xFF);
    last.le = le;
    CS_TRY(ResponseApdu again, exchange(last, reset));
    if (reset) return again;
    if ((again.sw & 0xFF00) == 0x6C00)
      return make_error(Errc::kIo, "card asked twice for a different Le (6Cxx)");
    r = std::move(again);
  }
  // Response chaining.
  Bytes data = std::move(r.data);
  int rounds = 0;
  while ((r.sw & 0xFF00) == 0x6100) {
    if (++rounds > kMaxGetResponse) return make_error(Errc::kMalformed, "card response does not end (61xx)");
    const std::size_t le = (r.sw & 0xFF) == 0 ? 256 : (r.sw & 0xFF);
    CommandApdu get{0x00, kInsGetResponse, 0x00, 0x00, {}, le};
    CS_TRY(ResponseApdu next, exchange(get, reset));
    if (reset) return next;
    data.insert(data.end(), next.data.begin(), next.data.end());
    if (data.size() > kMaxResponse) return make_error(Errc::kMalformed, "card response longer than 64 KiB");
    r.sw = next.sw;
  }
  r.data = std::move(data);
  return r;
}

Result<ResponseApdu> ApduSession::transmit(const CommandApdu& apdu) {
  bool reset = false;
  CS_TRY(ResponseApdu r, transmit_once(apdu, reset));
  if (!reset) return r;
  CS_TRY_VOID(recover_from_reset());
  reset = false;
  CS_TRY(ResponseApdu again, transmit_once(apdu, reset));
  if (reset) return make_error(Errc::kIo, "the card was reset again while sending a command");
  return again;
}

Result<Transaction> Transaction::begin(ApduSession& session) {
  CS_TRY_VOID(session.begin_transaction());
  return Transaction(session);
}

Transaction::~Transaction() {
  if (session_ != nullptr) session_->end_transaction();
}

}  // namespace countersign::pcsc
