#include "core/audit_entry.h"

#include <array>

#include "core/bytes.h"
#include "core/jcs.h"
#include "core/merkle.h"

namespace countersign::audit {

namespace {

constexpr std::array<std::string_view, 35> kEvents = {
    event::kBundleReceived,    event::kBundleVerified,     event::kBundleRejected,
    event::kSignatureAccepted, event::kSnapshotTaken,      event::kSnapshotRestored,
    event::kFetchStarted,      event::kSourceFailed,       event::kHashMismatchAlert,
    event::kFileVerified,      event::kInstallComplete,    event::kInstallAborted,
    event::kPolicyRotated,     event::kModelRemoved,       event::kDaemonStarted,
    event::kDaemonStopped,     event::kLogRepaired,        event::kProposalPending,
    event::kSignatureRejected, event::kSnapshotSkipped,    event::kSnapshotFailed,
    event::kInstallResumed,    event::kStagingCleaned,     event::kInstallRefused,
    event::kModelDamaged,      event::kActionRefused,      event::kProposalAbandoned,
    event::kReportsSuppressed, event::kFetchProgress,      event::kVetoReceived,
    event::kProposalVetoed,    event::kApproverProved,     event::kPackagesInstalled,
    event::kPackagesFailed,    event::kPackagesRolledBack,
};

bool is_proposal_id(const nlohmann::json& v) {
  return v.is_string() && digest_from_string(v.get<std::string>()).ok();
}

}  // namespace

bool is_known_event(std::string_view name) {
  for (auto e : kEvents) {
    if (e == name) return true;
  }
  return false;
}

Result<std::string> make_entry(std::uint64_t seq, UnixTime time, std::string_view event_name,
                               const nlohmann::json& fields) {
  if (!is_known_event(event_name)) {
    return Error(Errc::kInvalidArgument, "unknown audit event \"" + std::string(event_name) + "\"");
  }
  nlohmann::json e = fields.is_null() ? nlohmann::json::object() : fields;
  if (!e.is_object()) return Error(Errc::kInvalidArgument, "audit entry fields must be a JSON object");
  for (const char* reserved : {"seq", "time", "event"}) {
    if (e.contains(reserved)) {
      return Error(Errc::kInvalidArgument,
                   std::string("audit entry fields must not set \"") + reserved + "\"");
    }
  }
  if (e.contains("proposal") && !is_proposal_id(e["proposal"])) {
    return Error(Errc::kInvalidArgument, "audit entry \"proposal\" must be sha256:<64 hex>");
  }
  e["seq"] = seq;
  e["time"] = format_rfc3339(time);
  e["event"] = std::string(event_name);
  CS_TRY(std::string bytes, jcs::serialize(e));
  if (bytes.size() > kMaxEntrySize) {
    return Error(Errc::kInvalidArgument, "audit entry is " + std::to_string(bytes.size()) +
                                             " bytes, over the limit of " + std::to_string(kMaxEntrySize));
  }
  return bytes;
}

Result<nlohmann::json> check_entry(std::string_view bytes, std::uint64_t expected_seq) {
  auto bad = [](const std::string& why) { return Error(Errc::kInvalidDocument, why); };
  if (bytes.size() > kMaxEntrySize) return bad("larger than " + std::to_string(kMaxEntrySize) + " bytes");
  auto parsed = jcs::parse(bytes);
  if (!parsed.ok()) return Error(Errc::kMalformed, "not JSON: " + parsed.error().message);
  const nlohmann::json& e = *parsed;
  if (!e.is_object()) return bad("not a JSON object");
  auto canon = jcs::serialize(e);
  if (!canon.ok() || *canon != bytes) return bad("not in canonical (RFC 8785) form");
  if (!e.contains("seq") || !e["seq"].is_number()) return bad("\"seq\" missing or not a number");
  double seq = e["seq"].get<double>();
  if (seq != static_cast<double>(expected_seq)) {
    return bad("\"seq\" is " + jcs::format_number(seq) + ", expected " + std::to_string(expected_seq) +
               " (entries missing, reordered or inserted)");
  }
  if (!e.contains("time") || !e["time"].is_string()) return bad("\"time\" missing or not a string");
  auto t = parse_rfc3339(e["time"].get<std::string>());
  if (!t.ok()) return bad("\"time\": " + t.error().message);
  if (!e.contains("event") || !e["event"].is_string() || e["event"].get<std::string>().empty()) {
    return bad("\"event\" missing or not a non-empty string");
  }
  if (e.contains("proposal") && !is_proposal_id(e["proposal"]))
    return bad("\"proposal\" is not sha256:<64 hex>");
  return e;
}

std::string export_line(std::uint64_t index, std::string_view entry_bytes, const Digest& leaf_hash) {
  // The entry bytes are JCS already; splicing them in keeps the line canonical, since
  // "entry" < "index" < "leaf_hash" in JCS member order.
  return "{\"entry\":" + std::string(entry_bytes) + ",\"index\":" + std::to_string(index) +
         ",\"leaf_hash\":\"" + hex_encode(leaf_hash) + "\"}";
}

Result<ExportLine> parse_export_line(std::string_view line) {
  auto parsed = jcs::parse(line);
  if (!parsed.ok()) return Error(Errc::kMalformed, "not JSON: " + parsed.error().message);
  const nlohmann::json& j = *parsed;
  if (!j.is_object() || j.size() != 3 || !j.contains("entry") || !j.contains("index") ||
      !j.contains("leaf_hash")) {
    return Error(Errc::kInvalidDocument, "expected exactly {\"entry\", \"index\", \"leaf_hash\"}");
  }
  if (!j["entry"].is_object()) return Error(Errc::kInvalidDocument, "\"entry\" is not an object");
  const auto& idx = j["index"];
  double d = idx.is_number() ? idx.get<double>() : -1;
  if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<std::uint64_t>(d))) {
    return Error(Errc::kInvalidDocument, "\"index\" is not a non-negative integer");
  }
  ExportLine out;
  if (!j["leaf_hash"].is_string() ||
      !decode_lower_hex(j["leaf_hash"].get_ref<const std::string&>(), out.leaf_hash)) {
    return Error(Errc::kInvalidDocument, "\"leaf_hash\" is not 64 lowercase hex digits");
  }
  out.index = static_cast<std::uint64_t>(d);
  CS_TRY(out.entry, jcs::serialize(j["entry"]));
  if (merkle::leaf_hash(as_bytes(out.entry)) != out.leaf_hash) {
    return Error(Errc::kHashMismatch, "\"leaf_hash\" is not the leaf hash of \"entry\"");
  }
  return out;
}

}  // namespace countersign::audit
