#include "core/tree_hash.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_util.h"

namespace countersign {
namespace {

namespace fs = std::filesystem;

// Known SHA-256 values (FIPS 180-2 examples and the empty string).
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

class TreeHashTest : public ::testing::Test {
 protected:
  void put(const std::string& rel, const std::string& data) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
  void populate() {
    put("a/b/c.bin", "abc");
    put("a0", "");
    put("a-file", std::string(1000000, 'a'));
    put("B.txt", "abc");
    fs::create_directories(dir_ / "empty" / "dir");
  }
  test_util::TempDir tmp_{"treehash"};
  fs::path dir_ = tmp_.path();
};

TEST_F(TreeHashTest, ListsAndHashesEveryFileInByteOrder) {
  populate();
  TreeHashProgress progress;
  auto r = hash_tree(dir_.string(), 2, &progress);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  // Byte order: "B.txt" < "a-file" < "a/b/c.bin" < "a0" ('B' < 'a', '-' < '/' < '0').
  EXPECT_EQ((*r)[0].path, "B.txt");
  EXPECT_EQ((*r)[1].path, "a-file");
  EXPECT_EQ((*r)[2].path, "a/b/c.bin");
  EXPECT_EQ((*r)[3].path, "a0");
  EXPECT_EQ(hex_encode((*r)[0].sha256), kAbc);
  EXPECT_EQ(hex_encode((*r)[1].sha256), kMillionA);
  EXPECT_EQ(hex_encode((*r)[2].sha256), kAbc);
  EXPECT_EQ(hex_encode((*r)[3].sha256), kEmpty);
  EXPECT_EQ((*r)[1].size, 1000000u);
  EXPECT_EQ((*r)[3].size, 0u);
  EXPECT_EQ(progress.files_total, 4u);
  EXPECT_EQ(progress.files_done.load(), 4u);
  EXPECT_EQ(progress.bytes_total, 1000006u);
  EXPECT_EQ(progress.bytes_done.load(), 1000006u);
}

TEST_F(TreeHashTest, SameResultWithAnyThreadCount) {
  populate();
  for (int i = 0; i < 20; ++i)
    put("many/f" + std::to_string(i), std::string(static_cast<std::size_t>(i) * 977, 'x'));
  auto one = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_TRUE(one.ok()) << one.error().message;
  for (unsigned t : {0u, 3u, 64u}) {
    auto other = hash_tree(dir_.string(), t, nullptr);
    ASSERT_TRUE(other.ok()) << other.error().message;
    ASSERT_EQ(other->size(), one->size());
    for (std::size_t i = 0; i < one->size(); ++i) {
      EXPECT_EQ((*other)[i].path, (*one)[i].path);
      EXPECT_EQ((*other)[i].sha256, (*one)[i].sha256) << (*one)[i].path;
      EXPECT_EQ((*other)[i].size, (*one)[i].size);
    }
  }
}

TEST_F(TreeHashTest, PathsAreRelativeHoweverTheDirectoryIsSpelled) {
  populate();
  auto plain = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_TRUE(plain.ok());
  for (const std::string& spelled :
       {dir_.string() + "/", dir_.string() + "/./", (dir_ / "a" / "..").string()}) {
    auto r = hash_tree(spelled, 1, nullptr);
    ASSERT_TRUE(r.ok()) << spelled << ": " << r.error().message;
    ASSERT_EQ(r->size(), plain->size()) << spelled;
    for (std::size_t i = 0; i < r->size(); ++i) EXPECT_EQ((*r)[i].path, (*plain)[i].path) << spelled;
  }
}

TEST_F(TreeHashTest, ResultMakesAValidManifest) {
  populate();
  auto files = hash_tree(dir_.string(), 0, nullptr);
  ASSERT_TRUE(files.ok());
  Manifest::Fields f;
  f.name = "m";
  f.version = "1";
  f.license.spdx = "MIT";
  f.files = *files;
  auto m = Manifest::create(f);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->files().size(), 4u);
}

TEST_F(TreeHashTest, SymlinkIsRefusedByName) {
  put("real.bin", "abc");
  fs::create_symlink(dir_ / "real.bin", dir_ / "link.bin");
  auto r = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("link.bin"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos) << r.error().message;
}

TEST_F(TreeHashTest, DirectorySymlinkIsRefusedToo) {
  put("real/x.bin", "abc");
  fs::create_directory_symlink(dir_ / "real", dir_ / "alias");
  auto r = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("alias"), std::string::npos) << r.error().message;
}

TEST_F(TreeHashTest, FifoIsRefusedByName) {
  put("ok.bin", "abc");
  ASSERT_EQ(::mkfifo((dir_ / "pipe").c_str(), 0600), 0);
  auto r = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("pipe"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos) << r.error().message;
}

TEST_F(TreeHashTest, FileNameAManifestCannotHoldIsRefused) {
  put("dir/back\\slash.bin", "abc");
  auto r = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("back\\slash.bin"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("backslash"), std::string::npos) << r.error().message;
}

TEST_F(TreeHashTest, EmptyOrMissingDirectoryIsAnError) {
  fs::create_directories(dir_ / "only" / "dirs");
  auto empty = hash_tree(dir_.string(), 1, nullptr);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no files"), std::string::npos) << empty.error().message;
  auto missing = hash_tree((dir_ / "nope").string(), 1, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kIo);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos) << missing.error().message;
  put("plain", "x");
  auto file = hash_tree((dir_ / "plain").string(), 1, nullptr);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("not a directory"), std::string::npos) << file.error().message;
}

TEST_F(TreeHashTest, UnreadableFileIsReported) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  put("locked.bin", "abc");
  put("open.bin", "abc");
  ::chmod((dir_ / "locked.bin").c_str(), 0);
  auto r = hash_tree(dir_.string(), 2, nullptr);
  ::chmod((dir_ / "locked.bin").c_str(), 0600);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("locked.bin"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace countersign
