// SLIP-0039: the 45 official vectors (python-shamir-mnemonic, tests/data/slip39-trezor), the
// messages a custodian sees for each kind of mistake, and threshold properties over random
// layouts.
#include "shamir/slip39.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "shamir/share.h"

namespace countersign::shamir {
namespace {

SecretBytes secret_of(std::string_view s) { return SecretBytes::copy_of(as_bytes(s)); }

std::vector<MnemonicInput> inputs(const std::vector<std::string>& lines) {
  std::vector<MnemonicInput> out;
  for (std::size_t i = 0; i < lines.size(); ++i) out.push_back({i + 1, secret_of(lines[i])});
  return out;
}

std::string text(const SecretBytes& s) { return std::string(as_chars(s.view())); }

nlohmann::json load_vectors() {
  std::ifstream in(std::string(COUNTERSIGN_TEST_DATA) + "/slip39-trezor/vectors.json");
  if (!in) return nlohmann::json::array();
  return nlohmann::json::parse(in);
}

Result<SecretBytes> combine(const std::vector<std::string>& lines, std::string_view passphrase = "") {
  return combine_mnemonics(inputs(lines), secret_of(passphrase));
}

TEST(Slip39Vectors, AllOfficialVectors) {
  const nlohmann::json vectors = load_vectors();
  int run = 0, valid = 0;
  for (const auto& v : vectors) {
    const std::string name = v[0].get<std::string>();
    SCOPED_TRACE(name);
    const auto mnemonics = v[1].get<std::vector<std::string>>();
    const std::string expected = v[2].get<std::string>();
    auto got = combine(mnemonics, "TREZOR");
    if (expected.empty()) {
      EXPECT_FALSE(got.ok()) << "an invalid vector was accepted";
    } else {
      ++valid;
      ASSERT_TRUE(got.ok()) << got.error().message;
      EXPECT_EQ(hex_encode(got->view()), expected);
      // Every valid mnemonic re-encodes to exactly itself.
      for (const auto& m : mnemonics) {
        auto share = parse_share(m);
        ASSERT_TRUE(share.ok());
        EXPECT_EQ(text(encode_share(*share)), m);
      }
    }
    ++run;
  }
  EXPECT_EQ(run, 45);
  EXPECT_EQ(valid, 15);
}

const nlohmann::json& vectors() {
  static const nlohmann::json v = load_vectors();
  return v;
}
std::vector<std::string> vector_mnemonics(std::size_t number) {
  return vectors().at(number - 1)[1].get<std::vector<std::string>>();
}

// --- Messages a custodian sees ---

TEST(Slip39Errors, BadChecksumNamesTheLine) {
  std::vector<std::string> lines = vector_mnemonics(4);  // valid 2-of-3
  lines.push_back(vector_mnemonics(2)[0]);               // bad checksum on line 3
  auto got = combine(lines);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kMalformed);
  EXPECT_NE(got.error().message.find("line 3: invalid checksum"), std::string::npos) << got.error().message;
}

TEST(Slip39Errors, UnknownWordNamesItAndSuggestsClosest) {
  std::string m = vector_mnemonics(1)[0];  // "duckling enlarge academic ..."
  m.replace(m.find("academic"), 8, "acadamic");
  auto got = combine({vector_mnemonics(4)[0], m});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kMalformed);
  const std::string& msg = got.error().message;
  EXPECT_NE(msg.find("line 2: word 3 \"acadamic\" is not in the SLIP-39 word list; closest: academic"),
            std::string::npos)
      << msg;
}

TEST(Slip39Errors, EveryBadLineIsListed) {
  auto got = combine({vector_mnemonics(2)[0], vector_mnemonics(3)[0]});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("line 1: invalid checksum"), std::string::npos);
  EXPECT_NE(got.error().message.find("line 2: invalid padding"), std::string::npos) << got.error().message;
}

TEST(Slip39Errors, InvalidPadding) {
  auto got = combine(vector_mnemonics(3));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("invalid padding"), std::string::npos) << got.error().message;
}

TEST(Slip39Errors, SharesFromDifferentSetsSayWhichParameter) {
  const std::pair<std::size_t, const char*> cases[] = {
      {6, "identifier"}, {7, "iteration exponent"}, {8, "group threshold"}, {9, "group count"}};
  for (const auto& [number, what] : cases) {
    auto got = combine(vector_mnemonics(number));
    ASSERT_FALSE(got.ok()) << number;
    EXPECT_EQ(got.error().code, Errc::kInvalidArgument);
    EXPECT_NE(got.error().message.find("is from a different set of shares than line 1: " + std::string(what)),
              std::string::npos)
        << got.error().message;
  }
}

