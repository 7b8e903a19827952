// The audit log as the System component writes it (DESIGN.md "Audit log"): the log
// directory and the log key are root's; the daemon's user may read the log (it serves
// entries, checkpoints and proofs) but can neither write it nor read the key.
//
// Two kinds of entries:
// - the helper's own, written from what it checked and did (bundle-verified,
//   install-complete, model-removed, snapshot-restored, policy-rotated, ...): never limited;
// - entries whose content came from the daemon, or that the daemon's input caused (a
//   refused bundle, a refused subcommand): every string cut at kMaxReportedString bytes,
//   every array at kMaxReportedItems items, the whole entry at kMaxReportedEntry bytes, and
//   drawn from a token bucket (kReportBurst entries, one more every kReportRefillSeconds)
//   kept in system/report-budget.json. Over the limit an entry is not written but counted,
//   and the next one written is preceded by `reports-suppressed` with the count. Entries
//   the daemon reported say "reported_by": "daemon".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/audit_log.h"
#include "core/result.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "daemon/config.h"

namespace countersign::daemon {

inline constexpr std::size_t kMaxReportedString = 512;
inline constexpr std::size_t kMaxReportedItems = 16;
inline constexpr std::size_t kMaxReportedEntry = 4096;
inline constexpr double kReportBurst = 300;
inline constexpr double kReportRefillSeconds = 2;

// The events the daemon may report through `log append`. Anything else (above all the
// events of privileged actions) is refused.
bool daemon_may_report(std::string_view event);

// The log signing key at `path`. Running as root, the file must be root's and readable only
// by root (mode 0600 or 0400); errors name the file.
Result<note::Signer> read_log_key(const std::string& path);

// Bounds `fields` as described above (strings, arrays, then the whole entry).
nlohmann::json bound_reported_fields(nlohmann::json fields);

class LogWriter {
 public:
  // Opens <state_dir>/log for writing, waiting up to 30 s for another writer, and reads the
  // log key. Running as root: the log directory must be root's and writable only by root,
  // and the key file root's and readable only by root (mode 0600 or 0400).
  static Result<LogWriter> open(const Config& config, Clock clock);

  // One of the helper's own entries. Returns its seq.
  Result<std::uint64_t> append(std::string_view event, const nlohmann::json& fields);
  // An entry the daemon reported (`reported`: adds reported_by) or caused: bounded and
  // rate-limited. Returns its seq, or nullopt when it was suppressed.
  Result<std::optional<std::uint64_t>> append_limited(std::string_view event, nlohmann::json fields,
                                                      bool reported);
  // The newest entry of `event` about `proposal` ("sha256:<hex>") written since that
  // proposal's bundle-verified, read back from the log (newest first, stopping at the
  // bundle-verified): how a privileged step interrupted after logging its outcome knows it
  // did. nullopt when there is none.
  Result<std::optional<nlohmann::json>> outcome_logged(std::string_view event,
                                                       const std::string& proposal) const;
  // Signs a checkpoint when entries were appended since the newest one. Returns the tree size.
  Result<std::uint64_t> checkpoint_if_grown();

 private:
  LogWriter(audit::AuditLog log, note::Signer key, std::string budget_path, Clock clock)
      : log_(std::move(log)),
        key_(std::move(key)),
        budget_path_(std::move(budget_path)),
        clock_(std::move(clock)) {}
  audit::AuditLog log_;
  note::Signer key_;
  std::string budget_path_;
  Clock clock_;
};

}  // namespace countersign::daemon
