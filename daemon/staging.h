// The daemon's side of models/.staging (Config::staging_dir(); the layout is in
// daemon/fetch.h): <hex>/ holds an install's verified files, <hex>.parts/ its partial ones.
// Only the helper removes anything there (`staging remove`), so a staging directory the
// daemon's user could tamper with is never deleted by following it.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "core/sha256.h"
#include "daemon/audit_reporter.h"
#include "daemon/config.h"
#include "daemon/system_client.h"

namespace countersign::daemon {

// Bytes in the regular files under `dir` (not following symlinks); 0 when it is missing.
std::uint64_t staged_bytes(const std::string& dir);

// At start: has the helper remove every staging entry (<hex>, <hex>.parts, a legacy
// <hex>.manifest.json) whose manifest is not in `keep` (the unfinished installs), once per
// manifest, and reports each (staging-cleaned, with the helper's error when it refused).
void clean_staging(const Config& config, const std::set<Digest>& keep, SystemClient& system,
                   AuditReporter& audit);

}  // namespace countersign::daemon