TEST(Slip39Errors, ExtendableFlagMismatch) {
  const auto lines = vector_mnemonics(4);
  auto share = parse_share(lines[1]);
  ASSERT_TRUE(share.ok());
  share->extendable = !share->extendable;
  auto got = combine({lines[0], text(encode_share(*share))});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("line 2 is from a different set of shares than line 1: extendable flag"),
            std::string::npos)
      << got.error().message;
}

TEST(Slip39Errors, NotEnoughSharesSaysHowManyMore) {
  SplitParams p;
  p.group_threshold = 2;
  p.groups = {{2, 3}, {3, 5}, {1, 1}};
  p.iteration_exponent = 0;
  auto set = generate_mnemonics(secret_of("0123456789abcdef"), secret_of(""), p);
  ASSERT_TRUE(set.ok()) << set.error().message;
  const auto& g = set->mnemonics;
  auto got = combine({text(g[0][0]), text(g[1][0]), text(g[1][2])});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kRejected);
  const std::string& msg = got.error().message;
  EXPECT_NE(
      msg.find("not enough shares: 2 of 3 groups are needed and 0 are complete; complete 2 more groups"),
      std::string::npos)
      << msg;
  EXPECT_NE(msg.find("group 1: 1 of 2 shares, 1 more needed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("group 2: 2 of 3 shares, 1 more needed"), std::string::npos) << msg;

  // One complete group of two needed.
  got = combine({text(g[2][0]), text(g[0][1])});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("1 is complete; complete 1 more group"), std::string::npos)
      << got.error().message;
}

TEST(Slip39Errors, DuplicateShare) {
  const auto lines = vector_mnemonics(4);
  auto got = combine({lines[0], lines[1], lines[0]});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("duplicate share: line 3 repeats line 1 (group 1, share"),
            std::string::npos)
      << got.error().message;
  // Vector 11: two different shares with the same member index.
  got = combine(vector_mnemonics(11));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("duplicate share number"), std::string::npos) << got.error().message;
}

TEST(Slip39Errors, DigestMismatch) {
  auto got = combine(vector_mnemonics(13));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::kHashMismatch);
  EXPECT_NE(got.error().message.find("digest mismatch"), std::string::npos) << got.error().message;
}

TEST(Slip39Errors, ExtraShareThatDisagreesIsNamed) {
  SplitParams p;
  p.groups = {{2, 3}};
  p.iteration_exponent = 0;
  auto set = generate_mnemonics(secret_of("0123456789abcdef"), secret_of(""), p);
  ASSERT_TRUE(set.ok());
  auto bad = parse_share(text(set->mnemonics[0][2]));
  ASSERT_TRUE(bad.ok());
  bad->value.data()[0] ^= 1;  // a share re-encoded with a valid checksum but a wrong value
  auto got = combine({text(set->mnemonics[0][0]), text(set->mnemonics[0][1]), text(encode_share(*bad))});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("line 3 does not agree with the other shares of group 1"),
            std::string::npos)
      << got.error().message;
}

TEST(Slip39Errors, WrongPassphraseIsNotDetectable) {
  auto right = combine(vector_mnemonics(4), "TREZOR");
  auto wrong = combine(vector_mnemonics(4), "TREZOR2");
  ASSERT_TRUE(right.ok());
  ASSERT_TRUE(wrong.ok()) << "by design a wrong passphrase gives another secret, not an error";
  EXPECT_NE(hex_encode(right->view()), hex_encode(wrong->view()));
}

TEST(Slip39Errors, RejectsBadLayoutsAndSecrets) {
  SplitParams p;
  p.groups = {{1, 3}};
  auto got = generate_mnemonics(secret_of("0123456789abcdef"), secret_of(""), p);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("use 1/1"), std::string::npos);
  p.groups = {{2, 3}};
  EXPECT_FALSE(generate_mnemonics(secret_of("0123456789abcde"), secret_of(""), p).ok());    // 120 bits
  EXPECT_FALSE(generate_mnemonics(secret_of("0123456789abcdef0"), secret_of(""), p).ok());  // odd
  EXPECT_FALSE(generate_mnemonics(SecretBytes(34), secret_of(""), p).ok());                 // > 256 bits
  EXPECT_FALSE(generate_mnemonics(secret_of("0123456789abcdef"), secret_of("caf\xc3\xa9"), p).ok());
  p.group_threshold = 2;
  EXPECT_FALSE(generate_mnemonics(secret_of("0123456789abcdef"), secret_of(""), p).ok());
}

// --- Properties over random layouts ---

