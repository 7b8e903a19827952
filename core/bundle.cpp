#include "core/bundle.h"

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

using nlohmann::json;

namespace {
constexpr std::string_view kDoc = "bundle";

// Re-labels an error from a nested document with where it sits in the bundle.
Error nested(const Error& e, const std::string& where) { return e.with_context("bundle " + where); }
}  // namespace

Result<Bundle> Bundle::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kBundleSchema));
  Bundle b;
  CS_TRY(const json* proposal, r.object("proposal"));
  auto p = Proposal::parse(*proposal);
  if (!p.ok()) return nested(p.error(), "/proposal");
  b.proposal_ = std::move(p).value();

  CS_TRY(const json* subject, r.object("manifest"));
  b.subject_ = *subject;
  CS_TRY(b.subject_hash_, jcs::hash(*subject));
  auto schema = subject->find("schema");
  bool is_policy =
      schema != subject->end() && schema->is_string() && schema->get<std::string>() == kPolicySchema;
  if (b.proposal_->action() == Action::kRotatePolicy) {
    if (!is_policy) {
      return r.error("manifest", "a rotate-policy bundle must carry the new policy document (schema \"" +
                                     std::string(kPolicySchema) + "\")");
    }
    auto np = Policy::parse(*subject);
    if (!np.ok()) return nested(np.error(), "/manifest");
    b.new_policy_ = std::move(np).value();
  } else if (b.proposal_->action() == Action::kInstallModel ||
             b.proposal_->action() == Action::kRemoveModel ||
             b.proposal_->action() == Action::kInstallPackages) {
    auto m = Manifest::parse(*subject);
    if (!m.ok()) return nested(m.error(), "/manifest");
    // A model proposal never approves a package change, nor the other way round.
    bool wants_packages = b.proposal_->action() == Action::kInstallPackages;
    if (m->is_packages() != wants_packages) {
      return r.error("manifest", "this " + std::string(action_name(b.proposal_->action())) +
                                     " bundle carries a \"" + m->kind() + "\" manifest; it approves only \"" +
                                     (wants_packages ? "packages" : "model") + "\" manifests");
    }
    b.manifest_ = std::move(m).value();
  } else if (b.proposal_->action() == Action::kRestoreSnapshot) {
    auto sd = SnapshotDoc::parse(*subject);
    if (!sd.ok()) return nested(sd.error(), "/manifest");
    b.snapshot_ = std::move(sd).value();
  } else {
    return r.error("proposal", "action \"" + std::string(action_name(b.proposal_->action())) +
                                   "\" has no document format in this version");
  }

  CS_TRY(const json::array_t* sigs, r.array("signatures"));
  for (std::size_t i = 0; i < sigs->size(); ++i) {
    auto s = SignatureFile::parse((*sigs)[i]);
    if (!s.ok()) return nested(s.error(), pointer_append("/signatures", i));
    if (s->statement() == Statement::kLiveness) {
      return document_error("bundle", pointer_append("/signatures", i),
                            "is a liveness proof; a bundle carries approvals and vetoes of its proposal");
    }
    b.signatures_.push_back(std::move(s).value());
  }
  CS_TRY_VOID(r.finish());
  return b;
}

Result<Bundle> Bundle::parse_text(std::string_view text) {
  return parse_document_text<Bundle>(text, "bundle");
}

Result<Bundle> Bundle::create(const Proposal& proposal, const json& subject,
                              std::vector<SignatureFile> signatures) {
  json j;
  j["schema"] = kBundleSchema;
  j["proposal"] = proposal.to_json();
  j["manifest"] = subject;
  json sigs = json::array();
  for (const auto& s : signatures) sigs.push_back(s.to_json());
  j["signatures"] = std::move(sigs);
  return parse(j);
}

json Bundle::to_json() const {
  json j;
  j["schema"] = kBundleSchema;
  j["proposal"] = proposal_->to_json();
  j["manifest"] = subject_;
  json sigs = json::array();
  for (const auto& s : signatures_) sigs.push_back(s.to_json());
  j["signatures"] = std::move(sigs);
  return j;
}

}  // namespace countersign
