// The countersign command line: shared plumbing for the command files (cmd_*.cpp).
//
// Exit codes (documented in `countersign --help` and README):
//   0  success; for checks: approved / valid
//   1  rejected or failed check (bundle not approved, signature invalid, wrong passphrase)
//   2  usage error or malformed input (bad option, unreadable file, invalid document)
//   3  the box could not be reached (commands that talk to countersignd; cli/box_client.h)
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"

namespace countersign::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Everything a command touches outside itself, injected so commands run in tests.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  Clock now = system_now;
  bool err_is_tty = false;  // draw progress bars on stderr
  std::function<const char*(const char*)> getenv;
};

// Environment variable holding a key passphrase for unattended (CI) signing.
inline constexpr const char* kPassphraseEnv = "COUNTERSIGN_PASSPHRASE";

int exit_code_for(const Error& e);

// Prints an error ("countersign: error: ...") on stderr and, with --json, {"error": ...}
// on stdout. Returns the exit code for it.
int report_error(Io& io, const Error& e, bool json);

// Redraws a one-line progress bar on stderr: "LABEL [#####     ]  42%  EXTRA". Callers draw
// only when io.err_is_tty; `final_line` ends the line.
void draw_progress_bar(Io& io, std::string_view label, std::uint64_t done, std::uint64_t total,
                       std::string_view extra, bool final_line);

// Prints `value` as pretty JSON on stdout.
void print_json(Io& io, const nlohmann::json& value);

// Writes `text` to `path`, or to stdout when path is empty or "-".
Result<void> write_output(Io& io, const std::string& path, const std::string& text, bool exclusive = false);

// What `log prove` and `box log prove` write from a proof document (core/audit_proof.h): the
// JSON document; with `cosigned` files (checkpoints carrying witness cosignatures, from `log
// witness -o`) their cosignatures added to the inclusion proof's checkpoint; with `tlog_proof`
// the C2SP tlog-proof form (core/tlog_proof.h). Errors name the file that does not fit.
Result<std::string> proof_output(const nlohmann::json& doc, const std::vector<std::string>& cosigned,
                                 bool tlog_proof);

// Each command group registers its subcommands; a callback stores its exit code in `rc`.
struct Registry {
  CLI::App& app;
  Io& io;
  int& rc;
};
void add_canon_commands(Registry& r);
void add_manifest_commands(Registry& r);
void add_key_commands(Registry& r);
void add_shamir_commands(Registry& r);  // shamir split/combine/check, key backup/restore
void add_proposal_commands(Registry& r);
void add_sign_commands(Registry& r);
void add_bundle_commands(Registry& r);
void add_policy_commands(Registry& r);
void add_log_commands(Registry& r);
// log witness [serve] (cli/cmd_witness.cpp), under the `log` command.
void add_witness_commands(CLI::App* log, Registry& r);
void add_box_commands(Registry& r);
void add_packages_commands(Registry& r);  // packages plan (cli/cmd_packages.cpp)
void add_attest_commands(Registry& r);    // attest verify (cli/cmd_attest.cpp)

// Runs the command line in-process; returns the exit code.
int run(int argc, const char* const* argv, Io& io);

}  // namespace countersign::cli
