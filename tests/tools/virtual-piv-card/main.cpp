// virtual-piv-card: a PIV card (NIST SP 800-73-4) with the YubiKey PIV extensions, for the
// integration tests. It connects to vpcd (vsmartcard's PC/SC driver, loaded by the real
// pcscd) on 127.0.0.1:PORT, so pcscd presents it as a card in the reader "Virtual PCD".
//
// vpcd protocol (vsmartcard virtualsmartcard/src/vpcd/vpcd.c): every message is a 2-byte
// big-endian length and that many bytes. A 1-byte message from vpcd is a control code:
// 00 power off, 01 power on, 02 reset, 04 get ATR (we answer with the ATR). Anything longer
// is a command APDU, answered with the response APDU.
//
// This is written independently of smartcard/ (it shares no code with it), so a client bug
// and a card bug do not cancel out.
//
// State file (text, one setting a line; the test writes it, the card writes back retries):
//   pin 123456
//   pin_retries 3
//   pin_max 3
//   serial 12345678
//   version 5 4 3
//   slot 9c 11 /path/key.pem /path/cert.der     (algorithm 11 = P-256, 14 = P-384)
//   chuid <hex>                                  (optional)
//   slot_policy 9c 03 02                         (optional: PIN and touch policy of a slot's key)
//   touch absent                                 (optional: nobody touches; keys with touch policy
//                                                 always or cached then answer 6982 to signing)
//   management_key 03 <hex>                      (optional: algorithm 03 3DES, 08/0A/0C AES-128/
//                                                 192/256; default 3DES 0102..08 x3, the factory key)
//
// Management key authentication (GENERAL AUTHENTICATE, key 9B, mutual: witness, then
// witness + challenge) unlocks PUT DATA of slot certificates and GENERATE (INS 47, with the
// YubiKey PIN/touch policy tags AA/AB); both keep their results in memory only.
//
// Usage: virtual-piv-card --port PORT --state FILE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint8_t kAid[] = {0xA0, 0x00, 0x00, 0x03, 0x08};
// YubiKey 5 NFC's ATR over USB: T=1, historical bytes with "Yubikey".
const Bytes kAtr = {0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
                    0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40};
constexpr std::size_t kChunk = 255;  // response bytes per APDU before 61xx

struct KeySlot {
  std::uint8_t pin_policy = 0x03;    // what ATTEST reports (YubiKey: 1 never, 2 once, 3 always)
  std::uint8_t touch_policy = 0x01;  // 1 never, 2 always, 3 cached
  std::uint8_t algorithm = 0;
  std::shared_ptr<EVP_PKEY> key;
  Bytes certificate;
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes from_hex(const std::string& s) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return out;
}

void put_len(Bytes& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xFF) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xFF));
  }
}

void put_tlv(Bytes& out, std::initializer_list<std::uint8_t> tag, const Bytes& value) {
  out.insert(out.end(), tag);
  put_len(out, value.size());
  out.insert(out.end(), value.begin(), value.end());
}

class Card {
 public:
  explicit Card(std::string state_path) : state_path_(std::move(state_path)) {}

