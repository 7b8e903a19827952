// Fuzz target: PIV card answers. The input is a sequence of card responses, each a 1-byte
// length and that many bytes (raw response APDUs, status word last); a scripted transport
// plays them back to the session layer (61xx chaining, 6Cxx) and the PIV parsers (TLV,
// GET DATA 53/70/71, GENERAL AUTHENTICATE 7C/82, YubiKey version/serial). Nothing may crash
// or read out of bounds, whatever the card says.
#include <cstddef>
#include <cstdint>
#include <deque>

#include "smartcard/pcsc/session.h"
#include "smartcard/piv/piv_card.h"
#include "smartcard/piv/tlv.h"

namespace {

using namespace countersign;

class ReplayTransport final : public pcsc::CardTransport {
 public:
  std::deque<Bytes> answers;
  Result<pcsc::Transmitted> transmit(ByteView) override {
    if (answers.empty()) return make_error(Errc::kNoDevice, "fuzz input exhausted");
    Bytes a = std::move(answers.front());
    answers.pop_front();
    return pcsc::Transmitted{pcsc::CardEvent::kNone, std::move(a)};
  }
  Result<pcsc::CardEvent> begin_transaction() override { return pcsc::CardEvent::kNone; }
  void end_transaction() override {}
  Result<void> reconnect() override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView all(data, size);
  (void)piv::parse_tlvs(all);
  (void)pcsc::decode_response(all);

  ReplayTransport t;
  std::size_t i = 0;
  while (i < size) {
    const std::size_t n = data[i++];
    const std::size_t take = n < size - i ? n : size - i;
    t.answers.emplace_back(data + i, data + i + take);
    i += take;
  }
  pcsc::ApduSession session(t);
  // SELECT needs 9000; give it one so the rest of the input reaches the parsers.
  t.answers.emplace_front(Bytes{0x90, 0x00});
  auto card = piv::PivCard::select(session);
  if (!card) return 0;
  (void)card->read_certificate(piv::Slot::kSignature);
  (void)card->sign_digest(piv::Slot::kSignature, Alg::kEcdsaP256, Bytes(32, 0x5A));
  (void)card->yubikey_version();
  (void)card->yubikey_serial();
  (void)card->pin_retries();
  (void)card->get_data(0x7E);
  return 0;
}
