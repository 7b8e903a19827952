#include "daemon/fetcher.h"

#include "daemon/credentials.h"

namespace countersign::daemon {

Result<std::unique_ptr<SourceFetcher>> SourceFetcher::from_config(const Config& config) {
  FetchSettings settings;
  settings.parallel = config.parallel;
  settings.range_threshold = config.range_threshold;
  settings.connections_per_file = config.connections_per_file;
  settings.connect_timeout_seconds = config.connect_timeout_seconds;
  settings.stall_timeout_seconds = config.stall_timeout_seconds;
  CS_TRY_VOID(load_fetch_credentials(config, settings));
  return std::make_unique<SourceFetcher>(config.mirrors, std::move(settings));
}

Result<void> SourceFetcher::fetch(const Manifest& manifest, const std::string& staging_dir,
                                  const FetchObserver& observer) {
  return fetch_manifest(manifest, mirrors_, staging_dir, settings_, observer);
}

}  // namespace countersign::daemon
