// The embedded word list against the reference file, and the suggestions for typos.
#include "shamir/wordlist.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

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

}  // namespace
}  // namespace countersign::shamir
