// countersign-system, the System component (system/main.cpp): the only program that runs as
// root on a box, and the box's trust anchor. The daemon runs it through sudo with one of a
// fixed set of subcommands (packaging/sudoers/countersign pins each form), and it trusts
// nothing the daemon says (DESIGN.md "Box-side daemon"; docs/daemon.md "The trust split"):
//
// - `accept` takes a bundle on stdin and verifies it itself: against the policy chain it
//   keeps (system/records.h; replayed from the configured root policy at every start, a
//   broken chain refuses), the box id, its own clock and its own executed set. Approved, it
//   logs `bundle-verified`, keeps the bundle in its own records and marks the id executed.
// - Every privileged subcommand names an accepted proposal (64 hex) and works from the
//   helper's own copy of that bundle, re-verified against the policy in force now (a key a
//   rotation revoked no longer counts) with expiry judged as of the acceptance. It acts only
//   on a proposal whose privileged step has not been done, logs what it checked and did, and
//   records the outcome; no privileged step happens twice.
// - `veto` (stdin: {"proposal", "veto"}) verifies one veto itself against the policy in force
//   (the rule's `veto`, who may count, attestation), keeps the counted ones (system/records.h
//   vetoes/), logs veto-received and, at the rule's count, proposal-vetoed: from then on the
//   proposal is never accepted and no privileged step runs for it. After its privileged step
//   a veto is refused as too late.
// - `prove` (stdin: {"challenge", "proof"}) verifies a liveness proof against the policy, the
//   box id, its clock and challenge_lifetime (core/liveness.h) and logs approver-proved.
// - It writes and signs the audit log; the daemon reports its own events through
//   `log append`, which checks the event name, bounds the size, marks the entry
//   "reported_by": "daemon" and rate-limits (system/log_writer.h).
//
// Paths come from the root-owned configuration, never from argv; every tree is walked with
// openat/O_NOFOLLOW (system/fs_at.h). Output: one JSON document on stdout. Errors: one line
// on stderr, exit status 1, and {"error": code, "reason": line} on stdout. Bad usage: exit 2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/config.h"
#include "system/command.h"

