// Hardware signers the Sign view offers: FIDO2 security keys that hold a credential of the
// open policy. (PIV cards: not yet; `countersign sign --piv`.)
#pragma once

#include <string>
#include <vector>

#include "core/policy.h"
#include "core/proposal.h"
#include "core/secret.h"
#include "core/signature_file.h"
#include "smartcard/fido2_signer.h"

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

// Signs with the matched credential: the user touches the key (blocks until then, or until
// the key's own timeout: kTimeout). `pin` is used only when the key entry says "uv": true
// (kInvalidArgument when it is then missing). Wrong PIN: kWrongPin with Error::retries.
Result<SignatureFile> sign_with_fido2(const Proposal& proposal, const Fido2Match& match,
                                      const SecretBytes* pin, std::optional<std::string> signer,
                                      UnixTime now);

}  // namespace countersign::app
