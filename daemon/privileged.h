// The daemon's side of the privileged helper (countersign-system, daemon/system_main.cpp):
// the only code that runs as root. The daemon runs it (through sudo in production, directly
// in tests) with one of a fixed set of subcommands; the helper takes the state directory and
// snapshot backend from its own, root-owned configuration (the same file as the daemon's), never
// from its arguments, so the daemon's user cannot point it anywhere else.
//
// Subcommands (every argument validated by the helper; output is one JSON document on stdout,
// errors are one line on stderr and exit status 1, bad usage exit 2 — a wrong argument count
// or an argument of the wrong form, e.g. HEX that is not exactly 64 lowercase hex digits):
//   snapshot take                 -> {"id": "...", "backend": "btrfs", "taken": "<RFC 3339>"}
//        with snapshot = none: {"id": null, "backend": "none", "taken": null} (installs go on)
//   snapshot list                 -> [{"id": "...", "backend": "...", "taken": "..."}, ...] oldest first
//        ([] with none). Ids are cs-YYYYMMDDTHHMMSSZ-xxxxxxxx (daemon/snapshot.h).
//   snapshot restore ID           -> {"id": "...", "restored": true}
//        (exit 1 with none, or when there is no such snapshot)
//   model install HEX             -> {"hash": "sha256:HEX", "path": "<models>/HEX"}
//        moves <models>/.staging/HEX (exactly the files of <models>/.staging/HEX.manifest.json,
//        whose JCS hash must be HEX, with their sizes; regular files and directories only)
//        to <models>/HEX in one rename, files 0444 and directories 0555, owned by root.
//        Exit 1 "already installed" when <models>/HEX exists. A refused tree is put back at
//        <models>/.staging/HEX, partly root-owned and read-only by then.
//   model remove HEX              -> {"hash": "sha256:HEX", "removed": true}
//        (exit 1 "not installed" when absent)
//   staging remove HEX            -> {"hash": "sha256:HEX", "removed": true}
//        removes <models>/.staging/HEX and HEX.manifest.json (also when root-owned after a
//        failed install) and an interrupted install's <models>/.install-HEX; missing ones are
//        fine (idempotent).
// A warning line on stderr with exit status 0 (a restore that left its old tree behind) does
// not change the outcome.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace countersign::daemon {

class Privileged {
 public:
  // `command`: the helper's argv prefix, e.g. {"sudo", "-n", "/usr/libexec/countersign/countersign-system"}.
  explicit Privileged(std::vector<std::string> command) : command_(std::move(command)) {}

  // Runs command + args (no shell), waits (bounded by `timeout_seconds`), parses stdout as JSON.
  // A non-zero exit is an error carrying the helper's stderr line.
  Result<nlohmann::json> run(const std::vector<std::string>& args, int timeout_seconds = 600) const;

  const std::vector<std::string>& command() const { return command_; }

 private:
  std::vector<std::string> command_;
};

}  // namespace countersign::daemon
