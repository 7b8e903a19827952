// JCS in process: canonical text of a JSON file, best of N rounds, the same work the node
// script times around canonicalize(JSON.parse(text)) (file already in memory).
// Usage: jcs_bench FILE [ROUNDS] [--dom]
// Prints the best time in seconds of jcs::canonicalize (what `countersign canon` runs), or
// with --dom of jcs::parse + jcs::serialize through an nlohmann::json value.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/fileio.h"
#include "core/jcs.h"

using namespace countersign;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: jcs_bench FILE [ROUNDS] [--dom]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const bool dom = argc > 3 && std::strcmp(argv[3], "--dom") == 0;
  auto text = read_file(argv[1]);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.error().message.c_str());
    return 2;
  }
  double best = 1e9;
  std::size_t out_size = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (dom) {
      auto doc = jcs::parse(*text);
      if (!doc.ok()) return 1;
      auto out = jcs::serialize(*doc);
      if (!out.ok()) return 1;
      out_size = out->size();
    } else {  // everything is freed inside the timed region, as node's garbage is (eventually)
      auto out = jcs::canonicalize(*text);
      if (!out.ok()) return 1;
      out_size = out->size();
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  if (out_size == 0) return 1;
  std::printf("%.6f\n", best);
  return 0;
}
