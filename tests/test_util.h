// Helpers shared by the tests: a per-test scratch directory and whole-file read and write.
// Header-only and free of any countersign library, so every test target can use it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace countersign::test_util {

// A fresh, empty directory under ::testing::TempDir(), named after `prefix`, the process
// and the running test (so parallel ctest runs do not collide), removed with everything in
// it when destroyed. Construct it while a test is running (a fixture member is fine).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = prefix + "-" + std::to_string(::getpid());
    if (info != nullptr) name += std::string("-") + info->test_suite_name() + "-" + info->name();
    for (char& c : name) c = c == '/' ? '_' : c;  // parameterised names contain '/'
    path_ = std::filesystem::path(::testing::TempDir()) / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // `name` inside the directory, as a string for command lines and APIs.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole file, or "" when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Replaces the file's contents with `data`.
inline void spit(const std::filesystem::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A one-file manifest document (JSON text) with `path` and free text `description`, as an
// attacker would write it: nothing is checked here, the parser under test does that.
inline std::string manifest_text(const std::string& path, const std::string& description) {
  nlohmann::json m = {{"schema", "countersign/manifest/v1"},
                      {"kind", "model"},
                      {"name", "x"},
                      {"version", "1"},
                      {"description", description},
                      {"license", {{"spdx", "MIT"}}},
                      {"sources", nlohmann::json::array()},
                      {"files", {{{"path", path}, {"size", 1}, {"sha256", std::string(64, 'a')}}}}};
  return m.dump();
}

}  // namespace countersign::test_util
