#include "daemon/system_client.h"

#include "core/bytes.h"
#include "core/jcs.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;

constexpr int kShortTimeoutSeconds = 60;  // the log and the snapshot list: no long work

std::string hex_of(const Digest& d) { return hex_encode(d); }

// For subcommands whose answer says nothing the caller needs beyond success.
Result<void> succeeded(Result<json> answer) {
  if (!answer.ok()) return std::move(answer).error();
  return {};
}

}  // namespace

Result<HelperAcceptance> HelperSystemClient::accept(std::string_view bundle_text) {
  CS_TRY(json r, helper_.run({"accept"}, bundle_text));
  // The acceptance stands whatever else the answer says (the helper's records are what
  // count); fields it leaves out read as empty.
  HelperAcceptance a;
  if (r.is_object() && r.contains("counted") && r["counted"].is_array()) {
    for (const auto& c : r["counted"]) {
      if (c.is_string()) a.counted.push_back(c.get<std::string>());
    }
  }
  if (r.is_object() && r.contains("policy_version") && r["policy_version"].is_number_unsigned()) {
    a.policy_version = r["policy_version"].get<std::uint64_t>();
  }
  return a;
}

Result<std::string> HelperSystemClient::snapshot_take(const Digest& proposal) {
  CS_TRY(json r, helper_.run({"snapshot", "take", hex_of(proposal)}));
  // {"id": null} when the box has no snapshot backend.
  return r.is_object() && r.contains("id") && r["id"].is_string() ? r["id"].get<std::string>()
                                                                  : std::string("none");
}

Result<json> HelperSystemClient::model_seal(const Digest& proposal) {
  return helper_.run({"model", "seal", hex_of(proposal)});
}

// A failed check exits 1: the error then carries the helper's line naming the first failure.
Result<json> HelperSystemClient::check() { return helper_.run({"check"}, {}, kShortTimeoutSeconds); }

Result<std::optional<HelperOutcome>> HelperSystemClient::finished(const Digest& proposal) {
  CS_TRY(auto record, read_proposal_record(records_, proposal));
  if (!record || record->state == ProposalState::kAccepted) return std::optional<HelperOutcome>{};
  HelperOutcome o;
  o.done = record->state == ProposalState::kDone;
  o.result = record->result;
  o.error = record->error.value_or("given up");
  return std::optional<HelperOutcome>(std::move(o));
}

Result<json> HelperSystemClient::veto(std::string_view input) {
  return helper_.run({"veto"}, input, kShortTimeoutSeconds);
}

Result<json> HelperSystemClient::prove(std::string_view input) {
  return helper_.run({"prove"}, input, kShortTimeoutSeconds);
}

Result<json> HelperSystemClient::attest(std::string_view input) {
  return helper_.run({"attest"}, input, kShortTimeoutSeconds);
}

Result<json> HelperSystemClient::model_install(const Digest& proposal) {
  return helper_.run({"model", "install", hex_of(proposal)});
}

Result<json> HelperSystemClient::packages_install(const Digest& proposal) {
  return helper_.run({"packages", "install", hex_of(proposal)});
}

Result<json> HelperSystemClient::model_remove(const Digest& proposal) {
  return helper_.run({"model", "remove", hex_of(proposal)});
}

Result<json> HelperSystemClient::snapshot_restore(const Digest& proposal) {
  return helper_.run({"snapshot", "restore", hex_of(proposal)});
}

Result<json> HelperSystemClient::policy_rotate(const Digest& proposal) {
  return helper_.run({"policy", "rotate", hex_of(proposal)});
}

Result<void> HelperSystemClient::abandon(const Digest& proposal, std::string_view reason) {
  // Answer: {"proposal": ..., "state": "failed"}.
  return succeeded(helper_.run({"proposal", "abandon", hex_of(proposal)}, std::string(reason) + "\n"));
}

Result<void> HelperSystemClient::staging_remove(const Digest& manifest) {
  // Answer: {"hash": ..., "removed": ...}.
  return succeeded(helper_.run({"staging", "remove", hex_of(manifest)}));
}

Result<std::optional<std::uint64_t>> HelperSystemClient::log_append(std::string_view event,
                                                                    const json& fields) {
  json entry = fields.is_object() ? fields : json::object();
  entry["event"] = std::string(event);
  CS_TRY(std::string text, jcs::serialize(entry));
  CS_TRY(json r, helper_.run({"log", "append"}, text, kShortTimeoutSeconds));
  // {"seq": N}, or {"suppressed": true} over the rate limit.
  if (r.is_object() && r.contains("seq") && r["seq"].is_number_unsigned()) {
    return std::optional<std::uint64_t>(r["seq"].get<std::uint64_t>());
  }
  return std::optional<std::uint64_t>{};
}

Result<std::uint64_t> HelperSystemClient::log_checkpoint() {
  CS_TRY(json r, helper_.run({"log", "checkpoint"}, {}, kShortTimeoutSeconds));
  return r.is_object() && r.contains("size") && r["size"].is_number_unsigned()
             ? r["size"].get<std::uint64_t>()
             : std::uint64_t{0};
}

Result<std::vector<HelperSnapshot>> HelperSystemClient::snapshot_list() {
  CS_TRY(json r, helper_.run({"snapshot", "list"}, {}, kShortTimeoutSeconds));
  if (!r.is_array())
    return Error(Errc::kInternal, "countersign-system snapshot list: the answer is not a JSON array");
  std::vector<HelperSnapshot> out;
  for (const auto& e : r) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("taken")) continue;
    HelperSnapshot s;
    s.id = e["id"].get<std::string>();
    s.backend = e.value("backend", "");
    s.scope = e.value("scope", "") == "system" ? "system" : "";
    if (e["taken"].is_string()) {
      auto taken = parse_rfc3339(e["taken"].get<std::string>());
      if (taken.ok()) s.taken = *taken;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace countersign::daemon
