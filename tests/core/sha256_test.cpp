#include "core/sha256.h"

#include <gtest/gtest.h>

#include <fstream>

namespace countersign {
namespace {

TEST(Sha256, KnownAnswer) {
  EXPECT_EQ(digest_to_string(sha256(std::string_view("abc"))),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalMatchesOneShotAndFile) {
  Sha256 h;
  h.update(as_bytes("a"));
  h.update(as_bytes("bc"));
  EXPECT_EQ(h.finish(), sha256(std::string_view("abc")));
  std::string path = ::testing::TempDir() + "/sha256_test_file";
  { std::ofstream(path, std::ios::binary) << "abc"; }
  auto d = sha256_file(path);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, sha256(std::string_view("abc")));
}

TEST(DigestString, ParsesOnlyCanonicalForm) {
  std::string good = "sha256:" + std::string(64, 'a');
  EXPECT_TRUE(digest_from_string(good).ok());
  EXPECT_FALSE(digest_from_string("sha256:" + std::string(64, 'A')).ok());
  EXPECT_FALSE(digest_from_string("sha512:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(digest_from_string(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace countersign
