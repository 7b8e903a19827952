// What the System component (countersign-system) keeps in <state_dir>/system/, root-owned
// and readable by everyone (nothing in it is secret: the daemon serves the same facts
// through its API), and the read-only view of it that countersignd uses for its advisory
// checks and listings. Only the helper writes here (system/state.h); the daemon's user
// cannot, so nothing the daemon does changes what the box considers approved or executed.
//
//   executed               proposal ids the box accepted, one "sha256:<hex>\n" a line,
//                          appended and fsynced before the acceptance is reported. DESIGN's
//                          "a box executes a given proposal id at most once" is judged here.
//   proposals/<hex>.json   one record per accepted proposal (ProposalRecord): the bundle as
//                          the helper verified it, when, and what became of it.
//   proposals/<hex>.sealed the files of an accepted install already sealed and hashed
//                          (`model seal`, while the daemon fetches the rest), by identity.
//   policy/                the policy chain (core/policy_chain.h): rotation-<N>.json, head.json.
//   installed/<hex>.json   manifest and proposal of each model the helper installed.
//   vetoes/<hex>.json      the vetoes the helper counted for a proposal (VetoRecord), replaced
//                          atomically and fsynced before veto-received is reported; once the
//                          rule's count is reached it says so, and the proposal is dead: never
//                          accepted, and no privileged step runs for it.
//   report-budget.json     the rate limit of daemon reports (system/log_writer.h).
//   .lock                  flock: one helper acting at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bundle.h"
#include "core/policy_chain.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/signature_file.h"
#include "core/timeutil.h"
#include "daemon/config.h"

namespace countersign::daemon {

struct SystemPaths {
  std::string dir;  // <state_dir>/system
  explicit SystemPaths(const Config& c) : dir(c.state_dir + "/system") {}
  std::string executed() const { return dir + "/executed"; }
  std::string proposals() const { return dir + "/proposals"; }
  std::string proposal(const Digest& id) const;
  std::string sealed(const Digest& id) const;  // files sealed ahead of an install
  std::string policy_chain() const { return dir + "/policy"; }
  std::string installed() const { return dir + "/installed"; }
  std::string installed_record(const std::string& manifest_hex) const {
    return installed() + "/" + manifest_hex + ".json";
  }
  std::string vetoes() const { return dir + "/vetoes"; }
  std::string veto_record(const Digest& id) const;
  std::string report_budget() const { return dir + "/report-budget.json"; }
  std::string lock() const { return dir + "/.lock"; }
};

// What became of an accepted proposal. kAccepted: verified and recorded, its privileged step
// not done yet (the daemon is fetching, or the job waits in its queue); the helper acts on
// a proposal only in this state. kDone and kFailed are final.
enum class ProposalState { kAccepted, kDone, kFailed };
std::string_view proposal_state_name(ProposalState s);

struct ProposalRecord {
  Digest id{};
  nlohmann::json bundle;  // the bundle as verified at acceptance (JCS-parsed)
  UnixTime accepted = 0;  // when the helper verified it: expiry is judged as of this time
  ProposalState state = ProposalState::kAccepted;
  std::optional<std::string> snapshot;  // taken before the privileged step ("none": no backend)
  std::optional<UnixTime> finished;
  std::optional<std::string> error;  // kFailed: why
  nlohmann::json result;             // kDone: what was done (path, files, bytes, ...)

  nlohmann::json to_json() const;
  static Result<ProposalRecord> from_json(const nlohmann::json& j);
};

// The vetoes the helper counted for one proposal (vetoes/<hex>.json).
struct VetoRecord {
  Digest id{};
  std::vector<SignatureFile> vetoes;   // each counted when it came in, in that order
  std::vector<std::string> vetoed_by;  // approver ids, in the same order
  std::optional<UnixTime> dead;        // when the rule's veto count was reached

  nlohmann::json to_json() const;
  static Result<VetoRecord> from_json(const nlohmann::json& j);
};
// Reads vetoes/<hex>.json; nullopt when no veto came in for `id`.
Result<std::optional<VetoRecord>> read_veto_record(const SystemPaths& paths, const Digest& id);

// Reads the executed set. A torn last line (a crash during an append) is left out here and
// cut off by the helper's next start (SystemState::open). Missing file: empty set.
Result<std::set<Digest>> read_executed_set(const std::string& path);

// Reads proposals/<hex>.json; nullopt when there is none.
Result<std::optional<ProposalRecord>> read_proposal_record(const SystemPaths& paths, const Digest& id);
// Every record, oldest acceptance first.
Result<std::vector<ProposalRecord>> read_proposal_records(const SystemPaths& paths);

// Reads installed/<hex>.json; nullopt when there is none.
Result<std::optional<nlohmann::json>> read_installed_record(const SystemPaths& paths, const std::string& hex);

// Why this box cannot act on `bundle` whatever its signatures say (an action this version
// does not implement, another box's snapshot, another backend's): both programs check it,
// the daemon to answer early, the helper to decide. nullopt when nothing stands in the way.
std::optional<std::string> box_refusal(const Bundle& bundle, const Config& config);

// The configured root policy (Config::policy) and the chain in policy/, replayed.
Result<PolicyChain> read_policy_chain(const Config& config,
                                      const std::function<bool(const PolicyKey&)>& attested);

}  // namespace countersign::daemon
