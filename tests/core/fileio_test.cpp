#include "core/fileio.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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
