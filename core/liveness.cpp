#include "core/liveness.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <sodium.h>

#include "core/audit_entry.h"
#include "core/jcs.h"
#include "core/json_reader.h"
#include "core/untrusted_text.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "challenge";
constexpr std::size_t kNonceSize = 16;
constexpr std::int64_t kDay = 86400;

Error refused(std::string message) { return Error(Errc::kRejected, "liveness proof: " + std::move(message)); }

// Approver `a` may count under `rule` at all (its `of`, and for require_attestation rules a
// key that carries an attestation, as the policy's reachability check judges it).
bool may_count(const Rule& rule, const Approver& a) {
  if (!rule.allows(a.id)) return false;
  if (!rule.require_attestation) return true;
  return std::any_of(a.keys.begin(), a.keys.end(),
                     [](const PolicyKey& k) { return k.attestation.has_value(); });
}

std::string age_text(UnixTime now, UnixTime then) {
  return now >= then ? format_duration(now - then) + " ago" : "in " + format_duration(then - now);
}

}  // namespace

Result<Challenge> Challenge::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kChallengeSchema));
  Challenge c;
  CS_TRY(c.f_.domain, r.name("domain"));
  CS_TRY(c.f_.box, r.name("box"));
  CS_TRY(c.f_.nonce, r.base64("nonce"));
  if (c.f_.nonce.size() != kNonceSize) return r.error("nonce", "must be 16 random bytes");
  CS_TRY(c.f_.issued, r.time("issued"));
  CS_TRY_VOID(r.finish());
  CS_TRY(c.hash_, jcs::hash(doc));
  return c;
}

Result<Challenge> Challenge::parse_text(std::string_view text) {
  return parse_document_text<Challenge>(text, "challenge");
}

Result<Challenge> Challenge::create(Fields fields) {
  if (fields.nonce.empty()) {
    if (sodium_init() < 0) return make_error(Errc::kInternal, "libsodium failed to initialise");
    fields.nonce.resize(kNonceSize);
    randombytes_buf(fields.nonce.data(), fields.nonce.size());
  }
  Challenge c;
  c.f_ = std::move(fields);
  return parse(c.to_json());
}

json Challenge::to_json() const {
  return json{{"schema", kChallengeSchema},
              {"domain", f_.domain},
              {"box", f_.box},
              {"nonce", base64_encode(f_.nonce)},
              {"issued", format_rfc3339(f_.issued)}};
}

Result<LivenessProof> verify_liveness(const SignatureFile& proof, const Challenge& challenge,
                                      const Policy& policy, const LivenessCheck& check) {
  if (proof.statement() != Statement::kLiveness) {
    return refused("the file is a " + std::string(statement_noun(proof.statement())) +
                   ", not a liveness proof");
  }
  if (proof.proposal() != challenge.hash()) {
    return refused("it answers challenge " + digest_to_string(proof.proposal()) + ", not " +
                   digest_to_string(challenge.hash()));
  }
  if (challenge.domain() != policy.domain()) {
    return refused("the challenge is for domain \"" + escape_untrusted(challenge.domain()) +
                   "\", but this policy governs \"" + policy.domain() + "\"");
  }
  if (challenge.box() != check.box_id) {
    return refused("the challenge was issued by box \"" + escape_untrusted(challenge.box()) + "\", not \"" +
                   check.box_id + "\"");
  }
  if (challenge.issued() > check.now + check.skew_seconds) {
    return refused("the challenge was issued at " + format_rfc3339(challenge.issued()) +
                   ", in the future of " + format_rfc3339(check.now));
  }
  if (check.now - challenge.issued() > check.max_age_seconds) {
    return refused("the challenge was issued at " + format_rfc3339(challenge.issued()) + ", " +
                   format_duration(check.now - challenge.issued()) + " ago; challenges are answered within " +
                   format_duration(check.max_age_seconds) + ": ask the box for a new one");
  }
  auto ref = policy.find_key(proof.key());
  if (!ref) {
    return refused("key " + proof.key().substr(0, 16) + " is not in policy version " +
                   std::to_string(policy.version()));
  }
  if (proof.alg() != ref->key->key.alg()) {
    return refused("the proof says " + std::string(alg_name(proof.alg())) + " but the policy key is " +
                   std::string(alg_name(ref->key->key.alg())));
  }
  const SigningInput input = signing_input(Statement::kLiveness, challenge.hash());
  auto ok =
      ref->key->key.verify(input, proof.fields().signature, proof.fields().authenticator_data, ref->key->uv);
  if (!ok.ok())
    return refused("the signature by " + ref->approver->id + "'s key does not verify: " + ok.error().message);
  return LivenessProof{ref->approver->id, proof.key(), challenge.hash(), challenge.issued()};
}

void note_proof_entry(LastProofs& last, const json& entry) {
  if (!entry.is_object()) return;
  const auto event = entry.find("event");
  const auto approver = entry.find("approver");
  const auto time = entry.find("time");
  // Only the helper's own entries: one the daemon reported carries "reported_by" (and the
  // helper refuses to write this event for it anyway).
  if (event == entry.end() || *event != audit::event::kApproverProved || approver == entry.end() ||
      !approver->is_string() || time == entry.end() || !time->is_string() ||
      entry.contains(audit::kReportedBy)) {
    return;
  }
  auto t = parse_rfc3339(time->get_ref<const json::string_t&>());
  if (!t.ok()) return;
  auto [it, fresh] = last.try_emplace(approver->get<std::string>(), *t);
  if (!fresh && it->second < *t) it->second = *t;
}

