#include "core/policy.h"

#include <algorithm>
#include <set>

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "policy";

Result<std::vector<Bytes>> base64_array(ObjectReader& r, std::string_view key) {
  CS_TRY(const json::array_t* arr, r.array(key));
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const json& v = (*arr)[i];
    auto b = v.is_string() ? base64_decode(v.get<std::string>()) : Result<Bytes>(Error());
    if (!b.ok() || b->empty()) {
      return Error(Errc::kInvalidDocument, std::string(kDoc) + " " + pointer_append(r.child(key), i) +
                                               ": must be a base64 DER certificate");
    }
    out.push_back(std::move(b).value());
  }
  return out;
}

Result<Attestation> parse_attestation(const json& v, std::string_view doc, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, doc, pointer));
  Attestation a;
  CS_TRY(a.format, r.string("format"));
  if (a.format != "fido2-packed" && a.format != "yubikey-piv") {
    return r.error("format",
                   "unknown attestation format \"" + a.format + "\" (expected fido2-packed or yubikey-piv)");
  }
  CS_TRY(a.certificates, base64_array(r, "certificates"));
  if (a.certificates.empty())
    return r.error("certificates", "must hold at least the attestation certificate");
  if (r.has("signature")) {
    CS_TRY(a.signature, r.base64("signature"));
  }
  if (r.has("authenticator_data")) {
    CS_TRY(a.authenticator_data, r.base64("authenticator_data"));
  }
  if (r.has("client_data_hash")) {
    CS_TRY(a.client_data_hash, r.base64("client_data_hash"));
  }
  for (auto k : {"signature", "authenticator_data", "client_data_hash"}) (void)r.optional_string(k);
  CS_TRY_VOID(r.finish());
  return a;
}

json attestation_to_json(const Attestation& a) {
  json j;
  j["format"] = a.format;
  json certs = json::array();
  for (const auto& c : a.certificates) certs.push_back(base64_encode(c));
  j["certificates"] = std::move(certs);
  if (!a.signature.empty()) j["signature"] = base64_encode(a.signature);
  if (!a.authenticator_data.empty()) j["authenticator_data"] = base64_encode(a.authenticator_data);
  if (!a.client_data_hash.empty()) j["client_data_hash"] = base64_encode(a.client_data_hash);
  return j;
}

Result<Rule> parse_rule(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  Rule rule;
  CS_TRY(rule.threshold, r.integer("threshold", 0, kMaxDocumentInteger));
  if (rule.threshold < 1) return r.error("threshold", "must be at least 1");
  if (r.has("of")) {
    CS_TRY(rule.of, r.string_array("of", true));
  }
  if (r.has("require_roles")) {
    CS_TRY(rule.require_roles, r.string_array("require_roles", true));
  }
  CS_TRY(auto att, r.optional_bool("require_attestation"));
  rule.require_attestation = att.value_or(false);
  if (r.has("veto")) {
    CS_TRY(rule.veto, r.integer("veto", 0, kMaxDocumentInteger));
    if (*rule.veto < 1) return r.error("veto", "must be at least 1 (leave it out for no veto)");
  }
  CS_TRY(auto exclude, r.optional_bool("exclude_proposer"));
  rule.exclude_proposer = exclude.value_or(false);
  CS_TRY(auto attested, r.optional_bool("attested_image"));
  rule.attested_image = attested.value_or(false);
  (void)r.optional_string("of");
  (void)r.optional_string("require_roles");
  CS_TRY_VOID(r.finish());
  return rule;
}

