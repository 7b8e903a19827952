// countersign policy check / create.
#include <map>
#include <sstream>

#include "cli/cli.h"
#include "cli/load.h"
#include "core/jcs.h"
#include "core/policy.h"
#include "core/software_key.h"
#include "smartcard/attestation.h"

namespace countersign::cli {

namespace {

nlohmann::json rule_json(const Rule& rule) {
  nlohmann::json j{{"threshold", rule.threshold}};
  if (rule.of) j["of"] = *rule.of;
  if (!rule.require_roles.empty()) j["require_roles"] = rule.require_roles;
  if (rule.require_attestation) j["require_attestation"] = true;
  if (rule.veto) j["veto"] = *rule.veto;
  if (rule.exclude_proposer) j["exclude_proposer"] = true;
  return j;
}

int check(Io& io, const std::string& path, bool json, const std::vector<std::string>& root_files) {
  auto p = load_document<Policy>(io, path);
  if (!p.ok()) return report_error(io, p.error(), json);
  auto roots = attestation::Roots::pinned_plus(root_files);
  if (!roots.ok()) return report_error(io, roots.error(), json);
  if (json) {
    nlohmann::json approvers = nlohmann::json::array();
    for (const auto& a : p->approvers()) {
      nlohmann::json keys = nlohmann::json::array();
      for (const auto& k : a.keys) {
        const attestation::Check st = attestation::check(k, *roots);
        nlohmann::json kj{
            {"id", k.key.id()},
            {"alg", alg_name(k.key.alg())},
            {"uv", k.uv},
            {"attestation", k.attestation ? nlohmann::json(k.attestation->format) : nlohmann::json()},
            {"attestation_verified", st.verified},
            {"attestation_detail", st.detail},
            {"attestation_facts", st.to_json()}};
        if (!st.aaguid.empty()) kj["aaguid"] = st.aaguid;
        keys.push_back(kj);
      }
      approvers.push_back({{"id", a.id}, {"name", a.name}, {"roles", a.roles}, {"keys", keys}});
    }
    nlohmann::json rules = nlohmann::json::object();
    for (const auto& [action, rule] : p->rules()) rules[std::string(action_name(action))] = rule_json(rule);
    print_json(
        io, {{"valid", true},
             {"hash", digest_to_string(p->hash())},
             {"domain", p->domain()},
             {"version", p->version()},
             {"approvers", approvers},
             {"rules", rules},
             {"liveness_days", p->liveness_days() ? nlohmann::json(*p->liveness_days()) : nlohmann::json()}});
    return kExitOk;
  }
  std::ostringstream o;
  o << "Policy valid: " << p->domain() << " version " << p->version() << "\n";
  o << "Hash         " << digest_to_string(p->hash()) << "\n\nApprovers\n";
  for (const auto& a : p->approvers()) {
    o << "  " << a.id;
    if (a.name != a.id) o << " (" << a.name << ")";
    if (!a.roles.empty()) {
      o << " roles:";
      for (const auto& role : a.roles) o << " " << role;
    }
    o << "\n";
    for (const auto& k : a.keys) {
      o << "    " << alg_name(k.key.alg()) << "  key " << k.key.id().substr(0, 16);
      if (is_fido2(k.key.alg())) o << (k.uv ? "  PIN required (uv)" : "  touch only");
      o << "  " << attestation::check(k, *roots).detail << "\n";
    }
  }
  o << "\nRules\n";
  for (Action action : kAllActions) {
    const Rule* rule = p->rule_for(action);
    o << "  " << action_name(action) << ": ";
    if (rule == nullptr) {
      o << "not allowed (no rule)\n";
      continue;
    }
    o << rule->threshold << " of " << (rule->of ? rule->of->size() : p->approvers().size());
    if (rule->of) {
      o << " {";
      for (std::size_t i = 0; i < rule->of->size(); ++i) o << (i ? ", " : "") << (*rule->of)[i];
      o << "}";
    }
    for (const auto& role : rule->require_roles) o << ", needs " << role;
    if (rule->require_attestation) o << ", attested keys only";
    if (rule->exclude_proposer) o << ", not counting the proposer";
    if (rule->veto) o << "; " << *rule->veto << " veto" << (*rule->veto == 1 ? "" : "es") << " end it";
    o << "\n";
  }
  if (p->liveness_days()) {
    o << "\nLiveness     approvers prove their keys every " << *p->liveness_days()
      << " days (`countersign box approvers` warns when a rule could no longer be met)\n";
  }
  io.out << o.str();
  return kExitOk;
}

struct CreateArgs {
  std::string domain, out;
  std::uint64_t version = 1;
  std::vector<std::string> approvers, names, rules, roles, vetoes, exclude_proposer;
  std::uint64_t liveness_days = 0;
};

// A key given to --approver: a software key file (public part only is read) or a JSON file
// holding a policy key entry, as printed by `key public` or `key enroll`.
Result<nlohmann::json> key_entry_from_file(Io& io, const std::string& path) {
  auto pk = SoftwareKey::read_public(path);
  if (pk.ok()) return policy_key_to_json(PolicyKey{*pk, {}, false, std::nullopt});
  CS_TRY(std::string text, read_file_or_stdin(path, io.in));
  auto doc = jcs::parse(text);
  if (!doc.ok()) return doc.error().with_context(path);
  auto entry = parse_policy_key(*doc, "key entry", "");
  if (!entry.ok()) return entry.error().with_context(path);
  return *doc;
}

Result<std::pair<std::string, std::string>> split_eq(const std::string& s, char sep,
                                                     const std::string& option) {
  auto pos = s.find(sep);
  if (pos == std::string::npos || pos == 0 || pos + 1 == s.size()) {
    return Error(Errc::kInvalidArgument, option + " \"" + s + "\": expected A" + sep + "B");
  }
  return std::make_pair(s.substr(0, pos), s.substr(pos + 1));
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int create(Io& io, const CreateArgs& a) {
  using nlohmann::json;
  std::map<std::string, std::string> names;
  for (const auto& n : a.names) {
    auto kv = split_eq(n, '=', "--name");
    if (!kv.ok()) return report_error(io, kv.error(), false);
    names[kv->first] = kv->second;
  }
  json approvers = json::array();
  for (const auto& spec : a.approvers) {
    auto parts = split(spec, ':');
    if (parts.size() < 2 || parts.size() > 3) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument,
                "--approver \"" + spec + "\": expected ID:KEYFILE[+KEYFILE...][:ROLE,ROLE...]"),
          false);
    }
    json keys = json::array();
    for (const auto& file : split(parts[1], '+')) {
      auto entry = key_entry_from_file(io, file);
      if (!entry.ok()) return report_error(io, entry.error(), false);
      keys.push_back(*entry);
    }
    json ap{{"id", parts[0]}, {"keys", keys}};
    if (names.contains(parts[0])) ap["name"] = names[parts[0]];
    if (parts.size() == 3) ap["roles"] = split(parts[2], ',');
    approvers.push_back(std::move(ap));
  }
  json rules = json::object();
  for (const auto& spec : a.rules) {
    auto kv = split_eq(spec, '=', "--rule");
    if (!kv.ok()) return report_error(io, kv.error(), false);
    std::uint64_t threshold = 0;
    try {
      threshold = std::stoull(kv->second);
    } catch (...) {
      return report_error(
          io, Error(Errc::kInvalidArgument, "--rule \"" + spec + "\": threshold is not a number"), false);
    }
    rules[kv->first] = {{"threshold", threshold}};
  }
  for (const auto& spec : a.roles) {
    auto kv = split_eq(spec, '=', "--require-role");
    if (!kv.ok()) return report_error(io, kv.error(), false);
    if (!rules.contains(kv->first)) {
      return report_error(
          io, Error(Errc::kInvalidArgument, "--require-role " + spec + ": no --rule for " + kv->first),
          false);
    }
    rules[kv->first]["require_roles"].push_back(kv->second);
  }
  for (const auto& spec : a.vetoes) {
    auto kv = split_eq(spec, '=', "--veto");
    if (!kv.ok()) return report_error(io, kv.error(), false);
    if (!rules.contains(kv->first)) {
      return report_error(
          io, Error(Errc::kInvalidArgument, "--veto " + spec + ": no --rule for " + kv->first), false);
    }
    try {
      rules[kv->first]["veto"] = std::stoull(kv->second);
    } catch (...) {
      return report_error(io, Error(Errc::kInvalidArgument, "--veto \"" + spec + "\": K is not a number"),
                          false);
    }
  }
  for (const auto& action : a.exclude_proposer) {
    if (!rules.contains(action)) {
      return report_error(
          io, Error(Errc::kInvalidArgument, "--exclude-proposer " + action + ": no --rule for " + action),
          false);
    }
    rules[action]["exclude_proposer"] = true;
  }
  json doc{{"schema", kPolicySchema},
           {"domain", a.domain},
           {"version", a.version},
           {"approvers", approvers},
           {"rules", rules}};
  if (a.liveness_days != 0) doc["liveness_days"] = a.liveness_days;
  auto p = Policy::parse(doc);
  if (!p.ok()) return report_error(io, p.error(), false);
  auto written = write_output(io, a.out, to_pretty_json(doc));
  if (!written.ok()) return report_error(io, written.error(), false);
  io.err << "policy " << digest_to_string(p->hash()) << " (" << p->domain() << " version " << p->version()
         << ", " << p->approvers().size() << " approvers)\n";
  return kExitOk;
}

}  // namespace

