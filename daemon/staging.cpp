#include "daemon/staging.h"

#include <filesystem>

#include "core/audit_entry.h"
#include "core/bytes.h"

namespace countersign::daemon {

namespace fs = std::filesystem;

std::uint64_t staged_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) n += it->file_size(ec);
  }
  return n;
}

void clean_staging(const Config& config, const std::set<Digest>& keep, SystemClient& system,
                   AuditReporter& audit) {
  std::set<Digest> done = keep;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(config.staging_dir(), ec)) {
    const std::string name = e.path().filename().string();
    Digest manifest{};
    if (!decode_lower_hex(name.substr(0, 64), manifest) || done.count(manifest)) continue;
    auto removed = system.staging_remove(manifest);
    nlohmann::json fields = {{"manifest", digest_to_string(manifest)}};
    if (!removed.ok()) fields["error"] = removed.error().message;
    audit.report(audit::event::kStagingCleaned, fields);
    done.insert(manifest);  // once per manifest (its directory and its parts)
  }
}

}  // namespace countersign::daemon
