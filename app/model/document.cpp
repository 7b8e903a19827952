#include "app/model/document.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "core/checkpoint.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/signed_note.h"
#include "smartcard/nitro.h"
#include "smartcard/nitro_binding.h"

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

// An attestation document is at most nitro::kMaxDocument bytes of CBOR; its base64, with
// line breaks, well under twice that. Longer text is not tried as base64.
constexpr std::size_t kMaxAttestationText = 2 * nitro::kMaxDocument;

// A COSE_Sign1 starts with 0xd2 (tag 18) or 0x84 (an array of 4), neither a base64 character.
bool cose_start(char c) {
  const auto b = static_cast<std::uint8_t>(c);
  return b == 0xd2 || b == 0x84;
}

// The document's bytes when `text` is an attestation document as a file holds it
// (nitro::document_from_file_text: raw CBOR, or base64 of bytes that start as a COSE_Sign1
// does); nullopt when it is not one.
std::optional<Bytes> attestation_bytes(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (!cose_start(text[0]) && text.size() > kMaxAttestationText) return std::nullopt;
  auto raw = nitro::document_from_file_text(text, "the attestation document");
  if (!raw.ok() || raw->empty() || !cose_start(static_cast<char>((*raw)[0]))) return std::nullopt;
  return std::move(raw).value();
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
    case DocKind::kAttestation:
      return "attestation document";
    case DocKind::kPackagesReview:
      return "packages review";
  }
  return "document";
}

namespace {

// The kind of a parsed JSON document, from its "schema" (or, for an export line, its shape).
Result<DocKind> kind_of_json(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("schema") || !doc["schema"].is_string()) {
    if (doc.is_object() && doc.contains("entry") && doc.contains("leaf_hash")) return DocKind::kAuditExport;
    return Error(Errc::kUnknownSchema, "not a Countersign document: it has no \"schema\" member");
  }
  const std::string schema = doc["schema"].get<std::string>();
  if (schema == kProposalSchema) return DocKind::kProposal;
  if (schema == kManifestSchema) return DocKind::kManifest;
  if (schema == kBundleSchema) return DocKind::kBundle;
  if (schema == kSignatureSchema || schema == kVetoSchema) return DocKind::kSignature;
  if (schema == kPolicySchema) return DocKind::kPolicy;
  if (schema == kPackagesReviewSchema) return DocKind::kPackagesReview;
  if (schema == kLivenessSchema) {
    return Error(
        Errc::kUnsupported,
        "this is a liveness proof: it approves nothing; give it to the box with `countersign box prove`");
  }
  return Error(Errc::kUnknownSchema,
               "unknown schema \"" + schema +
                   "\" (this app reads proposals, manifests, bundles, signatures, vetoes, policies, "
                   "packages reviews and exported audit logs)");
}

// Kind detection for text that is not one JSON document: a JSON-lines export, a note or an
// attestation document.
Result<DocKind> kind_of_other(std::string_view text, const Error& json_error) {
  if (looks_like_export(text)) return DocKind::kAuditExport;
  if (note::Note::parse(text).ok()) return DocKind::kCheckpoint;
  if (attestation_bytes(text)) return DocKind::kAttestation;
  return json_error;
}

}  // namespace

Result<DocKind> detect_kind(std::string_view text) {
  auto doc = jcs::parse(text);
  if (!doc.ok()) return kind_of_other(text, doc.error());
  return kind_of_json(*doc);
}

Result<Document> parse_document(std::string_view text, const std::string& path) {
  // One JSON parse, shared by kind detection and the document's own validation (a
  // 100,000-file manifest is tens of megabytes).
  auto json = jcs::parse(text);
  auto kind = json.ok() ? kind_of_json(*json) : kind_of_other(text, json.error());
  if (!kind.ok()) return kind.error().with_context(path);
  auto wrap = [&](auto parsed) -> Result<Document> {
    if (!parsed.ok()) return parsed.error().with_context(path);
    return Document{*kind, path, std::move(parsed).value()};
  };
  switch (*kind) {
    case DocKind::kProposal:
      return wrap(Proposal::parse(*json));
    case DocKind::kManifest:
      return wrap(Manifest::parse(*json));
    case DocKind::kBundle:
      return wrap(Bundle::parse(*json));
    case DocKind::kSignature:
      return wrap(SignatureFile::parse(*json));
    case DocKind::kPolicy:
      return wrap(Policy::parse(*json));
    case DocKind::kPackagesReview:
      return wrap(PackagesReview::parse(*json));
    case DocKind::kAuditExport:
      return wrap(parse_export(text));
    case DocKind::kCheckpoint: {
      auto note = note::Note::parse(text);
      if (!note.ok()) return note.error().with_context(path);
      auto cp = Checkpoint::parse(note->text());
      if (!cp.ok()) return cp.error().with_context(path);
      return Document{*kind, path, CheckpointNote{std::string(text)}};
    }
    case DocKind::kAttestation: {
      std::optional<Bytes> cose = attestation_bytes(text);
      if (!cose) return Error(Errc::kInternal, "attestation document vanished");
      auto parsed = nitro::parse(*cose);
      if (!parsed.ok()) return parsed.error().with_context(path);
      return Document{*kind, path, AttestationDocument{std::move(*cose)}};
    }
  }
  return Error(Errc::kInternal, "unhandled document kind");
}

Result<Document> load_document(const std::string& path) {
  CS_TRY(std::string text, read_file(path));
  return parse_document(text, path);
}

std::vector<Result<Document>> load_documents(const std::vector<std::string>& paths) {
  std::vector<std::optional<Result<Document>>> slots(paths.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < paths.size(); i = next++) slots[i] = load_document(paths[i]);
  };
  const std::size_t threads =
      std::min<std::size_t>(paths.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  std::vector<Result<Document>> out;
  out.reserve(paths.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

}  // namespace countersign::app