void add_policy_commands(Registry& r) {
  auto* policy = r.app.add_subcommand("policy", "Create and check approver policies");
  policy->require_subcommand(1);

  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto root_files = std::make_shared<std::vector<std::string>>();
  auto* check_cmd = policy->add_subcommand("check", "Validate a policy and show approvers, keys and rules");
  check_cmd->footer(
      "A policy is refused when a threshold is below 1 or could never be reached, when two approvers share "
      "a\n"
      "key, when an approver id repeats, or when anything is malformed (exit 2, with where).\n"
      "For each key with a hardware attestation it says whether the attestation verifies against the pinned\n"
      "vendor roots (Yubico's FIDO and PIV roots are built in; --attestation-root adds others): for FIDO2\n"
      "(fido2-packed) the authenticator's AAGUID; for YubiKey PIV (yubikey-piv) the serial, firmware, PIN\n"
      "policy and touch policy the YubiKey certified. Rules with require_attestation count only those keys.");
  check_cmd->add_option("POLICY", *path, "Policy file, or - for standard input")->required();
  check_cmd->add_flag("--json", *json, "Machine-readable output");
  check_cmd
      ->add_option("--attestation-root", *root_files,
                   "Also trust this attestation root (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  check_cmd->callback(
      [&io = r.io, &rc = r.rc, path, json, root_files] { rc = check(io, *path, *json, *root_files); });

  auto c = std::make_shared<CreateArgs>();
  auto* create_cmd = policy->add_subcommand("create", "Write a policy from approvers' public keys");
  create_cmd->footer(
      "Example, 3 of 5 to install, 4 including compliance to rotate:\n"
      "  countersign policy create --domain acme-prod \\\n"
      "      --approver alice:alice.key:engineering --approver bob:bob.key:compliance \\\n"
      "      --approver carol:carol.key --approver dave:dave.key --approver erin:erin-entry.json \\\n"
      "      --name alice=\"Alice Chen, CTO\" --rule install-model=3 --rule remove-model=2 \\\n"
      "      --rule rotate-policy=4 --require-role rotate-policy=compliance -o policy.json\n"
      "KEYFILE is a software key file (only its public part is read) or a JSON key entry from\n"
      "`key public` / `key enroll`. Join several keys of one approver with '+'.");
  create_cmd->add_option("--domain", c->domain, "The organisation or fleet this policy governs")->required();
  create_cmd->add_option("--version", c->version, "Policy version (starts at 1)")->capture_default_str();
  create_cmd->add_option("--approver", c->approvers, "ID:KEYFILE[+KEYFILE...][:ROLE,ROLE...] (repeatable)")
      ->allow_extra_args(false)
      ->required();
  create_cmd->add_option("--name", c->names, "ID=\"Full name, title\" (repeatable)")->allow_extra_args(false);
  create_cmd->add_option("--rule", c->rules, "ACTION=THRESHOLD (repeatable)")
      ->allow_extra_args(false)
      ->required();
  create_cmd
      ->add_option("--require-role", c->roles, "ACTION=ROLE: a counted signer must hold ROLE (repeatable)")
      ->allow_extra_args(false);
  create_cmd
      ->add_option(
          "--veto", c->vetoes,
          "ACTION=K: K vetoes by approvers who may count end a proposal (`countersign veto`; repeatable)")
      ->allow_extra_args(false);
  create_cmd
      ->add_option(
          "--exclude-proposer", c->exclude_proposer,
          "ACTION: the proposer's own signature does not count (`proposal create --proposer`; repeatable)")
      ->allow_extra_args(false);
  create_cmd->add_option(
      "--liveness-days", c->liveness_days,
      "Warn when, counting approvers who proved their keys in N days (`key prove`), a rule "
      "could no longer be met");
  create_cmd->add_option("-o,--out", c->out, "Write here instead of standard output");
  create_cmd->callback([&io = r.io, &rc = r.rc, c] { rc = create(io, *c); });
}

}  // namespace countersign::cli
