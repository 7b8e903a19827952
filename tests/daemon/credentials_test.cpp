// The fetcher's secrets from their files (daemon/credentials.h): the two-line S3 file, its
// line endings, and what is refused without quoting the secret.
#include "daemon/credentials.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>
#include <tuple>

#include "core/bytes.h"
#include "daemon/config.h"
#include "daemon/log_shipper.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

std::string secret_of(const S3Credentials& c) { return std::string(as_chars(c.secret_access_key.view())); }

Result<S3Credentials> parse(std::string_view text) { return parse_s3_credentials(as_bytes(text)); }

TEST(S3CredentialsTest, TheFirstLineIsTheKeyIdTheRestTheSecret) {
  auto c = parse("AKIAEXAMPLE\nwJalrXUtnFEMI/K7MDENG");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKIAEXAMPLE");
  EXPECT_EQ(secret_of(*c), "wJalrXUtnFEMI/K7MDENG");
}

TEST(S3CredentialsTest, TrailingLineEndsAreNotPartOfTheSecret) {
  auto c = parse("AKIAEXAMPLE\nsecret\r\n\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(secret_of(*c), "secret");
}

TEST(S3CredentialsTest, OneLineIsRefusedWithoutQuotingIt) {
  auto c = parse("AKIAEXAMPLE-and-a-secret");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(c.error().message, "s3_credentials_file: expected two lines, access key id then secret key");
}

TEST(S3CredentialsTest, TheConfiguredFilesEndUpInTheFetchSettings) {
  test_util::TempDir dir("credentials");
  test_util::spit(dir.path() / "s3", "AKIAEXAMPLE\nsecret\n");
  test_util::spit(dir.path() / "hf", "hf_token\n");
  ::chmod((dir.path() / "s3").c_str(), 0600);
  ::chmod((dir.path() / "hf").c_str(), 0400);
  Config config;
  config.s3_credentials_file = dir.file("s3");
  config.hf_token_file = dir.file("hf");
  FetchSettings settings;
  ASSERT_TRUE(load_fetch_credentials(config, settings).ok());
  ASSERT_TRUE(settings.s3);
  EXPECT_EQ(settings.s3->access_key_id, "AKIAEXAMPLE");
  EXPECT_EQ(secret_of(*settings.s3), "secret");
  ASSERT_TRUE(settings.hf_token);
  EXPECT_EQ(std::string(as_chars(settings.hf_token->view())), "hf_token");
}

TEST(S3CredentialsTest, AFileWithOnlyTheKeyIdStopsTheDaemonFromStarting) {
  test_util::TempDir dir("credentials");
  test_util::spit(dir.path() / "s3", "AKIAEXAMPLE\n");  // read_secret_file drops the newline
  ::chmod((dir.path() / "s3").c_str(), 0600);
  Config config;
  config.s3_credentials_file = dir.file("s3");
  FetchSettings settings;
  auto r = load_fetch_credentials(config, settings);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "s3_credentials_file: expected two lines, access key id then secret key");
  EXPECT_FALSE(settings.s3);
}

TEST(S3CredentialsTest, NoFilesConfiguredNoSecrets) {
  FetchSettings settings;
  ASSERT_TRUE(load_fetch_credentials(Config{}, settings).ok());
  EXPECT_FALSE(settings.s3);
  EXPECT_FALSE(settings.hf_token);
}

// A credentials file the group or others may read would hand the box's source credentials
// to them: the daemon refuses to start, naming the file and its mode, and reads nothing.
TEST(S3CredentialsTest, ACredentialsFileOthersCanReadStopsTheDaemonFromStarting) {
  test_util::TempDir dir("credentials");
  test_util::spit(dir.path() / "s3", "AKIAEXAMPLE\nsecret\n");
  test_util::spit(dir.path() / "hf", "hf_token\n");
  for (const auto& [file, mode, shown] : {std::tuple{"hf", 0644, "0644"}, std::tuple{"hf", 0640, "0640"},
                                          std::tuple{"s3", 0604, "0604"}, std::tuple{"s3", 0660, "0660"}}) {
    ::chmod((dir.path() / "hf").c_str(), 0600);
    ::chmod((dir.path() / "s3").c_str(), 0600);
    ::chmod((dir.path() / file).c_str(), static_cast<mode_t>(mode));
    Config config;
    config.s3_credentials_file = dir.file("s3");
    config.hf_token_file = dir.file("hf");
    FetchSettings settings;
    auto r = load_fetch_credentials(config, settings);
    ASSERT_FALSE(r.ok()) << file << " " << shown;
    EXPECT_EQ(r.error().code, Errc::kRejected);
    EXPECT_TRUE(test_util::contains(r.error().message, dir.file(file))) << r.error().message;
    EXPECT_TRUE(test_util::contains(r.error().message, std::string("mode ") + shown)) << r.error().message;
    EXPECT_FALSE(test_util::contains(r.error().message, "secret\n")) << r.error().message;
    EXPECT_FALSE(test_util::contains(r.error().message, "hf_token")) << r.error().message;
    EXPECT_FALSE(settings.s3 && std::string(file) == "s3");
  }
}

// The key the box archives its audit log with (s3_archive_credentials) is checked the same
// way: one the group or others may read stops the destinations from being made, naming the
// file and its mode, without a byte of it in the message.
TEST(LogDestinationCredentialsTest, AnArchiveKeyOthersCanReadIsRefused) {
  test_util::TempDir dir("credentials");
  test_util::spit(dir.path() / "archive", "AKIAEXAMPLE\nsecret-archive\n");
  for (const auto& [mode, shown] :
       {std::tuple{0640, "0640"}, std::tuple{0604, "0604"}, std::tuple{0666, "0666"}}) {
    Config config;
    config.box_id = "box-7f3a";
    config.s3_archive = "https://127.0.0.1:9/audit/countersign";
    config.s3_archive_credentials = dir.file("archive");
    ::chmod((dir.path() / "archive").c_str(), static_cast<mode_t>(mode));
    auto r = log_destinations(config);
    ASSERT_FALSE(r.ok()) << shown;
    EXPECT_EQ(r.error().code, Errc::kRejected) << r.error().message;
    EXPECT_TRUE(test_util::contains(r.error().message, dir.file("archive"))) << r.error().message;
    EXPECT_TRUE(test_util::contains(r.error().message, std::string("mode ") + shown)) << r.error().message;
    EXPECT_FALSE(test_util::contains(r.error().message, "secret-archive")) << r.error().message;
    EXPECT_FALSE(test_util::contains(r.error().message, "AKIAEXAMPLE")) << r.error().message;
  }
  ::chmod((dir.path() / "archive").c_str(), 0600);
  Config config;
  config.box_id = "box-7f3a";
  config.s3_archive = "https://127.0.0.1:9/audit/countersign";
  config.s3_archive_credentials = dir.file("archive");
  auto ok = log_destinations(config);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->size(), 1u);
}

}  // namespace
}  // namespace countersign::daemon
