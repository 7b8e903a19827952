// FIDO2 authenticators through libfido2: enumerate, open, read the authenticator's info,
// make a credential (enrolment) and get an assertion (signing).
//
// Everything above the byte transport is libfido2's own code: production opens hidraw
// paths with libfido2's HID I/O; tests and virtual authenticators pass a fido_dev_io_t
// (open/close/read/write of 64-byte CTAPHID reports, libfido2 fido_dev_set_io_functions),
// and the same CTAP2 requests, PIN protocol and response parsing run unchanged.
//
// The relying party is always kFido2RpId ("countersign", DESIGN.md "What exactly is
// signed"). PINs are taken as SecretBytes and never logged or copied outside guarded memory.
#pragma once

#include <fido.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/secret.h"

namespace countersign::fido2 {

// One authenticator seen by fido_dev_info_manifest.
struct DeviceListing {
  std::string path;
  std::string manufacturer;
  std::string product;
  std::uint16_t vendor_id = 0;
  std::uint16_t product_id = 0;
};

// Every FIDO2 HID authenticator connected (at most 64). An empty list is not an error.
Result<std::vector<DeviceListing>> list_devices();

// What authenticatorGetInfo (CTAP 2.1 section 6.4) reports, plus the PIN retry counter.
struct AuthenticatorInfo {
  Bytes aaguid;                                       // 16 bytes
  std::vector<std::string> versions;                  // "FIDO_2_0", "FIDO_2_1", "U2F_V2", ...
  std::vector<int> algorithms;                        // COSE ids (-7 ES256, -8 EdDSA), may be empty
  std::vector<std::pair<std::string, bool>> options;  // "clientPin", "rk", "up", "uv", ...
  std::uint64_t firmware_version = 0;                 // 0 when not reported
  bool pin_set = false;                               // option clientPin == true
  int pin_retries = -1;                               // -1 when no PIN is set or unknown
};

struct MakeCredentialRequest {
  Alg alg = Alg::kFido2Es256;  // kFido2Es256 or kFido2EdDsa
  bool uv = false;             // the policy key entry will demand user verification
  bool resident = false;       // discoverable credential (stored on the key)
  std::string user_name;       // shown by authenticators that store credentials
};

// Cancels, from another thread, the request a Device is waiting in (for a touch, say): the
// "Cancel" of a "Touch your key now" dialog. Shared between the thread that asks and the
// Device (Device::set_canceller). cancel() sends CTAPHID_CANCEL (CTAP 2.1 section 11.2.9.1.5,
// libfido2 fido_dev_cancel) on the device's channel; the authenticator then answers the
// waiting request with CTAP2_ERR_KEEPALIVE_CANCEL and the request returns kCancelled. A
// request started after cancel() returns kCancelled without reaching the authenticator.
// An authenticator ignores CTAPHID_CANCEL while it is not waiting for the user (for
// example during the PIN exchange that precedes an assertion), so call cancel() again
// while the request has not returned; every call is safe from any thread.
class Canceller {
 public:
  void cancel();
  bool cancelled() const;

 private:
  friend class Device;
  mutable std::mutex mutex_;
  fido_dev_t* dev_ = nullptr;  // the device while one of its requests runs, else null
  bool cancelled_ = false;
};

class Device {
 public:
  // Opens the authenticator at `path`. With `io` null, libfido2's own HID I/O opens the
  // hidraw path; otherwise `io` carries the reports (it is copied; the functions must stay
  // valid while the Device lives). `timeout_ms` bounds each operation, touch included
  // (-1: no limit). The default is longer than authenticators' own touch timeout (about 30 s
  // on a YubiKey), so that a missed touch is reported by the key as a timeout (kTimeout)
  // rather than cut short by libfido2 as an I/O error (kNoDevice).
  // Errors: kNoDevice when nothing answers at `path`; kUnsupported for a U2F-only device.
  static Result<Device> open(const std::string& path, const fido_dev_io_t* io = nullptr,
                             int timeout_ms = 60000);

  Result<AuthenticatorInfo> info();

  // Makes a credential for RP "countersign" (the user touches the key). `pin` is needed
  // when the authenticator has a PIN set. Returns the policy key entry: SPKI public key
  // converted from COSE, credential id, uv, and the packed attestation (certificate,
  // attestation signature, authenticatorData, clientDataHash), whose signature libfido2
  // has verified (fido_cred_verify). Errors: see fido2_error.h; kCrypto when the
  // attestation does not verify.
  Result<PolicyKey> make_credential(const MakeCredentialRequest& request, const SecretBytes* pin);

  // Asserts with `credential_id` as the only allowed credential over `client_data_hash`
  // (32 bytes) for RP "countersign", user presence required. With `pin`, user verification
  // goes through the PIN (clientPin); with `uv` and no pin, the authenticator's built-in UV
  // is requested. `up` false is a silent probe (does the key hold this credential?).
  struct Assertion {
    Bytes authenticator_data;  // raw bytes, not CBOR-wrapped
    Bytes signature;
    std::uint32_t sign_count = 0;
  };
  Result<Assertion> get_assertion(ByteView client_data_hash, ByteView credential_id, bool uv,
                                  const SecretBytes* pin, bool up = true);

  // True when this authenticator holds `credential_id` for RP "countersign" (a silent
  // assertion without user presence; nothing is signed for real).
  Result<bool> has_credential(ByteView credential_id);

  const std::string& path() const { return path_; }

  // make_credential and get_assertion with up = true can be cancelled through `c` from then
  // on (see Canceller).
  void set_canceller(std::shared_ptr<Canceller> c) { canceller_ = std::move(c); }

 private:
  // Ties the Canceller to this device for the length of one request; kCancelled when it
  // was cancelled before the request began.
  class Cancellable;
  struct Close {
    void operator()(fido_dev_t* d) const;
  };
  Device(std::unique_ptr<fido_dev_t, Close> dev, std::string path)
      : dev_(std::move(dev)), path_(std::move(path)) {}
  int retries_left();
  std::unique_ptr<fido_dev_t, Close> dev_;
  std::string path_;
  std::shared_ptr<Canceller> canceller_;
};

}  // namespace countersign::fido2
