// Documents the app opens, and how it tells them apart: from the "schema" member of a JSON
// document, or, for the formats that carry none, from their shape (a JSON-lines audit log
// export whose first line has "entry" and "leaf_hash"; a C2SP signed checkpoint note; an AWS
// Nitro attestation document, CBOR COSE_Sign1 or its base64). Parsing is core's (smartcard's
// for the attestation); this file only picks the parser.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/audit_entry.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/manifest.h"
#include "core/packages_review.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/result.h"
#include "core/signature_file.h"

namespace countersign::app {

enum class DocKind {
  kProposal,
  kManifest,
  kBundle,
  kSignature,
  kPolicy,
  kAuditExport,
  kCheckpoint,
  kAttestation,
  kPackagesReview
};

// "proposal", "manifest", "bundle", "signature", "policy", "audit log export", "checkpoint",
// "attestation document", "packages review".
std::string_view kind_name(DocKind kind);

// An exported audit log (`countersign log export`): every line parsed and its leaf hash
// checked by core (audit::parse_export_line). Whether the log is consistent with a signed
// checkpoint is a separate, explicit step (Workspace::verify_log).
struct AuditExport {
  std::vector<audit::ExportLine> lines;
};

// A signed checkpoint note, kept as text: it can only be checked against the log's key.
struct CheckpointNote {
  std::string text;
};

// A box's AWS Nitro attestation document (`countersign box attest -o att.cbor`), kept as the
// raw COSE_Sign1 bytes: nitro::parse accepted it, but nothing in it is believed until
// nitro::judge verifies it (box_attestation.h).
struct AttestationDocument {
  Bytes cose;
};

struct Document {
  DocKind kind;
  std::string path;
  std::variant<Proposal, Manifest, Bundle, SignatureFile, Policy, AuditExport, CheckpointNote,
               AttestationDocument, PackagesReview>
      value;
};

// Which kind `text` is. kUnknownSchema naming the schema found (or saying none was found)
// when it is none of ours; kMalformed when it is not JSON, not a checkpoint and not an
// attestation document (raw CBOR starting with 0xd2 or 0x84, or base64 that decodes to one).
Result<DocKind> detect_kind(std::string_view text);

// detect_kind + the matching core parser (nitro::parse for an attestation document, whose
// error is returned as it is, prefixed with `path`). `path` is only recorded and used in
// messages.
Result<Document> parse_document(std::string_view text, const std::string& path);

// Reads `path` (at most 1 GiB) and parses it. Errors name the file.
Result<Document> load_document(const std::string& path);

// load_document for several files at once, in parallel (one thread per file, at most as
// many as the machine has cores): opening a manifest and the one it replaces, 100,000
// files each, costs the time of one. Results are in the order of `paths`.
std::vector<Result<Document>> load_documents(const std::vector<std::string>& paths);

}  // namespace countersign::app
