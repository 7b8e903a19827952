#include "tests/smartcard/virtual_fido2.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace countersign::testing {
namespace {

using Bytes = VirtualFido2::Bytes;

// CTAPHID (CTAP 2.1 section 11.2.4) and CTAP2 status codes (section 6.3).
constexpr std::uint8_t kHidInit = 0x06, kHidCbor = 0x10, kHidCancel = 0x11, kHidKeepalive = 0x3b,
                       kHidError = 0x3f;
// CTAPHID_KEEPALIVE status (CTAP 2.1 section 11.2.9.2.1) and CTAP2_ERR_KEEPALIVE_CANCEL.
constexpr std::uint8_t kStatusUpNeeded = 0x02, kKeepaliveCancel = 0x2d;
constexpr std::uint32_t kBroadcastCid = 0xffffffff;
constexpr std::size_t kReport = 64;
constexpr std::uint8_t kOk = 0x00, kInvalidCommand = 0x01, kInvalidCbor = 0x12, kMissingParameter = 0x14,
                       kUnsupportedAlgorithm = 0x26, kInvalidOption = 0x2c, kNoCredentials = 0x2e,
                       kUserActionTimeout = 0x2f, kPinInvalid = 0x31, kPinBlocked = 0x32,
                       kPinAuthInvalid = 0x33, kPinNotSet = 0x35, kPinRequired = 0x36,
                       kPinPolicyViolation = 0x37;
constexpr int kCoseEs256 = -7, kCoseEdDsa = -8, kCoseEcdh = -25;
constexpr std::uint8_t kFlagUp = 0x01, kFlagUv = 0x04, kFlagAt = 0x40;

struct Fail {
  std::uint8_t status;
};

// --- OpenSSL -------------------------------------------------------------------------
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

void must(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("virtual authenticator: ") + what);
}

Pkey generate(const char* type, const char* group) {
  EVP_PKEY* k =
      group ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, group) : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  must(k != nullptr, "keygen");
  return Pkey(k);
}

Bytes sha256(const Bytes& b) {
  Bytes d(32);
  SHA256(b.data(), b.size(), d.data());
  return d;
}

Bytes random_bytes(std::size_t n) {
  Bytes b(n);
  must(RAND_bytes(b.data(), static_cast<int>(n)) == 1, "RAND_bytes");
  return b;
}

// ECDSA with SHA-256 (DER) for P-256 keys, pure Ed25519 otherwise.
Bytes sign(EVP_PKEY* key, const Bytes& msg) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  must(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) == 1, "DigestSignInit");
  std::size_t n = 0;
  must(EVP_DigestSign(ctx.get(), nullptr, &n, msg.data(), msg.size()) == 1, "DigestSign");
  Bytes sig(n);
  must(EVP_DigestSign(ctx.get(), sig.data(), &n, msg.data(), msg.size()) == 1, "DigestSign");
  sig.resize(n);
  return sig;
}

Bytes ec_point(EVP_PKEY* key) {  // 0x04 || X || Y
  Bytes p(65);
  std::size_t n = 0;
  must(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, p.data(), p.size(), &n) == 1 && n == 65,
       "EC point");
  return p;
}

Pkey p256_from_point(const Bytes& x, const Bytes& y) {
  Bytes point{0x04};
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* k = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw Fail{kInvalidCbor};
  return Pkey(k);
}

Bytes aes256_cbc(const Bytes& key, const Bytes& in, bool encrypt) {
  if (in.empty() || in.size() % 16 != 0) throw Fail{kPinAuthInvalid};
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const std::uint8_t iv[16] = {};
  Bytes out(in.size() + 16);
  int n = 0, m = 0;
  must(EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv, encrypt ? 1 : 0) == 1 &&
           EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
           EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) == 1 &&
           EVP_CipherFinal_ex(ctx.get(), out.data() + n, &m) == 1,
       "AES-CBC");
  out.resize(static_cast<std::size_t>(n + m));
  return out;
}

Bytes hmac16(const Bytes& key, const Bytes& msg) {
  Bytes mac(32);
  unsigned int n = 0;
  must(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), mac.data(), &n) !=
           nullptr,
       "HMAC");
  mac.resize(16);
  return mac;
}