// "0".."31", no leading zero.
std::optional<unsigned> pcr_index(std::string_view key) {
  if (key.empty() || key.size() > 2 || (key.size() == 2 && key[0] == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v < 32 ? std::optional<unsigned>(v) : std::nullopt;
}

Result<Image> parse_image(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  Image image;
  CS_TRY(image.name, r.name("name"));
  CS_TRY(image.platform, r.string("platform"));
  if (image.platform != "aws-nitro") {
    return r.error("platform",
                   "unknown platform \"" + cut_text(image.platform, 40) + "\" (expected aws-nitro)");
  }
  CS_TRY(const json* pcrs, r.object("pcrs"));
  if (pcrs->empty()) return r.error("pcrs", "must list at least one PCR");
  for (const auto& [key, value] : pcrs->items()) {
    const std::string pp = pointer_append(r.child("pcrs"), key);
    const auto index = pcr_index(key);
    if (!index) return document_error(kDoc, pp, "a PCR index must be 0 to 31 in decimal");
    if (!value.is_string() || !is_lower_hex(value.get_ref<const std::string&>(), 96)) {
      return document_error(kDoc, pp, "must be 96 lowercase hex digits (a SHA-384 PCR)");
    }
    CS_TRY(Bytes b, hex_decode(value.get_ref<const std::string&>()));
    image.pcrs.emplace(*index, std::move(b));
  }
  CS_TRY_VOID(r.finish());
  return image;
}

}  // namespace

bool Approver::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool Rule::allows(std::string_view approver_id) const {
  return !of || std::find(of->begin(), of->end(), approver_id) != of->end();
}

Result<PolicyKey> parse_policy_key(const json& v, std::string_view doc, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, doc, pointer));
  CS_TRY(std::string alg_text, r.string("alg"));
  auto alg = alg_from_name(alg_text);
  if (!alg.ok()) return r.error("alg", alg.error().message);
  CS_TRY(Bytes spki, r.base64("public_key"));
  auto pk = PublicKey::parse(*alg, spki);
  if (!pk.ok()) return r.error("public_key", pk.error().message);
  PolicyKey k{std::move(pk).value(), {}, false, std::nullopt};
  if (is_fido2(*alg)) {
    CS_TRY(k.credential_id, r.base64("credential_id"));
    if (k.credential_id.empty()) return r.error("credential_id", "must not be empty");
    CS_TRY(auto uv, r.optional_bool("uv"));
    k.uv = uv.value_or(false);
  } else {
    if (r.has("credential_id")) return r.error("credential_id", "is only allowed for fido2-* keys");
    if (r.has("uv")) return r.error("uv", "is only allowed for fido2-* keys");
  }
  if (r.has("attestation")) {
    CS_TRY(k.attestation, parse_attestation(*r.member("attestation").value(), doc, r.child("attestation")));
  }
  CS_TRY_VOID(r.finish());
  return k;
}

json policy_key_to_json(const PolicyKey& k) {
  json j;
  j["alg"] = alg_name(k.key.alg());
  j["public_key"] = base64_encode(k.key.spki());
  if (is_fido2(k.key.alg())) {
    j["credential_id"] = base64_encode(k.credential_id);
    j["uv"] = k.uv;
  }
  if (k.attestation) j["attestation"] = attestation_to_json(*k.attestation);
  return j;
}

