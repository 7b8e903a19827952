#include "smartcard/piv/piv_card.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

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
constexpr std::uint8_t kInsGenerate = 0x47;
constexpr std::uint8_t kManagementKeyReference = 0x9B;
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
// One-block ECB encryption or decryption with the management key (no padding): what the
// witness and challenge of management key authentication use.
Result<Bytes> ecb_block(ManagementKeyAlg alg, const SecretBytes& key, ByteView block, bool encrypt) {
  const EVP_CIPHER* cipher = nullptr;
  switch (alg) {
    case ManagementKeyAlg::k3Des:
      cipher = EVP_des_ede3_ecb();
      break;
    case ManagementKeyAlg::kAes128:
      cipher = EVP_aes_128_ecb();
      break;
    case ManagementKeyAlg::kAes192:
      cipher = EVP_aes_192_ecb();
      break;
    case ManagementKeyAlg::kAes256:
      cipher = EVP_aes_256_ecb();
      break;
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  Bytes out(block.size() + 32);
  int n = 0, fin = 0;
  if (!ctx || cipher == nullptr ||
      EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out.data(), &n, block.data(), static_cast<int>(block.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    return make_error(Errc::kCrypto, "management key cipher failed");
  }
  out.resize(static_cast<std::size_t>(n + fin));
  return out;
}

std::size_t block_size(ManagementKeyAlg alg) { return alg == ManagementKeyAlg::k3Des ? 8 : 16; }

// The value of tag `inner` inside the 7C template of a GENERAL AUTHENTICATE answer.
Result<Bytes> dynamic_auth_field(ByteView answer, std::uint32_t inner, const char* what) {
  CS_TRY(auto outer, parse_tlvs(answer));
  auto t = find_tlv(outer, 0x7C);
  if (!t || outer.size() != 1)
    return make_error(Errc::kMalformed, std::string(what) + ": answer has no 7C template");
  CS_TRY(auto fields, parse_tlvs(*t));
  auto v = find_tlv(fields, inner);
  if (!v || v->empty()) return make_error(Errc::kMalformed, std::string(what) + ": answer lacks its value");
  return *v;
}

}  // namespace

Result<ManagementKeyAlg> management_key_alg_from_name(std::string_view name) {
  if (name == "3des") return ManagementKeyAlg::k3Des;
  if (name == "aes128") return ManagementKeyAlg::kAes128;
  if (name == "aes192") return ManagementKeyAlg::kAes192;
  if (name == "aes256") return ManagementKeyAlg::kAes256;
  return make_error(Errc::kInvalidArgument, "unknown management key algorithm \"" + std::string(name) +
                                                "\" (3des, aes128, aes192, aes256)");
}

std::size_t management_key_length(ManagementKeyAlg alg) {
  switch (alg) {
    case ManagementKeyAlg::kAes128:
      return 16;
    case ManagementKeyAlg::kAes256:
      return 32;
    default:
      return 24;
  }
}

SecretBytes default_management_key() {
  const std::uint8_t k[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  return SecretBytes::copy_of(ByteView(k, sizeof k));
}

Result<PinPolicy> pin_policy_from_name(std::string_view name) {
  if (name == "default") return PinPolicy::kDefault;
  if (name == "never") return PinPolicy::kNever;
  if (name == "once") return PinPolicy::kOnce;
  if (name == "always") return PinPolicy::kAlways;
  return make_error(Errc::kInvalidArgument,
                    "unknown PIN policy \"" + std::string(name) + "\" (default, never, once, always)");
}

Result<TouchPolicy> touch_policy_from_name(std::string_view name) {
  if (name == "default") return TouchPolicy::kDefault;
  if (name == "never") return TouchPolicy::kNever;
  if (name == "always") return TouchPolicy::kAlways;
  if (name == "cached") return TouchPolicy::kCached;
  return make_error(Errc::kInvalidArgument,
                    "unknown touch policy \"" + std::string(name) + "\" (default, never, always, cached)");
}

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

Result<void> PivCard::authenticate_management_key(ManagementKeyAlg alg, const SecretBytes& key) {
  if (key.size() != management_key_length(alg)) {
    return make_error(Errc::kInvalidArgument, "the management key must be " +
                                                  std::to_string(management_key_length(alg)) +
                                                  " bytes for this algorithm");
  }
  const auto algo = static_cast<std::uint8_t>(alg);
  const std::size_t bs = block_size(alg);
  // Step 1: ask for the witness (7C { 80 empty }).
  Bytes ask;
  append_tlv(ask, 0x80, {});
  Bytes templ;
  append_tlv(templ, 0x7C, ask);
  CS_TRY(ResponseApdu r1, session_->transmit(CommandApdu{0x00, kInsGeneralAuthenticate, algo,
                                                         kManagementKeyReference, std::move(templ), 256}));
  if (!r1.ok()) return status_error(r1.sw, "management key authentication (witness)");
  CS_TRY(Bytes witness, dynamic_auth_field(r1.data, 0x80, "management key authentication"));
  if (witness.size() != bs)
    return make_error(Errc::kMalformed, "management key authentication: witness size");
  // Step 2: the decrypted witness and our challenge (7C { 80 witness, 81 challenge }).
  CS_TRY(Bytes plain, ecb_block(alg, key, witness, false));
  Bytes challenge(bs);
  if (RAND_bytes(challenge.data(), static_cast<int>(bs)) != 1)
    return make_error(Errc::kCrypto, "RAND_bytes failed");
  Bytes both;
  append_tlv(both, 0x80, plain);
  append_tlv(both, 0x81, challenge);
  OPENSSL_cleanse(plain.data(), plain.size());
  Bytes templ2;
  append_tlv(templ2, 0x7C, both);
  OPENSSL_cleanse(both.data(), both.size());
  CS_TRY(ResponseApdu r2, session_->transmit(CommandApdu{0x00, kInsGeneralAuthenticate, algo,
                                                         kManagementKeyReference, std::move(templ2), 256}));
  if (r2.sw == 0x6982) return make_error(Errc::kRejected, "the card refused the management key (wrong key?)");
  if (!r2.ok()) return status_error(r2.sw, "management key authentication");
  CS_TRY(Bytes answer, dynamic_auth_field(r2.data, 0x82, "management key authentication"));
  CS_TRY(Bytes expected, ecb_block(alg, key, challenge, true));
  if (answer != expected)
    return make_error(Errc::kCrypto,
                      "the card's answer to our challenge is wrong: it does not hold this management key");
  return {};
}

Result<PublicKey> PivCard::generate_key(Slot slot, Alg alg, PinPolicy pin_policy, TouchPolicy touch_policy) {
  CS_TRY(std::uint8_t algo, piv_algorithm(alg));
  // Control reference template (SP 800-73-4 part 2, 3.3.2): AC { 80 algorithm }, and the
  // YubiKey policy tags AA (PIN) and AB (touch).
  Bytes crt;
  append_tlv(crt, 0x80, Bytes{algo});
  if (pin_policy != PinPolicy::kDefault) append_tlv(crt, 0xAA, Bytes{static_cast<std::uint8_t>(pin_policy)});
  if (touch_policy != TouchPolicy::kDefault)
    append_tlv(crt, 0xAB, Bytes{static_cast<std::uint8_t>(touch_policy)});
  Bytes data;
  append_tlv(data, 0xAC, crt);
  CS_TRY(ResponseApdu r,
         session_->transmit(
             CommandApdu{0x00, kInsGenerate, 0x00, static_cast<std::uint8_t>(slot), std::move(data), 256}));
  if (!r.ok()) return status_error(r.sw, "GENERATE (slot " + slot_name(slot) + ")");
  // 7F49 { 86 uncompressed EC point }
  CS_TRY(auto outer, parse_tlvs(r.data));
  auto t = find_tlv(outer, 0x7F49);
  if (!t || outer.size() != 1) return make_error(Errc::kMalformed, "GENERATE: answer has no 7F49 public key");
  CS_TRY(auto fields, parse_tlvs(*t));
  auto point = find_tlv(fields, 0x86);
  if (!point) return make_error(Errc::kMalformed, "GENERATE: answer has no EC point (86)");
  auto key = PublicKey::from_raw(alg, *point);
  if (!key) return std::move(key).error().with_context("GENERATE: the card's public key");
  return key;
}

Result<void> PivCard::put_certificate(Slot slot, ByteView certificate_der) {
  Bytes value;
  append_tlv(value, 0x70, certificate_der);
  append_tlv(value, 0x71, Bytes{0x00});
  append_tlv(value, 0xFE, {});
  auto r = put_data(certificate_object(slot), value);
  if (!r) return std::move(r).error().with_context("slot " + slot_name(slot) + " certificate");
  return {};
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
