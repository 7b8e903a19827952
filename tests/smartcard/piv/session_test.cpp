// The session layer's exchange rules and status word mapping, against a scripted transport
// that checks each APDU it receives and answers from a script.
#include <gtest/gtest.h>

#include <deque>

#include "smartcard/pcsc/session.h"
#include "smartcard/piv/piv_card.h"
#include "smartcard/piv/tlv.h"

namespace countersign::pcsc {
namespace {

Bytes h(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

struct Step {
  std::string expect;  // hex of the APDU we expect ("" = any)
  std::string answer;  // hex of the response; "RESET" = report a card reset
};

class ScriptedTransport final : public CardTransport {
 public:
  std::deque<Step> script;
  std::vector<Bytes> sent;
  int reconnects = 0;
  bool reset_at_begin = false;

  Result<Transmitted> transmit(ByteView apdu) override {
    sent.emplace_back(apdu.begin(), apdu.end());
    if (script.empty()) return make_error(Errc::kIo, "script exhausted");
    Step s = script.front();
    script.pop_front();
    if (!s.expect.empty()) {
      EXPECT_EQ(hex_encode(apdu), s.expect);
    }
    if (s.answer == "RESET") return Transmitted{CardEvent::kReset, {}};
    if (s.answer == "GONE") return make_error(Errc::kNoDevice, "card removed");
    return Transmitted{CardEvent::kNone, h(s.answer)};
  }
  Result<CardEvent> begin_transaction() override {
    if (reset_at_begin) {
      reset_at_begin = false;
      return CardEvent::kReset;
    }
    return CardEvent::kNone;
  }
  void end_transaction() override {}
  Result<void> reconnect() override {
    ++reconnects;
    return {};
  }
};

TEST(ApduSession, ChainsCommandDataOver255BytesWithCla10) {
  ScriptedTransport t;
  std::string data(600 * 2, 'a');  // 600 bytes of 0xAA
  t.script = {{"10db3fffff" + data.substr(0, 510), "9000"},
              {"10db3fffff" + data.substr(510, 510), "9000"},
              {"00db3fff5a" + data.substr(1020), "9000"}};
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xDB, 0x3F, 0xFF, h(data), std::nullopt});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(t.script.empty());
}

TEST(ApduSession, StopsTheChainWhenAPieceIsRefused) {
  ScriptedTransport t;
  t.script = {{"", "6982"}};
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xDB, 0x3F, 0xFF, Bytes(300, 1), std::nullopt});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sw, 0x6982);
  EXPECT_EQ(t.sent.size(), 1u);
}

TEST(ApduSession, CollectsA61xxResponseWithGetResponse) {
  ScriptedTransport t;
  t.script = {{"00cb3fff035c017e00", "0102036100"}, {"00c0000000", "04056103"}, {"00c0000003", "0607089000"}};
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xCB, 0x3F, 0xFF, h("5c017e"), 256});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->sw, 0x9000);
  EXPECT_EQ(hex_encode(r->data), "0102030405060708");
}

TEST(ApduSession, ResendsWithTheLeThatA6CxxAsksFor) {
  ScriptedTransport t;
  t.script = {{"00fd000001", "6c03"}, {"00fd000003", "0504039000"}};
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xFD, 0x00, 0x00, {}, 1});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(hex_encode(r->data), "050403");
}

TEST(ApduSession, BoundsAResponseThatNeverEnds) {
  ScriptedTransport t;
  t.script.push_back({"", "6100"});
  for (int i = 0; i < 400; ++i) t.script.push_back({"", std::string(512, '0') + "6100"});
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xCB, 0x3F, 0xFF, h("5c017e"), 256});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kMalformed);
}

