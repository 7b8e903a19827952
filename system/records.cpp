#include "system/records.h"

#include <algorithm>
#include <filesystem>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxRecordBytes = std::uint64_t{1} << 30;

Result<std::optional<nlohmann::json>> read_json_if_present(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return std::optional<nlohmann::json>{};
  CS_TRY(std::string text, read_file(path, kMaxRecordBytes));
  auto j = jcs::parse(text);
  if (!j.ok()) return j.error().with_context(path);
  return std::optional<nlohmann::json>(std::move(*j));
}

}  // namespace

std::string SystemPaths::proposal(const Digest& id) const {
  return proposals() + "/" + hex_encode(id) + ".json";
}

std::string SystemPaths::sealed(const Digest& id) const {
  return proposals() + "/" + hex_encode(id) + ".sealed";
}

std::string SystemPaths::veto_record(const Digest& id) const {
  return vetoes() + "/" + hex_encode(id) + ".json";
}

nlohmann::json VetoRecord::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& v : vetoes) list.push_back(v.to_json());
  nlohmann::json j = {{"proposal", digest_to_string(id)}, {"vetoes", list}, {"vetoed_by", vetoed_by}};
  if (dead) j["dead"] = format_rfc3339(*dead);
  return j;
}

Result<VetoRecord> VetoRecord::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& what) { return Error(Errc::kInvalidDocument, "veto record: " + what); };
  if (!j.is_object() || !j.contains("proposal") || !j["proposal"].is_string() || !j.contains("vetoes") ||
      !j["vetoes"].is_array() || !j.contains("vetoed_by") || !j["vetoed_by"].is_array()) {
    return bad("expected {\"proposal\", \"vetoes\", \"vetoed_by\"}");
  }
  VetoRecord r;
  CS_TRY(r.id, digest_from_string(j["proposal"].get<std::string>()));
  for (const auto& v : j["vetoes"]) {
    CS_TRY(SignatureFile sig, SignatureFile::parse(v));
    r.vetoes.push_back(std::move(sig));
  }
  for (const auto& a : j["vetoed_by"]) {
    if (!a.is_string()) return bad("\"vetoed_by\" holds a non-string");
    r.vetoed_by.push_back(a.get<std::string>());
  }
  if (j.contains("dead")) {
    if (!j["dead"].is_string()) return bad("\"dead\" is not a time");
    CS_TRY(r.dead, parse_rfc3339(j["dead"].get<std::string>()));
  }
  return r;
}

Result<std::optional<VetoRecord>> read_veto_record(const SystemPaths& paths, const Digest& id) {
  CS_TRY(auto j, read_json_if_present(paths.veto_record(id)));
  if (!j) return std::optional<VetoRecord>{};
  auto r = VetoRecord::from_json(*j);
  if (!r.ok()) return r.error().with_context(paths.veto_record(id));
  return std::optional<VetoRecord>(std::move(*r));
}

std::string_view proposal_state_name(ProposalState s) {
  switch (s) {
    case ProposalState::kAccepted:
      return "accepted";
    case ProposalState::kDone:
      return "done";
    case ProposalState::kFailed:
      return "failed";
  }
  return "failed";
}

nlohmann::json ProposalRecord::to_json() const {
  nlohmann::json j = {{"proposal", digest_to_string(id)},
                      {"bundle", bundle},
                      {"accepted", format_rfc3339(accepted)},
                      {"state", proposal_state_name(state)}};
  if (snapshot) j["snapshot"] = *snapshot;
  if (finished) j["finished"] = format_rfc3339(*finished);
  if (error) j["error"] = *error;
  if (!result.is_null()) j["result"] = result;
  return j;
}