namespace countersign::daemon {

inline constexpr const char* kSystemConfigPath = "/etc/countersign/countersignd.conf";
inline constexpr const char* kSystemConfigEnv = "COUNTERSIGN_SYSTEM_CONFIG";
// Fault injection for the crash tests: COUNTERSIGN_SYSTEM_CRASH_AT=<step> makes the helper
// _exit(137) at that step (kCrashSteps; docs/daemon.md "Crash windows"). Honoured only under
// the same condition as COUNTERSIGN_SYSTEM_CONFIG (system_crash_step).
inline constexpr const char* kSystemCrashEnv = "COUNTERSIGN_SYSTEM_CRASH_AT";
inline constexpr const char* kCrashSteps[] = {
    "accept-logged",    // bundle-verified appended; no record, not executed
    "accept-recorded",  // the proposal record saved; not executed yet
    "accept-executed",  // marked executed; no checkpoint, no reply
    "install-snapshot", "install-moved", "install-logged",    // after the snapshot, the move
                                                              // into models/, install-complete
    "remove-snapshot", "remove-trashed", "remove-logged",     // after the snapshot, the rename
                                                              // to .trash-HEX, model-removed
    "packages-snapshot", "packages-dpkg", "packages-logged",  // after the system root's
                                                              // snapshot, dpkg, packages-installed
};

enum class SystemAction {
  kHelp,
  kAccept,  // stdin: a bundle
  kSnapshotList,
  kSnapshotTake,     // argument: proposal id (64 hex)
  kSnapshotRestore,  // argument: proposal id of a restore-snapshot
  kModelSeal,        // argument: proposal id of an install-model (files hashed ahead)
  kModelInstall,     // argument: proposal id of an install-model
  kModelRemove,      // argument: proposal id of a remove-model
  kPackagesInstall,  // argument: proposal id of an install-packages
  kPolicyRotate,     // argument: proposal id of a rotate-policy
  kProposalAbandon,  // argument: proposal id; stdin: the reason, one line
  kStagingRemove,    // argument: manifest hash (64 hex)
  kLogAppend,        // stdin: {"event": NAME, ...fields}
  kLogCheckpoint,
  kCheck,   // read-only: what the helper needs, as a JSON report
  kVeto,    // stdin: {"proposal": <proposal document>, "veto": <veto file>}
  kProve,   // stdin: {"challenge": <challenge document>, "proof": <liveness file>}
  kAttest,  // stdin: {"nonce": HEX} or {}: the box's attestation from its Nitro Secure Module
};

// True for the subcommands that read stdin.
bool takes_input(SystemAction action);
// Largest stdin the helper reads for `action`.
std::uint64_t max_input(SystemAction action);

struct SystemInvocation {
  SystemAction action = SystemAction::kHelp;
  std::string argument;  // validated 64 hex; empty for actions without one
  std::string input;     // stdin, for the actions that take it
};

// Exactly 64 lowercase hex digits (a manifest hash or proposal id without "sha256:").
bool is_manifest_hex(std::string_view text);

// Parses the helper's arguments (argv without argv[0]). Any error is a usage error (exit 2):
// unknown subcommand, wrong number of arguments, an argument of the wrong form. Messages
// show at most a bounded, control-character-free part of what was given.
Result<SystemInvocation> parse_system_args(const std::vector<std::string>& args);

// The --help text.
std::string system_usage();

// Which configuration file the helper reads: `COUNTERSIGN_SYSTEM_CONFIG` when set, the
// process was not started through sudo (no SUDO_USER, no SUDO_UID) and is not set-id
// (`elevated` false); kSystemConfigPath otherwise. `getenv` is injected for tests.
std::string system_config_path(const std::function<const char*(const char*)>& getenv, bool elevated);

// The step named by COUNTERSIGN_SYSTEM_CRASH_AT, under the condition system_config_path
// uses (not through sudo, not set-id); "" otherwise.
std::string system_crash_step(const std::function<const char*(const char*)>& getenv, bool elevated);

// load_config + validate; running as root, the file must be owned by root and writable only
// by root (whoever can write it decides where root writes).
Result<Config> load_system_config(const std::string& path);

// What the helper's environment provides (injected for tests).
struct SystemEnv {
  Clock clock;
  std::function<std::uint32_t()> random;
  CommandRunner run;
  std::function<Result<std::string>()> read_mountinfo;
  unsigned hash_threads = 0;  // re-hash workers; 0: one per core
  std::string crash_at;       // a kCrashSteps name: _exit(137) there (tests only)
  // The real clock, getrandom, run_command (600 s bound) and /proc/self/mountinfo.
  static SystemEnv real();
};

struct SystemOutcome {
  nlohmann::json output;              // the JSON document for stdout
  std::vector<std::string> warnings;  // one stderr line each; the command still succeeded
  bool failed = false;                // `check`: output is the report, and a check failed (exit 1)
};

// `check`: changes nothing. Checks the log key (readable, owner-only, parses), the policy
// chain (replays), the state dirs (state_dir, models/, models/.staging, log/, system/: exist;
// running as root, all but .staging root's and writable only by root) and the snapshot
// backend (btrfs subvolume / zfs dataset mounted at models/), the system root (system_root:
// root's, with a dpkg database at system_admindir) and its snapshot backend (system_snapshot:
// btrfs subvolume). Returns
// {"ok": bool, "checks": [{"check", "path", "ok", "detail"?}...]}; not ok, it also carries
// "error": "rejected" and "reason" (the first failure), as a refusal does.
nlohmann::json system_check(const Config& config, const SystemEnv& env);

// Runs one validated invocation against `config`.
Result<SystemOutcome> run_system(const SystemInvocation& invocation, const Config& config,
                                 const SystemEnv& env);

}  // namespace countersign::daemon
