#include "smartcard/pcsc/pcsc_card.h"

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include <cstring>

namespace countersign::pcsc {

namespace {
SCARDCONTEXT as_ctx(std::intptr_t v) { return static_cast<SCARDCONTEXT>(v); }
SCARDHANDLE as_handle(std::intptr_t v) { return static_cast<SCARDHANDLE>(v); }
constexpr DWORD kProtocols = SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0;
}  // namespace

Error pcsc_error(long rv, const std::string& what) {
  const std::string text = std::string(pcsc_stringify_error(rv));
  switch (rv) {
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
      return Error(Errc::kNoDevice, what + ": the PC/SC service (pcscd) is not running: " + text);
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
      return Error(Errc::kNoDevice, what + ": no card in the reader (removed?): " + text);
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_READER_UNAVAILABLE:
      return Error(Errc::kNoDevice, what + ": reader not available: " + text);
    case SCARD_W_UNRESPONSIVE_CARD:
    case SCARD_W_UNPOWERED_CARD:
      return Error(Errc::kNoDevice, what + ": the card does not respond: " + text);
    default:
      return Error(Errc::kIo, what + ": " + text);
  }
}

Result<PcscContext> PcscContext::establish() {
  SCARDCONTEXT ctx = 0;
  const LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &ctx);
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardEstablishContext");
  PcscContext c;
  c.ctx_ = static_cast<std::intptr_t>(ctx);
  c.valid_ = true;
  return c;
}

PcscContext::~PcscContext() {
  if (valid_) SCardReleaseContext(as_ctx(ctx_));
}

PcscContext::PcscContext(PcscContext&& other) noexcept : ctx_(other.ctx_), valid_(other.valid_) {
  other.valid_ = false;
}

PcscContext& PcscContext::operator=(PcscContext&& other) noexcept {
  if (this != &other) {
    if (valid_) SCardReleaseContext(as_ctx(ctx_));
    ctx_ = other.ctx_;
    valid_ = other.valid_;
    other.valid_ = false;
  }
  return *this;
}

Result<std::vector<std::string>> PcscContext::list_readers() const {
  DWORD len = 0;
  LONG rv = SCardListReaders(as_ctx(ctx_), nullptr, nullptr, &len);
  if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardListReaders");
  std::string buf(len, '\0');
  rv = SCardListReaders(as_ctx(ctx_), nullptr, buf.data(), &len);
  if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardListReaders");
  buf.resize(len);
  // A multi-string: names separated by NUL, ended by an empty name.
  std::vector<std::string> names;
  std::size_t pos = 0;
  while (pos < buf.size()) {
    const std::size_t end = buf.find('\0', pos);
    const std::size_t stop = end == std::string::npos ? buf.size() : end;
    if (stop == pos) break;
    names.emplace_back(buf.substr(pos, stop - pos));
    pos = stop + 1;
  }
  return names;
}

Result<std::vector<ReaderState>> PcscContext::reader_states() const {
  CS_TRY(std::vector<std::string> names, list_readers());
  std::vector<SCARD_READERSTATE> states(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::memset(&states[i], 0, sizeof states[i]);
    states[i].szReader = names[i].c_str();
    states[i].dwCurrentState = SCARD_STATE_UNAWARE;
  }
  std::vector<ReaderState> out;
  if (names.empty()) return out;
  const LONG rv = SCardGetStatusChange(as_ctx(ctx_), 0, states.data(), static_cast<DWORD>(states.size()));
  if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) return pcsc_error(rv, "SCardGetStatusChange");
  for (std::size_t i = 0; i < names.size(); ++i) {
    ReaderState s;
    s.name = names[i];
    s.card_present = (states[i].dwEventState & SCARD_STATE_PRESENT) != 0;
    if (s.card_present) {
      const std::size_t n = std::min<std::size_t>(states[i].cbAtr, sizeof states[i].rgbAtr);
      s.atr.assign(states[i].rgbAtr, states[i].rgbAtr + n);
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<PcscCard> PcscContext::connect(const std::string& reader) const {
  SCARDHANDLE h = 0;
  DWORD proto = 0;
  const LONG rv = SCardConnect(as_ctx(ctx_), reader.c_str(), SCARD_SHARE_SHARED, kProtocols, &h, &proto);
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardConnect to \"" + reader + "\"");
  return PcscCard(static_cast<std::intptr_t>(h), proto, reader);
}

PcscCard::~PcscCard() {
  if (valid_) SCardDisconnect(as_handle(handle_), SCARD_LEAVE_CARD);
}

PcscCard::PcscCard(PcscCard&& other) noexcept
    : handle_(other.handle_),
      protocol_(other.protocol_),
      reader_(std::move(other.reader_)),
      valid_(other.valid_) {
  other.valid_ = false;
}

Result<Transmitted> PcscCard::transmit(ByteView apdu) {
  const SCARD_IO_REQUEST* pci = protocol_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
  // 256 data bytes + SW1SW2 is the most a short APDU can answer; extended answers are not used.
  Bytes buf(258 + 16);
  DWORD len = static_cast<DWORD>(buf.size());
  const LONG rv = SCardTransmit(as_handle(handle_), pci, apdu.data(), static_cast<DWORD>(apdu.size()),
                                nullptr, buf.data(), &len);
  if (rv == SCARD_W_RESET_CARD) return Transmitted{CardEvent::kReset, {}};
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardTransmit");
  buf.resize(len);
  return Transmitted{CardEvent::kNone, std::move(buf)};
}

Result<CardEvent> PcscCard::begin_transaction() {
  const LONG rv = SCardBeginTransaction(as_handle(handle_));
  if (rv == SCARD_W_RESET_CARD) return CardEvent::kReset;
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardBeginTransaction");
  return CardEvent::kNone;
}

void PcscCard::end_transaction() { SCardEndTransaction(as_handle(handle_), SCARD_LEAVE_CARD); }

Result<void> PcscCard::reconnect() {
  DWORD proto = 0;
  const LONG rv =
      SCardReconnect(as_handle(handle_), SCARD_SHARE_SHARED, kProtocols, SCARD_LEAVE_CARD, &proto);
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardReconnect");
  protocol_ = proto;
  return {};
}

Result<void> PcscCard::reset_card() {
  DWORD proto = 0;
  const LONG rv =
      SCardReconnect(as_handle(handle_), SCARD_SHARE_SHARED, kProtocols, SCARD_RESET_CARD, &proto);
  if (rv != SCARD_S_SUCCESS) return pcsc_error(rv, "SCardReconnect (reset)");
  protocol_ = proto;
  return {};
}

}  // namespace countersign::pcsc