TEST(ApduSession, ReconnectsReselectsAndResendsAfterACardReset) {
  ScriptedTransport t;
  t.script = {{"00fd000000", "RESET"}, {"00a4040005a000000308", "9000"}, {"00fd000000", "0504039000"}};
  ApduSession s(t);
  int restores = 0;
  s.set_restore([&]() -> Result<void> {
    ++restores;
    auto r = s.transmit(CommandApdu{0x00, 0xA4, 0x04, 0x00, h("a000000308"), std::nullopt});
    if (!r) return std::move(r).error();
    return {};
  });
  auto r = s.transmit(CommandApdu{0x00, 0xFD, 0x00, 0x00, {}, 256});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(hex_encode(r->data), "050403");
  EXPECT_EQ(t.reconnects, 1);
  EXPECT_EQ(restores, 1);
}

TEST(ApduSession, ResetSeenAtBeginTransactionReconnects) {
  ScriptedTransport t;
  t.reset_at_begin = true;
  ApduSession s(t);
  ASSERT_TRUE(s.begin_transaction());
  EXPECT_EQ(t.reconnects, 1);
}

TEST(ApduSession, RemovedCardIsNoDevice) {
  ScriptedTransport t;
  t.script = {{"", "GONE"}};
  ApduSession s(t);
  auto r = s.transmit(CommandApdu{0x00, 0xFD, 0x00, 0x00, {}, 256});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNoDevice);
}

TEST(StatusError, MapsPinAndSecurityStatusWords) {
  EXPECT_EQ(status_error(0x63C2, "VERIFY").code, Errc::kWrongPin);
  EXPECT_EQ(status_error(0x63C2, "VERIFY").retries, 2);
  EXPECT_EQ(status_error(0x63C0, "VERIFY").code, Errc::kPinLocked);
  EXPECT_EQ(status_error(0x6983, "VERIFY").code, Errc::kPinLocked);
  EXPECT_EQ(status_error(0x6982, "SIGN").code, Errc::kRejected);
  EXPECT_EQ(status_error(0x6A82, "GET DATA").code, Errc::kNotFound);
  EXPECT_EQ(status_error(0x6D00, "X").code, Errc::kUnsupported);
  const Error e = status_error(0x6F00, "X");
  EXPECT_EQ(e.code, Errc::kIo);
  EXPECT_NE(e.message.find("6F00"), std::string::npos);
}

TEST(PivCardScripted, VerifySendsThePinPaddedWithFFAndReportsRetries) {
  ScriptedTransport t;
  t.script = {{"00a4040005a00000030800", "9000"}, {"002000800831323334353637ff", "63c1"}};
  ApduSession s(t);
  auto card = piv::PivCard::select(s);
  ASSERT_TRUE(card) << card.error().message;
  auto r = card->verify_pin(SecretBytes::copy_of(as_bytes("1234567")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kWrongPin);
  EXPECT_EQ(r.error().retries, 1);
  EXPECT_EQ(r.error().message.find("1234567"), std::string::npos);  // never in a message
}

TEST(PivCardScripted, GeneralAuthenticateSendsTheDigestTemplate) {
  ScriptedTransport t;
  const std::string digest(64, 'c');
  t.script = {{"00a4040005a00000030800", "9000"},
              {"0087119c267c2482008120" + digest + "00", "7c068204300602019000"}};
  ApduSession s(t);
  auto card = piv::PivCard::select(s);
  ASSERT_TRUE(card);
  auto sig = card->sign_digest(piv::Slot::kSignature, Alg::kEcdsaP256, h(digest));
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(hex_encode(*sig), "30060201");
}

TEST(Tlv, RejectsTruncatedAndOverlongInput) {
  EXPECT_FALSE(piv::parse_tlvs(h("5303")));
  EXPECT_FALSE(piv::parse_tlvs(h("53830000")));
  EXPECT_FALSE(piv::parse_tlvs(h("5f")));
  auto ok = piv::parse_tlvs(h("53820003aabbcc7100"));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ(hex_encode((*ok)[0].value), "aabbcc");
  Bytes long_value(300, 7), enc;
  piv::append_tlv(enc, 0x70, long_value);
  auto back = piv::parse_tlvs(enc);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].value, long_value);
}

}  // namespace
}  // namespace countersign::pcsc
