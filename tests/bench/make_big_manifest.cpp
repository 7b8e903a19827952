// Writes a valid manifest with N files (default 100,000) to stdout, for the JCS benchmark.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/fileio.h"
#include "core/manifest.h"

using namespace countersign;

int main(int argc, char** argv) {
  long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
  Manifest::Fields f;
  f.name = "big-model";
  f.version = "2026-11-22";
  f.description = "benchmark manifest with many files, some with non-ASCII names: \u00e9t\u00e9 \u6a21\u578b";
  f.license.spdx = "Apache-2.0";
  f.license.url = "https://www.apache.org/licenses/LICENSE-2.0";
  for (long i = 0; i < n; ++i) {
    char path[64];
    std::snprintf(path, sizeof path, "shards/%03ld/part-%07ld.bin", i % 997, i);
    f.files.push_back({path, static_cast<std::uint64_t>(i) * 7919u + 1, sha256(std::string(path))});
  }
  f.sources.push_back(*Source::from_spec("https://mirror.example/big-model/"));
  auto m = Manifest::create(std::move(f));
  if (!m.ok()) {
    std::cerr << m.error().message << "\n";
    return 1;
  }
  std::cout << to_pretty_json(m->to_json());
  return 0;
}
