#include "core/verify.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace countersign {

using nlohmann::json;

std::string_view verdict_name(SignatureVerdict::Status s) {
  switch (s) {
    case SignatureVerdict::Status::kCounted:
      return "counted";
    case SignatureVerdict::Status::kInvalid:
      return "invalid";
    case SignatureVerdict::Status::kDuplicate:
      return "duplicate";
    case SignatureVerdict::Status::kNotAllowed:
      return "not-allowed";
    case SignatureVerdict::Status::kNotAttested:
      return "not-attested";
    case SignatureVerdict::Status::kProposer:
      return "proposer";
  }
  return "invalid";
}

namespace {

std::string short_id(const std::string& key_id) { return key_id.substr(0, 16); }

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool is_attested(const VerifyOptions& o, const PolicyKey& k) {
  return k.attestation.has_value() && o.attestation_verified && o.attestation_verified(k);
}

// Whether approver `a` could count under `rule` at all.
bool eligible(const Rule* rule, const Approver& a, const VerifyOptions& o) {
  if (rule == nullptr) return true;
  if (!rule->allows(a.id)) return false;
  if (rule->require_attestation) {
    return std::any_of(a.keys.begin(), a.keys.end(), [&](const PolicyKey& k) { return is_attested(o, k); });
  }
  return true;
}

}  // namespace