Bytes der_of(X509* cert) {
  const int n = i2d_X509(cert, nullptr);
  must(n > 0, "i2d_X509");
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

// A certificate for `subject_key`, signed by `issuer_key` (self-signed when issuer is null).
// The attestation certificate follows FIDO packed attestation's requirements (WebAuthn
// 8.2.1): version 3, OU "Authenticator Attestation", basicConstraints CA:FALSE.
std::unique_ptr<X509, decltype(&X509_free)> make_cert(EVP_PKEY* subject_key, const char* cn, const char* ou,
                                                      EVP_PKEY* issuer_key, X509* issuer, long serial) {
  std::unique_ptr<X509, decltype(&X509_free)> c(X509_new(), X509_free);
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(c.get());
  auto add = [&](const char* field, const char* value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC, reinterpret_cast<const unsigned char*>(value), -1,
                               -1, 0);
  };
  add("C", "SE");
  add("O", "Countersign Test");
  add("OU", ou);
  add("CN", cn);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(c.get(), subject_key);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : c.get(), c.get(), nullptr, nullptr, 0);
  X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints,
                                           issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
  must(bc != nullptr, "basicConstraints");
  X509_add_ext(c.get(), bc, -1);
  X509_EXTENSION_free(bc);
  must(X509_sign(c.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
  return c;
}

// --- CBOR (libcbor) ------------------------------------------------------------------
struct CborFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using Cbor = std::unique_ptr<cbor_item_t, CborFree>;

// Integers in the smallest width, as CTAP2 canonical CBOR (section 8) wants and as
// libfido2 checks (map keys must be 8-bit items).
Cbor cbor_int(std::int64_t v) {
  const bool neg = v < 0;
  const std::uint64_t u = neg ? static_cast<std::uint64_t>(-1 - v) : static_cast<std::uint64_t>(v);
  if (u <= 0xff)
    return Cbor(neg ? cbor_build_negint8(static_cast<std::uint8_t>(u))
                    : cbor_build_uint8(static_cast<std::uint8_t>(u)));
  if (u <= 0xffff)
    return Cbor(neg ? cbor_build_negint16(static_cast<std::uint16_t>(u))
                    : cbor_build_uint16(static_cast<std::uint16_t>(u)));
  if (u <= 0xffffffff)
    return Cbor(neg ? cbor_build_negint32(static_cast<std::uint32_t>(u))
                    : cbor_build_uint32(static_cast<std::uint32_t>(u)));
  return Cbor(neg ? cbor_build_negint64(u) : cbor_build_uint64(u));
}
Cbor cbor_bytes(const Bytes& b) { return Cbor(cbor_build_bytestring(b.data(), b.size())); }
Cbor cbor_text(const char* s) { return Cbor(cbor_build_string(s)); }

void map_put(cbor_item_t* map, Cbor key, Cbor value) {
  must(cbor_map_add(map, cbor_pair{cbor_move(key.release()), cbor_move(value.release())}), "cbor_map_add");
}

Bytes serialize(cbor_item_t* item) {
  unsigned char* buf = nullptr;
  std::size_t cap = 0;
  const std::size_t n = cbor_serialize_alloc(item, &buf, &cap);
  must(n > 0, "cbor_serialize_alloc");
  Bytes out(buf, buf + n);
  free(buf);  // NOLINT: libcbor allocates with malloc
  return out;
}

std::optional<std::int64_t> as_int(const cbor_item_t* v) {
  if (cbor_isa_uint(v)) return static_cast<std::int64_t>(cbor_get_int(v));
  if (cbor_isa_negint(v)) return -1 - static_cast<std::int64_t>(cbor_get_int(v));
  return std::nullopt;
}

// Member `key` (an integer or a text key) of a CBOR map, or null.
const cbor_item_t* member(const cbor_item_t* map, std::int64_t key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (std::size_t i = 0; i < cbor_map_size(map); ++i)
    if (as_int(pairs[i].key) == key) return pairs[i].value;
  return nullptr;
}
const cbor_item_t* member(const cbor_item_t* map, const char* key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (std::size_t i = 0; i < cbor_map_size(map); ++i) {
    const cbor_item_t* k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == std::strlen(key) &&
        std::memcmp(cbor_string_handle(k), key, cbor_string_length(k)) == 0)
      return pairs[i].value;
  }
  return nullptr;
}

