// The daemon's typed side of the System component (countersign-system, system/system.h): one
// method per helper subcommand. Each is a request the helper checks against its own records
// and may refuse; what comes back is only its answer. Admission, the runners and the audit
// reporter depend on this interface alone, so unit tests drive them with a fake.
//
// Errors carry the helper's error code (its {"error": code} output, daemon/privileged.h):
// kRejected when it refuses (a bundle not approved, a proposal not waiting for this step),
// kNotFound for a proposal it never accepted, kTimeout when it did not answer in time, kIo
// when it could not be run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"
#include "daemon/privileged.h"
#include "system/records.h"

namespace countersign::daemon {

// What `accept` answers for a bundle it approved.
struct HelperAcceptance {
  std::vector<std::string> counted;  // approver ids the helper counted
  std::uint64_t policy_version = 0;  // the policy version it verified against
};

// One entry of `snapshot list`.
struct HelperSnapshot {
  std::string id;
  std::string backend;  // "btrfs", "zfs"; empty when the helper did not say
  UnixTime taken = 0;   // 0 when the helper's time does not parse
  std::string scope;    // "system" for a snapshot of the system root, "" for the models directory
};

// What the helper's own records say became of a proposal whose step is over.
struct HelperOutcome {
  bool done = false;      // false: given up or failed
  nlohmann::json result;  // done: the helper's answer for the step
  std::string error;      // failed: why
};

class SystemClient {
 public:
  virtual ~SystemClient() = default;

