// countersign policy check / create.
#include <map>
#include <sstream>

#include "cli/cli.h"
#include "cli/fido2_cli.h"
#include "cli/load.h"
#include "core/jcs.h"
#include "core/policy.h"
#include "core/software_key.h"
#include "smartcard/fido2_attestation.h"

namespace countersign::cli {

namespace {

nlohmann::json rule_json(const Rule& rule) {
  nlohmann::json j{{"threshold", rule.threshold}};
  if (rule.of) j["of"] = *rule.of;
  if (!rule.require_roles.empty()) j["require_roles"] = rule.require_roles;
  if (rule.require_attestation) j["require_attestation"] = true;
  return j;
}

using fido2::attestation_status;
using fido2::AttestationStatus;

int check(Io& io, const std::string& path, bool json, const std::vector<std::string>& root_files) {
  auto p = load_document<Policy>(io, path);
  if (!p.ok()) return report_error(io, p.error(), json);
  auto roots = attestation_roots(root_files);
  if (!roots.ok()) return report_error(io, roots.error(), json);
  if (json) {
    nlohmann::json approvers = nlohmann::json::array();
    for (const auto& a : p->approvers()) {
      nlohmann::json keys = nlohmann::json::array();
      for (const auto& k : a.keys) {
        const AttestationStatus st = attestation_status(k, *roots);
        nlohmann::json kj{{"id", k.key.id()},
                          {"alg", alg_name(k.key.alg())},
                          {"uv", k.uv},
                          {"attestation", k.attestation ? nlohmann::json(k.attestation->format) : nlohmann::json()},
                          {"attestation_verified", st.verified},
                          {"attestation_detail", st.text}};
        if (!st.aaguid.empty()) kj["aaguid"] = st.aaguid;
        keys.push_back(kj);
      }
      approvers.push_back({{"id", a.id}, {"name", a.name}, {"roles", a.roles}, {"keys", keys}});
    }
    nlohmann::json rules = nlohmann::json::object();
    for (const auto& [action, rule] : p->rules()) rules[std::string(action_name(action))] = rule_json(rule);
    print_json(io, {{"valid", true},
                    {"hash", digest_to_string(p->hash())},
                    {"domain", p->domain()},
                    {"version", p->version()},
                    {"approvers", approvers},
                    {"rules", rules}});
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
      o << "  " << attestation_status(k, *roots).text << "\n";
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
    o << "\n";
  }
  io.out << o.str();
  return kExitOk;
}

struct CreateArgs {
  std::string domain, out;
  std::uint64_t version = 1;
  std::vector<std::string> approvers, names, rules, roles;
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

Result<std::pair<std::string, std::string>> split_eq(const std::string& s, char sep, const std::string& option) {
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
      return report_error(io, Error(Errc::kInvalidArgument, "--approver \"" + spec + "\": expected ID:KEYFILE[+KEYFILE...][:ROLE,ROLE...]"), false);
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
      return report_error(io, Error(Errc::kInvalidArgument, "--rule \"" + spec + "\": threshold is not a number"), false);
    }
    rules[kv->first] = {{"threshold", threshold}};
  }
  for (const auto& spec : a.roles) {
    auto kv = split_eq(spec, '=', "--require-role");
    if (!kv.ok()) return report_error(io, kv.error(), false);
    if (!rules.contains(kv->first)) {
      return report_error(io, Error(Errc::kInvalidArgument, "--require-role " + spec + ": no --rule for " + kv->first), false);
    }
    rules[kv->first]["require_roles"].push_back(kv->second);
  }
  json doc{{"schema", kPolicySchema}, {"domain", a.domain}, {"version", a.version}, {"approvers", approvers},
           {"rules", rules}};
  auto p = Policy::parse(doc);
  if (!p.ok()) return report_error(io, p.error(), false);
  auto written = write_output(io, a.out, to_pretty_json(doc));
  if (!written.ok()) return report_error(io, written.error(), false);
  io.err << "policy " << digest_to_string(p->hash()) << " (" << p->domain() << " version " << p->version() << ", "
         << p->approvers().size() << " approvers)\n";
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
      "A policy is refused when a threshold is below 1 or could never be reached, when two approvers share a\n"
      "key, when an approver id repeats, or when anything is malformed (exit 2, with where).\n"
      "For each FIDO2 key with a fido2-packed attestation it says whether the attestation verifies against\n"
      "the pinned vendor roots (Yubico's FIDO root is built in; --attestation-root adds others), with the\n"
      "authenticator's AAGUID.");
  check_cmd->add_option("POLICY", *path, "Policy file, or - for standard input")->required();
  check_cmd->add_flag("--json", *json, "Machine-readable output");
  check_cmd->add_option("--attestation-root", *root_files, "Also trust this attestation root (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  check_cmd->callback([&io = r.io, &rc = r.rc, path, json, root_files] { rc = check(io, *path, *json, *root_files); });

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
  create_cmd->add_option("--approver", c->approvers, "ID:KEYFILE[+KEYFILE...][:ROLE,ROLE...] (repeatable)")->allow_extra_args(false)->required();
  create_cmd->add_option("--name", c->names, "ID=\"Full name, title\" (repeatable)")->allow_extra_args(false);
  create_cmd->add_option("--rule", c->rules, "ACTION=THRESHOLD (repeatable)")->allow_extra_args(false)->required();
  create_cmd->add_option("--require-role", c->roles, "ACTION=ROLE: a counted signer must hold ROLE (repeatable)")->allow_extra_args(false);
  create_cmd->add_option("-o,--out", c->out, "Write here instead of standard output");
  create_cmd->callback([&io = r.io, &rc = r.rc, c] { rc = create(io, *c); });
}

}  // namespace countersign::cli