Result<Policy> Policy::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kPolicySchema));
  Policy p;
  CS_TRY(p.domain_, r.name("domain"));
  CS_TRY(p.version_, r.integer("version", 1, kMaxDocumentInteger));

  CS_TRY(const json::array_t* approvers, r.array("approvers"));
  if (approvers->empty()) return r.error("approvers", "must name at least one approver");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < approvers->size(); ++i) {
    std::string ap = pointer_append("/approvers", i);
    CS_TRY(auto ar, ObjectReader::open((*approvers)[i], kDoc, ap));
    Approver a;
    CS_TRY(a.id, ar.name("id"));
    if (!ids.insert(a.id).second) return ar.error("id", "approver id \"" + a.id + "\" is used twice");
    CS_TRY(auto name, ar.optional_name("name"));
    a.name = name.value_or(a.id);
    if (ar.has("roles")) {
      CS_TRY(a.roles, ar.string_array("roles", true));
    } else {
      (void)ar.optional_string("roles");
    }
    CS_TRY(const json::array_t* keys, ar.array("keys"));
    if (keys->empty()) return ar.error("keys", "approver \"" + a.id + "\" has no keys");
    for (std::size_t k = 0; k < keys->size(); ++k) {
      std::string kp = pointer_append(ar.child("keys"), k);
      CS_TRY(PolicyKey key, parse_policy_key((*keys)[k], kDoc, kp));
      auto [it, fresh] = p.key_index_.emplace(key.key.id(), std::make_pair(i, a.keys.size()));
      if (!fresh) {
        const std::string& other =
            p.approvers_.size() > it->second.first ? p.approvers_[it->second.first].id : a.id;
        return document_error(kDoc, kp,
                              other == a.id
                                  ? "approver \"" + a.id + "\" lists the same key twice"
                                  : "key " + key.key.id().substr(0, 16) + " is shared by approvers \"" +
                                        other + "\" and \"" + a.id + "\"");
      }
      a.keys.push_back(std::move(key));
    }
    CS_TRY_VOID(ar.finish());
    p.approvers_.push_back(std::move(a));
  }

  if (r.has("images")) {
    CS_TRY(const json::array_t* images, r.array("images"));
    std::set<std::string> names;
    for (std::size_t i = 0; i < images->size(); ++i) {
      const std::string ip = pointer_append("/images", i);
      CS_TRY(Image image, parse_image((*images)[i], ip));
      if (!names.insert(image.name).second) {
        return document_error(kDoc, pointer_append(ip, "name"),
                              "image name \"" + image.name + "\" is used twice");
      }
      p.images_.push_back(std::move(image));
    }
  }

  CS_TRY(const json* rules, r.object("rules"));
  for (const auto& [name, value] : rules->items()) {
    std::string rp = pointer_append("/rules", name);
    auto action = action_from_name(name);
    if (!action.ok()) return document_error(kDoc, rp, action.error().message);
    CS_TRY(Rule rule, parse_rule(value, rp));
    // Reachability: a rule no set of approvers could ever meet locks the box.
    std::size_t eligible = 0;
    if (rule.of) {
      for (std::size_t i = 0; i < rule.of->size(); ++i) {
        if (!ids.contains((*rule.of)[i])) {
          return document_error(kDoc, pointer_append(pointer_append(rp, "of"), i),
                                "\"" + (*rule.of)[i] + "\" is not an approver of this policy");
        }
      }
    }
    std::set<std::string> coverable_roles;
    for (const auto& a : p.approvers_) {
      if (!rule.allows(a.id)) continue;
      if (rule.require_attestation && std::none_of(a.keys.begin(), a.keys.end(), [](const PolicyKey& k) {
            return k.attestation.has_value();
          })) {
        continue;
      }
      ++eligible;
      coverable_roles.insert(a.roles.begin(), a.roles.end());
    }
    // With exclude_proposer, a proposal by one of the eligible approvers has one fewer.
    const std::size_t reachable = rule.exclude_proposer && eligible > 0 ? eligible - 1 : eligible;
    if (rule.threshold > reachable) {
      return document_error(kDoc, pointer_append(rp, "threshold"),
                            "threshold " + std::to_string(rule.threshold) + " can never be reached: only " +
                                std::to_string(eligible) + " approver(s) may count" +
                                (rule.require_attestation ? " (with attested keys)" : "") +
                                (rule.exclude_proposer ? ", and not the proposer among them" : ""));
    }
    if (rule.veto && *rule.veto > eligible) {
      return document_error(kDoc, pointer_append(rp, "veto"),
                            "veto " + std::to_string(*rule.veto) + " can never be reached: only " +
                                std::to_string(eligible) + " approver(s) may veto");
    }
    if (rule.attested_image && p.images_.empty()) {
      return document_error(kDoc, pointer_append(rp, "attested_image"),
                            "the policy lists no images, so no box could ever be attested");
    }
    for (std::size_t i = 0; i < rule.require_roles.size(); ++i) {
      if (!coverable_roles.contains(rule.require_roles[i])) {
        return document_error(kDoc, pointer_append(pointer_append(rp, "require_roles"), i),
                              "no approver who may count holds the role \"" + rule.require_roles[i] + "\"");
      }
    }
    p.rules_.emplace(*action, std::move(rule));
  }
  if (r.has("liveness_days")) {
    CS_TRY(p.liveness_days_, r.integer("liveness_days", 1, 36500));
  }
  CS_TRY_VOID(r.finish());
  p.doc_ = doc;
  CS_TRY(p.hash_, jcs::hash(doc));
  return p;
}

Result<Policy> Policy::parse_text(std::string_view text) {
  return parse_document_text<Policy>(text, "policy");
}

const Rule* Policy::rule_for(Action a) const {
  auto it = rules_.find(a);
  return it == rules_.end() ? nullptr : &it->second;
}

const Approver* Policy::find_approver(std::string_view id) const {
  for (const auto& a : approvers_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

std::optional<Policy::KeyRef> Policy::find_key(std::string_view key_id) const {
  auto it = key_index_.find(key_id);
  if (it == key_index_.end()) return std::nullopt;
  const Approver& a = approvers_[it->second.first];
  return KeyRef{&a, &a.keys[it->second.second]};
}

}  // namespace countersign
