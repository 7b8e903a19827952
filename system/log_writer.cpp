#include "system/log_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/audit_entry.h"
#include "core/audit_proof.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/secret.h"
#include "core/unique_fd.h"
#include "system/fs_at.h"

namespace countersign::daemon {
namespace {

constexpr int kWriterWaitTenths = 300;

constexpr std::array<std::string_view, 13> kDaemonEvents = {
    audit::event::kBundleReceived,    audit::event::kBundleRejected,    audit::event::kProposalPending,
    audit::event::kSignatureAccepted, audit::event::kSignatureRejected, audit::event::kFetchStarted,
    audit::event::kSourceFailed,      audit::event::kHashMismatchAlert, audit::event::kInstallResumed,
    audit::event::kStagingCleaned,    audit::event::kDaemonStarted,     audit::event::kDaemonStopped,
    audit::event::kFetchProgress,
};

std::string cut(const std::string& s, std::size_t max) { return cut_text(s, max); }

nlohmann::json bound_value(const nlohmann::json& v, int depth) {
  if (v.is_string()) return cut(v.get<std::string>(), kMaxReportedString);
  if (depth > 4 && (v.is_object() || v.is_array())) return "…(nested too deeply)";
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < v.size() && i < kMaxReportedItems; ++i)
      out.push_back(bound_value(v[i], depth + 1));
    if (v.size() > kMaxReportedItems)
      out.push_back("…and " + std::to_string(v.size() - kMaxReportedItems) + " more");
    return out;
  }
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    std::size_t n = 0;
    for (auto it = v.begin(); it != v.end() && n < kMaxReportedItems; ++it, ++n) {
      out[cut(it.key(), 64)] = bound_value(it.value(), depth + 1);
    }
    return out;
  }
  return v;
}

}  // namespace

Result<note::Signer> read_log_key(const std::string& path) {
  if (::geteuid() == 0) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return Error(Errc::kIo, "cannot read the log key " + path + ": " + std::strerror(errno));
    if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
      return Error(Errc::kRejected,
                   "the log key " + path + " must be owned by root and readable only by root (it is uid " +
                       std::to_string(st.st_uid) + ", mode " + mode_string(st.st_mode) + ")");
    }
  }
  // Readable by its owner only, whoever runs the helper (core/secret.h).
  auto skey = read_private_secret_file(path);
  if (!skey.ok()) return skey.error().with_context("log_key " + path);
  auto signer = note::Signer::parse(*skey);
  if (!signer.ok()) return signer.error().with_context("log_key " + path);
  return std::move(*signer);
}

namespace {

struct Budget {
  double tokens = kReportBurst;
  UnixTime updated = 0;
  std::uint64_t suppressed = 0;
  UnixTime suppressed_since = 0;
};

Budget read_budget(const std::string& path, UnixTime now) {
  Budget b;
  b.updated = now;
  auto text = read_file(path, 4096);
  if (!text.ok()) return b;  // missing or unreadable: a full bucket, as on a new box
  auto j = jcs::parse(*text);
  if (!j.ok() || !j->is_object()) return b;
  b.tokens = std::clamp(j->value("tokens", kReportBurst), 0.0, kReportBurst);
  b.updated = std::min<UnixTime>(j->value("updated", now), now);
  b.suppressed = j->value("suppressed", std::uint64_t{0});
  b.suppressed_since = j->value("suppressed_since", UnixTime{0});
  return b;
}

Result<void> write_budget(const std::string& path, const Budget& b) {
  nlohmann::json j = {{"tokens", std::floor(b.tokens * 1000) / 1000},
                      {"updated", b.updated},
                      {"suppressed", b.suppressed},
                      {"suppressed_since", b.suppressed_since}};
  return write_file_atomic(path, j.dump(), 0644);
}

}  // namespace

bool daemon_may_report(std::string_view event) {
  return std::find(kDaemonEvents.begin(), kDaemonEvents.end(), event) != kDaemonEvents.end();
}

