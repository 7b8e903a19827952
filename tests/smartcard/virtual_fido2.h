// A virtual CTAP2 authenticator for tests, plugged under the real libfido2 through
// fido_dev_set_io_functions: libfido2 writes and reads 64-byte CTAPHID reports (FIDO CTAP
// 2.1 section 11.2) and everything above that — INIT, CBOR framing, PIN protocol one,
// request encoding and response parsing — is libfido2's own code, as with a YubiKey.
//
// What it implements (CTAP 2.0/2.1 section numbers):
//   CTAPHID INIT, CBOR, CANCEL (11.2.9), KEEPALIVE while an assertion waits for a touch
//   authenticatorGetInfo (6.4): FIDO_2_0, AAGUID, options rk/up/plat/clientPin, PIN
//     protocol 1, algorithms ES256 and EdDSA
//   authenticatorMakeCredential (6.1): real P-256 / Ed25519 keys (OpenSSL); the credential
//     id is the private key wrapped with AES-256-GCM under a per-device secret, bound to the
//     rpIdHash; packed attestation (8.2) by an attestation key whose certificate a test CA
//     made at construction time
//   authenticatorGetAssertion (6.2): allow list, UP and UV flags, a signature counter
//   authenticatorClientPIN (6.5), PIN protocol one: getRetries, getKeyAgreement, setPIN,
//     getPinToken and getPinUvAuthTokenUsingPinWithPermissions; 8 tries; blocked at 0
// Scripted failures: no touch (CTAP2_ERR_USER_ACTION_TIMEOUT), a touch that never comes
// (the assertion waits until CTAPHID_CANCEL), unplugged during an assertion (I/O errors
// from then on), a malformed CBOR response.
#pragma once

#include <fido.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace countersign::testing {

class VirtualFido2 {
 public:
  using Bytes = std::vector<std::uint8_t>;

  // A fresh authenticator with no PIN, reachable as path() through io().
  VirtualFido2();
  ~VirtualFido2();
  VirtualFido2(const VirtualFido2&) = delete;
  VirtualFido2& operator=(const VirtualFido2&) = delete;

  // The I/O functions to give libfido2 (fido_dev_set_io_functions) and the path to open.
  static const fido_dev_io_t* io();
  const std::string& path() const { return path_; }

  // Sets the PIN as if through setPIN (retries back to 8).
  void set_pin(const std::string& pin);
  int pin_retries() const { return pin_retries_; }
  std::uint32_t sign_count() const { return counter_; }
  const Bytes& aaguid() const { return aaguid_; }
  // DER of the test CA certificate and of the attestation certificate it issued.
  const Bytes& ca_certificate() const { return ca_der_; }
  const Bytes& attestation_certificate() const { return att_der_; }
  // A signature by the attestation key (ECDSA P-256/SHA-256, DER) over `message`, as the
  // packed attestation's sig over authenticatorData || clientDataHash: for tests that make
  // authenticatorData this authenticator would never write and need it signed.
  Bytes sign_as_attestation(const Bytes& message) const;

  // Scripted failures.
  bool no_touch = false;             // the user never touches: USER_ACTION_TIMEOUT
  bool unplug_on_assertion = false;  // removed while an assertion waits for touch
  bool malformed_response = false;   // the next CBOR response is truncated CBOR
  bool unplugged = false;            // every read and write fails
  // An assertion needing a touch waits for one: no response until CTAPHID_CANCEL (then
  // CTAP2_ERR_KEEPALIVE_CANCEL) or stop_waiting(); meanwhile keepalive() queues
  // KEEPALIVE(UPNEEDED) reports, as a real key sends every 100 ms or so. The one who feeds
  // the reports (virtual-fido2's loop) drives the clock.
  bool wait_for_touch = false;
  bool waiting_for_touch() const { return waiting_cid_.has_value(); }
  void keepalive();
  // The waiting assertion ends with CTAP2_ERR_USER_ACTION_TIMEOUT.
  void stop_waiting();

  // CTAPHID: one 64-byte report from the host. Public for the I/O shims.
  int write_report(const std::uint8_t* report, std::size_t len);
  int read_report(std::uint8_t* out, std::size_t len);

 private:
  struct Keys;
  void handle_message(std::uint32_t cid, std::uint8_t cmd, const Bytes& payload);
  void queue_response(std::uint32_t cid, std::uint8_t cmd, const Bytes& payload);
  Bytes handle_cbor(const Bytes& request);
  Bytes get_info();
  Bytes make_credential(const Bytes& request);
  Bytes get_assertion(const Bytes& request);
  Bytes client_pin(const Bytes& request);

  std::string path_;
  std::unique_ptr<Keys> keys_;
  Bytes aaguid_;
  Bytes ca_der_, att_der_;
  Bytes pin_hash_;  // LEFT(SHA-256(PIN), 16); empty when no PIN is set
  int pin_retries_ = 8;
  Bytes pin_token_;
  std::uint32_t counter_ = 0;
  std::uint32_t next_cid_ = 0x01000000;
  // The message being assembled from an init report and continuation reports.
  std::uint32_t rx_cid_ = 0;
  std::uint8_t rx_cmd_ = 0;
  std::size_t rx_need_ = 0;
  std::uint8_t rx_seq_ = 0;
  Bytes rx_buf_;
  std::deque<Bytes> tx_;                      // 64-byte reports waiting for the host to read
  bool touch_pending_ = false;                // set by get_assertion: answer later
  std::optional<std::uint32_t> waiting_cid_;  // the channel of the assertion waiting for a touch
};

}  // namespace countersign::testing
