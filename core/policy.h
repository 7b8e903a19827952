// Policy: who may approve what (DESIGN.md "Policy"). A Policy value is always valid: every
// rule's threshold is reachable, no two approvers share a key, approver ids are unique.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/keys.h"
#include "core/proposal.h"
#include "core/result.h"
#include "core/sha256.h"

namespace countersign {

inline constexpr std::string_view kPolicySchema = "countersign/policy/v1";

// Vendor attestation carried by a key: "fido2-packed" (FIDO2 packed attestation) or
// "yubikey-piv" (YubiKey PIV slot attestation). Checked against pinned roots by the
// hardware signer modules; core only carries it.
struct Attestation {
  std::string format;
  std::vector<Bytes> certificates;  // DER, leaf first
  Bytes signature;                  // fido2-packed: attStmt.sig (optional)
  Bytes authenticator_data;         // fido2-packed: authData of the make-credential (optional)
  Bytes client_data_hash;           // fido2-packed: clientDataHash used at enrolment (optional)
};

struct PolicyKey {
  PublicKey key;
  Bytes credential_id;  // FIDO2 only
  bool uv = false;      // FIDO2 only: the assertion must carry the user-verified flag
  std::optional<Attestation> attestation;
};

struct Approver {
  std::string id;
  std::string name;  // for people; defaults to id
  std::vector<std::string> roles;
  std::vector<PolicyKey> keys;
  bool has_role(std::string_view role) const;
};

struct Rule {
  std::uint64_t threshold = 1;
  std::optional<std::vector<std::string>> of;  // approver ids allowed to count
  std::vector<std::string> require_roles;
  bool require_attestation = false;
  // K valid vetoes by approvers who may count end a proposal (absent: no veto).
  std::optional<std::uint64_t> veto;
  // The proposer's own signature does not count.
  bool exclude_proposer = false;
  // The box acts only while its own hardware attestation matches one of the policy's
  // `images` and binds the box (DESIGN.md "Policy"); a policy with such a rule lists images.
  bool attested_image = false;
  // True when approver `id` may count under this rule.
  bool allows(std::string_view approver_id) const;
};

// An approved box image for hardware attestation (DESIGN.md "Policy", `images`): a
// document matches it when every listed PCR is equal (smartcard/nitro_binding.h).
struct Image {
  std::string name;
  std::string platform;            // "aws-nitro", the only platform so far
  std::map<unsigned, Bytes> pcrs;  // index 0..31 -> 48 bytes (96 hex in the document)
};

// Parses one policy key entry ({"alg", "public_key", ...}) at JSON pointer `pointer`.
Result<PolicyKey> parse_policy_key(const nlohmann::json& v, std::string_view doc, const std::string& pointer);
nlohmann::json policy_key_to_json(const PolicyKey& k);

class Policy {
 public:
  static Result<Policy> parse(const nlohmann::json& doc);
  static Result<Policy> parse_text(std::string_view text);

  const std::string& domain() const { return domain_; }
  std::uint64_t version() const { return version_; }
  const std::vector<Approver>& approvers() const { return approvers_; }
  const std::map<Action, Rule>& rules() const { return rules_; }
  // Tools warn when, counting only approvers whose latest liveness proof is younger than this
  // many days, a rule could no longer be met (core/liveness.h). Absent: no such warnings.
  const std::optional<std::uint64_t>& liveness_days() const { return liveness_days_; }
  // The approved box images (absent in the document: none).
  const std::vector<Image>& images() const { return images_; }
  // The rule for an action, or null when the policy allows no such action.
  const Rule* rule_for(Action a) const;
  const Approver* find_approver(std::string_view id) const;

  struct KeyRef {
    const Approver* approver;
    const PolicyKey* key;
  };
  // Looks up a key by key id (hex SHA-256 of the SPKI).
  std::optional<KeyRef> find_key(std::string_view key_id) const;

  const Digest& hash() const { return hash_; }
  // The document as parsed (a policy is kept verbatim: it is the box's root of trust).
  const nlohmann::json& to_json() const { return doc_; }

 private:
  Policy() = default;
  std::string domain_;
  std::uint64_t version_ = 0;
  std::vector<Approver> approvers_;
  std::map<Action, Rule> rules_;
  std::optional<std::uint64_t> liveness_days_;
  std::vector<Image> images_;
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> key_index_;
  nlohmann::json doc_;
  Digest hash_{};
};

}  // namespace countersign
