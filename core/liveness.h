// Approver liveness (DESIGN.md "What exactly is signed" and "Policy": liveness_days).
//
// A box issues a challenge {"schema": "countersign/challenge/v1", "domain", "box", "nonce",
// "issued"}; an approver signs it with any of their keys (a signature file with "schema":
// "countersign/liveness/v1" and "challenge": the challenge's JCS hash), and the box records
// each valid proof in its audit log ("approver-proved"). From the latest proof of each
// approver, tools warn when, counting only approvers proven within the policy's
// liveness_days, a rule's threshold could no longer be met, so that a team notices a lost key
// before it needs the quorum.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/signature_file.h"
#include "core/timeutil.h"

namespace countersign {

inline constexpr std::string_view kChallengeSchema = "countersign/challenge/v1";

class Challenge {
 public:
  struct Fields {
    std::string domain;
    std::string box;
    Bytes nonce;  // 16 bytes; drawn fresh by create() when empty
    UnixTime issued = 0;
  };

  static Result<Challenge> parse(const nlohmann::json& doc);
  static Result<Challenge> parse_text(std::string_view text);
  static Result<Challenge> create(Fields fields);

  const Fields& fields() const { return f_; }
  const std::string& domain() const { return f_.domain; }
  const std::string& box() const { return f_.box; }
  UnixTime issued() const { return f_.issued; }
  // SHA-256 of the JCS form: what a liveness proof signs (and names in "challenge").
  const Digest& hash() const { return hash_; }
  nlohmann::json to_json() const;

 private:
  Challenge() = default;
  Fields f_;
  Digest hash_{};
};

struct LivenessCheck {
  UnixTime now = 0;
  std::string box_id;                     // the proof must answer this box's challenge
  std::int64_t max_age_seconds = 604800;  // a challenge older than this is refused (7 days)
  std::int64_t skew_seconds = 300;        // tolerated clock difference for "issued"
};

struct LivenessProof {
  std::string approver_id;
  std::string key_id;
  Digest challenge{};
  UnixTime issued = 0;
};

// Checks `proof` against `challenge` and `policy`: a liveness proof, for this challenge, the
// challenge for the policy's domain and this box, issued no longer ago than the maximum age
// and not in the future, by a key of the policy with its algorithm, the signature valid.
// kRejected with the reason otherwise ("the challenge was issued for box \"b\", not \"a\"").
Result<LivenessProof> verify_liveness(const SignatureFile& proof, const Challenge& challenge,
                                      const Policy& policy, const LivenessCheck& check);

struct ApproverLiveness {
  std::string id;
  std::string name;
  std::optional<UnixTime> last_proof;  // when the box recorded the latest valid proof
  bool live = false;                   // proven within liveness_days (or ever, with none set)
};

struct LivenessWarning {
  Action action = Action::kInstallModel;
  std::uint64_t threshold = 0;
  std::size_t live = 0;
  // "install-model needs 3; only 2 approvers have proven their keys in 90 days"
  std::string message;
};

struct LivenessReport {
  std::optional<std::uint64_t> liveness_days;
  std::vector<ApproverLiveness> approvers;  // in policy order
  std::vector<LivenessWarning> warnings;    // empty without liveness_days
  // "now" (the time ages are judged at) goes along, so that a reader far from the box shows
  // the box's ages.
  nlohmann::json to_json(UnixTime now) const;
  // What to_json wrote, as the box's API returns it (GET /v1/approvers), and its "now".
  // Untrusted input: to_text escapes every text it shows. kMalformed naming the member.
  static Result<LivenessReport> from_json(const nlohmann::json& j, UnixTime* now);
  std::string to_text(UnixTime now) const;
};

// Approver id -> time of their latest recorded proof.
using LastProofs = std::map<std::string, UnixTime, std::less<>>;
// Notes an audit log entry (its parsed JSON) in `last`: an "approver-proved" entry with an
// "approver" and a "time" moves that approver's latest proof forward; other entries, and
// entries the daemon reported ("reported_by"), are ignored. The box's log is the record of proofs (the box,
// the app and auditors read it).
void note_proof_entry(LastProofs& last, const nlohmann::json& entry);

// `last_proofs`: approver id -> time of their latest recorded proof. Counts, per rule, the
// approvers who may count under it (its `of`; for require_attestation rules, approvers with
// an attested key, as the policy's own reachability check counts them) and are live; warns where fewer than
// the threshold are, or where no live one holds a required role.
LivenessReport liveness_report(const Policy& policy, const LastProofs& last_proofs, UnixTime now);

}  // namespace countersign
