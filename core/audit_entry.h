// Audit log entries (DESIGN.md "Audit log"): the event vocabulary, how an entry's bytes are
// made and checked, and the JSON-lines export form.
//
// An entry is the RFC 8785 (JCS) serialization of a JSON object with at least
//   "seq"      its leaf index in the log (0, 1, 2, ...),
//   "time"     RFC 3339 UTC time of the event,
//   "event"    one of the names below,
//   "proposal" the proposal id ("sha256:<hex>") where the event concerns one,
// and any further members the event needs (reasons, paths, hashes). Entry bytes are the
// leaf data of the RFC 9162 tree, so they must be reproducible: JCS, nothing else.
//
// Export line (one per entry, for a SIEM), itself JCS:
//   {"entry":{...},"index":N,"leaf_hash":"<64 lowercase hex>"}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign::audit {

// Event names. Kept stable: auditors and SIEM rules match on them.
namespace event {
inline constexpr std::string_view kBundleReceived = "bundle-received";
inline constexpr std::string_view kBundleVerified = "bundle-verified";
inline constexpr std::string_view kBundleRejected = "bundle-rejected";  // + "reasons": [...]
inline constexpr std::string_view kSignatureAccepted = "signature-accepted";
inline constexpr std::string_view kSnapshotTaken = "snapshot-taken";
inline constexpr std::string_view kSnapshotRestored = "snapshot-restored";
inline constexpr std::string_view kFetchStarted = "fetch-started";
inline constexpr std::string_view kSourceFailed = "source-failed";
inline constexpr std::string_view kHashMismatchAlert = "hash-mismatch-alert";
inline constexpr std::string_view kFileVerified = "file-verified";
inline constexpr std::string_view kInstallComplete = "install-complete";
inline constexpr std::string_view kInstallAborted = "install-aborted";
inline constexpr std::string_view kPolicyRotated = "policy-rotated";
inline constexpr std::string_view kModelRemoved = "model-removed";
inline constexpr std::string_view kDaemonStarted = "daemon-started";
inline constexpr std::string_view kDaemonStopped = "daemon-stopped";
inline constexpr std::string_view kLogRepaired = "log-repaired";          // + "torn_bytes", "file", "offset"
inline constexpr std::string_view kProposalPending = "proposal-pending";  // + "missing"
inline constexpr std::string_view kSignatureRejected = "signature-rejected";  // + "key", "reason"
inline constexpr std::string_view kSnapshotSkipped = "snapshot-skipped";      // + "reason"
inline constexpr std::string_view kSnapshotFailed = "snapshot-failed";        // + "reason"
inline constexpr std::string_view kInstallResumed = "install-resumed";
inline constexpr std::string_view kStagingCleaned = "staging-cleaned";  // + "manifest" [, "file"]
inline constexpr std::string_view kFetchProgress = "fetch-progress";    // + "percent", "bytes"
// Written by the System component (countersign-system) from what it checked itself:
inline constexpr std::string_view kInstallRefused = "install-refused";  // staged bytes not the manifest's
inline constexpr std::string_view kModelDamaged = "model-damaged";    // an installed copy failed its re-hash
inline constexpr std::string_view kActionRefused = "action-refused";  // a subcommand the helper said no to
inline constexpr std::string_view kProposalAbandoned = "proposal-abandoned";  // the daemon gave a job up
// Governance (vetoes, liveness). Written by the System component from what it verified itself.
inline constexpr std::string_view kVetoReceived = "veto-received";      // + "approver", "key"
inline constexpr std::string_view kProposalVetoed = "proposal-vetoed";  // + "vetoed_by": [ids]
inline constexpr std::string_view kApproverProved =
    "approver-proved";  // + "approver", "key", "challenge", "issued"
inline constexpr std::string_view kReportsSuppressed =
    "reports-suppressed";  // + "count": over the rate limit
// Debian packages. Written by the System component from what dpkg-query showed it.
inline constexpr std::string_view kPackagesInstalled =
    "packages-installed";  // + "packages": [{"name", "architecture", "old", "new"}] (null: none)
inline constexpr std::string_view kPackagesFailed = "packages-failed";  // + "reason", "stage"
inline constexpr std::string_view kPackagesRolledBack =
    "packages-rolled-back";  // + "snapshot" (the system root is as it was before)
}  // namespace event

// The member the System component adds to every entry whose content the daemon reported
// ("reported_by": "daemon"): the helper vouches only that the daemon said it.
inline constexpr std::string_view kReportedBy = "reported_by";

// True for the names above.
bool is_known_event(std::string_view name);

// Largest entry we write or accept, in bytes.
inline constexpr std::size_t kMaxEntrySize = 64 * 1024;

// Builds entry bytes: `fields` (an object, or null) plus seq, time and event, which it must
// not already contain. kInvalidArgument for an unknown event, a non-object, reserved
// members, a "proposal" that is not "sha256:<hex>", or a result over kMaxEntrySize.
Result<std::string> make_entry(std::uint64_t seq, UnixTime time, std::string_view event_name,
                               const nlohmann::json& fields);

// Checks stored entry bytes: JCS-canonical JSON object, "seq" == expected_seq, "time" RFC
// 3339, "event" a non-empty string (unknown names are accepted: newer daemons may add
// events), "proposal" if present "sha256:<hex>". kInvalidDocument naming what is wrong.
Result<nlohmann::json> check_entry(std::string_view bytes, std::uint64_t expected_seq);

struct ExportLine {
  std::uint64_t index = 0;
  Digest leaf_hash{};
  std::string entry;  // the entry bytes (JCS of the "entry" member)
};

std::string export_line(std::uint64_t index, std::string_view entry_bytes, const Digest& leaf_hash);
// Parses one line (without its newline). kMalformed / kInvalidDocument naming the member;
// kHashMismatch when leaf_hash is not the RFC 9162 leaf hash of the entry.
Result<ExportLine> parse_export_line(std::string_view line);

}  // namespace countersign::audit
