#include "core/proposal.h"

#include <sodium.h>

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

using nlohmann::json;

namespace {
constexpr std::string_view kDoc = "proposal";
constexpr std::size_t kNonceSize = 16;
}  // namespace

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kInstallModel:
      return "install-model";
    case Action::kRemoveModel:
      return "remove-model";
    case Action::kRestoreSnapshot:
      return "restore-snapshot";
    case Action::kInstallPackages:
      return "install-packages";
    case Action::kRotatePolicy:
      return "rotate-policy";
  }
  return "";
}

std::string_view action_description(Action a) {
  switch (a) {
    case Action::kInstallModel:
      return "install a model";
    case Action::kRemoveModel:
      return "remove a model";
    case Action::kRestoreSnapshot:
      return "restore a snapshot";
    case Action::kInstallPackages:
      return "install system packages";
    case Action::kRotatePolicy:
      return "replace the approver policy";
  }
  return "";
}

Result<Action> action_from_name(std::string_view name) {
  for (Action a : kAllActions) {
    if (action_name(a) == name) return a;
  }
  return make_error(Errc::kInvalidArgument,
                    "unknown action \"" + std::string(name) +
                        "\" (expected install-model, remove-model, restore-snapshot, install-packages or "
                        "rotate-policy)");
}

Result<void> Proposal::refuse_if_expired(UnixTime now) const {
  if (now < f_.expires) return {};
  return Error(Errc::kRejected, "the proposal expired at " + format_rfc3339(f_.expires) +
                                    "; ask for a new one rather than signing this");
}

bool Proposal::allows_box(std::string_view box_id) const {
  if (!f_.boxes) return true;
  for (const auto& b : *f_.boxes) {
    if (b == box_id) return true;
  }
  return false;
}

Result<Proposal> Proposal::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kProposalSchema));
  Proposal p;
  CS_TRY(p.f_.domain, r.name("domain"));
  CS_TRY(std::string action, r.string("action"));
  auto a = action_from_name(action);
  if (!a.ok()) return r.error("action", a.error().message);
  p.f_.action = *a;
  CS_TRY(p.f_.manifest, r.digest("manifest"));
  if (r.has("previous")) {
    CS_TRY(p.f_.previous, r.digest("previous"));
  } else {
    (void)r.optional_string("previous");
  }
  if (r.has("boxes")) {
    CS_TRY(p.f_.boxes, r.string_array("boxes", true));
    if (p.f_.boxes->empty()) return r.error("boxes", "must list at least one box, or be left out");
  }
  CS_TRY(p.f_.nonce, r.base64("nonce"));
  if (p.f_.nonce.size() != kNonceSize) return r.error("nonce", "must be 16 random bytes");
  CS_TRY(p.f_.created, r.time("created"));
  CS_TRY(p.f_.expires, r.time("expires"));
  if (p.f_.expires <= p.f_.created) return r.error("expires", "must be later than \"created\"");
  CS_TRY(p.f_.note, r.optional_string("note"));
  CS_TRY(p.f_.proposer, r.optional_name("proposer"));
  CS_TRY_VOID(r.finish());
  CS_TRY(p.id_, jcs::hash(doc));
  return p;
}

Result<Proposal> Proposal::parse_text(std::string_view text) {
  return parse_document_text<Proposal>(text, "proposal");
}

Result<Proposal> Proposal::create(Fields fields) {
  if (fields.nonce.empty()) {
    if (sodium_init() < 0) return make_error(Errc::kInternal, "libsodium failed to initialise");
    fields.nonce.resize(kNonceSize);
    randombytes_buf(fields.nonce.data(), fields.nonce.size());
  }
  Proposal p;
  p.f_ = std::move(fields);
  return parse(p.to_json());
}

json Proposal::to_json() const {
  json j;
  j["schema"] = kProposalSchema;
  j["domain"] = f_.domain;
  j["action"] = action_name(f_.action);
  j["manifest"] = digest_to_string(f_.manifest);
  if (f_.previous) j["previous"] = digest_to_string(*f_.previous);
  if (f_.boxes) j["boxes"] = *f_.boxes;
  j["nonce"] = base64_encode(f_.nonce);
  j["created"] = format_rfc3339(f_.created);
  j["expires"] = format_rfc3339(f_.expires);
  if (f_.note) j["note"] = *f_.note;
  if (f_.proposer) j["proposer"] = *f_.proposer;
  return j;
}

}  // namespace countersign
