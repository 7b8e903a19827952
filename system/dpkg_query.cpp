#include "system/dpkg_query.h"

#include <utility>
#include <vector>

#include "core/untrusted_text.h"

namespace countersign::daemon {

Result<BoxPackages> query_box_packages(const CommandRunner& run, const std::string& admindir, std::string box,
                                       UnixTime time) {
  std::vector<std::string> argv = {"dpkg-query"};
  for (auto& a : dpkg_query_args(admindir)) argv.push_back(std::move(a));
  CS_TRY(CommandOutput out, run(argv, {}));
  // dpkg-query --show exits 1 when the database lists no package at all; its output is
  // then empty, which is the truth.
  if (out.status != 0 && !(out.status == 1 && out.out.empty() && out.err.empty())) {
    return Error(Errc::kIo,
                 describe_command({"dpkg-query", "--admindir=" + admindir, "--show"}) +
                     " failed: " + escape_untrusted(first_line(out.err.empty() ? out.out : out.err), 80));
  }
  auto parsed = BoxPackages::from_dpkg_query(out.out, std::move(box), time);
  if (!parsed.ok()) return parsed.error().with_context("the dpkg database " + admindir);
  return parsed;
}

}  // namespace countersign::daemon
