// What countersignd serves of the audit log (GET /v1/log/...): the log the System component
// writes in state_dir/log, opened read-only for each request (the daemon's user may read it,
// never write it). Entries, checkpoints and proofs are the helper's bytes as they are on
// disk; a verifier needs only the box's log key (`countersign log verify`).
// Thread-safe. Errors name the log directory and keep the code of what failed.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/audit_log.h"
#include "core/result.h"
#include "daemon/audit_reporter.h"

namespace countersign::daemon {

class LogReader {
 public:
  // Entries served at most per entries() call.
  static constexpr std::uint64_t kMaxPage = 10000;

  // `audit` signs the checkpoints the reads below want (it must outlive the reader).
  LogReader(std::string log_dir, AuditReporter& audit) : log_dir_(std::move(log_dir)), audit_(audit) {}

  // The newest signed checkpoint (a signed note), after the helper signed one if the log
  // grew. Errors: the helper could not sign (its code), the log cannot be read.
  Result<std::string> checkpoint();
  // Entries [start, end) (end: the log's size when absent or beyond it), at most kMaxPage,
  // as JSON lines in the `log export` format. kMalformed when start is past the end.
  Result<std::string> entries(std::uint64_t start, std::optional<std::uint64_t> end);
  // An inclusion proof document for entry `index` in the tree of `tree_size` entries (0:
  // the newest checkpoint); a checkpoint is signed first when the log grew.
  Result<nlohmann::json> inclusion(std::uint64_t index, std::uint64_t tree_size);
  // A consistency proof document between two tree sizes.
  Result<nlohmann::json> consistency(std::uint64_t old_size, std::uint64_t new_size);
  // The number of entries; nullopt when the log cannot be read.
  std::optional<std::uint64_t> size();

 private:
  Result<audit::AuditLog> open() const;

  std::string log_dir_;
  AuditReporter& audit_;
  std::mutex mu_;  // one read of the log at a time
};

}  // namespace countersign::daemon
