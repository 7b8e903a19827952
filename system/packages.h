// The pure part of `countersign-system packages install` (system/system.h; docs/daemon.md
// "Debian packages"): what the helper checks of a packages manifest against the box's dpkg
// database before and after dpkg runs, and the command lines it runs. No I/O here: the
// helper reads the database with dpkg-query (core/box_packages.h) and runs these argv
// vectors through its CommandRunner, never a shell.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/box_packages.h"
#include "core/manifest.h"
#include "core/result.h"

namespace countersign::daemon {

// Before anything changes: every entry's `replaces` is what is installed now (absent: the
// package must not be installed), and no removal is of an Essential package. The first
// problem, naming the package ("cs-hello:amd64: the plan replaces 1.0-1, the box has 1.2-1
// installed (the box changed since planning)"); nullopt when the plan applies.
std::optional<std::string> plan_problem(const Manifest& manifest, const BoxPackages& now);

// After dpkg: every install is installed ("install ok installed") at its approved version
// and architecture, every removal is gone; with `before`, every package the plan does not
// name is exactly as it was (version and status). The first difference, naming the package;
// nullopt when the result equals the plan.
std::optional<std::string> result_problem(const Manifest& manifest, const BoxPackages& after,
                                          const BoxPackages* before);

// The packages-installed list: [{"name", "architecture", "old", "new"}], old the `replaces`
// (null: not installed before), new the approved version (null: removed).
nlohmann::json package_changes_json(const Manifest& manifest);

// dpkg-deb --field FILE Package Version Architecture
std::vector<std::string> dpkg_deb_fields_command(const std::string& deb);
// Checks the output of dpkg_deb_fields_command against the entry that names the file;
// the first difference ("pool/…/x.deb is Package cs-evil, the manifest says cs-hello").
std::optional<std::string> deb_fields_problem(std::string_view output, const PackageChange& change);

// dpkg --root=ROOT --log=ROOT/var/log/dpkg.log --force-confdef --force-confold --install DEB...
// (conffiles an administrator changed are kept without asking: stdin is /dev/null). dpkg 1.21
// does not move its log under --root: without --log it would append to this machine's own
// /var/log/dpkg.log, outside the root being changed.
std::vector<std::string> dpkg_install_command(const std::string& root, const std::vector<std::string>& debs);
// dpkg --root=ROOT --log=ROOT/var/log/dpkg.log --remove NAME...
std::vector<std::string> dpkg_remove_command(const std::string& root, const std::vector<std::string>& names);

}  // namespace countersign::daemon
