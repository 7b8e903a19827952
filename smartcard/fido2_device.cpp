#include "smartcard/fido2_device.h"

#include <openssl/rand.h>

#include <cstring>
#include <mutex>

#include "smartcard/fido2_convert.h"
#include "smartcard/fido2_error.h"
#include "smartcard/fido2_handles.h"

namespace countersign::fido2 {
namespace {

constexpr std::size_t kMaxDevices = 64;

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { fido_init(0); });
}

Bytes copy_bytes(const unsigned char* p, std::size_t n) { return p == nullptr ? Bytes() : Bytes(p, p + n); }

// libfido2 takes the PIN as a NUL-terminated string; build one in guarded memory.
Result<SecretBytes> pin_cstring(const SecretBytes& pin) {
  if (pin.empty()) return make_error(Errc::kInvalidArgument, "the PIN is empty");
  if (std::memchr(pin.data(), 0, pin.size()) != nullptr)
    return make_error(Errc::kInvalidArgument, "the PIN contains a NUL byte");
  SecretBytes z(pin.size() + 1);
  std::memcpy(z.data(), pin.data(), pin.size());
  return z;
}

const char* pin_ptr(const std::optional<SecretBytes>& z) {
  return z ? reinterpret_cast<const char*>(z->data()) : nullptr;
}

}  // namespace

void Canceller::cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_ = true;
  // Under the lock: the request cannot end and close the device meanwhile. A failed send
  // (the device is gone) needs no handling: the request fails on its own then.
  if (dev_ != nullptr) (void)fido_dev_cancel(dev_);
}

bool Canceller::cancelled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cancelled_;
}

class Device::Cancellable {
 public:
  static Result<Cancellable> attach(const std::shared_ptr<Canceller>& c, fido_dev_t* dev) {
    if (c) {
      std::lock_guard<std::mutex> lock(c->mutex_);
      if (c->cancelled_) return make_error(Errc::kCancelled, "cancelled before the security key was asked");
      c->dev_ = dev;
    }
    return Cancellable(c);
  }
  Cancellable(Cancellable&& o) noexcept : c_(std::move(o.c_)) {}
  Cancellable& operator=(Cancellable&&) = delete;
  ~Cancellable() {
    if (!c_) return;
    std::lock_guard<std::mutex> lock(c_->mutex_);
    c_->dev_ = nullptr;
  }

 private:
  explicit Cancellable(std::shared_ptr<Canceller> c) : c_(std::move(c)) {}
  std::shared_ptr<Canceller> c_;
};

void Device::Close::operator()(fido_dev_t* d) const {
  fido_dev_close(d);  // FIDO_ERR_INVALID_ARGUMENT when not open: nothing to do then
  fido_dev_free(&d);
}

Result<std::vector<DeviceListing>> list_devices() {
  init_once();
  fido_dev_info_t* list = fido_dev_info_new(kMaxDevices);
  if (list == nullptr) return make_error(Errc::kInternal, "fido_dev_info_new failed");
  std::size_t found = 0;
  const int rc = fido_dev_info_manifest(list, kMaxDevices, &found);
  std::vector<DeviceListing> out;
  if (rc == FIDO_OK) {
    for (std::size_t i = 0; i < found; ++i) {
      const fido_dev_info_t* di = fido_dev_info_ptr(list, i);
      auto str = [](const char* s) { return s ? std::string(s) : std::string(); };
      out.push_back({str(fido_dev_info_path(di)), str(fido_dev_info_manufacturer_string(di)),
                     str(fido_dev_info_product_string(di)),
                     static_cast<std::uint16_t>(fido_dev_info_vendor(di)),
                     static_cast<std::uint16_t>(fido_dev_info_product(di))});
    }
  }
  fido_dev_info_free(&list, kMaxDevices);
  if (rc != FIDO_OK) return map_error(rc, "list FIDO2 devices");
  return out;
}

Result<Device> Device::open(const std::string& path, const fido_dev_io_t* io, int timeout_ms) {
  init_once();
  std::unique_ptr<fido_dev_t, Close> dev(fido_dev_new());
  if (!dev) return make_error(Errc::kInternal, "fido_dev_new failed");
  if (io != nullptr) {
    if (int rc = fido_dev_set_io_functions(dev.get(), io); rc != FIDO_OK)
      return map_error(rc, "open " + path);
  }
  if (int rc = fido_dev_set_timeout(dev.get(), timeout_ms); rc != FIDO_OK)
    return map_error(rc, "open " + path);
  if (int rc = fido_dev_open(dev.get(), path.c_str()); rc != FIDO_OK) {
    // FIDO_ERR_INTERNAL here is libfido2's "could not open the path".
    if (rc == FIDO_ERR_INTERNAL || rc == FIDO_ERR_TX || rc == FIDO_ERR_RX)
      return make_error(Errc::kNoDevice, "open " + path + ": no FIDO2 authenticator answers there");
    return map_error(rc, "open " + path);
  }
  if (!fido_dev_is_fido2(dev.get()))
    return make_error(Errc::kUnsupported,
                      "open " + path + ": a U2F-only key; countersign needs FIDO2 (CTAP2)");
  return Device(std::move(dev), path);
}

