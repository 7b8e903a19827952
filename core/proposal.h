// Proposal: what approvers sign (DESIGN.md "Proposal"). The proposal id is the SHA-256 of
// its JCS form; approvers sign signing_input(id()) (core/keys.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign {

inline constexpr std::string_view kProposalSchema = "countersign/proposal/v1";

enum class Action { kInstallModel, kRemoveModel, kRestoreSnapshot, kInstallPackages, kRotatePolicy };
inline constexpr Action kAllActions[] = {Action::kInstallModel, Action::kRemoveModel,
                                         Action::kRestoreSnapshot, Action::kInstallPackages,
                                         Action::kRotatePolicy};

std::string_view action_name(Action a);  // "install-model", ...
Result<Action> action_from_name(std::string_view name);
// "install the model", "rotate the approver policy": for people.
std::string_view action_description(Action a);

class Proposal {
 public:
  struct Fields {
    std::string domain;
    Action action = Action::kInstallModel;
    Digest manifest{};
    std::optional<Digest> previous;
    std::optional<std::vector<std::string>> boxes;
    Bytes nonce;  // 16 bytes
    UnixTime created = 0;
    UnixTime expires = 0;
    std::optional<std::string> note;
    // The approver id of whoever asks (signed like the rest). Self-declared: a rule with
    // exclude_proposer does not count that approver's own signature.
    std::optional<std::string> proposer;
  };

  static Result<Proposal> parse(const nlohmann::json& doc);
  static Result<Proposal> parse_text(std::string_view text);
  // Validates fields; a fresh random nonce is drawn when `nonce` is empty.
  static Result<Proposal> create(Fields fields);

  const Fields& fields() const { return f_; }
  const std::string& domain() const { return f_.domain; }
  Action action() const { return f_.action; }
  const Digest& manifest() const { return f_.manifest; }
  const std::optional<Digest>& previous() const { return f_.previous; }
  const std::optional<std::vector<std::string>>& boxes() const { return f_.boxes; }
  UnixTime created() const { return f_.created; }
  UnixTime expires() const { return f_.expires; }
  const std::optional<std::string>& note() const { return f_.note; }
  const std::optional<std::string>& proposer() const { return f_.proposer; }
  // True when the proposal names no boxes or lists `box_id`.
  bool allows_box(std::string_view box_id) const;
  // kRejected when `now` is at or past the expiry ("ask for a new one"). Every signing path
  // (CLI and app, any key) checks this before it touches a key.
  Result<void> refuse_if_expired(UnixTime now) const;

  // The proposal id: SHA-256 of the JCS form.
  const Digest& id() const { return id_; }
  nlohmann::json to_json() const;

 private:
  Proposal() = default;
  Fields f_;
  Digest id_{};
};

}  // namespace countersign
