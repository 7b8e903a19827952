// The daemon's side of the System component (countersign-system, system/system.h): the only
// code that runs as root, and the box's trust anchor. The daemon runs it (through sudo in
// production, directly in tests) with one of a fixed set of subcommands; the helper takes
// every path from its own root-owned configuration, verifies every approval itself and
// writes the audit log, so what the daemon passes is only ever a request.
//
// Output is one JSON document on stdout. A refusal or failure is exit status 1 with one line
// on stderr and {"error": code, "reason": line} on stdout, returned here as an Error of that
// code; bad usage is exit status 2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace countersign::daemon {

class Privileged {
 public:
  // `command`: the helper's argv prefix, e.g. {"sudo", "-n", "/usr/libexec/countersign/countersign-system"}.
  explicit Privileged(std::vector<std::string> command) : command_(std::move(command)) {}

  // Runs command + args (no shell) with `input` on its stdin, waits (bounded by
  // `timeout_seconds`), parses stdout as JSON. A non-zero exit is an error carrying the
  // helper's error code and stderr line.
  Result<nlohmann::json> run(const std::vector<std::string>& args, std::string_view input = {},
                             int timeout_seconds = 600) const;

  const std::vector<std::string>& command() const { return command_; }

 private:
  std::vector<std::string> command_;
};

}  // namespace countersign::daemon
