#include "daemon/log_reader.h"

#include <algorithm>

#include "core/audit_entry.h"
#include "core/audit_proof.h"
#include "core/liveness.h"

namespace countersign::daemon {

Result<audit::AuditLog> LogReader::open() const {
  auto log = audit::AuditLog::open(log_dir_, audit::AuditLog::Mode::kReadOnly);
  if (!log.ok()) return log.error().with_context("audit log " + log_dir_);
  return log;
}

Result<std::string> LogReader::checkpoint() {
  CS_TRY_VOID(audit_.sign_checkpoint());
  std::lock_guard lock(mu_);
  CS_TRY(auto log, open());
  CS_TRY(auto cp, audit::find_checkpoint(log, 0));
  return cp.first;
}

Result<std::string> LogReader::entries(std::uint64_t start, std::optional<std::uint64_t> end,
                                       std::uint64_t limit) {
  if (limit == 0) return Error(Errc::kInvalidArgument, "limit must be at least 1");
  if (end && start > *end) {
    return Error(Errc::kInvalidArgument,
                 "start " + std::to_string(start) + " is past end " + std::to_string(*end));
  }
  std::lock_guard lock(mu_);
  CS_TRY(auto log, open());
  const std::uint64_t stop = std::min(end.value_or(log.size()), log.size());
  const std::uint64_t count = start >= stop ? 0 : std::min({stop - start, limit, kMaxPage});
  std::string out;
  for (std::uint64_t i = start; i < start + count && out.size() < kMaxPageBytes; ++i) {
    CS_TRY(auto bytes, log.entry(i));
    CS_TRY(auto leaf, log.leaf_hash(i));
    out += audit::export_line(i, bytes, leaf);
    out += '\n';
  }
  return out;
}

Result<nlohmann::json> LogReader::inclusion(std::uint64_t index, std::uint64_t tree_size) {
  audit_.sign_checkpoint_or_warn("before an inclusion proof");
  std::lock_guard lock(mu_);
  CS_TRY(auto log, open());
  return audit::inclusion_proof_doc(log, index, tree_size);
}

Result<nlohmann::json> LogReader::consistency(std::uint64_t old_size, std::uint64_t new_size) {
  std::lock_guard lock(mu_);
  CS_TRY(auto log, open());
  return audit::consistency_proof_doc(log, old_size, new_size);
}

Result<LastProofs> LogReader::latest_proofs() {
  std::lock_guard lock(mu_);
  CS_TRY(auto log, open());
  for (; proofs_scanned_ < log.size(); ++proofs_scanned_) {
    CS_TRY(auto bytes, log.entry(proofs_scanned_));
    note_proof_entry(proofs_, nlohmann::json::parse(bytes, nullptr, false));
  }
  return proofs_;
}

std::optional<std::uint64_t> LogReader::size() {
  std::lock_guard lock(mu_);
  auto log = open();
  if (!log.ok()) return std::nullopt;
  return log->size();
}

}  // namespace countersign::daemon
