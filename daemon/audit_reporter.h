// The daemon's one way into the audit log (DESIGN.md "Audit log"). The System component
// writes and signs the log; the daemon reports its own events (a bundle received or refused,
// a failed source, a fetch milestone, ...) through `log append`, which the helper marks
// "reported_by": "daemon", bounds and rate-limits. Every report of the daemon goes through
// report() here.
//
// Policy when a report cannot be appended (the helper refused it or could not be run): the
// report is written to stderr (the journal) and counted, failures() (/v1/status
// "log_report_failures"), and whatever the daemon was doing goes on. Nothing privileged
// depends on a report: the helper logs each privileged step itself and fails the step when
// it cannot. A report the helper's rate limit suppressed is not a failure here: the helper
// counts those itself and logs the count (reports-suppressed).
//
// Checkpoints: the helper signs one when the log grew. sign_checkpoint() returns the error
// for callers that act on it (the start, GET /v1/log/checkpoint); sign_checkpoint_or_warn()
// is for the moments nothing waits on it (after a job, at stop, before a proof): a failure
// there is written to stderr, not counted, and the next checkpoint covers the entries.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "daemon/system_client.h"

namespace countersign::daemon {

class AuditReporter {
 public:
  explicit AuditReporter(SystemClient& system) : system_(system) {}
  AuditReporter(const AuditReporter&) = delete;
  AuditReporter& operator=(const AuditReporter&) = delete;

  // Reports `event` (one of the events the helper lets the daemon report) with `fields`.
  // Thread-safe.
  void report(std::string_view event, nlohmann::json fields = nlohmann::json::object());
  // Reports that could not be appended since the start.
  std::uint64_t failures() const { return failures_.load(); }

  Result<void> sign_checkpoint();
  // `when` completes the stderr line: "cannot sign a checkpoint <when>: <error>".
  void sign_checkpoint_or_warn(std::string_view when);

 private:
  SystemClient& system_;
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace countersign::daemon