LivenessReport liveness_report(const Policy& policy, const LastProofs& last_proofs, UnixTime now) {
  LivenessReport report;
  report.liveness_days = policy.liveness_days();
  std::set<std::string, std::less<>> live;
  for (const Approver& a : policy.approvers()) {
    ApproverLiveness al{a.id, a.name, std::nullopt, false};
    if (auto it = last_proofs.find(a.id); it != last_proofs.end()) {
      al.last_proof = it->second;
      al.live =
          !report.liveness_days || now - it->second < static_cast<std::int64_t>(*report.liveness_days) * kDay;
    }
    if (al.live) live.insert(a.id);
    report.approvers.push_back(std::move(al));
  }
  if (!report.liveness_days) return report;
  const std::string within = " in " + std::to_string(*report.liveness_days) + " days";
  for (const auto& [action, rule] : policy.rules()) {
    std::size_t count = 0;
    std::set<std::string> roles;
    for (const Approver& a : policy.approvers()) {
      if (!may_count(rule, a) || !live.contains(a.id)) continue;
      ++count;
      roles.insert(a.roles.begin(), a.roles.end());
    }
    const std::string name(action_name(action));
    if (count < rule.threshold) {
      report.warnings.push_back(
          {action, rule.threshold, count,
           name + " needs " + std::to_string(rule.threshold) + "; only " + std::to_string(count) +
               (count == 1 ? " approver has" : " approvers have") + " proven their keys" + within});
      continue;
    }
    for (const auto& role : rule.require_roles) {
      if (!roles.contains(role)) {
        report.warnings.push_back(
            {action, rule.threshold, count,
             name + " needs a signer with role " + role + "; none has proven their keys" + within});
      }
    }
  }
  return report;
}

json LivenessReport::to_json(UnixTime now) const {
  json j;
  j["now"] = format_rfc3339(now);
  j["liveness_days"] = liveness_days ? json(*liveness_days) : json(nullptr);
  json list = json::array();
  for (const auto& a : approvers) {
    json e{{"id", a.id}, {"name", a.name}, {"live", a.live}};
    if (a.last_proof) {
      e["last_proof"] = format_rfc3339(*a.last_proof);
      e["age_seconds"] = now - *a.last_proof;
    } else {
      e["last_proof"] = nullptr;
    }
    list.push_back(std::move(e));
  }
  j["approvers"] = std::move(list);
  json warns = json::array();
  for (const auto& w : warnings) {
    warns.push_back({{"action", action_name(w.action)},
                     {"threshold", w.threshold},
                     {"live", w.live},
                     {"message", w.message}});
  }
  j["warnings"] = std::move(warns);
  return j;
}

Result<LivenessReport> LivenessReport::from_json(const json& j, UnixTime* now) {
  auto bad = [](const std::string& what) {
    return Error(Errc::kMalformed, "the box's approver report: " + what);
  };
  if (!j.is_object()) return bad("is not a JSON object");
  LivenessReport r;
  const auto t = j.find("now");
  if (t == j.end() || !t->is_string()) return bad("\"now\" is missing");
  CS_TRY(*now, parse_rfc3339(t->get_ref<const json::string_t&>()));
  if (const auto d = j.find("liveness_days"); d != j.end() && !d->is_null()) {
    auto days = json_integer(*d, 1, 36500);
    if (!days.ok()) return bad("\"liveness_days\": " + days.error().message);
    r.liveness_days = *days;
  }
  const auto approvers = j.find("approvers");
  if (approvers == j.end() || !approvers->is_array()) return bad("\"approvers\" is not a list");
  for (const auto& a : *approvers) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_string()) return bad("an approver has no \"id\"");
    ApproverLiveness al{a["id"].get<std::string>(), a.value("name", a["id"].get<std::string>()), std::nullopt,
                        a.value("live", false)};
    if (const auto lp = a.find("last_proof"); lp != a.end() && lp->is_string()) {
      CS_TRY(al.last_proof, parse_rfc3339(lp->get_ref<const json::string_t&>()));
    }
    r.approvers.push_back(std::move(al));
  }
  for (const auto& w : j.value("warnings", json::array())) {
    if (!w.is_object() || !w.contains("message") || !w["message"].is_string())
      return bad("a warning has no message");
    auto action = action_from_name(w.value("action", ""));
    r.warnings.push_back({action.ok() ? *action : Action::kInstallModel,
                          w.value("threshold", std::uint64_t{0}), w.value("live", std::size_t{0}),
                          w["message"].get<std::string>()});
  }
  return r;
}

std::string LivenessReport::to_text(UnixTime now) const {
  std::ostringstream o;
  std::size_t width = 0;
  for (const auto& a : approvers) width = std::max(width, escape_untrusted(a.id).size());
  for (const auto& a : approvers) {
    const std::string id = escape_untrusted(a.id);
    o << "  " << id << std::string(width - id.size() + 2, ' ');
    if (!a.last_proof) {
      o << "never proven";
    } else {
      o << "proven " << format_rfc3339(*a.last_proof) << " (" << age_text(now, *a.last_proof) << ")";
      if (!a.live) o << "  STALE";
    }
    if (a.name != a.id) o << "  " << escape_untrusted(a.name);
    o << "\n";
  }
  if (!liveness_days) {
    o << "The policy sets no liveness_days: no proof is stale.\n";
  } else if (warnings.empty()) {
    o << "Every rule can be met by approvers proven in the last " << *liveness_days << " days.\n";
  }
  for (const auto& w : warnings) o << "warning: " << escape_untrusted(w.message) << "\n";
  return o.str();
}

}  // namespace countersign