Bytes bytes_of(const cbor_item_t* v) {
  if (v == nullptr || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v)) throw Fail{kInvalidCbor};
  return Bytes(cbor_bytestring_handle(v), cbor_bytestring_handle(v) + cbor_bytestring_length(v));
}
std::string text_of(const cbor_item_t* v) {
  if (v == nullptr || !cbor_isa_string(v) || !cbor_string_is_definite(v)) throw Fail{kInvalidCbor};
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(v)), cbor_string_length(v));
}
std::optional<bool> bool_of(const cbor_item_t* v) {
  if (v == nullptr) return std::nullopt;
  if (!cbor_is_bool(v)) throw Fail{kInvalidCbor};
  return cbor_get_bool(v);
}

Bytes ok_response(cbor_item_t* map) {
  Bytes out{kOk};
  Bytes body = serialize(map);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void put_be(Bytes& out, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// --- registry for the I/O shims --------------------------------------------------------
std::mutex g_mutex;
std::map<std::string, VirtualFido2*>& registry() {
  static std::map<std::string, VirtualFido2*> r;
  return r;
}
int g_serial = 0;

void* io_open(const char* path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = registry().find(path);
  return it == registry().end() ? nullptr : it->second;
}
void io_close(void*) {}
int io_read(void* h, unsigned char* buf, std::size_t len, int /*ms*/) {
  return static_cast<VirtualFido2*>(h)->read_report(buf, len);
}
int io_write(void* h, const unsigned char* buf, std::size_t len) {
  return static_cast<VirtualFido2*>(h)->write_report(buf, len);
}
const fido_dev_io_t kIo = {io_open, io_close, io_read, io_write};

}  // namespace

struct VirtualFido2::Keys {
  Bytes wrap_key = random_bytes(32);
  Pkey attestation = generate("EC", "P-256");
  Pkey ca = generate("EC", "P-256");
  Pkey key_agreement = generate("EC", "P-256");
};

VirtualFido2::VirtualFido2()
    : keys_(std::make_unique<Keys>()), aaguid_(random_bytes(16)), pin_token_(random_bytes(32)) {
  // Each device its own CA name: certificate stores find issuers by name, and two test CAs
  // with one name would shadow each other.
  static const char* kHex = "0123456789abcdef";
  std::string ca_name = "Countersign Test FIDO CA ";
  for (std::size_t i = 0; i < 4; ++i) {
    ca_name += kHex[aaguid_[i] >> 4];
    ca_name += kHex[aaguid_[i] & 0xf];
  }
  auto ca = make_cert(keys_->ca.get(), ca_name.c_str(), "Test CA", keys_->ca.get(), nullptr, 1);
  auto att = make_cert(keys_->attestation.get(), "Countersign Virtual FIDO2", "Authenticator Attestation",
                       keys_->ca.get(), ca.get(), 2);
  ca_der_ = der_of(ca.get());
  att_der_ = der_of(att.get());
  std::lock_guard<std::mutex> lock(g_mutex);
  path_ = "virtual-fido2:" + std::to_string(++g_serial);
  registry()[path_] = this;
}

VirtualFido2::~VirtualFido2() {
  std::lock_guard<std::mutex> lock(g_mutex);
  registry().erase(path_);
}

const fido_dev_io_t* VirtualFido2::io() { return &kIo; }

Bytes VirtualFido2::sign_as_attestation(const Bytes& message) const {
  return sign(keys_->attestation.get(), message);
}

void VirtualFido2::set_pin(const std::string& pin) {
  Bytes h = sha256(Bytes(pin.begin(), pin.end()));
  h.resize(16);
  pin_hash_ = h;
  pin_retries_ = 8;
}

// libfido2 writes a report ID byte (0) and then the 64-byte report.
int VirtualFido2::write_report(const std::uint8_t* report, std::size_t len) {
  if (unplugged || len != kReport + 1) return -1;
  const std::uint8_t* f = report + 1;
  const std::uint32_t cid = static_cast<std::uint32_t>(f[0]) << 24 | static_cast<std::uint32_t>(f[1]) << 16 |
                            static_cast<std::uint32_t>(f[2]) << 8 | f[3];
  if (f[4] & 0x80) {  // initialization packet: CID | CMD | BCNTH | BCNTL | DATA
    rx_cid_ = cid;
    rx_cmd_ = f[4] & 0x7f;
    rx_need_ = static_cast<std::size_t>(f[5]) << 8 | f[6];
    rx_seq_ = 0;
    rx_buf_.assign(f + 7, f + kReport);
  } else {  // continuation packet: CID | SEQ | DATA
    if (cid != rx_cid_ || f[4] != rx_seq_++) {
      queue_response(cid, kHidError, {0x04});  // ERR_INVALID_SEQ
      return static_cast<int>(len);
    }
    rx_buf_.insert(rx_buf_.end(), f + 5, f + kReport);
  }
  if (rx_buf_.size() >= rx_need_) {
    rx_buf_.resize(rx_need_);
    handle_message(rx_cid_, rx_cmd_, rx_buf_);
  }
  return static_cast<int>(len);
}

int VirtualFido2::read_report(std::uint8_t* out, std::size_t len) {
  // Nothing queued means a real device would stay silent until libfido2's timeout.
  if (unplugged || tx_.empty() || len < kReport) return -1;
  std::memcpy(out, tx_.front().data(), kReport);
  tx_.pop_front();
  return static_cast<int>(kReport);
}

void VirtualFido2::queue_response(std::uint32_t cid, std::uint8_t cmd, const Bytes& payload) {
  std::size_t off = 0;
  std::uint8_t seq = 0;
  bool first = true;
  while (first || off < payload.size()) {
    Bytes r(kReport, 0);
    for (std::size_t i = 0; i < 4; ++i) r[i] = static_cast<std::uint8_t>(cid >> (24 - 8 * i));
    std::size_t hdr = 0;
    if (first) {
      r[4] = static_cast<std::uint8_t>(0x80 | cmd);
      r[5] = static_cast<std::uint8_t>(payload.size() >> 8);
      r[6] = static_cast<std::uint8_t>(payload.size());
      hdr = 7;
      first = false;
    } else {
      r[4] = seq++;
      hdr = 5;
    }
    const std::size_t n = std::min(kReport - hdr, payload.size() - off);
    std::copy_n(payload.begin() + static_cast<std::ptrdiff_t>(off), n,
                r.begin() + static_cast<std::ptrdiff_t>(hdr));
    off += n;
    tx_.push_back(std::move(r));
  }
}

void VirtualFido2::keepalive() {
  if (!waiting_cid_) return;
  Bytes r(kReport, 0);
  for (std::size_t i = 0; i < 4; ++i) r[i] = static_cast<std::uint8_t>(*waiting_cid_ >> (24 - 8 * i));
  r[4] = static_cast<std::uint8_t>(0x80 | kHidKeepalive);
  r[6] = 1;  // BCNT 1
  r[7] = kStatusUpNeeded;
  tx_.push_back(std::move(r));
}

void VirtualFido2::stop_waiting() {
  if (!waiting_cid_) return;
  const std::uint32_t cid = *waiting_cid_;
  waiting_cid_.reset();
  queue_response(cid, kHidCbor, {kUserActionTimeout});
}

void VirtualFido2::handle_message(std::uint32_t cid, std::uint8_t cmd, const Bytes& payload) {
  switch (cmd) {
    case kHidInit: {
      if (payload.size() != 8) return queue_response(cid, kHidError, {0x03});  // ERR_INVALID_LEN
      Bytes r(payload);
      const std::uint32_t assigned = cid == kBroadcastCid ? next_cid_++ : cid;
      put_be(r, assigned, 4);
      // CTAPHID protocol 2, device version 5.4.3, capabilities CBOR | NMSG.
      r.insert(r.end(), {2, 5, 4, 3, 0x04 | 0x08});
      return queue_response(cid, kHidInit, r);
    }
    case kHidCancel:
      // The request waiting for a touch ends with KEEPALIVE_CANCEL (CTAP 2.1 section
      // 11.2.9.1.5); with nothing waiting (every other request completes before its
      // response) a CANCEL is ignored, as the spec asks.
      if (waiting_cid_ && *waiting_cid_ == cid) {
        waiting_cid_.reset();
        return queue_response(cid, kHidCbor, {kKeepaliveCancel});
      }
      return;
    case kHidCbor: {
      touch_pending_ = false;
      Bytes resp = handle_cbor(payload);
      if (unplugged) return;
      if (touch_pending_) {
        waiting_cid_ = cid;  // answered later: keepalive(), CANCEL or stop_waiting()
        return;
      }
      return queue_response(cid, kHidCbor, resp);
    }
    default:
      return queue_response(cid, kHidError, {0x01});  // ERR_INVALID_CMD
  }
}

Bytes VirtualFido2::handle_cbor(const Bytes& request) {
  if (request.empty()) return {kInvalidCommand};
  Bytes resp;
  try {
    switch (request[0]) {
      case 0x01:
        resp = make_credential(request);
        break;
      case 0x02:
        resp = get_assertion(request);
        break;
      case 0x04:
        resp = get_info();
        break;
      case 0x06:
        resp = client_pin(request);
        break;
      default:
        return {kInvalidCommand};
    }
  } catch (const Fail& f) {
    return {f.status};
  } catch (const std::exception&) {
    return {0x7f};  // CTAP1_ERR_OTHER; never let an exception into libfido2's C frames
  }
  if (malformed_response && resp.size() > 2) {
    malformed_response = false;
    resp.resize(resp.size() / 2);  // cut the CBOR map off in the middle
  }
  return resp;
}

Bytes VirtualFido2::get_info() {
  Cbor m(cbor_new_definite_map(7));
  Cbor versions(cbor_new_definite_array(1));
  cbor_array_push(versions.get(), cbor_move(cbor_build_string("FIDO_2_0")));
  map_put(m.get(), cbor_int(1), std::move(versions));
  map_put(m.get(), cbor_int(3), cbor_bytes(aaguid_));
  Cbor opts(cbor_new_definite_map(4));
  map_put(opts.get(), cbor_text("rk"), Cbor(cbor_build_bool(true)));
  map_put(opts.get(), cbor_text("up"), Cbor(cbor_build_bool(true)));
  map_put(opts.get(), cbor_text("plat"), Cbor(cbor_build_bool(false)));
  map_put(opts.get(), cbor_text("clientPin"), Cbor(cbor_build_bool(!pin_hash_.empty())));
  map_put(m.get(), cbor_int(4), std::move(opts));
  map_put(m.get(), cbor_int(5), cbor_int(1200));
  Cbor protocols(cbor_new_definite_array(1));
  cbor_array_push(protocols.get(), cbor_move(cbor_build_uint8(1)));
  map_put(m.get(), cbor_int(6), std::move(protocols));
  Cbor algs(cbor_new_definite_array(2));
  for (int alg : {kCoseEs256, kCoseEdDsa}) {
    Cbor a(cbor_new_definite_map(2));
    map_put(a.get(), cbor_text("alg"), cbor_int(alg));
    map_put(a.get(), cbor_text("type"), cbor_text("public-key"));
    cbor_array_push(algs.get(), cbor_move(a.release()));
  }
  map_put(m.get(), cbor_int(10), std::move(algs));
  map_put(m.get(), cbor_int(14), cbor_int(0x050403));  // firmwareVersion, as a YubiKey 5.4.3 says it
  return ok_response(m.get());
}

namespace {
Cbor load(const Bytes& request) {
  cbor_load_result res{};
  Cbor item(cbor_load(request.data() + 1, request.size() - 1, &res));
  if (!item || res.read != request.size() - 1 || !cbor_isa_map(item.get())) throw Fail{kInvalidCbor};
  return item;
}

// Checks pinUvAuthParam (PIN protocol one: LEFT(HMAC-SHA-256(pinToken, clientDataHash), 16)).
bool check_pin_auth(const cbor_item_t* req, std::int64_t auth_key, std::int64_t proto_key, const Bytes& token,
                    const Bytes& cdh, bool pin_set) {
  const cbor_item_t* auth = member(req, auth_key);
  if (auth == nullptr) {
    if (pin_set) throw Fail{kPinRequired};
    return false;
  }
  if (!pin_set) throw Fail{kPinNotSet};
  if (as_int(member(req, proto_key)).value_or(0) != 1) throw Fail{kPinAuthInvalid};
  if (bytes_of(auth) != hmac16(token, cdh)) throw Fail{kPinAuthInvalid};
  return true;
}
}  // namespace

Bytes VirtualFido2::make_credential(const Bytes& request) {
  Cbor req = load(request);
  const Bytes cdh = bytes_of(member(req.get(), 1));
  const std::string rp = text_of(member(member(req.get(), 2), "id"));
  if (member(req.get(), 3) == nullptr) throw Fail{kMissingParameter};
  const cbor_item_t* params = member(req.get(), 4);
  if (params == nullptr || !cbor_isa_array(params)) throw Fail{kMissingParameter};
  int alg = 0;
  for (std::size_t i = 0; i < cbor_array_size(params) && alg == 0; ++i) {
    cbor_item_t* p = cbor_array_get(params, i);  // takes a reference
    const auto a = as_int(member(p, "alg"));
    cbor_decref(&p);
    if (a == kCoseEs256 || a == kCoseEdDsa) alg = static_cast<int>(*a);
  }
  if (alg == 0) throw Fail{kUnsupportedAlgorithm};
  const cbor_item_t* opts = member(req.get(), 7);
  if (bool_of(member(opts, "uv")).value_or(false)) throw Fail{kInvalidOption};  // no built-in UV
  const bool uv = check_pin_auth(req.get(), 8, 9, pin_token_, cdh, !pin_hash_.empty());
  if (no_touch) throw Fail{kUserActionTimeout};

  // The credential key, wrapped under the device secret with the rpIdHash as AAD.
  Pkey key = alg == kCoseEs256 ? generate("EC", "P-256") : generate("ED25519", nullptr);
  const Bytes rp_hash = sha256(Bytes(rp.begin(), rp.end()));
  const int dlen = i2d_PrivateKey(key.get(), nullptr);
  must(dlen > 0, "i2d_PrivateKey");
  Bytes plain(static_cast<std::size_t>(dlen));
  unsigned char* pp = plain.data();
  i2d_PrivateKey(key.get(), &pp);
  const Bytes nonce = random_bytes(12);
  Bytes cred_id(nonce);
  {
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
    Bytes ct(plain.size() + 16);
    int n = 0, m = 0;
    must(EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, keys_->wrap_key.data(), nonce.data()) == 1 &&
             EVP_EncryptUpdate(c.get(), nullptr, &n, rp_hash.data(), 32) == 1 &&
             EVP_EncryptUpdate(c.get(), ct.data(), &n, plain.data(), static_cast<int>(plain.size())) == 1 &&
             EVP_EncryptFinal_ex(c.get(), ct.data() + n, &m) == 1,
         "AES-GCM");
    ct.resize(static_cast<std::size_t>(n + m));
    Bytes tag(16);
    must(EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data()) == 1, "GCM tag");
    cred_id.insert(cred_id.end(), ct.begin(), ct.end());
    cred_id.insert(cred_id.end(), tag.begin(), tag.end());
  }
  std::fill(plain.begin(), plain.end(), 0);

  // COSE_Key (RFC 9053): EC2 P-256 or OKP Ed25519.
  Cbor cose(cbor_new_definite_map(alg == kCoseEs256 ? 5 : 4));
  if (alg == kCoseEs256) {
    const Bytes pt = ec_point(key.get());
    map_put(cose.get(), cbor_int(1), cbor_int(2));
    map_put(cose.get(), cbor_int(3), cbor_int(kCoseEs256));
    map_put(cose.get(), cbor_int(-1), cbor_int(1));
    map_put(cose.get(), cbor_int(-2), cbor_bytes(Bytes(pt.begin() + 1, pt.begin() + 33)));
    map_put(cose.get(), cbor_int(-3), cbor_bytes(Bytes(pt.begin() + 33, pt.end())));
  } else {
    Bytes raw(32);
    std::size_t n = 32;
    must(EVP_PKEY_get_raw_public_key(key.get(), raw.data(), &n) == 1, "raw public key");
    map_put(cose.get(), cbor_int(1), cbor_int(1));
    map_put(cose.get(), cbor_int(3), cbor_int(kCoseEdDsa));
    map_put(cose.get(), cbor_int(-1), cbor_int(6));
    map_put(cose.get(), cbor_int(-2), cbor_bytes(raw));
  }
  ++counter_;
  Bytes auth(rp_hash);
  auth.push_back(static_cast<std::uint8_t>(kFlagUp | kFlagAt | (uv ? kFlagUv : 0)));
  put_be(auth, counter_, 4);
  auth.insert(auth.end(), aaguid_.begin(), aaguid_.end());
  put_be(auth, cred_id.size(), 2);
  auth.insert(auth.end(), cred_id.begin(), cred_id.end());
  const Bytes cose_bytes = serialize(cose.get());
  auth.insert(auth.end(), cose_bytes.begin(), cose_bytes.end());

  // Packed attestation (WebAuthn 8.2): sig over authenticatorData || clientDataHash.
  Bytes signed_data(auth);
  signed_data.insert(signed_data.end(), cdh.begin(), cdh.end());
  Cbor stmt(cbor_new_definite_map(3));
  map_put(stmt.get(), cbor_text("alg"), cbor_int(kCoseEs256));
  map_put(stmt.get(), cbor_text("sig"), cbor_bytes(sign(keys_->attestation.get(), signed_data)));
  Cbor x5c(cbor_new_definite_array(1));
  cbor_array_push(x5c.get(), cbor_move(cbor_build_bytestring(att_der_.data(), att_der_.size())));
  map_put(stmt.get(), cbor_text("x5c"), std::move(x5c));
  Cbor m(cbor_new_definite_map(3));
  map_put(m.get(), cbor_int(1), cbor_text("packed"));
  map_put(m.get(), cbor_int(2), cbor_bytes(auth));
  map_put(m.get(), cbor_int(3), std::move(stmt));
  return ok_response(m.get());
}

