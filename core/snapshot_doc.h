// Snapshot document: what a restore-snapshot proposal approves (DESIGN.md "Proposal":
// "for restore-snapshot, a snapshot manifest names the snapshot"; DESIGN gives no format, so
// this is ours, see docs/design-notes.md). The box lists its snapshots as these documents
// (`countersign box snapshots`); approvers put one in a proposal like a manifest:
//
//   {"schema": "countersign/snapshot/v1", "box": "box-7f3a", "backend": "btrfs",
//    "id": "cs-20261122T101500Z-3fa2b1c0", "taken": "2026-11-22T10:15:00Z"}
//
// The proposal's `manifest` member is the JCS hash of this document. `box` binds the
// snapshot to the one box that has it; `id` is the backend's snapshot name. A snapshot of
// the box's system root (taken before a packages install, config system_snapshot) carries
// "scope": "system"; without `scope` the snapshot is of the models directory. Restoring a
// system snapshot rolls a packages upgrade back.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign {

inline constexpr std::string_view kSnapshotSchema = "countersign/snapshot/v1";

// Snapshot ids: 1..100 of [A-Za-z0-9._-], not starting with '.' or '-'.
bool is_valid_snapshot_id(std::string_view id);

class SnapshotDoc {
 public:
  struct Fields {
    std::string box;
    std::string backend;  // "btrfs", "zfs"
    std::string id;
    UnixTime taken = 0;
    std::string scope;  // "" (the models directory) or "system" (the system root)
  };
  bool of_system() const { return f_.scope == "system"; }
  static Result<SnapshotDoc> parse(const nlohmann::json& doc);
  static Result<SnapshotDoc> parse_text(std::string_view text);
  static Result<SnapshotDoc> create(Fields fields);

  const Fields& fields() const { return f_; }
  const Digest& hash() const { return hash_; }
  nlohmann::json to_json() const;

 private:
  SnapshotDoc() = default;
  Fields f_;
  Digest hash_{};
};

}  // namespace countersign
