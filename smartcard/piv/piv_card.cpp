#include "smartcard/piv/piv_card.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <memory>

#include "smartcard/piv/tlv.h"

namespace countersign::piv {

namespace {
using pcsc::CommandApdu;
using pcsc::ResponseApdu;
using pcsc::status_error;

constexpr std::uint8_t kInsSelect = 0xA4;
constexpr std::uint8_t kInsVerify = 0x20;
constexpr std::uint8_t kInsGetData = 0xCB;
constexpr std::uint8_t kInsPutData = 0xDB;
constexpr std::uint8_t kInsGeneralAuthenticate = 0x87;
constexpr std::uint8_t kInsYkGetVersion = 0xFD;
constexpr std::uint8_t kInsYkGetSerial = 0xF8;
constexpr std::uint8_t kInsYkAttest = 0xF9;
constexpr std::uint8_t kPinReference = 0x80;

std::uint32_t certificate_object(Slot slot) {
  switch (slot) {
    case Slot::kAuthentication:
      return 0x5FC105;
    case Slot::kSignature:
      return 0x5FC10A;
    case Slot::kKeyManagement:
      return 0x5FC10B;
    case Slot::kCardAuthentication:
      return 0x5FC101;
  }
  return 0;
}

// GET DATA's request names the object in a 5C tag: 1 byte for 7E, 3 bytes for 5FC1xx.
Bytes object_selector(std::uint32_t tag) {
  Bytes id;
  if (tag > 0xFFFF) id.push_back(static_cast<std::uint8_t>(tag >> 16));
  if (tag > 0xFF) id.push_back(static_cast<std::uint8_t>((tag >> 8) & 0xFF));
  id.push_back(static_cast<std::uint8_t>(tag & 0xFF));
  Bytes out;
  append_tlv(out, 0x5C, id);
  return out;
}
}  // namespace

Result<Slot> slot_from_name(std::string_view name) {
  if (name == "9a") return Slot::kAuthentication;
  if (name == "9c") return Slot::kSignature;
  if (name == "9d") return Slot::kKeyManagement;
  if (name == "9e") return Slot::kCardAuthentication;
  return make_error(Errc::kInvalidArgument,
                    "unknown PIV slot \"" + std::string(name) + "\" (use 9a, 9c, 9d or 9e)");
}

std::string slot_name(Slot slot) {
  static const char* hex = "0123456789abcdef";
  const auto v = static_cast<unsigned>(slot);
  return {hex[v >> 4], hex[v & 0xF]};
}

Result<std::uint8_t> piv_algorithm(Alg alg) {
  switch (alg) {
    case Alg::kEcdsaP256:
      return std::uint8_t{0x11};
    case Alg::kEcdsaP384:
      return std::uint8_t{0x14};
    default:
      return make_error(Errc::kUnsupported,
                        "PIV signing supports ecdsa-p256 and ecdsa-p384, not " + std::string(alg_name(alg)));
  }
}

Result<PivCard> PivCard::select(pcsc::ApduSession& session) {
  auto do_select = [&session]() -> Result<void> {
    CommandApdu apdu{0x00, kInsSelect, 0x04, 0x00, Bytes(kPivAid.begin(), kPivAid.end()), 256};
    CS_TRY(ResponseApdu r, session.transmit(apdu));
    if (!r.ok()) return status_error(r.sw, "SELECT PIV application");
    return {};
  };
  CS_TRY_VOID(do_select());
  session.set_restore(do_select);
  return PivCard(session);
}

Result<void> PivCard::verify_pin(const SecretBytes& pin) {
  if (pin.size() < 6 || pin.size() > 8) {
    return make_error(Errc::kInvalidArgument, "VERIFY PIN: a PIV PIN is 6 to 8 characters");
  }
  // SP 800-73-4 part 2, 2.4.3: the PIN is padded to 8 bytes with FF. The plain copy in
  // the command is wiped below; the session wipes its encoded copy after sending.
  CommandApdu cmd{0x00, kInsVerify, 0x00, kPinReference, Bytes(8, 0xFF), std::nullopt};
  std::copy(pin.data(), pin.data() + pin.size(), cmd.data.begin());
  auto r = session_->transmit(cmd);
  OPENSSL_cleanse(cmd.data.data(), cmd.data.size());
  if (!r) return std::move(r).error();
  if (!r->ok()) return status_error(r->sw, "VERIFY PIN");
  return {};
}

Result<int> PivCard::pin_retries() {
  CommandApdu cmd{0x00, kInsVerify, 0x00, kPinReference, {}, std::nullopt};
  CS_TRY(ResponseApdu r, session_->transmit(cmd));
  if (r.ok()) return -1;
  if ((r.sw & 0xFFF0) == 0x63C0) return static_cast<int>(r.sw & 0x0F);
  if (r.sw == 0x6983) return 0;
  return status_error(r.sw, "PIN retries");
}

Result<Bytes> PivCard::get_data(std::uint32_t object_tag) {
  CommandApdu cmd{0x00, kInsGetData, 0x3F, 0xFF, object_selector(object_tag), 256};
  CS_TRY(ResponseApdu r, session_->transmit(cmd));
  if (!r.ok()) return status_error(r.sw, "GET DATA");
  CS_TRY(auto outer, parse_tlvs(r.data));
  const std::uint32_t wrapper = object_tag == 0x7E ? 0x7E : 0x53;
  auto v = find_tlv(outer, wrapper);
  if (!v || outer.size() != 1) return make_error(Errc::kMalformed, "GET DATA: answer is not one data object");
  return *v;
}

Result<void> PivCard::put_data(std::uint32_t object_tag, ByteView value) {
  Bytes data = object_selector(object_tag);
  append_tlv(data, 0x53, value);
  CS_TRY(ResponseApdu r,
         session_->transmit(CommandApdu{0x00, kInsPutData, 0x3F, 0xFF, std::move(data), std::nullopt}));
  if (!r.ok()) return status_error(r.sw, "PUT DATA");
  return {};
}

Result<Bytes> PivCard::read_certificate_object(std::uint32_t object_tag) {
  CS_TRY(Bytes data, get_data(object_tag));
  CS_TRY(auto inner, parse_tlvs(data));
  auto cert = find_tlv(inner, 0x70);
  if (!cert || cert->empty()) return make_error(Errc::kNotFound, "holds no certificate");
  auto info = find_tlv(inner, 0x71);
  if (info && !info->empty() && ((*info)[0] & 0x01) != 0) {
    return make_error(Errc::kUnsupported, "the certificate is gzip-compressed");
  }
  return *cert;
}

Result<Bytes> PivCard::read_certificate(Slot slot) {
  auto cert = read_certificate_object(certificate_object(slot));
  if (!cert) return std::move(cert).error().with_context("slot " + slot_name(slot) + " certificate");
  return cert;
}

Result<Bytes> PivCard::sign_digest(Slot slot, Alg alg, ByteView digest) {
  CS_TRY(std::uint8_t algo, piv_algorithm(alg));
  const std::size_t want = alg == Alg::kEcdsaP256 ? 32 : 48;
  if (digest.size() != want)
    return make_error(Errc::kInvalidArgument, "sign_digest: digest has the wrong length");
  // Dynamic authentication template (SP 800-73-4 part 2, 3.2.4): 82 empty asks for the
  // response, 81 carries the challenge (here the digest to sign).
  Bytes inner;
  append_tlv(inner, 0x82, {});
  append_tlv(inner, 0x81, digest);
  Bytes templ;
  append_tlv(templ, 0x7C, inner);
  CommandApdu cmd{0x00, kInsGeneralAuthenticate, algo, static_cast<std::uint8_t>(slot), std::move(templ),
                  256};
  CS_TRY(ResponseApdu r, session_->transmit(cmd));
  if (!r.ok()) return status_error(r.sw, "GENERAL AUTHENTICATE (slot " + slot_name(slot) + ")");
  CS_TRY(auto outer, parse_tlvs(r.data));
  auto t = find_tlv(outer, 0x7C);
  if (!t || outer.size() != 1)
    return make_error(Errc::kMalformed, "GENERAL AUTHENTICATE: answer has no 7C template");
  CS_TRY(auto fields, parse_tlvs(*t));
  auto sig = find_tlv(fields, 0x82);
  if (!sig || sig->empty())
    return make_error(Errc::kMalformed, "GENERAL AUTHENTICATE: answer has no signature (82)");
  return *sig;
}

Result<std::array<std::uint8_t, 3>> PivCard::yubikey_version() {
  CS_TRY(ResponseApdu r,
         session_->transmit(CommandApdu{0x00, kInsYkGetVersion, 0x00, 0x00, {}, std::nullopt}));
  if (!r.ok()) return status_error(r.sw, "GET VERSION (YubiKey)");
  if (r.data.size() != 3) return make_error(Errc::kMalformed, "GET VERSION: expected 3 bytes");
  return std::array<std::uint8_t, 3>{r.data[0], r.data[1], r.data[2]};
}

Result<std::uint32_t> PivCard::yubikey_serial() {
  CS_TRY(ResponseApdu r,
         session_->transmit(CommandApdu{0x00, kInsYkGetSerial, 0x00, 0x00, {}, std::nullopt}));
  if (!r.ok()) return status_error(r.sw, "GET SERIAL (YubiKey)");
  if (r.data.size() != 4) return make_error(Errc::kMalformed, "GET SERIAL: expected 4 bytes");
  return (std::uint32_t{r.data[0]} << 24) | (std::uint32_t{r.data[1]} << 16) |
         (std::uint32_t{r.data[2]} << 8) | std::uint32_t{r.data[3]};
}

Result<Bytes> PivCard::yubikey_attest(Slot slot) {
  CommandApdu cmd{0x00, kInsYkAttest, static_cast<std::uint8_t>(slot), 0x00, {}, 256};
  CS_TRY(ResponseApdu r, session_->transmit(cmd));
  if (!r.ok()) return status_error(r.sw, "ATTEST (YubiKey, slot " + slot_name(slot) + ")");
  return r.data;
}

}  // namespace countersign::piv