TEST(Slip39Properties, AnyThresholdSubsetRecoversAndNoSmallerOneDoes) {
  std::mt19937 rng(20240611);  // deterministic layouts; the shares themselves use libsodium
  auto uniform = [&](unsigned lo, unsigned hi) {
    return std::uniform_int_distribution<unsigned>(lo, hi)(rng);
  };
  for (int round = 0; round < 30; ++round) {
    SplitParams p;
    const unsigned group_count = uniform(1, 5);
    for (unsigned g = 0; g < group_count; ++g) {
      const unsigned count = uniform(1, 6);
      unsigned threshold = uniform(1, count);
      if (threshold == 1) threshold = count == 1 ? 1 : 2;
      p.groups.push_back({threshold, count});
    }
    p.group_threshold = uniform(1, group_count);
    p.extendable = uniform(0, 1) == 1;
    p.iteration_exponent = 0;
    SecretBytes secret(2 * uniform(8, 16));
    for (std::size_t i = 0; i < secret.size(); ++i) secret.data()[i] = static_cast<std::uint8_t>(rng());
    SCOPED_TRACE("round " + std::to_string(round));
    auto set = generate_mnemonics(secret, secret_of("pass"), p);
    ASSERT_TRUE(set.ok()) << set.error().message;

    // A random choice of group_threshold groups, from each a random threshold subset.
    std::vector<unsigned> group_order(group_count);
    for (unsigned g = 0; g < group_count; ++g) group_order[g] = g;
    std::shuffle(group_order.begin(), group_order.end(), rng);
    std::vector<std::vector<std::string>> chosen;
    for (unsigned k = 0; k < p.group_threshold; ++k) {
      const unsigned g = group_order[k];
      std::vector<std::string> members;
      for (const auto& m : set->mnemonics[g]) members.push_back(text(m));
      std::shuffle(members.begin(), members.end(), rng);
      members.resize(p.groups[g].threshold);
      chosen.push_back(members);
    }
    std::vector<std::string> lines;
    for (const auto& c : chosen) lines.insert(lines.end(), c.begin(), c.end());
    std::shuffle(lines.begin(), lines.end(), rng);
    auto got = combine(lines, "pass");
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(hex_encode(got->view()), hex_encode(secret.view()));

    // Drop one share of one chosen group: never enough.
    std::vector<std::string> fewer;
    for (std::size_t k = 0; k < chosen.size(); ++k) {
      fewer.insert(fewer.end(), chosen[k].begin(), chosen[k].end() - (k == 0 ? 1 : 0));
    }
    auto short_got = combine(fewer, "pass");
    ASSERT_FALSE(short_got.ok());
    if (!fewer.empty()) {  // else "no shares were given"
      EXPECT_EQ(short_got.error().code, Errc::kRejected);
      EXPECT_NE(short_got.error().message.find("not enough shares"), std::string::npos)
          << short_got.error().message;
      if (chosen[0].size() > 1) {
        EXPECT_NE(short_got.error().message.find("1 more needed"), std::string::npos)
            << short_got.error().message;
      }
    }

    // Every share at once (extra shares and extra groups) also recovers.
    std::vector<std::string> all;
    for (const auto& g : set->mnemonics) {
      for (const auto& m : g) all.push_back(text(m));
    }
    auto all_got = combine(all, "pass");
    ASSERT_TRUE(all_got.ok()) << all_got.error().message;
    EXPECT_EQ(hex_encode(all_got->view()), hex_encode(secret.view()));
  }
}

TEST(Slip39Check, FullSetPassesAndMissingGroupIsReported) {
  SplitParams p;
  p.group_threshold = 2;
  p.groups = {{2, 3}, {3, 5}, {1, 1}};
  p.iteration_exponent = 0;
  auto set = generate_mnemonics(secret_of("0123456789abcdef0123456789abcdef"), secret_of(""), p);
  ASSERT_TRUE(set.ok());
  std::vector<std::string> all;
  for (const auto& g : set->mnemonics) {
    for (const auto& m : g) all.push_back(text(m));
  }
  auto report = check_mnemonics(inputs(all));
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->problems.empty()) << report->problems[0];
  EXPECT_EQ(report->secret_bits, 256u);
  // Subsets: groups {1,2}: 3*10, {1,3}: 3*1, {2,3}: 10*1 = 43 full threshold subsets.
  EXPECT_EQ(report->subsets_total, 43u);
  EXPECT_EQ(report->subsets_recovered, 3u + 10u + 1u + 3u);  // member subsets, then group pairs
  EXPECT_FALSE(report->capped);

  auto capped = check_mnemonics(inputs(all), 5);
  ASSERT_TRUE(capped.ok());
  EXPECT_TRUE(capped->capped);
  EXPECT_TRUE(capped->problems.empty());

  all.pop_back();  // the 1-of-1 group 3 is gone
  report = check_mnemonics(inputs(all));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0], "group 3 has no shares: it cannot be reached");
}

}  // namespace
}  // namespace countersign::shamir
