#include "core/fileio.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "core/jcs.h"
#include "tests/test_util.h"

namespace countersign {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class FileIoTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string slurp(const std::string& p) { return test_util::slurp(p); }
  std::size_t entries() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }
  test_util::TempDir tmp_{"fileio"};
  fs::path dir_ = tmp_.path();
};

TEST_F(FileIoTest, ReadsWholeFileIncludingNulBytes) {
  const std::string data("a\0b\nc", 5);
  std::ofstream(path("f"), std::ios::binary) << data;
  auto r = read_file(path("f"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, data);
}

TEST_F(FileIoTest, MissingFileIsIoErrorNamingThePath) {
  auto r = read_file(path("nope.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.error().message.find(path("nope.json")), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("No such file"), std::string::npos) << r.error().message;
}

TEST_F(FileIoTest, DirectoryIsRefused) {
  auto r = read_file(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.error().message.find("directory"), std::string::npos) << r.error().message;
}

TEST_F(FileIoTest, SizeCap) {
  std::ofstream(path("big"), std::ios::binary) << std::string(100, 'x');
  EXPECT_TRUE(read_file(path("big"), 100).ok());
  auto r = read_file(path("big"), 99);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find(path("big")), std::string::npos) << r.error().message;
}

TEST_F(FileIoTest, DashReadsTheInjectedStream) {
  std::istringstream in("{\"from\": \"stdin\"}");
  auto r = read_file_or_stdin("-", in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{\"from\": \"stdin\"}");
  std::istringstream big(std::string(200000, 'y'));
  auto capped = read_file_or_stdin("-", big, 1000);
  ASSERT_FALSE(capped.ok());
  EXPECT_NE(capped.error().message.find("standard input"), std::string::npos);
  std::ofstream(path("g"), std::ios::binary) << "file";
  std::istringstream unused("stdin");
  EXPECT_EQ(*read_file_or_stdin(path("g"), unused), "file");
}

TEST_F(FileIoTest, AtomicWriteCreatesWithModeAndLeavesNoTempFiles) {
  ASSERT_TRUE(write_file_atomic(path("key"), "secret-ish", 0600).ok());
  EXPECT_EQ(slurp(path("key")), "secret-ish");
  struct stat st {};
  ASSERT_EQ(::stat(path("key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(write_file_atomic(path("pub"), "x").ok());
  ASSERT_EQ(::stat(path("pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(entries(), 2u);
}

TEST_F(FileIoTest, AtomicWriteReplaces) {
  ASSERT_TRUE(write_file_atomic(path("f"), "old contents that are longer").ok());
  ASSERT_TRUE(write_file_atomic(path("f"), "new").ok());
  EXPECT_EQ(slurp(path("f")), "new");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIoTest, ExclusiveWriteRefusesToOverwrite) {
  ASSERT_TRUE(write_file_atomic(path("sig"), "first", 0644, true).ok());
  auto r = write_file_atomic(path("sig"), "second", 0644, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("already exists"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(path("sig")), std::string::npos) << r.error().message;
  EXPECT_EQ(slurp(path("sig")), "first");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIoTest, WriteIntoMissingDirectoryFails) {
  auto r = write_file_atomic(path("no/such/dir/f"), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.error().message.find(path("no/such/dir/f")), std::string::npos) << r.error().message;
}

// `-o /dev/null` once replaced /dev/null with a regular file. The device, FIFO and links
// here are made in the test's own directory (mknod, mkfifo), never the machine's.
TEST_F(FileIoTest, OutputToADeviceWritesIntoItAndLeavesItADevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod of a character device needs root";
  const std::string null = path("null");
  ASSERT_EQ(::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << std::strerror(errno);
  ASSERT_TRUE(write_output_file(null, "an export\n").ok());
  struct stat st {};
  ASSERT_EQ(::lstat(null.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(entries(), 1u);  // no temporary file left beside it
}

TEST_F(FileIoTest, OutputToAFifoIsReadByItsReaderAndTheFifoStays) {
  const std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = test_util::slurp(fifo); });
  auto w = write_output_file(fifo, "through the pipe\n");
  reader.join();
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(got, "through the pipe\n");
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(FileIoTest, OutputThroughALinkReplacesItsFileAndKeepsTheLink) {
  test_util::spit(path("real.txt"), "old\n");
  fs::create_symlink("real.txt", path("link.txt"));
  ASSERT_TRUE(write_output_file(path("link.txt"), "new\n").ok());
  EXPECT_TRUE(fs::is_symlink(path("link.txt")));
  EXPECT_EQ(slurp(path("real.txt")), "new\n");

  fs::create_symlink("nothing.txt", path("dangling"));
  auto dangling = write_output_file(path("dangling"), "x");
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.error().message.find("symbolic link to nothing"), std::string::npos);
  EXPECT_FALSE(fs::exists(path("nothing.txt")));
  EXPECT_TRUE(fs::is_symlink(path("dangling")));

  fs::create_directory(path("dir"));
  auto dir = write_output_file(path("dir"), "x");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("is a directory"), std::string::npos);
}

TEST(PrettyJson, IntegralNumbersWithoutFraction) {
  // As documents arrive: jcs::parse keeps every number as a double.
  auto doc = jcs::parse(R"({"size": 4976698672, "b": [1, 2.5, -3], "a": {"z": 0, "y": 9007199254740991}})");
  ASSERT_TRUE(doc.ok());
  const std::string out = to_pretty_json(*doc);
  EXPECT_EQ(out,
            "{\n"
            "  \"a\": {\n"
            "    \"y\": 9007199254740991,\n"
            "    \"z\": 0\n"
            "  },\n"
            "  \"b\": [\n"
            "    1,\n"
            "    2.5,\n"
            "    -3\n"
            "  ],\n"
            "  \"size\": 4976698672\n"
            "}\n");
  // Reading the pretty form back gives the same canonical document.
  EXPECT_EQ(*jcs::serialize(*jcs::parse(out)), *jcs::serialize(*doc));
}

TEST(PrettyJson, KeepsUtf8AndLargeNumbers) {
  json j{{"name", "Zoë ✓"}, {"big", 1e300}};
  const std::string out = to_pretty_json(j);
  EXPECT_NE(out.find("Zoë ✓"), std::string::npos) << out;
  EXPECT_EQ(*jcs::serialize(*jcs::parse(out)), *jcs::serialize(j));
  EXPECT_EQ(out.back(), '\n');
}

}  // namespace
}  // namespace countersign