VerifyReport verify_approval(const Proposal& proposal, const Digest* subject_hash,
                             std::span<const SignatureFile> signatures, const Policy& policy,
                             const VerifyOptions& options) {
  VerifyReport r;
  r.proposal_id = proposal.id();
  r.action = proposal.action();
  r.policy_domain = policy.domain();
  r.policy_version = policy.version();
  auto fail = [&](std::string check, std::string message) {
    r.failures.push_back({std::move(check), std::move(message)});
  };

  if (subject_hash != nullptr && *subject_hash != proposal.manifest()) {
    fail("manifest-hash", "the bundle's manifest hashes to " + digest_to_string(*subject_hash) +
                              ", but the proposal approves " + digest_to_string(proposal.manifest()));
  }
  if (proposal.domain() != policy.domain()) {
    fail("domain", "the proposal is for domain \"" + proposal.domain() + "\", but this policy governs \"" +
                       policy.domain() + "\"");
  }
  if (options.box_id && !proposal.allows_box(*options.box_id)) {
    fail("box", "the proposal is for boxes " + join(*proposal.boxes()) + ", not \"" + *options.box_id + "\"");
  }
  if (options.now >= proposal.expires()) {
    fail("expired", "the proposal expired at " + format_rfc3339(proposal.expires()) + " (" +
                        format_duration(options.now - proposal.expires()) + " before " +
                        format_rfc3339(options.now) + ")");
  }
  if (proposal.created() > options.now + options.skew_seconds) {
    fail("not-yet-valid", "the proposal was created at " + format_rfc3339(proposal.created()) +
                              ", in the future of " + format_rfc3339(options.now) + " beyond the allowed " +
                              std::to_string(options.skew_seconds) + " s of clock skew");
  }
  if (options.already_executed && options.already_executed(proposal.id())) {
    fail("replayed",
         "proposal " + digest_to_string(proposal.id()) + " has already been executed on this box");
  }
  const Rule* rule = policy.rule_for(proposal.action());
  if (rule == nullptr) {
    fail("no-rule", "policy version " + std::to_string(policy.version()) + " has no rule for \"" +
                        std::string(action_name(proposal.action())) + "\": nobody can approve it");
  } else {
    r.rule = *rule;
  }

  r.proposer = proposal.proposer();
  const std::string action(action_name(proposal.action()));
  // One signature file judged as `want` (an approval or a veto): kCounted means valid and
  // allowed to count under the rule; counting once per approver is the caller's.
  auto judge = [&](const SignatureFile& sig, std::size_t index, Statement want) {
    SignatureVerdict v;
    v.index = index;
    v.key_id = sig.key();
    auto ref = policy.find_key(sig.key());
    if (ref) v.approver_id = ref->approver->id;
    auto mark = [&](SignatureVerdict::Status s, std::string reason) {
      v.status = s;
      v.reason = std::move(reason);
      return v;
    };
    if (sig.statement() != want) {
      return mark(SignatureVerdict::Status::kInvalid,
                  "the file is a " + std::string(statement_noun(sig.statement())) + ", not " +
                      (want == Statement::kVeto ? "a veto" : "an approval"));
    }
    if (sig.proposal() != proposal.id()) {
      return mark(SignatureVerdict::Status::kInvalid,
                  std::string(want == Statement::kVeto ? "veto" : "signature") + " is for proposal " +
                      digest_to_string(sig.proposal()) + ", not this one");
    }
    if (!ref) {
      return mark(
          SignatureVerdict::Status::kInvalid,
          "key " + short_id(sig.key()) + " is not in policy version " + std::to_string(policy.version()));
    }
    if (sig.alg() != ref->key->key.alg()) {
      return mark(SignatureVerdict::Status::kInvalid, "signature says " + std::string(alg_name(sig.alg())) +
                                                          " but the policy key is " +
                                                          std::string(alg_name(ref->key->key.alg())));
    }
    auto ok = ref->key->key.verify(signing_input(want, proposal.id()), sig.fields().signature,
                                   sig.fields().authenticator_data, ref->key->uv);
    if (!ok.ok()) return mark(SignatureVerdict::Status::kInvalid, ok.error().message);
    const Approver& a = *ref->approver;
    if (rule != nullptr && !rule->allows(a.id)) {
      return mark(SignatureVerdict::Status::kNotAllowed,
                  "approver \"" + a.id + "\" is not among those who may " +
                      (want == Statement::kVeto ? "veto " : "approve ") + action);
    }
    if (rule != nullptr && rule->require_attestation && !is_attested(options, *ref->key)) {
      return mark(
          SignatureVerdict::Status::kNotAttested,
          "the rule counts only keys with verified hardware attestation, and key " + short_id(sig.key()) +
              (ref->key->attestation ? "'s attestation does not verify against the pinned vendor roots"
                                     : " carries no attestation"));
    }
    return mark(SignatureVerdict::Status::kCounted, "");
  };

  // One vote per approver: a valid verdict of an approver already in `seen` is a duplicate;
  // else the approver joins `ids`.
  auto count_once = [](SignatureVerdict& v, std::set<std::string>& seen, std::vector<std::string>& ids,
                       std::string_view already) {
    if (v.status != SignatureVerdict::Status::kCounted) return;
    if (!seen.insert(v.approver_id).second) {
      v.status = SignatureVerdict::Status::kDuplicate;
      v.reason = "approver \"" + v.approver_id + "\" " + std::string(already) + " (one vote per approver)";
      return;
    }
    ids.push_back(v.approver_id);
  };

  // Vetoes first: a vetoed proposal is dead whatever its approvals.
  std::set<std::string> vetoed;
  auto count_veto = [&](const SignatureFile& sig) {
    SignatureVerdict v = judge(sig, r.vetoes.size(), Statement::kVeto);
    count_once(v, vetoed, r.vetoed_by, "has already vetoed");
    r.vetoes.push_back(std::move(v));
  };
  for (const auto& sig : signatures) {
    if (sig.statement() == Statement::kVeto) count_veto(sig);
  }
  for (const auto& sig : options.vetoes) count_veto(sig);
  if (rule != nullptr && rule->veto && r.vetoed_by.size() >= *rule->veto) {
    r.vetoed = true;
    fail("vetoed", "vetoed by " + join(r.vetoed_by) + " (" + std::to_string(r.vetoed_by.size()) + " of " +
                       std::to_string(*rule->veto) + " vetoes end a proposal to " + action +
                       "): this proposal is dead");
  }

  const bool proposer_excluded = rule != nullptr && rule->exclude_proposer && proposal.proposer().has_value();
  std::set<std::string> counted;
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    if (signatures[i].statement() == Statement::kVeto) continue;
    SignatureVerdict v = judge(signatures[i], i, Statement::kApproval);
    if (v.status == SignatureVerdict::Status::kCounted && proposer_excluded &&
        v.approver_id == *proposal.proposer()) {
      v.status = SignatureVerdict::Status::kProposer;
      v.reason = "approver \"" + v.approver_id + "\" proposed this, and the rule for " + action +
                 " does not count the proposer's own signature";
    }
    count_once(v, counted, r.counted, "is already counted");
    r.signatures.push_back(std::move(v));
  }

  for (const auto& a : policy.approvers()) {
    if (proposer_excluded && a.id == *proposal.proposer()) continue;
    if (vetoed.contains(a.id)) continue;  // voted against: not waited for
    if (!counted.contains(a.id) && eligible(rule, a, options)) r.missing.push_back(a.id);
  }
  if (rule != nullptr) {
    for (const auto& role : rule->require_roles) {
      bool held = std::any_of(r.counted.begin(), r.counted.end(), [&](const std::string& id) {
        const Approver* a = policy.find_approver(id);
        return a != nullptr && a->has_role(role);
      });
      if (!held) r.missing_roles.push_back(role);
    }
    if (r.counted.size() < rule->threshold) {
      fail("threshold", std::to_string(r.counted.size()) + " of " + std::to_string(rule->threshold) +
                            " required approvals for " + std::string(action_name(proposal.action())));
    }
    if (!r.missing_roles.empty()) {
      fail("roles", "still needs a signer with role " + join(r.missing_roles, " and a signer with role "));
    }
  }
  r.approved = r.failures.empty();
  return r;
}

