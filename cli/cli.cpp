#include "cli/cli.h"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/fileio.h"

namespace countersign::cli {

int exit_code_for(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument:
    case Errc::kMalformed:
    case Errc::kInvalidDocument:
    case Errc::kUnknownSchema:
    case Errc::kIo:
    case Errc::kNotFound:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

void draw_progress_bar(Io& io, std::string_view label, std::uint64_t done, std::uint64_t total,
                       std::string_view extra, bool final_line) {
  double frac = total == 0 ? 1.0 : static_cast<double>(std::min(done, total)) / static_cast<double>(total);
  constexpr int kWidth = 30;
  int filled = static_cast<int>(frac * kWidth);
  std::ostringstream o;
  o << "\r" << label << " [" << std::string(static_cast<std::size_t>(filled), '#')
    << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << std::setw(3)
    << static_cast<int>(frac * 100) << "%  " << extra << "   ";
  io.err << o.str();
  if (final_line) io.err << "\n";
  io.err.flush();
}

int report_error(Io& io, const Error& e, bool json) {
  io.err << "countersign: error: " << e.message << "\n";
  if (json) {
    nlohmann::json j{{"error", {{"code", errc_name(e.code)}, {"message", e.message}}}};
    if (e.retries >= 0) j["error"]["retries"] = e.retries;
    io.out << j.dump() << "\n";
  }
  return exit_code_for(e);
}

void print_json(Io& io, const nlohmann::json& value) { io.out << to_pretty_json(value); }

Result<void> write_output(Io& io, const std::string& path, const std::string& text, bool exclusive) {
  if (path.empty() || path == "-") {
    io.out << text;
    io.out.flush();
    return {};
  }
  return exclusive ? write_file_atomic(path, text, 0644, true) : write_output_file(path, text);
}

namespace {
constexpr const char* kFooter = R"(Exit codes:
  0  success (for checks: approved, valid)
  1  rejected or failed check (not approved, invalid signature, wrong passphrase)
  2  usage error or malformed input (bad option, unreadable file, invalid document)
  3  could not reach the box (submit, box ...: no socket, refused, timeout, TLS, no answer)

A typical approval:
  countersign manifest create --name NAME --version V --license SPDX DIR > manifest.json
  countersign proposal create --domain D --action install-model --manifest manifest.json \
      --expires 7d > proposal.json
  countersign sign --key alice.key proposal.json -o alice.sig     (each approver)
  countersign bundle assemble --proposal proposal.json --manifest manifest.json \
      alice.sig bob.sig carol.sig -o bundle.json
  countersign bundle verify --policy policy.json bundle.json

Debian packages (docs/packages.md): plan with apt against the box's package list, then review:
  countersign packages plan --box-status box-packages.json --repo URL --keyring KEYRING \
      --upgrade -o manifest.json --review review.json
  countersign manifest show --review review.json manifest.json
  ... then proposal create --action install-packages, sign, bundle assemble as above.

Documents and formats: see docs/ and DESIGN.md.)";
}  // namespace

int run(int argc, const char* const* argv, Io& io) {
  CLI::App app{"countersign: review, sign and verify M-of-N approvals for sealed AI servers", "countersign"};
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("countersign ") + COUNTERSIGN_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  int rc = kExitOk;
  Registry reg{app, io, rc};
  add_canon_commands(reg);
  add_manifest_commands(reg);
  add_key_commands(reg);
  add_shamir_commands(reg);
  add_proposal_commands(reg);
  add_sign_commands(reg);
  add_bundle_commands(reg);
  add_policy_commands(reg);
  add_log_commands(reg);
  add_box_commands(reg);
  add_packages_commands(reg);
  add_attest_commands(reg);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, io.out, io.err);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e, io.out, io.err);
    return kExitUsage;
  }
  return rc;
}

}  // namespace countersign::cli
