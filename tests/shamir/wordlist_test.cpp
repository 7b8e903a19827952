// The embedded word list against the reference file, and the suggestions for typos.
#include "shamir/wordlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace countersign::shamir {
namespace {

TEST(Wordlist, EmbeddedListEqualsReferenceFile) {
  std::ifstream in(std::string(COUNTERSIGN_TEST_DATA) + "/slip39-trezor/wordlist.txt");
  ASSERT_TRUE(in) << "missing tests/data/slip39-trezor/wordlist.txt";
  std::string line;
  std::uint16_t i = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ASSERT_LT(i, wordlist::kWordCount);
    EXPECT_EQ(wordlist::word(i), line);
    EXPECT_EQ(wordlist::index_of(line), i);
    ++i;
  }
  EXPECT_EQ(i, wordlist::kWordCount);
}

TEST(Wordlist, UnknownWordsAreNotFound) {
  EXPECT_FALSE(wordlist::index_of("bitcoin").has_value());
  EXPECT_FALSE(wordlist::index_of("Academic").has_value());  // exact lowercase only
  EXPECT_FALSE(wordlist::index_of("").has_value());
}

TEST(Wordlist, ClosestWordsByEditDistance) {
  auto near = wordlist::closest("acadamic");
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near[0], "academic");
  near = wordlist::closest("shadw");
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near[0], "shadow");
  EXPECT_EQ(wordlist::closest("xyz", 3).size(), 3u);
}

// The plain definition closest() must agree with: the full Levenshtein distance to every word
// (0 for a word with the same first four letters), stably sorted, the first `max`.
std::vector<std::string_view> closest_by_definition(std::string_view w, std::size_t max) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
      for (std::size_t j = 1; j <= b.size(); ++j)
        d[i][j] =
            std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    return d[a.size()][b.size()];
  };
  std::vector<std::pair<std::size_t, std::uint16_t>> ranked;
  for (std::uint16_t i = 0; i < wordlist::kWordCount; ++i) {
    const auto word = wordlist::word(i);
    const bool same_start = w.size() >= 4 && word.substr(0, 4) == w.substr(0, 4);
    ranked.emplace_back(same_start ? 0 : distance(w, word), i);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string_view> out;
  for (std::size_t k = 0; k < max && k < ranked.size(); ++k) out.push_back(wordlist::word(ranked[k].second));
  return out;
}

// closest() stops early on words that cannot rank; what it returns must not change.
TEST(Wordlist, ClosestEqualsTheDefinitionOnTyposAndNoise) {
  std::mt19937 rng(20261202);
  std::vector<std::string> inputs = {"", "a", "zz", "acadamic", "shadw", "xyz", "academicacademicacademic"};
  for (int n = 0; n < 300; ++n) {
    std::string w(wordlist::word(static_cast<std::uint16_t>(rng() % wordlist::kWordCount)));
    switch (rng() % 4) {
      case 0:
        w[rng() % w.size()] = static_cast<char>('a' + rng() % 26);
        break;  // a typo
      case 1:
        w.erase(rng() % w.size(), 1);
        break;  // a letter lost
      case 2:
        w.insert(rng() % (w.size() + 1), 1, static_cast<char>('a' + rng() % 26));
        break;
      default: {  // noise of 1..24 letters
        w.assign(1 + rng() % 24, 'a');
        for (char& c : w) c = static_cast<char>('a' + rng() % 26);
      }
    }
    inputs.push_back(w);
  }
  for (const auto& w : inputs) {
    for (std::size_t max : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{10}}) {
      EXPECT_EQ(wordlist::closest(w, max), closest_by_definition(w, max)) << "\"" << w << "\", max " << max;
    }
  }
}

}  // namespace
}  // namespace countersign::shamir
