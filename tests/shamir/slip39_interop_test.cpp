// Interoperability with the `slip39` npm package (github.com/ilap/slip39-js, current SLIP-39
// with the extendable flag and iteration exponent): shares we make recover with it, shares it
// makes recover with us, for several layouts, secret sizes and both flag values.
// Needs node and COUNTERSIGN_NODE_MODULES (a node_modules dir holding slip39), e.g.
//   npm install --prefix build-npm slip39
//   COUNTERSIGN_NODE_MODULES=$PWD/build-npm/node_modules ctest -L integration
// Skipped when missing, unless COUNTERSIGN_REQUIRE_INTEGRATION=1.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/bytes.h"
#include "shamir/slip39.h"

namespace countersign::shamir {
namespace {

namespace fs = std::filesystem;

constexpr const char* kScript = R"JS(
const fs = require('fs');
const slip39 = require('slip39');
const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
if (req.op === 'recover') {
  out.secret = Buffer.from(slip39.recoverSecret(req.mnemonics, req.passphrase)).toString('hex');
} else {
  const s = slip39.fromArray(Array.from(Buffer.from(req.secret, 'hex')), {
    passphrase: req.passphrase, threshold: req.group_threshold, groups: req.groups,
    iterationExponent: req.iteration_exponent, extendableBackupFlag: req.extendable ? 1 : 0});
  out.groups = req.groups.map((g, i) => s.fromPath('r/' + i).mnemonics);
}
process.stdout.write(JSON.stringify(out));
)JS";

class Slip39Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* modules = std::getenv("COUNTERSIGN_NODE_MODULES");
    const char* require = std::getenv("COUNTERSIGN_REQUIRE_INTEGRATION");
    const bool required = require != nullptr && std::string(require) == "1";
    std::string why;
    if (modules == nullptr) {
      why = "COUNTERSIGN_NODE_MODULES is not set";
    } else if (!fs::exists(fs::path(modules) / "slip39" / "package.json")) {
      why = std::string("no slip39 package in ") + modules + " (npm install --prefix DIR slip39)";
    } else if (std::system("node --version > /dev/null 2>&1") != 0) {
      why = "node is not installed";
    }
    if (!why.empty()) {
      if (required) FAIL() << why;
      GTEST_SKIP() << why;
    }
    modules_ = modules;
    dir_ = fs::temp_directory_path() / ("cs-slip39-interop-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "run.js") << kScript;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  nlohmann::json node(const nlohmann::json& request) {
    std::ofstream(dir_ / "req.json") << request.dump();
    const std::string cmd = "NODE_PATH='" + modules_ + "' node '" + (dir_ / "run.js").string() + "' '" +
                            (dir_ / "req.json").string() + "' > '" + (dir_ / "out.json").string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream in(dir_ / "out.json");
    return nlohmann::json::parse(in, nullptr, false);
  }

  std::string modules_;
  fs::path dir_;
};

struct Layout {
  unsigned group_threshold;
  std::vector<GroupSpec> groups;
};

const Layout kLayouts[] = {
    {1, {{1, 1}}},
    {1, {{2, 3}}},
    {2, {{2, 3}, {3, 5}, {1, 1}}},
    {3, {{1, 1}, {2, 2}, {4, 7}, {2, 16}}},
};

std::string random_hex(std::mt19937& rng, std::size_t bytes) {
  Bytes b(bytes);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return hex_encode(b);
}

// A threshold subset: the first group_threshold groups, the first threshold members of each.
std::vector<std::string> threshold_subset(const Layout& l,
                                          const std::vector<std::vector<std::string>>& groups) {
  std::vector<std::string> out;
  for (unsigned g = 0; g < l.group_threshold; ++g) {
    for (unsigned m = 0; m < l.groups[g].threshold; ++m) out.push_back(groups[g][m]);
  }
  return out;
}

TEST_F(Slip39Interop, OurSharesRecoverWithSlip39Js) {
  std::mt19937 rng(7);
  int cases = 0;
  for (const Layout& l : kLayouts) {
    for (std::size_t bytes : {16u, 24u, 32u}) {
      for (bool extendable : {false, true}) {
        const std::string secret_hex = random_hex(rng, bytes);
        auto secret_bytes = hex_decode(secret_hex);
        SplitParams p{l.group_threshold, l.groups, extendable, static_cast<std::uint8_t>(cases % 3)};
        auto set = generate_mnemonics(SecretBytes::copy_of(*secret_bytes),
                                      SecretBytes::copy_of(as_bytes("TREZOR")), p);
        ASSERT_TRUE(set.ok()) << set.error().message;
        std::vector<std::vector<std::string>> groups;
        for (const auto& g : set->mnemonics) {
          groups.emplace_back();
          for (const auto& m : g) groups.back().emplace_back(as_chars(m.view()));
        }
        auto out =
            node({{"op", "recover"}, {"mnemonics", threshold_subset(l, groups)}, {"passphrase", "TREZOR"}});
        ASSERT_TRUE(out.is_object());
        EXPECT_EQ(out.value("secret", ""), secret_hex)
            << "layout " << l.groups.size() << " groups, " << bytes << " bytes";
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 24);
}

TEST_F(Slip39Interop, Slip39JsSharesRecoverWithUs) {
  std::mt19937 rng(11);
  int cases = 0;
  for (const Layout& l : kLayouts) {
    for (std::size_t bytes : {16u, 20u, 32u}) {
      for (bool extendable : {false, true}) {
        const std::string secret_hex = random_hex(rng, bytes);
        nlohmann::json groups = nlohmann::json::array();
        for (const auto& g : l.groups) groups.push_back({g.threshold, g.count});
        auto out = node({{"op", "split"},
                         {"secret", secret_hex},
                         {"passphrase", "TREZOR"},
                         {"group_threshold", l.group_threshold},
                         {"groups", groups},
                         {"iteration_exponent", cases % 3},
                         {"extendable", extendable}});
        ASSERT_TRUE(out.is_object() && out.contains("groups"));
        const auto js_groups = out["groups"].get<std::vector<std::vector<std::string>>>();
        std::vector<MnemonicInput> in;
        for (const auto& m : threshold_subset(l, js_groups))
          in.push_back({in.size() + 1, SecretBytes::copy_of(as_bytes(m))});
        auto got = combine_mnemonics(in, SecretBytes::copy_of(as_bytes("TREZOR")));
        ASSERT_TRUE(got.ok()) << got.error().message;
        EXPECT_EQ(hex_encode(got->view()), secret_hex);
        // And the extendable flag we read is the one it wrote.
        std::vector<MnemonicInput> one;
        one.push_back({1, SecretBytes::copy_of(as_bytes(js_groups[0][0]))});
        auto decoded = decode_mnemonics(one);
        ASSERT_TRUE(decoded.ok());
        EXPECT_EQ((*decoded)[0].share.extendable, extendable);
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 24);
}

}  // namespace
}  // namespace countersign::shamir