Bytes VirtualFido2::get_assertion(const Bytes& request) {
  Cbor req = load(request);
  const std::string rp = text_of(member(req.get(), 1));
  const Bytes cdh = bytes_of(member(req.get(), 2));
  const Bytes rp_hash = sha256(Bytes(rp.begin(), rp.end()));
  const cbor_item_t* allow = member(req.get(), 3);
  Pkey key;
  Bytes cred_id;
  for (std::size_t i = 0; allow != nullptr && cbor_isa_array(allow) && i < cbor_array_size(allow) && !key;
       ++i) {
    cbor_item_t* entry = cbor_array_get(allow, i);
    const Bytes id = bytes_of(member(entry, "id"));
    cbor_decref(&entry);
    if (id.size() < 12 + 16 + 1) continue;
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
    const std::size_t ct_len = id.size() - 28;
    Bytes plain(ct_len + 16);
    Bytes tag(id.end() - 16, id.end());
    int n = 0, m = 0;
    if (EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, keys_->wrap_key.data(), id.data()) == 1 &&
        EVP_DecryptUpdate(c.get(), nullptr, &n, rp_hash.data(), 32) == 1 &&
        EVP_DecryptUpdate(c.get(), plain.data(), &n, id.data() + 12, static_cast<int>(ct_len)) == 1 &&
        EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
        EVP_DecryptFinal_ex(c.get(), plain.data() + n, &m) == 1) {
      const unsigned char* p = plain.data();
      key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(n + m)));
      cred_id = id;
    }
    std::fill(plain.begin(), plain.end(), 0);
  }
  if (!key) throw Fail{kNoCredentials};
  const cbor_item_t* opts = member(req.get(), 5);
  if (bool_of(member(opts, "uv")).value_or(false)) throw Fail{kInvalidOption};  // no built-in UV
  const bool up = bool_of(member(opts, "up")).value_or(true);
  const bool uv =
      check_pin_auth(req.get(), 6, 7, pin_token_, cdh, !pin_hash_.empty() && member(req.get(), 6));
  if (up && unplug_on_assertion) {
    unplugged = true;
    return {};
  }
  if (up && no_touch) throw Fail{kUserActionTimeout};
  if (up && wait_for_touch) {
    touch_pending_ = true;
    return {};
  }
  ++counter_;
  Bytes auth(rp_hash);
  auth.push_back(static_cast<std::uint8_t>((up ? kFlagUp : 0) | (uv ? kFlagUv : 0)));
  put_be(auth, counter_, 4);
  Bytes signed_data(auth);
  signed_data.insert(signed_data.end(), cdh.begin(), cdh.end());
  Cbor cred(cbor_new_definite_map(2));
  map_put(cred.get(), cbor_text("id"), cbor_bytes(cred_id));
  map_put(cred.get(), cbor_text("type"), cbor_text("public-key"));
  Cbor m(cbor_new_definite_map(3));
  map_put(m.get(), cbor_int(1), std::move(cred));
  map_put(m.get(), cbor_int(2), cbor_bytes(auth));
  map_put(m.get(), cbor_int(3), cbor_bytes(sign(key.get(), signed_data)));
  return ok_response(m.get());
}