int Device::retries_left() {
  int retries = -1;
  if (fido_dev_get_retry_count(dev_.get(), &retries) != FIDO_OK) return -1;
  return retries;
}

Result<AuthenticatorInfo> Device::info() {
  InfoPtr ci(fido_cbor_info_new());
  if (!ci) return make_error(Errc::kInternal, "fido_cbor_info_new failed");
  if (int rc = fido_dev_get_cbor_info(dev_.get(), ci.get()); rc != FIDO_OK) return map_error(rc, "get info");
  AuthenticatorInfo info;
  info.aaguid = copy_bytes(fido_cbor_info_aaguid_ptr(ci.get()), fido_cbor_info_aaguid_len(ci.get()));
  char** versions = fido_cbor_info_versions_ptr(ci.get());
  for (std::size_t i = 0; i < fido_cbor_info_versions_len(ci.get()); ++i)
    info.versions.emplace_back(versions[i]);
  for (std::size_t i = 0; i < fido_cbor_info_algorithm_count(ci.get()); ++i)
    info.algorithms.push_back(fido_cbor_info_algorithm_cose(ci.get(), i));
  char** names = fido_cbor_info_options_name_ptr(ci.get());
  const bool* values = fido_cbor_info_options_value_ptr(ci.get());
  for (std::size_t i = 0; i < fido_cbor_info_options_len(ci.get()); ++i) {
    info.options.emplace_back(names[i], values[i]);
    if (std::strcmp(names[i], "clientPin") == 0) info.pin_set = values[i];
  }
  info.firmware_version = fido_cbor_info_fwversion(ci.get());
  if (info.pin_set) info.pin_retries = retries_left();
  return info;
}

Result<PolicyKey> Device::make_credential(const MakeCredentialRequest& request, const SecretBytes* pin) {
  if (request.alg != Alg::kFido2Es256 && request.alg != Alg::kFido2EdDsa)
    return make_error(Errc::kInvalidArgument,
                      "make credential: the algorithm must be fido2-es256 or fido2-eddsa");
  std::optional<SecretBytes> zpin;
  if (pin != nullptr) {
    CS_TRY(auto z, pin_cstring(*pin));
    zpin = std::move(z);
  }
  // The clientDataHash of an enrolment binds nothing a verifier needs; it is random and
  // kept in the attestation so the attestation signature can be re-checked later.
  Bytes cdh(32), user_id(32);
  if (RAND_bytes(cdh.data(), 32) != 1 || RAND_bytes(user_id.data(), 32) != 1)
    return make_error(Errc::kInternal, "RAND_bytes failed");
  CredPtr cred(fido_cred_new());
  if (!cred) return make_error(Errc::kInternal, "fido_cred_new failed");
  const std::string rp(kFido2RpId);
  const std::string user = request.user_name.empty() ? "countersign" : request.user_name;
  const int type = request.alg == Alg::kFido2Es256 ? COSE_ES256 : COSE_EDDSA;
  int rc = fido_cred_set_type(cred.get(), type);
  if (rc == FIDO_OK) rc = fido_cred_set_clientdata_hash(cred.get(), cdh.data(), cdh.size());
  if (rc == FIDO_OK) rc = fido_cred_set_rp(cred.get(), rp.c_str(), rp.c_str());
  if (rc == FIDO_OK)
    rc = fido_cred_set_user(cred.get(), user_id.data(), user_id.size(), user.c_str(), user.c_str(), nullptr);
  if (rc == FIDO_OK) rc = fido_cred_set_rk(cred.get(), request.resident ? FIDO_OPT_TRUE : FIDO_OPT_OMIT);
  // With a PIN, user verification is the PIN's (pinUvAuthParam); asking for the uv
  // option as well is refused by CTAP 2.0 authenticators.
  if (rc == FIDO_OK && request.uv && pin == nullptr) rc = fido_cred_set_uv(cred.get(), FIDO_OPT_TRUE);
  if (rc != FIDO_OK) return map_error(rc, "make credential");
  CS_TRY(Cancellable cancellable, Cancellable::attach(canceller_, dev_.get()));
  rc = fido_dev_make_cred(dev_.get(), cred.get(), pin_ptr(zpin));
  if (rc != FIDO_OK)
    return map_error(rc, "make credential", rc == FIDO_ERR_PIN_INVALID ? retries_left() : -1);

  // libfido2 checks the packed attestation signature over authData || clientDataHash with
  // the x5c leaf (or the credential key for self attestation), the rpIdHash and the flags.
  const char* fmt = fido_cred_fmt(cred.get());
  if (fmt == nullptr || std::strcmp(fmt, "packed") != 0)
    return make_error(Errc::kUnsupported, "make credential: only packed attestation is supported");
  if (fido_cred_x5c_ptr(cred.get()) != nullptr) {
    if (int v = fido_cred_verify(cred.get()); v != FIDO_OK)
      return Error(Errc::kCrypto,
                   std::string("make credential: the attestation does not verify: ") + fido_strerr(v));
  } else if (int v = fido_cred_verify_self(cred.get()); v != FIDO_OK) {
    return Error(Errc::kCrypto,
                 std::string("make credential: the self attestation does not verify: ") + fido_strerr(v));
  }

  CS_TRY(PublicKey key, public_key_from_libfido2(request.alg, ByteView(fido_cred_pubkey_ptr(cred.get()),
                                                                       fido_cred_pubkey_len(cred.get()))));
  PolicyKey out{std::move(key), copy_bytes(fido_cred_id_ptr(cred.get()), fido_cred_id_len(cred.get())),
                request.uv, std::nullopt};
  if (out.credential_id.empty()) return make_error(Errc::kMalformed, "make credential: no credential id");
  Attestation att;
  att.format = "fido2-packed";
  if (fido_cred_x5c_ptr(cred.get()) != nullptr)
    att.certificates.push_back(copy_bytes(fido_cred_x5c_ptr(cred.get()), fido_cred_x5c_len(cred.get())));
  att.signature = copy_bytes(fido_cred_sig_ptr(cred.get()), fido_cred_sig_len(cred.get()));
  att.authenticator_data =
      copy_bytes(fido_cred_authdata_raw_ptr(cred.get()), fido_cred_authdata_raw_len(cred.get()));
  att.client_data_hash = cdh;
  out.attestation = std::move(att);
  return out;
}

