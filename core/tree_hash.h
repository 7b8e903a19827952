// Walking a model directory and hashing every file in parallel: the engine behind
// `countersign manifest create`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/manifest.h"
#include "core/result.h"

namespace countersign {

struct TreeHashProgress {
  std::uint64_t bytes_total = 0;
  std::uint64_t files_total = 0;
  std::atomic<std::uint64_t> bytes_done{0};
  std::atomic<std::uint64_t> files_done{0};
};

// Lists regular files under `dir` (relative '/'-separated paths, sorted by bytes) and
// hashes them with `threads` workers (0 = one per core). Symlinks, devices and other
// special files are refused with an error naming them (a manifest must describe exactly
// the bytes that will be installed). `progress` may be null; it is updated as bytes are read.
Result<std::vector<ManifestFile>> hash_tree(const std::string& dir, unsigned threads,
                                            TreeHashProgress* progress);

}  // namespace countersign