VerifyReport verify_bundle(const Bundle& bundle, const Policy& policy, const VerifyOptions& options) {
  VerifyReport r =
      verify_approval(bundle.proposal(), &bundle.subject_hash(), bundle.signatures(), policy, options);
  if (bundle.proposal().action() == Action::kRotatePolicy && bundle.new_policy()) {
    const Policy& next = *bundle.new_policy();
    if (next.domain() != policy.domain()) {
      r.failures.push_back({"rotation-domain", "the new policy governs \"" + next.domain() +
                                                   "\", but the policy in force governs \"" +
                                                   policy.domain() + "\""});
    }
    if (next.version() != policy.version() + 1) {
      r.failures.push_back(
          {"rotation-version",
           "the new policy has version " + std::to_string(next.version()) + "; only version " +
               std::to_string(policy.version() + 1) + " can follow version " +
               std::to_string(policy.version()) +
               (next.version() <= policy.version() ? " (older or equal versions are refused)" : "")});
    }
    VerifyReport sub =
        verify_approval(bundle.proposal(), &bundle.subject_hash(), bundle.signatures(), next, options);
    if (!sub.approved) {
      std::string why;
      for (const auto& f : sub.failures) why += (why.empty() ? "" : "; ") + f.message;
      r.failures.push_back(
          {"rotation-new-policy", "not also approved under the new policy's own rule: " + why});
    }
    r.under_new_policy.push_back(std::move(sub));
  }
  r.approved = r.failures.empty();
  return r;
}

std::vector<std::string> VerifyReport::reasons() const {
  std::vector<std::string> out;
  for (const auto& f : failures) out.push_back(f.check + ": " + f.message);
  for (const auto& s : signatures) {
    if (s.status == SignatureVerdict::Status::kCounted) continue;
    std::string who = s.approver_id.empty() ? "key " + s.key_id.substr(0, 16) : s.approver_id;
    out.push_back("signature " + std::to_string(s.index) + " (" + who +
                  "): " + std::string(verdict_name(s.status)) + (s.reason.empty() ? "" : ": " + s.reason));
  }
  for (const auto& sub : under_new_policy) {
    for (auto& line : sub.reasons()) out.push_back("under the new policy: " + line);
  }
  return out;
}

