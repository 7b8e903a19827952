// Differential test of jcs::serialize and jcs::canonicalize against the reference
// implementation of RFC 8785: node running the `canonicalize` npm package
// (github.com/erdtman/canonicalize, by one of the RFC's authors). Random documents (fixed
// seed) are written as non-canonical JSON lines; one node process canonicalizes all of
// them, and each result must equal ours byte for byte.
//
// Needs `node` on PATH and COUNTERSIGN_NODE_MODULES naming a node_modules directory that
// holds canonicalize (scripts install it with
// `npm install --prefix <dir> canonicalize@4.0.0`). Without them the test is skipped, or
// fails when COUNTERSIGN_REQUIRE_INTEGRATION=1 (CI). Nothing is installed at test time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/jcs.h"
#include "tests/core/jcs_random.h"

namespace countersign::jcs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool integration_required() {
  const char* v = std::getenv("COUNTERSIGN_REQUIRE_INTEGRATION");
  return v != nullptr && std::string(v) == "1";
}

#define CS_SKIP_OR_FAIL(reason)   \
  do {                            \
    if (integration_required()) { \
      FAIL() << (reason);         \
    } else {                      \
      GTEST_SKIP() << (reason);   \
    }                             \
  } while (0)

std::optional<fs::path> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Loads canonicalize by its package.json entry point (it is an ES module since 3.0, a
// CommonJS one before; import() takes both), then canonicalizes each input line.
constexpr char kScript[] = R"js(
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, input, output] = process.argv.slice(2);
const dir = path.join(modules, 'canonicalize');
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
let entry = pkg.main || 'index.js';
const exp = pkg.exports && (typeof pkg.exports === 'string' ? pkg.exports : pkg.exports['.']);
if (typeof exp === 'string') entry = exp;
else if (exp) entry = exp.import || exp.default || exp.require || entry;
const mod = await import(pathToFileURL(path.join(dir, entry)).href);
const canonicalize = mod.default || mod;
const lines = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0);
const out = lines.map((l) => canonicalize(JSON.parse(l)));
fs.writeFileSync(output, out.join('\n') + '\n', 'utf8');
process.stdout.write(`canonicalize ${pkg.version} on node ${process.version}\n`);
)js";

// Hand-picked lines besides the random ones: the RFC 8785 section 3.2.3 sorting example
// and number layouts at the edges of Number::toString.
const char* const kFixedLines[] = {
    R"({"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"})",
    R"([1e21,1e20,999999999999999900000,1e-7,1.5e-7,0.000001,-0,-0.0,5e-324,1.7976931348623157e308,9007199254740993,4.35,0.1,1e-400])",
    R"({"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]})",
    R"({"\ue000":1,"\uffff":2,"\ud800\udc00":3,"\udbff\udfff":4,"\ud7ff":5,"":6,"\u2028\u2029\u007f":7})",
};

TEST(JcsReference, MatchesNodeCanonicalize) {
  const std::optional<fs::path> node = find_on_path("node");
  if (!node) CS_SKIP_OR_FAIL("node is not on PATH");
  const char* modules_env = std::getenv("COUNTERSIGN_NODE_MODULES");
  if (modules_env == nullptr || *modules_env == '\0') {
    CS_SKIP_OR_FAIL(
        "COUNTERSIGN_NODE_MODULES is not set (a node_modules directory holding the canonicalize "
        "package)");
  }
  const fs::path modules = fs::absolute(modules_env);
  if (!fs::is_regular_file(modules / "canonicalize" / "package.json")) {
    CS_SKIP_OR_FAIL("no canonicalize package in " + modules.string());
  }

  const fs::path dir = fs::path(::testing::TempDir()) / ("jcs_reference_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path script = dir / "canonicalize.mjs";
  const fs::path input = dir / "input.jsonl";
  const fs::path output = dir / "output.jsonl";
  const fs::path log = dir / "node.log";
  { std::ofstream(script, std::ios::binary) << kScript; }

  std::vector<std::string> lines(std::begin(kFixedLines), std::end(kFixedLines));
  testing::RandomJson gen(0x52464338373835u, /*allow_newline=*/false);
  for (int i = 0; i < 400; ++i) lines.push_back(gen.text(gen.value()));
  {
    std::ofstream in(input, std::ios::binary);
    for (const auto& line : lines) in << line << '\n';
  }

  const std::string command = shell_quote(node->string()) + " " + shell_quote(script.string()) + " " +
                              shell_quote(modules.string()) + " " + shell_quote(input.string()) + " " +
                              shell_quote(output.string()) + " >" + shell_quote(log.string()) + " 2>&1";
  const int rc = std::system(command.c_str());
  ASSERT_EQ(rc, 0) << command << "\n" << read_file(log);
  RecordProperty("reference", read_file(log));

  const std::string expected_all = read_file(output);
  std::vector<std::string> expected;
  std::size_t pos = 0;
  while (pos < expected_all.size()) {
    const std::size_t eol = expected_all.find('\n', pos);
    ASSERT_NE(eol, std::string::npos);
    expected.push_back(expected_all.substr(pos, eol - pos));
    pos = eol + 1;
  }
  ASSERT_EQ(expected.size(), lines.size());

  int mismatches = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto value = parse(lines[i]);
    ASSERT_TRUE(value.ok()) << "line " << i + 1 << ": " << value.error().message;
    auto ours = serialize(*value);
    ASSERT_TRUE(ours.ok()) << "line " << i + 1 << ": " << ours.error().message;
    if (*ours != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "line " << i + 1 << " differs\n input: " << lines[i] << "\n   ours: " << *ours
                    << "\n   node: " << expected[i];
    }
    // The DOM-free path (countersign canon, hash) must give node's bytes too.
    auto direct = canonicalize(lines[i]);
    ASSERT_TRUE(direct.ok()) << "line " << i + 1 << ": " << direct.error().message;
    if (*direct != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "line " << i + 1 << " differs (canonicalize)\n input: " << lines[i]
                    << "\n   ours: " << *direct << "\n   node: " << expected[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace countersign::jcs