nlohmann::json bound_reported_fields(nlohmann::json fields) {
  if (!fields.is_object()) return nlohmann::json::object();
  nlohmann::json out = bound_value(fields, 0);
  auto text = jcs::serialize(out);
  if (text.ok() && text->size() <= kMaxReportedEntry) return out;
  // Still too large (many long members): keep what identifies it.
  nlohmann::json small = {{"truncated", true}, {"bytes", text.ok() ? text->size() : 0}};
  if (out.contains("proposal") && out["proposal"].is_string()) small["proposal"] = out["proposal"];
  return small;
}

Result<LogWriter> LogWriter::open(const Config& config, Clock clock) {
  const std::string dir = config.log_dir();
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error(Errc::kIo, "cannot create the log directory " + dir + ": " + std::strerror(errno));
  }
  {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
      return Error(Errc::kIo, "cannot open the log directory " + dir + ": " + std::strerror(errno));
    CS_TRY_VOID(check_root_only(fd.get(), "the log directory " + dir));
  }
  // The rate limit's bucket lives with the helper's records.
  const std::string system_dir = config.state_dir + "/system";
  if (::mkdir(system_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error(Errc::kIo, "cannot create " + system_dir + ": " + std::strerror(errno));
  }
  CS_TRY(note::Signer key, read_log_key(config.log_key));
  for (int tenth = 0;; ++tenth) {
    auto log = audit::AuditLog::open(dir, audit::AuditLog::Mode::kWrite, clock);
    if (log.ok()) {
      return LogWriter(std::move(*log), std::move(key), system_dir + "/report-budget.json", clock);
    }
    const bool busy =
        log.error().code == Errc::kInvalidArgument && log.error().message.find("in use") != std::string::npos;
    if (!busy) return log.error().with_context("audit log " + dir);
    if (tenth >= kWriterWaitTenths)
      return Error(Errc::kTimeout, "the audit log " + dir + " stayed in use for 30 s");
    ::usleep(100 * 1000);
  }
}

Result<std::uint64_t> LogWriter::append(std::string_view event, const nlohmann::json& fields) {
  return log_.append(event, fields);
}

Result<std::optional<std::uint64_t>> LogWriter::append_limited(std::string_view event, nlohmann::json fields,
                                                               bool reported) {
  const UnixTime now = clock_();
  Budget b = read_budget(budget_path_, now);
  b.tokens = std::min(kReportBurst, b.tokens + static_cast<double>(now - b.updated) / kReportRefillSeconds);
  b.updated = now;
  if (b.tokens < 1) {
    if (b.suppressed == 0) b.suppressed_since = now;
    ++b.suppressed;
    CS_TRY_VOID(write_budget(budget_path_, b));
    return std::optional<std::uint64_t>{};
  }
  b.tokens -= 1;
  if (b.suppressed > 0) {
    CS_TRY_VOID(log_.append(audit::event::kReportsSuppressed,
                            {{"count", b.suppressed},
                             {"since", format_rfc3339(b.suppressed_since)},
                             {"reason", "over the rate limit for entries the daemon reports or causes"}}));
    b.suppressed = 0;
  }
  CS_TRY_VOID(write_budget(budget_path_, b));
  nlohmann::json bounded = bound_reported_fields(std::move(fields));
  if (reported) bounded[std::string(audit::kReportedBy)] = "daemon";
  CS_TRY(std::uint64_t seq, log_.append(event, bounded));
  return std::optional<std::uint64_t>(seq);
}

Result<std::optional<nlohmann::json>> LogWriter::outcome_logged(std::string_view event,
                                                                const std::string& proposal) const {
  for (std::uint64_t i = log_.size(); i-- > 0;) {
    CS_TRY(std::string text, log_.entry(i));
    auto e = nlohmann::json::parse(text, nullptr, false);
    if (!e.is_object() || e.value("proposal", std::string()) != proposal) continue;
    const std::string name = e.value("event", std::string());
    if (name == event) return std::optional<nlohmann::json>(std::move(e));
    if (name == audit::event::kBundleVerified) break;
  }
  return std::optional<nlohmann::json>();
}

Result<std::uint64_t> LogWriter::checkpoint_if_grown() {
  const std::uint64_t size = log_.size();
  auto newest = audit::find_checkpoint(log_, 0);
  if (newest.ok() && newest->second.size == size && size != 0) return size;
  CS_TRY_VOID(log_.sign_checkpoint(key_));
  return size;
}

}  // namespace countersign::daemon
