// Helpers shared by the document tests (manifest, proposal, signature, policy, verify):
// asserting that a Result failed with a given code and a message that says what and where,
// and must() for setup steps that cannot fail.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/result.h"

namespace countersign::testing {

// Setup steps must not fail; when one does, say which and stop the test program.
template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "FAIL: test setup step \"%s\" failed: %s\n", what, r.error().message.c_str());
    std::abort();
  }
  return std::move(r).value();
}

// Passes when `r` failed with `code` and its message contains every one of `parts` (for
// example the JSON pointer "/files/1/path" and the word "sorted").
template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& r, Errc code,
                                     std::initializer_list<std::string_view> parts) {
  if (r.ok()) return ::testing::AssertionFailure() << "expected an error, but the call succeeded";
  const Error& e = r.error();
  if (e.code != code) {
    return ::testing::AssertionFailure() << "error code is " << errc_name(e.code) << ", expected "
                                         << errc_name(code) << "; message: " << e.message;
  }
  for (std::string_view p : parts) {
    if (e.message.find(p) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message \"" << e.message << "\" does not contain \"" << p << "\"";
    }
  }
  return ::testing::AssertionSuccess() << e.message;
}

inline bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace countersign::testing
