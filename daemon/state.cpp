#include "daemon/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;

constexpr const char* kJobsDir = "jobs";
constexpr const char* kPendingDir = "pending";
constexpr const char* kInstalledDir = "installed";

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::kIo, what + " " + path + ": " + std::strerror(errno));
}

Result<std::optional<nlohmann::json>> load_json_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<nlohmann::json>{};
  CS_TRY(std::string text, read_file(path, 1u << 30));
  auto j = jcs::parse(text);
  if (!j.ok()) return j.error().with_context(path);
  return std::optional<nlohmann::json>(std::move(*j));
}

}  // namespace

std::string_view job_state_name(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "failed";
}

Result<JobState> job_state_from_name(std::string_view name) {
  for (auto s : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed}) {
    if (job_state_name(s) == name) return s;
  }
  return Error(Errc::kInvalidDocument, "unknown job state \"" + std::string(name) + "\"");
}

nlohmann::json JobRecord::to_json() const {
  nlohmann::json j = {{"proposal", digest_to_string(proposal)},
                      {"action", action},
                      {"bundle", bundle},
                      {"state", job_state_name(state)},
                      {"received", format_rfc3339(received)}};
  if (finished) j["finished"] = format_rfc3339(*finished);
  if (error) j["error"] = *error;
  if (snapshot) j["snapshot"] = *snapshot;
  if (!result.is_null()) j["result"] = result;
  return j;
}

Result<JobRecord> JobRecord::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& what) { return Error(Errc::kInvalidDocument, "job record: " + what); };
  if (!j.is_object()) return bad("not an object");
  auto str = [&](const char* k) -> Result<std::string> {
    if (!j.contains(k) || !j[k].is_string()) return bad(std::string("\"") + k + "\" missing");
    return j[k].get<std::string>();
  };
  JobRecord r;
  CS_TRY(std::string id, str("proposal"));
  CS_TRY(r.proposal, digest_from_string(id));
  CS_TRY(r.action, str("action"));
  if (!j.contains("bundle")) return bad("\"bundle\" missing");
  r.bundle = j["bundle"];
  CS_TRY(std::string state, str("state"));
  CS_TRY(r.state, job_state_from_name(state));
  CS_TRY(std::string received, str("received"));
  CS_TRY(r.received, parse_rfc3339(received));
  if (j.contains("finished")) {
    CS_TRY(std::string f, str("finished"));
    CS_TRY(UnixTime t, parse_rfc3339(f));
    r.finished = t;
  }
  if (j.contains("error")) {
    CS_TRY(std::string e, str("error"));
    r.error = e;
  }
  if (j.contains("snapshot")) {
    CS_TRY(std::string s, str("snapshot"));
    r.snapshot = s;
  }
  if (j.contains("result")) r.result = j["result"];
  return r;
}

Result<StateDir> StateDir::open(const std::string& dir) {
  StateDir s;
  s.dir_ = dir;
  for (const char* sub : {"", kJobsDir, kPendingDir, kInstalledDir}) {
    std::string p = *sub ? dir + "/" + sub : dir;
    if (::mkdir(p.c_str(), 0750) != 0 && errno != EEXIST) return io_error("cannot create", p);
  }
  std::string path = dir + "/executed";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return io_error("cannot open", path);
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return io_error("cannot read", path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t good = 0;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn tail
    ++line_no;
    auto d = digest_from_string(std::string_view(data).substr(pos, nl - pos));
    if (!d.ok()) {
      ::close(fd);
      return Error(Errc::kInvalidDocument, path + ":" + std::to_string(line_no) + ": not a proposal id");
    }
    s.executed_.insert(*d);
    pos = nl + 1;
    good = pos;
  }
  if (good != data.size()) {
    if (::ftruncate(fd, static_cast<off_t>(good)) != 0 || ::fsync(fd) != 0) {
      ::close(fd);
      return io_error("cannot repair", path);
    }
  }
  ::close(fd);
  return s;
}

bool StateDir::executed(const Digest& proposal) const {
  std::lock_guard lock(*mu_);
  return executed_.count(proposal) != 0;
}

std::size_t StateDir::executed_count() const {
  std::lock_guard lock(*mu_);
  return executed_.size();
}

Result<void> StateDir::mark_executed(const Digest& proposal) {
  std::lock_guard lock(*mu_);
  if (executed_.count(proposal)) return {};
  std::string path = dir_ + "/executed";
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  std::string line = digest_to_string(proposal) + "\n";
  ssize_t n = ::write(fd, line.data(), line.size());
  bool ok = n == static_cast<ssize_t>(line.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return io_error("cannot append to", path);
  executed_.insert(proposal);
  return {};
}

std::string StateDir::path(const char* sub, const Digest& d) const {
  return dir_ + "/" + sub + "/" + hex_encode(d) + ".json";
}

Result<void> StateDir::save_job(const JobRecord& job) {
  return write_file_atomic(path(kJobsDir, job.proposal), job.to_json().dump(), 0640);
}

Result<std::optional<JobRecord>> StateDir::load_job(const Digest& proposal) const {
  CS_TRY(auto j, load_json_file(path(kJobsDir, proposal)));
  if (!j) return std::optional<JobRecord>{};
  CS_TRY(JobRecord r, JobRecord::from_json(*j));
  return std::optional<JobRecord>(std::move(r));
}

Result<std::vector<JobRecord>> StateDir::load_jobs() const {
  std::vector<JobRecord> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/" + kJobsDir, ec)) {
    auto name = e.path().filename().string();
    if (name.size() != 64 + 5 || !name.ends_with(".json")) continue;  // temp files from a crash
    auto d = digest_from_string("sha256:" + name.substr(0, 64));
    if (!d.ok()) continue;
    CS_TRY(auto r, load_job(*d));
    if (r) out.push_back(std::move(*r));
  }
  if (ec) return Error(Errc::kIo, "cannot list " + dir_ + "/jobs: " + ec.message());
  std::sort(out.begin(), out.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.received != b.received ? a.received < b.received : a.proposal < b.proposal;
  });
  return out;
}

Result<void> StateDir::save_pending(const Digest& proposal, const nlohmann::json& doc) {
  return write_file_atomic(path(kPendingDir, proposal), doc.dump(), 0640);
}

Result<std::optional<nlohmann::json>> StateDir::load_pending(const Digest& proposal) const {
  return load_json_file(path(kPendingDir, proposal));
}

Result<void> StateDir::remove_pending(const Digest& proposal) {
  auto p = path(kPendingDir, proposal);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", p);
  return {};
}

Result<void> StateDir::save_installed(const Digest& manifest, const nlohmann::json& record) {
  return write_file_atomic(path(kInstalledDir, manifest), record.dump(), 0640);
}

Result<std::optional<nlohmann::json>> StateDir::load_installed(const Digest& manifest) const {
  return load_json_file(path(kInstalledDir, manifest));
}

}  // namespace countersign::daemon