Bytes VirtualFido2::client_pin(const Bytes& request) {
  Cbor req = load(request);
  if (as_int(member(req.get(), 1)).value_or(0) != 1) throw Fail{kInvalidCbor};  // protocol one only
  const auto sub = as_int(member(req.get(), 2));
  if (!sub) throw Fail{kMissingParameter};
  Cbor m(cbor_new_definite_map(1));
  // Shared secret of PIN protocol one (CTAP 2.1 section 6.5.6): SHA-256 of the x
  // coordinate of the ECDH product with the platform's key agreement key.
  auto shared = [&]() {
    const cbor_item_t* ka = member(req.get(), 3);
    Pkey peer = p256_from_point(bytes_of(member(ka, -2)), bytes_of(member(ka, -3)));
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> c(
        EVP_PKEY_CTX_new(keys_->key_agreement.get(), nullptr), EVP_PKEY_CTX_free);
    Bytes z(32);
    std::size_t n = z.size();
    must(EVP_PKEY_derive_init(c.get()) == 1 && EVP_PKEY_derive_set_peer(c.get(), peer.get()) == 1 &&
             EVP_PKEY_derive(c.get(), z.data(), &n) == 1 && n == 32,
         "ECDH");
    return sha256(z);
  };
  switch (*sub) {
    case 0x01:  // getPinRetries
      map_put(m.get(), cbor_int(3), cbor_int(pin_retries_));
      return ok_response(m.get());
    case 0x02: {  // getKeyAgreement
      const Bytes pt = ec_point(keys_->key_agreement.get());
      Cbor cose(cbor_new_definite_map(5));
      map_put(cose.get(), cbor_int(1), cbor_int(2));
      map_put(cose.get(), cbor_int(3), cbor_int(kCoseEcdh));
      map_put(cose.get(), cbor_int(-1), cbor_int(1));
      map_put(cose.get(), cbor_int(-2), cbor_bytes(Bytes(pt.begin() + 1, pt.begin() + 33)));
      map_put(cose.get(), cbor_int(-3), cbor_bytes(Bytes(pt.begin() + 33, pt.end())));
      map_put(m.get(), cbor_int(1), std::move(cose));
      return ok_response(m.get());
    }
    case 0x03: {  // setPIN
      if (!pin_hash_.empty()) throw Fail{kPinAuthInvalid};
      const Bytes key = shared();
      const Bytes enc = bytes_of(member(req.get(), 5));
      if (bytes_of(member(req.get(), 4)) != hmac16(key, enc)) throw Fail{kPinAuthInvalid};
      Bytes pin = aes256_cbc(key, enc, false);
      if (pin.size() < 64) throw Fail{kPinPolicyViolation};
      const auto end = std::find(pin.begin(), pin.end(), 0);
      if (end - pin.begin() < 4) throw Fail{kPinPolicyViolation};
      set_pin(std::string(pin.begin(), end));
      std::fill(pin.begin(), pin.end(), 0);
      return {kOk};
    }
    case 0x05:    // getPinToken
    case 0x09: {  // getPinUvAuthTokenUsingPinWithPermissions
      if (pin_hash_.empty()) throw Fail{kPinNotSet};
      if (pin_retries_ <= 0) throw Fail{kPinBlocked};
      const Bytes key = shared();
      const Bytes hash = aes256_cbc(key, bytes_of(member(req.get(), 6)), false);
      if (hash != pin_hash_) {
        --pin_retries_;
        keys_->key_agreement = generate("EC", "P-256");  // 6.5.5.5: regenerate on a wrong PIN
        throw Fail{pin_retries_ == 0 ? kPinBlocked : kPinInvalid};
      }
      pin_retries_ = 8;
      map_put(m.get(), cbor_int(2), cbor_bytes(aes256_cbc(key, pin_token_, true)));
      return ok_response(m.get());
    }
    default:
      throw Fail{kInvalidCommand};
  }
}

}  // namespace countersign::testing
