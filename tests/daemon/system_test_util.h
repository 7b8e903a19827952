// Helpers for the tests of countersign-system: a state directory laid out as on a box,
// models staged the way the daemon leaves them, and the helper binary run as a subprocess
// (COUNTERSIGN_SYSTEM_BIN) with its configuration passed through COUNTERSIGN_SYSTEM_CONFIG
// and, for the subcommands that read one, its input on stdin.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/manifest.h"
#include "core/sha256.h"
#include "system/command.h"
#include "tests/test_util.h"

namespace countersign::daemon::test {

namespace fs = std::filesystem;

// path -> content
using Files = std::vector<std::pair<std::string, std::string>>;

inline Manifest manifest_for(const Files& files, const std::string& name = "test-model") {
  Manifest::Fields f;
  f.name = name;
  f.version = "1";
  f.license.spdx = "Apache-2.0";
  for (const auto& [path, content] : files) f.files.push_back({path, content.size(), sha256(content)});
  f.sources.push_back(*Source::from_spec("https://mirror.example/models/" + name + "/"));
  auto m = Manifest::create(f);
  if (!m.ok()) ADD_FAILURE() << m.error().message;
  return *m;
}

inline std::string hex_of(const Manifest& m) { return digest_to_string(m.hash()).substr(7); }

inline void write_tree(const fs::path& dir, const Files& files) {
  fs::create_directories(dir);
  for (const auto& [path, content] : files) {
    fs::create_directories((dir / path).parent_path());
    test_util::spit(dir / path, content);
  }
}

// Leaves <staging>/HEX as the daemon does after fetching; returns HEX.
inline std::string stage(const fs::path& staging, const Files& files,
                         const std::string& name = "test-model") {
  Manifest m = manifest_for(files, name);
  const std::string hex = hex_of(m);
  write_tree(staging / hex, files);
  return hex;
}

// Every entry under `dir` by relative path: file contents, "<dir>" for directories, and
// "<other>" for anything else.
inline std::map<std::string, std::string> read_tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    if (e.is_symlink()) {
      out[rel] = "<other>";
    } else if (e.is_directory()) {
      out[rel] = "<dir>";
    } else if (e.is_regular_file()) {
      out[rel] = test_util::slurp(e.path());
    } else {
      out[rel] = "<other>";
    }
  }
  return out;
}

inline std::vector<std::string> list_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline mode_t mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

inline uid_t owner_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return static_cast<uid_t>(-1);
  return st.st_uid;
}

// The installed trees are read-only; a non-root test run needs them writable to delete them.
inline void make_writable(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return;
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
}

inline std::string config_text(const fs::path& state, const std::string& snapshot = "none") {
  return "policy = /etc/countersign/policy.json\n"
         "state_dir = " +
         state.string() +
         "\n"
         "box_id = test-box\n"
         "log_key = /etc/countersign/log.key\n"
         "snapshot = " +
         snapshot + "\n";
}

struct HelperRun {
  int status = -1;
  std::string out, err;
  nlohmann::json json;  // stdout parsed (discarded when it is not JSON)
};

// Runs the helper binary with `args`, its configuration from `config` through the
// environment, plus `extra_env` ("NAME=value"), and `input` on stdin (through a file next to
// the configuration).
inline HelperRun run_helper(const std::string& config, const std::vector<std::string>& args,
                            const std::vector<std::string>& extra_env = {}, const std::string& input = "") {
  std::vector<std::string> argv = {COUNTERSIGN_SYSTEM_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions options;
  const std::string stdin_file = config + ".stdin";
  test_util::spit(stdin_file, input);
  options.stdin_file = stdin_file;
  options.environment = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
                                                 "COUNTERSIGN_SYSTEM_CONFIG=" + config};
  options.environment->insert(options.environment->end(), extra_env.begin(), extra_env.end());
  options.timeout_seconds = 120;
  HelperRun run;
  auto r = run_command(argv, options);
  if (!r.ok()) {
    ADD_FAILURE() << "cannot run the helper: " << r.error().message;
    return run;
  }
  run.status = r->status;
  run.out = r->out;
  run.err = r->err;
  run.json = nlohmann::json::parse(run.out, nullptr, false);
  return run;
}

// Has the helper append `n` entries as the daemon reports them (`log append`, event
// source-failed), entry i with path "<path_prefix>i" and reason "<reason> i": a log that grows
// in tests of what reads it (shipping, witnesses). Fails the test when the helper refuses.
inline void append_reported_entries(const std::string& config, int n, const std::string& path_prefix,
                                    const std::string& reason) {
  for (int i = 0; i < n; ++i) {
    auto r = run_helper(config, {"log", "append"}, {},
                        nlohmann::json{{"event", "source-failed"},
                                       {"path", path_prefix + std::to_string(i)},
                                       {"source", "https://mirror.example/"},
                                       {"reason", reason + " " + std::to_string(i)}}
                            .dump());
    ASSERT_EQ(r.status, 0) << r.err;
  }
}

// Runs a system tool (mkfs.btrfs, mount, …) for a test harness.
inline Result<CommandOutput> run_tool(const std::vector<std::string>& argv, int timeout_seconds = 120) {
  CommandOptions options;
  options.timeout_seconds = timeout_seconds;
  return run_command(argv, options);
}

}  // namespace countersign::daemon::test