Result<ProposalRecord> ProposalRecord::from_json(const nlohmann::json& j) {
  auto bad = [](const std::string& what) {
    return Error(Errc::kInvalidDocument, "proposal record: " + what);
  };
  if (!j.is_object()) return bad("not an object");
  auto str = [&](const char* k) -> Result<std::string> {
    if (!j.contains(k) || !j[k].is_string()) return bad(std::string("\"") + k + "\" missing");
    return j[k].get<std::string>();
  };
  ProposalRecord r;
  CS_TRY(std::string id, str("proposal"));
  CS_TRY(r.id, digest_from_string(id));
  if (!j.contains("bundle")) return bad("\"bundle\" missing");
  r.bundle = j["bundle"];
  CS_TRY(std::string accepted, str("accepted"));
  CS_TRY(r.accepted, parse_rfc3339(accepted));
  CS_TRY(std::string state, str("state"));
  bool known = false;
  for (auto s : {ProposalState::kAccepted, ProposalState::kDone, ProposalState::kFailed}) {
    if (proposal_state_name(s) == state) r.state = s, known = true;
  }
  if (!known) return bad("unknown state \"" + state + "\"");
  if (j.contains("snapshot")) {
    CS_TRY(std::string snapshot, str("snapshot"));
    r.snapshot = snapshot;
  }
  if (j.contains("finished")) {
    CS_TRY(std::string f, str("finished"));
    CS_TRY(UnixTime t, parse_rfc3339(f));
    r.finished = t;
  }
  if (j.contains("error")) {
    CS_TRY(std::string error, str("error"));
    r.error = error;
  }
  if (j.contains("result")) r.result = j["result"];
  return r;
}

Result<std::set<Digest>> read_executed_set(const std::string& path) {
  std::set<Digest> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  CS_TRY(std::string data, read_file(path, kMaxRecordBytes));
  std::size_t pos = 0, line = 0;
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn tail
    ++line;
    auto d = digest_from_string(std::string_view(data).substr(pos, nl - pos));
    if (!d.ok())
      return Error(Errc::kInvalidDocument, path + ":" + std::to_string(line) + ": not a proposal id");
    out.insert(*d);
    pos = nl + 1;
  }
  return out;
}

Result<std::optional<ProposalRecord>> read_proposal_record(const SystemPaths& paths, const Digest& id) {
  const std::string path = paths.proposal(id);
  CS_TRY(auto j, read_json_if_present(path));
  if (!j) return std::optional<ProposalRecord>{};
  auto r = ProposalRecord::from_json(*j);
  if (!r.ok()) return r.error().with_context(path);
  if (r->id != id) return Error(Errc::kInvalidDocument, path + ": holds the record of another proposal");
  return std::optional<ProposalRecord>(std::move(*r));
}

Result<std::vector<ProposalRecord>> read_proposal_records(const SystemPaths& paths) {
  std::vector<ProposalRecord> out;
  std::error_code ec;
  if (!fs::exists(paths.proposals(), ec)) return out;
  for (const auto& e : fs::directory_iterator(paths.proposals(), ec)) {
    const std::string name = e.path().filename().string();
    Digest id{};
    if (name.size() != 64 + 5 || !name.ends_with(".json") || !decode_lower_hex(name.substr(0, 64), id))
      continue;
    CS_TRY(auto r, read_proposal_record(paths, id));
    if (r) out.push_back(std::move(*r));
  }
  if (ec) return Error(Errc::kIo, "cannot list " + paths.proposals() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const ProposalRecord& a, const ProposalRecord& b) {
    return a.accepted != b.accepted ? a.accepted < b.accepted : a.id < b.id;
  });
  return out;
}

Result<std::optional<nlohmann::json>> read_installed_record(const SystemPaths& paths,
                                                            const std::string& hex) {
  return read_json_if_present(paths.installed_record(hex));
}

std::optional<std::string> box_refusal(const Bundle& b, const Config& config) {
  switch (b.proposal().action()) {
    case Action::kRestoreSnapshot: {
      const auto& s = b.snapshot()->fields();
      const bool system = b.snapshot()->of_system();
      const std::string backend = (system ? config.system_snapshot : config.snapshot).backend_name();
      if (s.box != config.box_id)
        return "the snapshot belongs to box \"" + s.box + "\", this is \"" + config.box_id + "\"";
      if (s.backend != backend)
        return "the snapshot is a " + s.backend + " snapshot" + (system ? " of the system root" : "") +
               ", this box uses " + backend + (system ? " for its system root" : "");
      return std::nullopt;
    }
    case Action::kInstallPackages:
    case Action::kInstallModel:
    case Action::kRemoveModel:
    case Action::kRotatePolicy:
      break;
  }
  return std::nullopt;
}

Result<PolicyChain> read_policy_chain(const Config& config,
                                      const std::function<bool(const PolicyKey&)>& attested) {
  auto text = read_file(config.policy, 16u << 20);
  if (!text.ok()) return text.error().with_context("policy " + config.policy);
  auto root = Policy::parse_text(*text);
  if (!root.ok()) return root.error().with_context("policy " + config.policy);
  return load_policy_chain(*root, SystemPaths(config).policy_chain(), config.box_id, attested);
}

}  // namespace countersign::daemon