Result<Device::Assertion> Device::get_assertion(ByteView client_data_hash, ByteView credential_id, bool uv,
                                                const SecretBytes* pin, bool up) {
  if (client_data_hash.size() != 32)
    return make_error(Errc::kInvalidArgument, "get assertion: clientDataHash must be 32 bytes");
  if (credential_id.empty()) return make_error(Errc::kInvalidArgument, "get assertion: empty credential id");
  std::optional<SecretBytes> zpin;
  if (pin != nullptr) {
    CS_TRY(auto z, pin_cstring(*pin));
    zpin = std::move(z);
  }
  AssertPtr a(fido_assert_new());
  if (!a) return make_error(Errc::kInternal, "fido_assert_new failed");
  const std::string rp(kFido2RpId);
  int rc = fido_assert_set_rp(a.get(), rp.c_str());
  if (rc == FIDO_OK)
    rc = fido_assert_set_clientdata_hash(a.get(), client_data_hash.data(), client_data_hash.size());
  if (rc == FIDO_OK) rc = fido_assert_allow_cred(a.get(), credential_id.data(), credential_id.size());
  if (rc == FIDO_OK) rc = fido_assert_set_up(a.get(), up ? FIDO_OPT_TRUE : FIDO_OPT_FALSE);
  if (rc == FIDO_OK && uv && pin == nullptr) rc = fido_assert_set_uv(a.get(), FIDO_OPT_TRUE);
  if (rc != FIDO_OK) return map_error(rc, "get assertion");
  // A silent probe (up false) waits for no one and is not cancelled.
  CS_TRY(Cancellable cancellable, Cancellable::attach(up ? canceller_ : nullptr, dev_.get()));
  rc = fido_dev_get_assert(dev_.get(), a.get(), pin_ptr(zpin));
  if (rc != FIDO_OK) return map_error(rc, "get assertion", rc == FIDO_ERR_PIN_INVALID ? retries_left() : -1);
  if (fido_assert_count(a.get()) != 1)
    return make_error(Errc::kMalformed, "get assertion: expected exactly one assertion");
  Assertion out;
  CS_TRY(out.authenticator_data, unwrap_authenticator_data(ByteView(fido_assert_authdata_ptr(a.get(), 0),
                                                                    fido_assert_authdata_len(a.get(), 0))));
  out.signature = copy_bytes(fido_assert_sig_ptr(a.get(), 0), fido_assert_sig_len(a.get(), 0));
  out.sign_count = fido_assert_sigcount(a.get(), 0);
  if (up && out.signature.empty()) return make_error(Errc::kMalformed, "get assertion: no signature");
  return out;
}

Result<bool> Device::has_credential(ByteView credential_id) {
  Bytes probe(32, 0);
  auto r = get_assertion(probe, credential_id, false, nullptr, false);
  if (r.ok()) return true;
  if (r.error().code == Errc::kNotFound) return false;
  return std::move(r).error();
}

}  // namespace countersign::fido2
