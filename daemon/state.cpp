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
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kVetoed:
      return "vetoed";
  }
  return "failed";
}

Result<JobState> job_state_from_name(std::string_view name) {
  for (auto s :
       {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed, JobState::kVetoed}) {
    if (job_state_name(s) == name) return s;
  }
  return Error(Errc::kInvalidDocument, "unknown job state \"" + std::string(name) + "\"");
}

nlohmann::json JobRecord::to_json() const {
  nlohmann::json j = {{"proposal", digest_to_string(proposal)},
                      {"action", std::string(action_name(action))},
                      {"bundle", bundle},
                      {"state", job_state_name(state)},
                      {"received", format_rfc3339(received)}};
  if (finished) j["finished"] = format_rfc3339(*finished);
  if (error) j["error"] = *error;
  if (snapshot) j["snapshot"] = *snapshot;
  if (!result.is_null()) j["result"] = result;
  if (!submitter.is_null()) j["submitter"] = submitter;
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
  CS_TRY(std::string action, str("action"));
  CS_TRY(r.action, action_from_name(action));
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
  if (j.contains("submitter")) r.submitter = j["submitter"];
  return r;
}

Result<StateDir> StateDir::open(const std::string& dir) {
  StateDir s;
  s.dir_ = dir;
  for (const char* sub : {"", kJobsDir, kPendingDir}) {
    std::string p = *sub ? dir + "/" + sub : dir;
    if (::mkdir(p.c_str(), 0750) != 0 && errno != EEXIST) return io_error("cannot create", p);
  }
  return s;
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

Result<std::vector<StateDir::PendingFile>> StateDir::list_pending() const {
  std::vector<PendingFile> out;
  std::error_code ec;
  const std::string dir = dir_ + "/" + kPendingDir;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (name.size() != 64 + 5 || !name.ends_with(".json")) continue;  // temp files from a crash
    Digest d{};
    if (!decode_lower_hex(name.substr(0, 64), d)) continue;
    std::error_code size_ec;
    const auto bytes = e.file_size(size_ec);
    out.push_back({d, size_ec ? 0 : static_cast<std::uint64_t>(bytes)});
  }
  if (ec) return Error(Errc::kIo, "cannot list " + dir + ": " + ec.message());
  return out;
}

Result<void> StateDir::remove_pending(const Digest& proposal) {
  auto p = path(kPendingDir, proposal);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", p);
  return {};
}

}  // namespace countersign::daemon
