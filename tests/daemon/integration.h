// Integration tests start real components (nginx, btrfs on a loop device, the daemon). When
// one cannot start here, the test is skipped with the reason, unless
// COUNTERSIGN_REQUIRE_INTEGRATION=1 (CI), where a skip would hide a broken setup: then it fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace countersign::test_util {

inline bool integration_required() {
  const char* v = std::getenv("COUNTERSIGN_REQUIRE_INTEGRATION");
  return v != nullptr && std::string(v) == "1";
}

}  // namespace countersign::test_util

// CS_REQUIRE_OR_SKIP(cond, reason): when `cond` is false, skips the test (GTEST_SKIP) with
// `reason`, or fails it when integration is required. Like GTEST_SKIP and FAIL it returns
// from the current function, so use it in the test body or in SetUp (gtest then does not run
// the body).
#define CS_REQUIRE_OR_SKIP(cond, reason)                       \
  do {                                                         \
    if (!(cond)) {                                             \
      if (::countersign::test_util::integration_required()) {  \
        FAIL() << "integration test cannot run: " << (reason); \
      } else {                                                 \
        GTEST_SKIP() << (reason);                              \
      }                                                        \
    }                                                          \
  } while (0)
