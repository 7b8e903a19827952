#include "app/model/document.h"

#include "core/checkpoint.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/signed_note.h"

namespace countersign::app {

namespace {

std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

bool looks_like_export(std::string_view text) {
  auto j = jcs::parse(first_line(text));
  return j.ok() && j->is_object() && j->contains("entry") && j->contains("leaf_hash");
}

Result<AuditExport> parse_export(std::string_view text) {
  AuditExport out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    auto parsed = audit::parse_export_line(line);
    if (!parsed.ok()) return parsed.error().with_context("line " + std::to_string(line_no));
    out.lines.push_back(std::move(parsed).value());
  }
  return out;
}

}  // namespace

std::string_view kind_name(DocKind kind) {
  switch (kind) {
    case DocKind::kProposal:
      return "proposal";
    case DocKind::kManifest:
      return "manifest";
    case DocKind::kBundle:
      return "bundle";
    case DocKind::kSignature:
      return "signature";
    case DocKind::kPolicy:
      return "policy";
    case DocKind::kAuditExport:
      return "audit log export";
    case DocKind::kCheckpoint:
      return "checkpoint";
  }
  return "document";
}

Result<DocKind> detect_kind(std::string_view text) {
  auto doc = jcs::parse(text);
  if (!doc.ok()) {
    if (looks_like_export(text)) return DocKind::kAuditExport;
    if (note::Note::parse(text).ok()) return DocKind::kCheckpoint;
    return doc.error();
  }
  if (!doc->is_object() || !doc->contains("schema") || !(*doc)["schema"].is_string()) {
    if (doc->is_object() && doc->contains("entry") && doc->contains("leaf_hash"))
      return DocKind::kAuditExport;
    return Error(Errc::kUnknownSchema, "not a Countersign document: it has no \"schema\" member");
  }
  const std::string schema = (*doc)["schema"].get<std::string>();
  if (schema == kProposalSchema) return DocKind::kProposal;
  if (schema == kManifestSchema) return DocKind::kManifest;
  if (schema == kBundleSchema) return DocKind::kBundle;
  if (schema == kSignatureSchema) return DocKind::kSignature;
  if (schema == kPolicySchema) return DocKind::kPolicy;
  return Error(Errc::kUnknownSchema, "unknown schema \"" + schema +
                                         "\" (this app reads proposals, manifests, "
                                         "bundles, signatures, policies and exported audit logs)");
}

Result<Document> parse_document(std::string_view text, const std::string& path) {
  auto kind = detect_kind(text);
  if (!kind.ok()) return kind.error().with_context(path);
  auto wrap = [&](auto parsed) -> Result<Document> {
    if (!parsed.ok()) return parsed.error().with_context(path);
    return Document{*kind, path, std::move(parsed).value()};
  };
  switch (*kind) {
    case DocKind::kProposal:
      return wrap(Proposal::parse_text(text));
    case DocKind::kManifest:
      return wrap(Manifest::parse_text(text));
    case DocKind::kBundle:
      return wrap(Bundle::parse_text(text));
    case DocKind::kSignature:
      return wrap(SignatureFile::parse_text(text));
    case DocKind::kPolicy:
      return wrap(Policy::parse_text(text));
    case DocKind::kAuditExport:
      return wrap(parse_export(text));
    case DocKind::kCheckpoint: {
      auto note = note::Note::parse(text);
      if (!note.ok()) return note.error().with_context(path);
      auto cp = Checkpoint::parse(note->text());
      if (!cp.ok()) return cp.error().with_context(path);
      return Document{*kind, path, CheckpointNote{std::string(text)}};
    }
  }
  return Error(Errc::kInternal, "unhandled document kind");
}

Result<Document> load_document(const std::string& path) {
  CS_TRY(std::string text, read_file(path));
  return parse_document(text, path);
}

}  // namespace countersign::app
