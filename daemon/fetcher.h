// What the install runner fetches through (daemon/runners.h): an interface, so unit tests can
// stand in for the network. The real implementation is fetch_manifest (daemon/fetch.h) with
// the box's mirrors and its fetch settings.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/manifest.h"
#include "core/result.h"
#include "daemon/config.h"
#include "daemon/fetch.h"

namespace countersign::daemon {

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Fetches every file of `manifest` into `staging_dir`, with fetch_manifest's contract: the
  // staging layout, the observer's events and progress, resuming what an earlier run left,
  // and its errors (kInternal "cancelled" when observer.cancelled() said so).
  virtual Result<void> fetch(const Manifest& manifest, const std::string& staging_dir,
                             const FetchObserver& observer) = 0;
};

// fetch_manifest from the box's mirrors (tried first), then the manifest's own sources.
class SourceFetcher final : public Fetcher {
 public:
  SourceFetcher(std::vector<Source> mirrors, FetchSettings settings)
      : mirrors_(std::move(mirrors)), settings_(std::move(settings)) {}
  // The mirrors, parallel, timeouts and the credentials files of `config` (credentials.h).
  // Errors: a credentials file cannot be read or has the wrong form.
  static Result<std::unique_ptr<SourceFetcher>> from_config(const Config& config);

  Result<void> fetch(const Manifest& manifest, const std::string& staging_dir,
                     const FetchObserver& observer) override;

 private:
  std::vector<Source> mirrors_;
  FetchSettings settings_;
};

}  // namespace countersign::daemon
