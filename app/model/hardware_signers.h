// Hardware signers the Sign view offers: FIDO2 security keys that hold a credential of the
// open policy, and PIV cards (YubiKey PIV or any PIV card, over PC/SC) with a slot whose key
// is a key of the open policy. Finding reads public data only (a silent FIDO2 assertion, the
// slot certificates); signing blocks until the device answers, so the view runs it off the
// GUI thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.h"
#include "core/proposal.h"
#include "core/secret.h"
#include "core/signature_file.h"
#include "smartcard/attestation.h"
#include "smartcard/fido2_device.h"
#include "smartcard/fido2_signer.h"
#include "smartcard/piv/piv_card.h"

namespace countersign::app {

struct Fido2Match {
  std::string device;    // hidraw path or unix:PATH
  std::string product;   // for people; may be empty
  std::string approver;  // approver id in the policy
  PolicyKey key;         // the policy key entry whose credential the device holds
  bool needs_pin() const { return key.uv; }
};

// Probes `device` (a hidraw path or unix:PATH, smartcard/fido2_unix_socket.h) or, when
// empty, every connected FIDO2 key, for the policy's FIDO2 credentials (a silent assertion:
// no touch, nothing signed). Devices that do not answer are skipped; an empty list is not
// an error.
Result<std::vector<Fido2Match>> find_fido2_signers(const Policy& policy, const std::string& device);

// Signs with the matched credential: the user touches the key (blocks until then, until the
// key's own timeout: kTimeout, or until `cancel` is cancelled from another thread:
// kCancelled). `pin` is used only when the key entry says "uv": true (kInvalidArgument when
// it is then missing). Wrong PIN: kWrongPin with Error::retries. An expired proposal:
// kRejected, before the key is touched. `cancel` may be null.
Result<SignatureFile> sign_with_fido2(const Proposal& proposal, const Fido2Match& match,
                                      const SecretBytes* pin, std::optional<std::string> signer, UnixTime now,
                                      std::shared_ptr<fido2::Canceller> cancel = nullptr);

struct PivMatch {
  std::string reader;    // PC/SC reader name
  std::string card;      // piv::describe_card: "YubiKey PIV, firmware 5.7.1, serial 7654321"
  piv::Slot slot;        // the slot holding the key
  std::string approver;  // approver id in the policy
  PolicyKey key;         // the policy key entry the slot's key is
  int pin_retries = -1;  // PIN tries left when the card was read; -1 unknown
  // The card may wait for a touch when signing: a YubiKey, unless the key's attestation
  // (checked against the session's roots) says its touch policy is "never".
  bool may_need_touch = false;
};

// What find_piv_signers saw: the matches, and every other card in words, so that "no card
// holds a key of this policy" can say which cards were looked at.
struct PivSearch {
  std::vector<PivMatch> matches;
  std::vector<std::string> other_cards;  // "READER: YubiKey PIV, ... — no key of this policy"
};

// Reads the slot certificates (9a, 9c, 9d, 9e; no PIN) of the card in `reader` or, when
// empty, of every card pcscd sees, and matches their public keys against the policy's keys
// (Policy::find_key). `roots` only decide may_need_touch. Errors: kNoDevice when pcscd is
// not running; kNotFound when `reader` is named and pcscd has no such reader (the message
// lists those it has). No card, or no match: an empty `matches`, not an error.
Result<PivSearch> find_piv_signers(const Policy& policy, const std::string& reader,
                                   const attestation::Roots& roots);

// Signs with the matched slot: opens the card in match.reader, checks that the slot still
// holds the policy key, verifies `pin` and signs (may wait for a touch). Errors: kWrongPin
// with Error::retries, kPinLocked, kRejected (touch not given, or the proposal expired),
// kNoDevice (card removed, or another card put in its place). `pin` is copied into the signer and wiped with
// it.
Result<SignatureFile> sign_with_piv(const Proposal& proposal, const PivMatch& match, const SecretBytes& pin,
                                    std::optional<std::string> signer, UnixTime now);

}  // namespace countersign::app