json VerifyReport::to_json() const {
  json j;
  j["approved"] = approved;
  j["proposal"] = digest_to_string(proposal_id);
  j["action"] = action_name(action);
  j["policy"] = {{"domain", policy_domain}, {"version", policy_version}};
  if (rule) {
    json rj{{"threshold", rule->threshold},
            {"require_attestation", rule->require_attestation},
            {"require_roles", rule->require_roles}};
    if (rule->of) rj["of"] = *rule->of;
    rj["veto"] = rule->veto ? json(*rule->veto) : json(nullptr);
    rj["exclude_proposer"] = rule->exclude_proposer;
    j["rule"] = std::move(rj);
  } else {
    j["rule"] = nullptr;
  }
  json f = json::array();
  for (const auto& c : failures) f.push_back({{"check", c.check}, {"message", c.message}});
  j["failures"] = std::move(f);
  auto verdicts = [](const std::vector<SignatureVerdict>& list) {
    json s = json::array();
    for (const auto& v : list) {
      json e{{"index", v.index}, {"key", v.key_id}, {"status", verdict_name(v.status)}};
      e["approver"] = v.approver_id.empty() ? json(nullptr) : json(v.approver_id);
      if (!v.reason.empty()) e["reason"] = v.reason;
      s.push_back(std::move(e));
    }
    return s;
  };
  j["signatures"] = verdicts(signatures);
  j["proposer"] = proposer ? json(*proposer) : json(nullptr);
  j["vetoes"] = verdicts(vetoes);
  j["vetoed_by"] = vetoed_by;
  j["vetoed"] = vetoed;
  j["counted"] = counted;
  j["missing"] = missing;
  j["missing_roles"] = missing_roles;
  if (!under_new_policy.empty()) j["under_new_policy"] = under_new_policy.front().to_json();
  return j;
}

std::string VerifyReport::to_text(const Policy& policy) const {
  std::ostringstream o;
  o << "Proposal " << digest_to_string(proposal_id) << "\n";
  o << "Action   " << action_name(action) << " (" << action_description(action) << ")\n";
  o << "Policy   " << policy_domain << " version " << policy_version << "\n";
  if (rule) {
    o << "Rule     " << rule->threshold << " approver" << (rule->threshold == 1 ? "" : "s");
    if (rule->of) o << " from {" << join(*rule->of) << "}";
    if (!rule->require_roles.empty()) o << ", including role(s) " << join(rule->require_roles);
    if (rule->require_attestation) o << ", hardware-attested keys only";
    if (rule->exclude_proposer) o << ", not counting the proposer";
    if (rule->veto) o << "; " << *rule->veto << " veto" << (*rule->veto == 1 ? "" : "es") << " end it";
    o << "\n";
  }
  o << "\n";
  if (vetoed) {
    o << "VETOED: " << vetoed_by.size() << " of " << *rule->veto << " vetoes (" << join(vetoed_by)
      << "): this proposal is dead\n";
  }
  o << (approved ? "APPROVED" : "NOT APPROVED") << ": " << counted.size() << " approval"
    << (counted.size() == 1 ? "" : "s") << " counted, "
    << (rule ? std::to_string(rule->threshold) : std::string("no rule:")) << " required\n";
  auto describe = [&](const std::string& id) {
    const Approver* a = policy.find_approver(id);
    std::string s = id;
    if (a != nullptr && a->name != a->id) s += " (" + a->name + ")";
    if (a != nullptr && !a->roles.empty()) s += " [" + join(a->roles) + "]";
    return s;
  };
  for (const auto& v : signatures) {
    if (v.status == SignatureVerdict::Status::kCounted) {
      o << "  counted      " << describe(v.approver_id) << ", key " << short_id(v.key_id) << "\n";
    }
  }
  for (const auto& v : signatures) {
    if (v.status == SignatureVerdict::Status::kCounted) continue;
    o << "  " << verdict_name(v.status)
      << std::string(13 - std::min<std::size_t>(12, verdict_name(v.status).size()), ' ') << "signature #"
      << v.index + 1;
    if (!v.approver_id.empty()) o << " by " << v.approver_id;
    o << ": " << v.reason << "\n";
  }
  for (const auto& v : vetoes) {
    const bool ok = v.status == SignatureVerdict::Status::kCounted;
    const std::string label = ok ? "vetoed" : "veto " + std::string(verdict_name(v.status));
    o << "  " << label << std::string(label.size() < 13 ? 13 - label.size() : 1, ' ') << "veto #"
      << v.index + 1;
    if (!v.approver_id.empty()) o << " by " << v.approver_id;
    if (!ok) o << ": " << v.reason;
    o << "\n";
  }
  if (rule && counted.size() < rule->threshold) {
    o << "Still missing: " << (missing.empty() ? std::string("nobody else can sign") : join(missing)) << "\n";
  }
  if (!failures.empty()) {
    o << "\nFailed checks:\n";
    for (const auto& f : failures) o << "  - " << f.check << ": " << f.message << "\n";
  }
  return o.str();
}

}  // namespace countersign
