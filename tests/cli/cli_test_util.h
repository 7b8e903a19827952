// Runs the countersign command line in process (cli::run) with string streams and an
// injected clock: what a user types, and the exit code and output they see. Separate from
// tests/test_util.h because it needs the cli library, which core tests do not link.
#pragma once

#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli.h"

namespace countersign::test_util {

struct CliRun {
  int rc = -1;
  std::string out, err;
};

inline std::ostream& operator<<(std::ostream& o, const CliRun& r) {
  return o << "exit " << r.rc << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

// `countersign args...` with `stdin_text` on standard input, the clock `now`, stderr not a
// terminal and an empty environment.
inline CliRun run_cli(const std::vector<std::string>& args, Clock now, const std::string& stdin_text = "") {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  cli::Io io{in, out, err, std::move(now), false, [](const char*) -> const char* { return nullptr; }};
  std::vector<const char*> argv{"countersign"};
  for (const auto& a : args) argv.push_back(a.c_str());
  CliRun r;
  r.rc = cli::run(static_cast<int>(argv.size()), argv.data(), io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace countersign::test_util
