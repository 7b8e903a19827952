// JCS in process: parse + canonical serialization of a JSON file, best of N rounds, the same
// work the node script times around JSON.parse + canonicalize (file already in memory).
// Usage: jcs_bench FILE [ROUNDS]   Prints the best time in seconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/fileio.h"
#include "core/jcs.h"

using namespace countersign;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: jcs_bench FILE [ROUNDS]\n");
    return 2;
  }
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  auto text = read_file(argv[1]);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.error().message.c_str());
    return 2;
  }
  double best = 1e9;
  std::size_t out_size = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    {
      auto doc = jcs::parse(*text);
      if (!doc.ok()) return 1;
      auto out = jcs::serialize(*doc);
      if (!out.ok()) return 1;
      out_size = out->size();
    }  // the DOM is freed inside the timed region, as node's garbage is (eventually)
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
  }
  if (out_size == 0) return 1;
  std::printf("%.6f\n", best);
  return 0;
}
