// Differences between two manifests: what a reviewer must see before approving an upgrade.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/human_size.h"  // to_text() writes sizes with it; its users include this
#include "core/manifest.h"

namespace countersign {

struct ManifestDiff {
  std::vector<ManifestFile> added;
  std::vector<ManifestFile> removed;
  struct Changed {
    ManifestFile before;
    ManifestFile after;
    bool size_changed() const { return before.size != after.size; }
    bool hash_changed() const { return before.sha256 != after.sha256; }
  };
  std::vector<Changed> changed;
  std::size_t unchanged = 0;
  std::vector<Source> sources_added;
  std::vector<Source> sources_removed;
  bool sources_reordered = false;
  std::optional<std::pair<License, License>> license_changed;
  std::optional<std::pair<std::string, std::string>> name_changed;
  std::optional<std::pair<std::string, std::string>> version_changed;
  // Packages manifests: the entries of `packages` (by name and architecture) that are only in
  // one of the two, or differ (version, removal, replaces), in name order.
  struct PackageDiff {
    std::optional<PackageChange> before;
    std::optional<PackageChange> after;
  };
  std::vector<PackageDiff> packages;

  bool empty() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
  // For packages manifests: the package entries that differ and the source changes, escaped:
  //   1 package entry differs
  //   ~ cs-hello:amd64  upgrade 1.0-1 -> 1.1-1  =>  upgrade 1.0-1 -> 1.2-1
  std::string packages_text() const;
};

// O(n) merge over the two sorted file lists.
ManifestDiff diff_manifests(const Manifest& before, const Manifest& after);

}  // namespace countersign
