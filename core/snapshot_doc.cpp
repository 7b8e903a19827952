#include "core/snapshot_doc.h"

#include "core/jcs.h"
#include "core/json_reader.h"

namespace countersign {

namespace {
constexpr std::string_view kDoc = "snapshot";
}

bool is_valid_snapshot_id(std::string_view id) {
  if (id.empty() || id.size() > 100 || id.front() == '.' || id.front() == '-') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<SnapshotDoc> SnapshotDoc::parse(const nlohmann::json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kSnapshotSchema));
  SnapshotDoc s;
  CS_TRY(s.f_.box, r.name("box"));
  CS_TRY(s.f_.backend, r.string("backend"));
  if (s.f_.backend != "btrfs" && s.f_.backend != "zfs")
    return r.error("backend", "must be \"btrfs\" or \"zfs\"");
  CS_TRY(s.f_.id, r.string("id"));
  if (!is_valid_snapshot_id(s.f_.id)) {
    return r.error("id", "must be 1..100 of A-Z a-z 0-9 . _ - and not start with . or -");
  }
  CS_TRY(s.f_.taken, r.time("taken"));
  CS_TRY(auto scope, r.optional_string("scope"));
  if (scope && *scope != "system") {
    return r.error("scope",
                   "must be \"system\" (a snapshot of the system root) or absent (of the models directory)");
  }
  s.f_.scope = scope.value_or("");
  CS_TRY_VOID(r.finish());
  CS_TRY(s.hash_, jcs::hash(doc));
  return s;
}

Result<SnapshotDoc> SnapshotDoc::parse_text(std::string_view text) {
  return parse_document_text<SnapshotDoc>(text, "snapshot");
}

Result<SnapshotDoc> SnapshotDoc::create(Fields fields) {
  SnapshotDoc s;
  s.f_ = std::move(fields);
  return parse(s.to_json());
}

nlohmann::json SnapshotDoc::to_json() const {
  nlohmann::json j;
  j["schema"] = kSnapshotSchema;
  j["box"] = f_.box;
  j["backend"] = f_.backend;
  j["id"] = f_.id;
  j["taken"] = format_rfc3339(f_.taken);
  if (!f_.scope.empty()) j["scope"] = f_.scope;
  return j;
}

}  // namespace countersign
