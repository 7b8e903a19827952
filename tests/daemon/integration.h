// Integration tests need real components (root, loop devices, mkfs.btrfs, visudo, …). Where
// one is missing the test is skipped with the reason, except when
// COUNTERSIGN_REQUIRE_INTEGRATION=1 (CI), where a skip would hide a broken setup and is a
// failure instead.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

// CS_REQUIRE_OR_SKIP(cond, reason): unless `cond`, skip the current test with `reason`, or
// fail it when COUNTERSIGN_REQUIRE_INTEGRATION=1. Use in a test body or SetUp (it returns).
#define CS_REQUIRE_OR_SKIP(cond, reason)                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      const char* cs_require_ = std::getenv("COUNTERSIGN_REQUIRE_INTEGRATION");  \
      if (cs_require_ != nullptr && std::string(cs_require_) == "1") {           \
        FAIL() << "COUNTERSIGN_REQUIRE_INTEGRATION=1, cannot run: " << (reason); \
      } else {                                                                   \
        GTEST_SKIP() << (reason);                                                \
      }                                                                          \
    }                                                                            \
  } while (0)
