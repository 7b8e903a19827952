#include "core/secret.h"

#include "core/bytes.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace countersign {
namespace {

TEST(SecretFile, StripsExactlyOneTrailingNewline) {
  std::string path = ::testing::TempDir() + "/secret_test_pass";
  {
    std::ofstream f(path, std::ios::binary);
    f << "pass word\n\n";
  }
  auto s = read_secret_file(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(std::string(as_chars(s->view())), "pass word\n");
  std::remove(path.c_str());
}

TEST(SecretFile, MissingFileNamesThePath) {
  auto s = read_secret_file("/nonexistent/countersign-pass");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kIo);
  EXPECT_NE(s.error().message.find("/nonexistent/countersign-pass"), std::string::npos);
}

TEST(SecretLine, ReadsOneLine) {
  std::istringstream in("1234\r\nrest");
  auto s = read_secret_line(in);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::string(as_chars(s->view())), "1234");
}

TEST(SecretBytes, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::copy_of(as_bytes("k"));
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
  EXPECT_EQ(b.size(), 1u);
}

}  // namespace
}  // namespace countersign

namespace countersign {
namespace {

TEST(SecretHex, DecodesIntoGuardedMemoryAndNamesTheBadDigitNotTheSecret) {
  auto k = secret_from_hex(as_bytes(" 0102aAfF\n"));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(Bytes(k->view().begin(), k->view().end()), (Bytes{0x01, 0x02, 0xAA, 0xFF}));
  auto bad = secret_from_hex(as_bytes("01x2"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kMalformed);
  EXPECT_NE(bad.error().message.find("offset 2"), std::string::npos) << bad.error().message;
  EXPECT_EQ(bad.error().message.find("01x2"), std::string::npos) << "the secret must not be quoted";
  EXPECT_FALSE(secret_from_hex(as_bytes("012")).ok());
  EXPECT_TRUE(secret_from_hex(as_bytes("")).ok());
}

}  // namespace
}  // namespace countersign