  bool load() {
    std::ifstream in(state_path_);
    if (!in) return false;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string k;
      ls >> k;
      if (k == "pin") {
        ls >> pin_;
      } else if (k == "pin_retries") {
        ls >> retries_;
      } else if (k == "pin_max") {
        ls >> max_retries_;
      } else if (k == "serial") {
        ls >> serial_;
      } else if (k == "version") {
        int a = 0, b = 0, c = 0;
        ls >> a >> b >> c;
        version_ = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(c)};
      } else if (k == "slot") {
        std::string slot, alg, keyfile, certfile;
        ls >> slot >> alg >> keyfile >> certfile;
        KeySlot s;
        s.algorithm = static_cast<std::uint8_t>(std::stoi(alg, nullptr, 16));
        FILE* f = std::fopen(keyfile.c_str(), "r");
        if (f == nullptr) return false;
        EVP_PKEY* k2 = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
        std::fclose(f);
        if (k2 == nullptr) return false;
        s.key.reset(k2, EVP_PKEY_free);
        s.certificate = read_file(certfile);
        slots_[static_cast<std::uint8_t>(std::stoi(slot, nullptr, 16))] = s;
      } else if (k == "attestation") {
        std::string keyfile, certfile;
        ls >> keyfile >> certfile;
        FILE* f = std::fopen(keyfile.c_str(), "r");
        if (f == nullptr) return false;
        EVP_PKEY* k2 = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
        std::fclose(f);
        const Bytes der = read_file(certfile);
        const unsigned char* p = der.data();
        X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
        if (k2 == nullptr || c == nullptr) return false;
        attest_key_.reset(k2, EVP_PKEY_free);
        attest_cert_.reset(c, X509_free);
      } else if (k == "slot_policy") {
        std::string slot, pin, touch;
        ls >> slot >> pin >> touch;
        auto it = slots_.find(static_cast<std::uint8_t>(std::stoi(slot, nullptr, 16)));
        if (it == slots_.end()) return false;
        it->second.pin_policy = static_cast<std::uint8_t>(std::stoi(pin, nullptr, 16));
        it->second.touch_policy = static_cast<std::uint8_t>(std::stoi(touch, nullptr, 16));
      } else if (k == "touch") {
        std::string v;
        ls >> v;
        touch_absent_ = v == "absent";
      } else if (k == "management_key") {
        std::string alg, hex;
        ls >> alg >> hex;
        mgmt_alg_ = static_cast<std::uint8_t>(std::stoi(alg, nullptr, 16));
        mgmt_key_ = from_hex(hex);
      } else if (k == "chuid") {
        std::string hex;
        ls >> hex;
        chuid_ = from_hex(hex);
      }
    }
    return !pin_.empty();
  }

  void power_off() {
    selected_ = false;
    pin_verified_ = false;
    mgmt_authenticated_ = false;
    witness_.clear();
    chain_.clear();
    pending_.clear();
  }

  Bytes process(const Bytes& apdu) {
    if (apdu.size() < 4) return sw(0x6700);
    const std::uint8_t cla = apdu[0], ins = apdu[1], p1 = apdu[2], p2 = apdu[3];
    Bytes data;
    if (apdu.size() > 5) {
      const std::size_t lc = apdu[4];
      if (apdu.size() < 5 + lc) return sw(0x6700);
      data.assign(apdu.begin() + 5, apdu.begin() + 5 + static_cast<std::ptrdiff_t>(lc));
    }
    if (ins == 0xC0) return pending_.empty() ? sw(0x6985) : next_chunk();
    pending_.clear();
    if ((cla & 0x10) != 0) {  // command chaining: collect, answer 9000
      if (chain_.size() + data.size() > 16384) {
        chain_.clear();
        return sw(0x6700);
      }
      chain_ins_ = ins;
      chain_.insert(chain_.end(), data.begin(), data.end());
      return sw(0x9000);
    }
    if (!chain_.empty()) {
      if (chain_ins_ != ins) {
        chain_.clear();
        return sw(0x6883);  // last command of the chain expected
      }
      chain_.insert(chain_.end(), data.begin(), data.end());
      data = std::move(chain_);
      chain_.clear();
    }
    if (ins == 0xA4) return select(p1, data);
    if (!selected_) return sw(0x6D00);
    switch (ins) {
      case 0xCB:
        return get_data(p1, p2, data);
      case 0x20:
        return verify(p1, p2, data);
      case 0x87:
        return general_authenticate(p1, p2, data);
      case 0xFD:
        return respond(Bytes(version_.begin(), version_.end()));
      case 0xF8: {
        Bytes s{static_cast<std::uint8_t>(serial_ >> 24), static_cast<std::uint8_t>(serial_ >> 16),
                static_cast<std::uint8_t>(serial_ >> 8), static_cast<std::uint8_t>(serial_)};
        return respond(s);
      }
      case 0xDB:
        return put_data(p1, p2, data);
      case 0xF9:
        return attest(p1);
      case 0x47:
        return generate(p1, p2, data);
      default:
        return sw(0x6D00);
    }
  }

 private:
  static Bytes sw(std::uint16_t s) {
    return {static_cast<std::uint8_t>(s >> 8), static_cast<std::uint8_t>(s & 0xFF)};
  }

  Bytes respond(Bytes data) {
    pending_ = std::move(data);
    return next_chunk();
  }

  Bytes next_chunk() {
    const std::size_t n = std::min(kChunk, pending_.size());
    Bytes out(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    if (pending_.empty()) {
      out.push_back(0x90);
      out.push_back(0x00);
    } else {
      out.push_back(0x61);
      out.push_back(pending_.size() >= 256 ? 0x00 : static_cast<std::uint8_t>(pending_.size()));
    }
    return out;
  }

  Bytes select(std::uint8_t p1, const Bytes& aid) {
    if (p1 != 0x04 || aid.size() < sizeof kAid || std::memcmp(aid.data(), kAid, sizeof kAid) != 0) {
      return sw(0x6A82);
    }
    selected_ = true;
    pin_verified_ = false;
    mgmt_authenticated_ = false;
    // Application property template (SP 800-73-4 part 2, 3.1.1).
    Bytes inner;
    put_tlv(inner, {0x4F}, {0x00, 0x00, 0x10, 0x00, 0x01, 0x00});
    Bytes auth;
    put_tlv(auth, {0x4F}, Bytes(std::begin(kAid), std::end(kAid)));
    put_tlv(inner, {0x79}, auth);
    Bytes out;
    put_tlv(out, {0x61}, inner);
    return respond(out);
  }

  Bytes get_data(std::uint8_t p1, std::uint8_t p2, const Bytes& data) {
    if (p1 != 0x3F || p2 != 0xFF || data.size() < 3 || data[0] != 0x5C || data[1] != data.size() - 2) {
      return sw(0x6A80);
    }
    const Bytes id(data.begin() + 2, data.end());
    if (id == Bytes{0x7E}) {  // discovery object
      Bytes inner;
      put_tlv(inner, {0x4F}, {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00});
      put_tlv(inner, {0x5F, 0x2F}, {0x40, 0x00});
      Bytes out;
      put_tlv(out, {0x7E}, inner);
      return respond(out);
    }
    if (id == Bytes{0x5F, 0xFF, 0x01}) {  // YubiKey: certificate of the attestation key (f9)
      if (!attest_cert_) return sw(0x6A82);
      unsigned char* der = nullptr;
      const int n = i2d_X509(attest_cert_.get(), &der);
      if (n <= 0) return sw(0x6F00);
      Bytes content;
      put_tlv(content, {0x70}, Bytes(der, der + n));
      OPENSSL_free(der);
      put_tlv(content, {0x71}, {0x00});
      Bytes out;
      put_tlv(out, {0x53}, content);
      return respond(out);
    }
    if (id.size() != 3 || id[0] != 0x5F || id[1] != 0xC1) return sw(0x6A82);
    Bytes content;
    switch (id[2]) {
      case 0x02:
        if (chuid_.empty()) return sw(0x6A82);
        content = chuid_;
        break;
      case 0x05:
      case 0x0A:
      case 0x0B:
      case 0x01: {
        const std::uint8_t slot = id[2] == 0x05 ? 0x9A : id[2] == 0x0A ? 0x9C : id[2] == 0x0B ? 0x9D : 0x9E;
        auto it = slots_.find(slot);
        if (it == slots_.end() || it->second.certificate.empty()) return sw(0x6A82);
        put_tlv(content, {0x70}, it->second.certificate);
        put_tlv(content, {0x71}, {0x00});
        put_tlv(content, {0xFE}, {});
        break;
      }
      default:
        return sw(0x6A82);
    }
    Bytes out;
    put_tlv(out, {0x53}, content);
    return respond(out);
  }

  void save_retries() {
    std::ifstream in(state_path_);
    std::ostringstream out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("pin_retries ", 0) == 0) line = "pin_retries " + std::to_string(retries_);
      out << line << "\n";
    }
    in.close();
    const std::string tmp = state_path_ + ".tmp";
    std::ofstream(tmp) << out.str();
    std::rename(tmp.c_str(), state_path_.c_str());
  }

  Bytes verify(std::uint8_t p1, std::uint8_t p2, const Bytes& data) {
    if (p1 != 0x00 || p2 != 0x80) return sw(0x6A86);
    if (data.empty()) {  // status query (SP 800-73-4 part 2, 3.2.1)
      if (pin_verified_) return sw(0x9000);
      if (retries_ == 0) return sw(0x6983);
      return sw(static_cast<std::uint16_t>(0x63C0 | retries_));
    }
    if (data.size() != 8) return sw(0x6A80);
    if (retries_ == 0) return sw(0x6983);
    Bytes padded(8, 0xFF);
    std::memcpy(padded.data(), pin_.data(), std::min<std::size_t>(8, pin_.size()));
    if (padded == data) {
      retries_ = max_retries_;
      pin_verified_ = true;
      save_retries();
      return sw(0x9000);
    }
    pin_verified_ = false;
    --retries_;
    save_retries();
    return sw(static_cast<std::uint16_t>(0x63C0 | retries_));
  }

  // ECB, no padding, one or two blocks, with the management key.
  Bytes mgmt_cipher(const Bytes& in, bool encrypt) const {
    const EVP_CIPHER* c = mgmt_alg_ == 0x03   ? EVP_des_ede3_ecb()
                          : mgmt_alg_ == 0x08 ? EVP_aes_128_ecb()
                          : mgmt_alg_ == 0x0A ? EVP_aes_192_ecb()
                                              : EVP_aes_256_ecb();
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        &EVP_CIPHER_CTX_free);
    Bytes out(in.size() + 32);
    int n = 0, fin = 0;
    if (!ctx || EVP_CipherInit_ex(ctx.get(), c, nullptr, mgmt_key_.data(), nullptr, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1 ||
        EVP_CipherFinal_ex(ctx.get(), out.data() + n, &fin) != 1)
      return {};
    out.resize(static_cast<std::size_t>(n + fin));
    return out;
  }

  // The TLVs inside a 7C template (short lengths only: management key messages are small).
  static std::map<std::uint8_t, Bytes> template_fields(const Bytes& data) {
    std::map<std::uint8_t, Bytes> out;
    if (data.size() < 2 || data[0] != 0x7C || data[1] != data.size() - 2) return out;
    for (std::size_t i = 2; i + 1 < data.size();) {
      const std::size_t len = data[i + 1];
      if (i + 2 + len > data.size()) return {};
      out[data[i]] = Bytes(data.begin() + static_cast<std::ptrdiff_t>(i + 2),
                           data.begin() + static_cast<std::ptrdiff_t>(i + 2 + len));
      i += 2 + len;
    }
    return out;
  }

  // Mutual authentication with the management key (key reference 9B).
  Bytes management_authenticate(std::uint8_t alg, const Bytes& data) {
    if (alg != mgmt_alg_) return sw(0x6A80);
    const std::size_t bs = mgmt_alg_ == 0x03 ? 8 : 16;
    auto f = template_fields(data);
    if (f.count(0x80) != 0 && f[0x80].empty() && f.count(0x81) == 0) {  // step 1: witness
      witness_.resize(bs);
      if (RAND_bytes(witness_.data(), static_cast<int>(bs)) != 1) return sw(0x6F00);
      Bytes inner;
      put_tlv(inner, {0x80}, mgmt_cipher(witness_, true));
      Bytes out;
      put_tlv(out, {0x7C}, inner);
      return respond(out);
    }
    if (f.count(0x80) != 0 && f.count(0x81) != 0) {  // step 2: witness back, host challenge
      const bool ok = !witness_.empty() && f[0x80] == witness_ && f[0x81].size() == bs;
      witness_.clear();
      if (!ok) {
        mgmt_authenticated_ = false;
        return sw(0x6982);
      }
      mgmt_authenticated_ = true;
      Bytes inner;
      put_tlv(inner, {0x82}, mgmt_cipher(f[0x81], true));
      Bytes out;
      put_tlv(out, {0x7C}, inner);
      return respond(out);
    }
    return sw(0x6A80);
  }

  // GENERATE ASYMMETRIC KEY PAIR: AC { 80 alg, [AA pin policy], [AB touch policy] }.
  Bytes generate(std::uint8_t p1, std::uint8_t slot, const Bytes& data) {
    if (p1 != 0x00) return sw(0x6A86);
    if (slot != 0x9A && slot != 0x9C && slot != 0x9D && slot != 0x9E) return sw(0x6A86);
    if (!mgmt_authenticated_) return sw(0x6982);
    if (data.size() < 2 || data[0] != 0xAC || data[1] != data.size() - 2) return sw(0x6A80);
    std::uint8_t alg = 0, pin_policy = 0x03, touch_policy = 0x01;
    for (std::size_t i = 2; i < data.size();) {
      if (i + 3 > data.size() || data[i + 1] != 1) return sw(0x6A80);  // every field is one byte
      const std::uint8_t t = data[i];
      if (t == 0x80) alg = data[i + 2];
      if (t == 0xAA) pin_policy = data[i + 2];
      if (t == 0xAB) touch_policy = data[i + 2];
      i += 3;
    }
    if (alg != 0x11 && alg != 0x14) return sw(0x6A80);
    KeySlot s;
    s.algorithm = alg;
    s.pin_policy = pin_policy;
    s.touch_policy = touch_policy;
    s.key.reset(EVP_EC_gen(alg == 0x11 ? "P-256" : "P-384"), EVP_PKEY_free);
    if (!s.key) return sw(0x6F00);
    std::size_t plen = 0;
    if (EVP_PKEY_get_octet_string_param(s.key.get(), "encoded-pub-key", nullptr, 0, &plen) != 1)
      return sw(0x6F00);
    Bytes point(plen);
    if (EVP_PKEY_get_octet_string_param(s.key.get(), "encoded-pub-key", point.data(), plen, &plen) != 1)
      return sw(0x6F00);
    slots_[slot] = s;  // the old key and its certificate are gone
    Bytes inner;
    put_tlv(inner, {0x86}, point);
    Bytes out;
    put_tlv(out, {0x7F, 0x49}, inner);
    return respond(out);
  }

  Bytes general_authenticate(std::uint8_t alg, std::uint8_t slot, const Bytes& data) {
    if (slot == 0x9B) return management_authenticate(alg, data);
    auto it = slots_.find(slot);
    if (it == slots_.end()) return sw(0x6A82);
    if (it->second.algorithm != alg) return sw(0x6A80);
    // 7C L { 82 00, 81 L digest }
    if (data.size() < 2 || data[0] != 0x7C) return sw(0x6A80);
    std::size_t i = 2;
    if (data[1] == 0x81) i = 3;
    Bytes digest;
    bool want_response = false;
    while (i + 1 < data.size()) {
      const std::uint8_t t = data[i];
      std::size_t len = data[i + 1];
      std::size_t hdr = 2;
      if (len == 0x81 && i + 2 < data.size()) {
        len = data[i + 2];
        hdr = 3;
      }
      if (i + hdr + len > data.size()) return sw(0x6A80);
      if (t == 0x82 && len == 0) want_response = true;
      if (t == 0x81)
        digest.assign(data.begin() + static_cast<std::ptrdiff_t>(i + hdr),
                      data.begin() + static_cast<std::ptrdiff_t>(i + hdr + len));
      i += hdr + len;
    }
    if (!want_response || digest.empty()) return sw(0x6A80);
    const std::size_t want = alg == 0x11 ? 32 : 48;
    if (digest.size() != want) return sw(0x6A80);
    if (!pin_verified_) return sw(0x6982);
    // A YubiKey waits for a touch (policy always / cached) and, without one, refuses.
    if (touch_absent_ && (it->second.touch_policy == 0x02 || it->second.touch_policy == 0x03))
      return sw(0x6982);
    // Slot 9c: PIN always (SP 800-73-4 part 1, 3.2.2): one signature per VERIFY.
    if (slot == 0x9C) pin_verified_ = false;
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(it->second.key.get(), nullptr), &EVP_PKEY_CTX_free);
    size_t siglen = 0;
    if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
        EVP_PKEY_sign(ctx.get(), nullptr, &siglen, digest.data(), digest.size()) != 1) {
      return sw(0x6F00);
    }
    Bytes sig(siglen);
    if (EVP_PKEY_sign(ctx.get(), sig.data(), &siglen, digest.data(), digest.size()) != 1) return sw(0x6F00);
    sig.resize(siglen);
    Bytes inner;
    put_tlv(inner, {0x82}, sig);
    Bytes out;
    put_tlv(out, {0x7C}, inner);
    return respond(out);
  }

  // PUT DATA (SP 800-73-4 part 2, 3.3.2): needs management key authentication (6982
  // without). It first checks the shape of the whole (reassembled) command, 5C tag 53 value,
  // with the 53 length matching the bytes received: a chain that lost or reordered a piece
  // answers 6A80. A slot's certificate object (70 certificate inside) is kept for GET DATA.
  Bytes put_data(std::uint8_t p1, std::uint8_t p2, const Bytes& data) {
    if (p1 != 0x3F || p2 != 0xFF || data.size() < 2 || data[0] != 0x5C) return sw(0x6A80);
    std::size_t i = 2 + std::size_t{data[1]};
    if (i + 2 > data.size() || data[i] != 0x53) return sw(0x6A80);
    std::size_t len = data[i + 1];
    std::size_t hdr = 2;
    if (len == 0x81 || len == 0x82) {
      const std::size_t n = len == 0x81 ? 1 : 2;
      if (i + 2 + n > data.size()) return sw(0x6A80);
      len = 0;
      for (std::size_t k = 0; k < n; ++k) len = (len << 8) | data[i + 2 + k];
      hdr += n;
    }
    if (i + hdr + len != data.size()) return sw(0x6A80);
    if (!mgmt_authenticated_) return sw(0x6982);
    const Bytes id(data.begin() + 2, data.begin() + 2 + data[1]);
    if (id.size() == 3 && id[0] == 0x5F && id[1] == 0xC1) {
      const std::uint8_t slot = id[2] == 0x05   ? 0x9A
                                : id[2] == 0x0A ? 0x9C
                                : id[2] == 0x0B ? 0x9D
                                : id[2] == 0x01 ? 0x9E
                                                : 0;
      auto it = slots_.find(slot);
      const Bytes value(data.begin() + static_cast<std::ptrdiff_t>(i + hdr), data.end());
      // 70 L certificate (lengths up to 82 xx xx)
      if (it != slots_.end() && value.size() > 2 && value[0] == 0x70) {
        std::size_t clen = value[1], ch = 2;
        if (clen == 0x81 || clen == 0x82) {
          const std::size_t n = clen == 0x81 ? 1 : 2;
          clen = 0;
          for (std::size_t k = 0; k < n && 2 + k < value.size(); ++k) clen = (clen << 8) | value[2 + k];
          ch += n;
        }
        if (ch + clen > value.size()) return sw(0x6A80);
        it->second.certificate.assign(value.begin() + static_cast<std::ptrdiff_t>(ch),
                                      value.begin() + static_cast<std::ptrdiff_t>(ch + clen));
      }
    }
    return sw(0x9000);
  }

  // YubiKey ATTEST (INS F9, P1 = slot): an X.509 certificate for the slot's public key,
  // signed by the attestation key of slot f9, with Yubico's extensions (OIDs under
  // 1.3.6.1.4.1.41482.3): .3 firmware version (3 raw bytes), .7 serial (DER INTEGER),
  // .8 PIN and touch policy (2 raw bytes; here 03 = PIN always, 01 = touch never).
  Bytes attest(std::uint8_t slot) {
    auto it = slots_.find(slot);
    if (it == slots_.end()) return sw(0x6A82);
    if (!attest_key_ || !attest_cert_) return sw(0x6A82);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1000 + slot);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    const std::string cn = "YubiKey PIV Attestation " + std::string(1, "0123456789abcdef"[slot >> 4]) +
                           std::string(1, "0123456789abcdef"[slot & 0xF]);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(attest_cert_.get()));
    X509_set_pubkey(cert.get(), it->second.key.get());
    auto add_ext = [&](const char* oid, const Bytes& value) {
      ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
      ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(os, value.data(), static_cast<int>(value.size()));
      X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
      X509_add_ext(cert.get(), ext, -1);
      X509_EXTENSION_free(ext);
      ASN1_OCTET_STRING_free(os);
      ASN1_OBJECT_free(obj);
    };
    add_ext("1.3.6.1.4.1.41482.3.3", Bytes(version_.begin(), version_.end()));
    // The serial as a DER INTEGER (minimal encoding, as a YubiKey writes it).
    Bytes serial;
    if (ASN1_INTEGER* n = ASN1_INTEGER_new(); n != nullptr) {
      unsigned char* der_int = nullptr;
      const int len = ASN1_INTEGER_set_uint64(n, serial_) == 1 ? i2d_ASN1_INTEGER(n, &der_int) : 0;
      if (len > 0) serial.assign(der_int, der_int + len);
      OPENSSL_free(der_int);
      ASN1_INTEGER_free(n);
    }
    if (serial.empty()) return sw(0x6F00);
    add_ext("1.3.6.1.4.1.41482.3.7", serial);
    add_ext("1.3.6.1.4.1.41482.3.8", Bytes{it->second.pin_policy, it->second.touch_policy});
    if (X509_sign(cert.get(), attest_key_.get(), EVP_sha256()) <= 0) return sw(0x6F00);
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert.get(), &der);
    if (n <= 0) return sw(0x6F00);
    Bytes out(der, der + n);
    OPENSSL_free(der);
    return respond(out);
  }

  std::string state_path_;
  std::shared_ptr<EVP_PKEY> attest_key_;
  std::shared_ptr<X509> attest_cert_;
  std::string pin_;
  int retries_ = 3;
  int max_retries_ = 3;
  std::uint32_t serial_ = 0;
  std::array<std::uint8_t, 3> version_{5, 4, 3};
  std::map<std::uint8_t, KeySlot> slots_;
  Bytes chuid_;
  bool selected_ = false;
  bool pin_verified_ = false;
  std::uint8_t mgmt_alg_ = 0x03;
  Bytes mgmt_key_{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  bool mgmt_authenticated_ = false;
  bool touch_absent_ = false;
  Bytes witness_;
  Bytes chain_;
  std::uint8_t chain_ins_ = 0;
  Bytes pending_;
};

bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool send_msg(int fd, const Bytes& msg) {
  Bytes out{static_cast<std::uint8_t>(msg.size() >> 8), static_cast<std::uint8_t>(msg.size() & 0xFF)};
  out.insert(out.end(), msg.begin(), msg.end());
  return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string state;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port")
      port = std::stoi(argv[i + 1]);
    else if (a == "--state")
      state = argv[i + 1];
  }
  if (port <= 0 || port > 65535 || state.empty()) {
    std::fprintf(stderr, "usage: virtual-piv-card --port PORT --state FILE\n");
    return 2;
  }
  Card card(state);
  if (!card.load()) {
    std::fprintf(stderr, "virtual-piv-card: cannot load state file %s\n", state.c_str());
    return 2;
  }
  // vpcd listens once pcscd has loaded the driver: try for up to 10 s.
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (fd < 0) {
    std::fprintf(stderr, "virtual-piv-card: cannot connect to vpcd on 127.0.0.1:%d\n", port);
    return 1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (;;) {
    std::uint8_t hdr[2];
    if (!read_exact(fd, hdr, 2)) break;
    const std::size_t len = (std::size_t{hdr[0]} << 8) | hdr[1];
    Bytes msg(len);
    if (len > 0 && !read_exact(fd, msg.data(), len)) break;
    if (len == 1) {
      switch (msg[0]) {
        case 0x00:
          card.power_off();
          break;
        case 0x01:
          break;
        case 0x02:
          card.power_off();
          break;
        case 0x04:
          if (!send_msg(fd, kAtr)) return 1;
          break;
        default:
          break;
      }
      continue;
    }
    if (!send_msg(fd, card.process(msg))) break;
  }
  ::close(fd);
  return 0;
}
