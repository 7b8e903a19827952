// countersign-system, the privileged helper (daemon/system_main.cpp): the only program that
// runs as root on a box. The subcommands, their arguments and their JSON output are the
// contract in daemon/privileged.h; this is the code behind them, as a library so the pure
// parts are unit-tested in process and the whole helper as a subprocess.
//
// Trust: the arguments come from the daemon's user and are validated here to the character;
// every path comes from the root-owned configuration (never from argv) and is walked with
// openat/O_NOFOLLOW (daemon/fs_at.h); the models and staging directories must resolve to
// exactly <state_dir>/models and <state_dir>/models/.staging. Running as root, the state,
// models and snapshots directories must be owned by root and writable only by root (the
// daemon keeps its own files in subdirectories it owns; packaging/tmpfiles/countersign.conf).
// One helper runs at a time (an flock on the state directory, waited for up to 120 s).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/command.h"
#include "daemon/config.h"

namespace countersign::daemon {

inline constexpr const char* kSystemConfigPath = "/etc/countersign/countersignd.conf";
inline constexpr const char* kSystemConfigEnv = "COUNTERSIGN_SYSTEM_CONFIG";

enum class SystemAction {
  kHelp,
  kSnapshotTake,
  kSnapshotList,
  kSnapshotRestore,  // argument: snapshot id
  kModelInstall,     // argument: manifest hash, 64 lowercase hex
  kModelRemove,      // argument: manifest hash
  kStagingRemove,    // argument: manifest hash
};

struct SystemInvocation {
  SystemAction action = SystemAction::kHelp;
  std::string argument;  // validated; empty for actions without one
};

// Exactly 64 lowercase hex digits (a manifest hash without "sha256:").
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

// load_config + validate; running as root, the file must be owned by root and writable only
// by root (whoever can write it decides where root writes).
Result<Config> load_system_config(const std::string& path);

// What the helper's environment provides (injected for tests).
struct SystemEnv {
  Clock clock;
  std::function<std::uint32_t()> random;
  CommandRunner run;
  std::function<Result<std::string>()> read_mountinfo;
  // The real clock, getrandom, run_command (600 s bound) and /proc/self/mountinfo.
  static SystemEnv real();
};

struct SystemOutcome {
  nlohmann::json output;              // the JSON document for stdout (privileged.h)
  std::vector<std::string> warnings;  // one stderr line each; the command still succeeded
};

// Runs one validated invocation against `config`.
Result<SystemOutcome> run_system(const SystemInvocation& invocation, const Config& config,
                                 const SystemEnv& env);

// The subcommands, one function each (run_system dispatches to them).
//
// model install HEX: see the comment at install_model in system.cpp for the exact steps.
// Errors: kNotFound (no staging directory / manifest), kHashMismatch (the manifest's hash is
// not HEX), kRejected ("already installed"), kIo with the offending relative path
// ("unexpected file", "missing file", "… is a symbolic link", "… bytes; the manifest says …",
// "… hard links"). A refused tree is put back at <staging>/HEX (partly root-owned and
// read-only by then; `staging remove HEX` removes it).
Result<nlohmann::json> install_model(const Config& config, const std::string& hex);
// model remove HEX: kNotFound "… is not installed".
Result<nlohmann::json> remove_model(const Config& config, const std::string& hex);
// staging remove HEX: <staging>/HEX, <staging>/HEX.manifest.json and an interrupted
// install's <models>/.install-HEX; missing ones are fine.
Result<nlohmann::json> remove_staging(const Config& config, const std::string& hex);

}  // namespace countersign::daemon
