// What countersignd serves of the audit log (GET /v1/log/...): the log the System component
// writes in state_dir/log, opened read-only for each request (the daemon's user may read it,
// never write it). Entries, checkpoints and proofs are the helper's bytes as they are on
// disk; a verifier needs only the box's log key (`countersign log verify`).
// Thread-safe. Errors name the log directory and keep the code of what failed.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/audit_log.h"
#include "core/liveness.h"
#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/audit_reporter.h"

namespace countersign::daemon {

class LogReader {
 public:
  // One page of entries() (GET /v1/log/entries, docs/api.md): at most kMaxPage entries, and
  // no more entries once the page holds kMaxPageBytes (a page always holds at least one
  // entry when there is one, so a page is below kMaxPageBytes + one line of an entry of
  // audit::kMaxEntrySize). The reader holds one page at a time, whatever the log's size.
  static constexpr std::uint64_t kMaxPage = 1000;
  static constexpr std::size_t kMaxPageBytes = 4u << 20;

  // `audit` signs the checkpoints the reads below want (it must outlive the reader).
  LogReader(std::string log_dir, AuditReporter& audit) : log_dir_(std::move(log_dir)), audit_(audit) {}

  // The newest signed checkpoint (a signed note), after the helper signed one if the log
  // grew. Errors: the helper could not sign (its code), the log cannot be read.
  Result<std::string> checkpoint();
  // The page of entries that starts at `start`: entries [start, end) (end: the log's size
  // when absent or beyond it), at most `limit` (capped at kMaxPage) and kMaxPageBytes, as
  // JSON lines in the `log export` format, read entry by entry from the files. The next
  // page starts at start + the number of lines; an empty page (start at or past the end)
  // is the end. kInvalidArgument when limit is 0 or start is past an `end` that was given.
  Result<std::string> entries(std::uint64_t start, std::optional<std::uint64_t> end,
                              std::uint64_t limit = kMaxPage);
  // An inclusion proof document for entry `index` in the tree of `tree_size` entries (0:
  // the newest checkpoint); a checkpoint is signed first when the log grew.
  Result<nlohmann::json> inclusion(std::uint64_t index, std::uint64_t tree_size);
  // A consistency proof document between two tree sizes.
  Result<nlohmann::json> consistency(std::uint64_t old_size, std::uint64_t new_size);
  // The number of entries; nullopt when the log cannot be read.
  std::optional<std::uint64_t> size();
  // Approver id -> the time of their latest approver-proved entry (the helper's own entries
  // only: one the daemon reported would carry "reported_by", and the helper refuses to write
  // it anyway). Reads only the entries appended since the last call.
  Result<LastProofs> latest_proofs();

 private:
  Result<audit::AuditLog> open() const;

  std::string log_dir_;
  AuditReporter& audit_;
  std::mutex mu_;  // one read of the log at a time; the two below
  std::uint64_t proofs_scanned_ = 0;
  LastProofs proofs_;
};

}  // namespace countersign::daemon