  // `accept`, the bundle (JCS text) on stdin. The helper verifies it itself and, approved,
  // logs bundle-verified, keeps the bundle and marks the id executed. kRejected when it says
  // no; the message then contains "replayed:" when the id was executed already.
  virtual Result<HelperAcceptance> accept(std::string_view bundle_text) = 0;
  // `snapshot take ID`: the snapshot before this proposal's privileged step (asked again,
  // the same one). Returns its id, "none" when the box has no snapshot backend.
  virtual Result<std::string> snapshot_take(const Digest& proposal) = 0;
  // `model seal ID`, while the fetch goes on: the helper seals and hashes the complete staged
  // files it has not vouched for yet, so that `model install` after the last byte reads only
  // what arrived since. Returns its answer ({"sealed": N, ...}).
  virtual Result<nlohmann::json> model_seal(const Digest& proposal) = 0;
  // `model install ID`: the helper seals models/.staging/<hash> (or an existing
  // models/<hash>), re-hashes every file against the manifest it accepted and moves it into
  // place. Returns what it did (its JSON answer: path, files, bytes).
  virtual Result<nlohmann::json> model_install(const Digest& proposal) = 0;
  // `packages install ID`: the helper checks the accepted plan against the dpkg database,
  // seals and re-hashes the staged .debs, snapshots the system root and runs dpkg (restoring
  // the snapshot when dpkg or the result check fails). Returns its answer (packages, snapshot).
  virtual Result<nlohmann::json> packages_install(const Digest& proposal) = 0;
  // `model remove ID`, `snapshot restore ID`, `policy rotate ID`: the one privileged step of
  // those actions. Each returns the helper's JSON answer.
  virtual Result<nlohmann::json> model_remove(const Digest& proposal) = 0;
  virtual Result<nlohmann::json> snapshot_restore(const Digest& proposal) = 0;
  virtual Result<nlohmann::json> policy_rotate(const Digest& proposal) = 0;
  // `proposal abandon ID`, `reason` (one line) on stdin: the proposal is given up and the
  // helper logs proposal-abandoned with the reason.
  virtual Result<void> abandon(const Digest& proposal, std::string_view reason) = 0;
  // `staging remove MANIFEST`: models/.staging/<hex> and <hex>.parts go.
  virtual Result<void> staging_remove(const Digest& manifest) = 0;
  // `log append`, {"event": event, ...fields} on stdin: the helper marks the entry
  // "reported_by": "daemon", bounds and rate-limits it. Returns its seq, nullopt when the
  // rate limit suppressed it (the helper counts those itself: reports-suppressed).
  virtual Result<std::optional<std::uint64_t>> log_append(std::string_view event,
                                                          const nlohmann::json& fields) = 0;
  // `log checkpoint`: signs a checkpoint when the log grew. Returns the tree size.
  virtual Result<std::uint64_t> log_checkpoint() = 0;
  // `snapshot list`; entries without an id or a time are left out.
  virtual Result<std::vector<HelperSnapshot>> snapshot_list() = 0;
  // The helper's record of `proposal` (system/records.h, read only): nullopt while it still
  // waits for its privileged step, or when the helper never accepted it.
  virtual Result<std::optional<HelperOutcome>> finished(const Digest& proposal) = 0;
  // `veto`, {"proposal": <document>, "veto": <veto file>} (JCS) on stdin: the helper judges
  // the veto itself and keeps it when it counts. Returns its answer {"proposal", "approver",
  // "key", "counted", "vetoes", "veto", "vetoed_by", "vetoed"}; kRejected when the veto does
  // not count or comes too late (the message then contains "too late:").
  virtual Result<nlohmann::json> veto(std::string_view input) {
    (void)input;
    return Error(Errc::kUnsupported, "this System component takes no vetoes");
  }
  // `prove`, {"challenge": <document>, "proof": <liveness file>} on stdin: the helper checks
  // the proof and logs approver-proved. Returns {"approver", "key", "challenge", "issued",
  // "recorded", "seq"}; kRejected when the proof does not hold.
  virtual Result<nlohmann::json> prove(std::string_view input) {
    (void)input;
    return Error(Errc::kUnsupported, "this System component takes no liveness proofs");
  }
  // `attest`, {"nonce": HEX} or {} on stdin: the box's attestation document from its Nitro
  // Secure Module, binding the box ({"document": base64, "binding": {...}, "device"}).
  // kUnsupported when the box has none ("no attestation available: ...").
  virtual Result<nlohmann::json> attest(std::string_view input) {
    (void)input;
    return Error(Errc::kUnsupported, "no attestation available: this System component cannot attest");
  }
  // `check` (read-only): the helper's report {"ok", "checks": [...]} (system/system.h
  // system_check), also when a check failed (ok false). kUnsupported unless overridden.
  virtual Result<nlohmann::json> check() {
    return Error(Errc::kUnsupported, "this System component cannot be checked");
  }
};

// The real one: runs the helper (config.helper: through sudo in production) for each call.
// `log append`, `log checkpoint` and `snapshot list` wait at most 60 s, the others 600 s.
class HelperSystemClient final : public SystemClient {
 public:
  HelperSystemClient(std::vector<std::string> command, SystemPaths records)
      : helper_(std::move(command)), records_(std::move(records)) {}

  Result<HelperAcceptance> accept(std::string_view bundle_text) override;
  Result<std::string> snapshot_take(const Digest& proposal) override;
  Result<nlohmann::json> model_seal(const Digest& proposal) override;
  Result<nlohmann::json> model_install(const Digest& proposal) override;
  Result<nlohmann::json> model_remove(const Digest& proposal) override;
  Result<nlohmann::json> packages_install(const Digest& proposal) override;
  Result<nlohmann::json> snapshot_restore(const Digest& proposal) override;
  Result<nlohmann::json> policy_rotate(const Digest& proposal) override;
  Result<void> abandon(const Digest& proposal, std::string_view reason) override;
  Result<void> staging_remove(const Digest& manifest) override;
  Result<std::optional<std::uint64_t>> log_append(std::string_view event,
                                                  const nlohmann::json& fields) override;
  Result<std::uint64_t> log_checkpoint() override;
  Result<std::vector<HelperSnapshot>> snapshot_list() override;
  Result<std::optional<HelperOutcome>> finished(const Digest& proposal) override;
  Result<nlohmann::json> check() override;
  Result<nlohmann::json> veto(std::string_view input) override;
  Result<nlohmann::json> prove(std::string_view input) override;
  Result<nlohmann::json> attest(std::string_view input) override;

 private:
  Privileged helper_;
  SystemPaths records_;
};

}  // namespace countersign::daemon
