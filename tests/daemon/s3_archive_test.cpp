// The audit log's immutable copy (daemon/s3_archive.h): the engine shipping
// sealed segments and signed checkpoints to a real S3 server that enforces Object Lock
// (Ceph's radosgw, tests/daemon/radosgw_fixture.h), with the real helper writing the log.
// What is asserted is what an auditor sees in the bucket: the documented keys, versions
// locked in COMPLIANCE mode that the box's own credentials cannot delete or shorten, and a
// downloaded copy that `countersign log verify` checks offline, naming what is missing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/checkpoint.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "core/timeutil.h"
#include "daemon/api.h"
#include "daemon/engine.h"
#include "daemon/log_reader.h"
#include "daemon/s3_archive.h"
#include "daemon/s3_client.h"
#include "tests/cli/cli_test_util.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/engine_holder.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/radosgw_fixture.h"
#include "tests/daemon/system_test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::BoxFixture;
using test_util::contains;
using test_util::RadosgwFixture;

constexpr const char* kPrefix = "archive/eu";

class S3Archive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rgw_ = new RadosgwFixture(); }
  static void TearDownTestSuite() {
    delete rgw_;
    rgw_ = nullptr;
  }

  void SetUp() override {
    CS_REQUIRE_OR_SKIP(rgw_->running(), rgw_->skip_reason());
    CS_REQUIRE_OR_SKIP(fs::exists(COUNTERSIGN_SYSTEM_BIN), "countersign-system not built");
    // One bucket per test, made as the auditors would: Object Lock enabled at creation.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    bucket_ = "t" + std::to_string(++buckets_) + "-" + std::to_string(::getpid());
    auto made = client().request("PUT", "", "", "", {"x-amz-bucket-object-lock-enabled: true"});
    ASSERT_TRUE(made.ok()) << made.error().message;
    ASSERT_EQ(made->status, 200) << made->error_text() << " (creating bucket " << bucket_ << " for " << name
                                 << ")";
    box_.config().s3_archive = rgw_->url() + "/" + bucket_ + "/" + kPrefix;
    box_.config().s3_archive_credentials = rgw_->write_credentials(dir_.path());
    box_.config().s3_archive_segment_entries = 8;
    box_.config().s3_archive_segment_seconds = 1;
    box_.config().s3_archive_retention_seconds = 2 * 86400;
    box_.config().ship_retry_seconds = 1;
    test_util::spit(dir_.path() / "box-log.pub", box_.log_verifier());
  }

  S3Client client() const {
    const std::string secret = RadosgwFixture::kSecretKey;
    S3Credentials c{RadosgwFixture::kAccessKey, SecretBytes(secret.size())};
    std::copy(secret.begin(), secret.end(), c.secret_access_key.data());
    return S3Client({rgw_->url(), bucket_, "us-east-1", ""}, std::move(c));
  }
  std::string base() const { return std::string(kPrefix) + "/" + BoxFixture::kBox; }

  Engine& engine() { return engine_.get(); }
  void restart() {
    engine_.reset();
    engine();
  }
  void append(int n, const std::string& what) {
    test::append_reported_entries(box_.config_file(), n, "weights/model-", what);
  }
  std::uint64_t log_size() { return *engine().log().size(); }
  json archive_status() { return Api(engine()).status().body["log_destinations"][0]; }

  // The keys in the bucket under the box's prefix, once everything up to the log's current
  // size and its newest checkpoint are there (bounded: 30 s); the last listing otherwise.
  std::vector<std::string> wait_until_archived() {
    const std::uint64_t size = log_size();
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) {
      auto listed = client().list(base() + "/");
      if (listed.ok()) {
        keys = *listed;
        const bool delivered = archive_status()["delivered"] == size;
        const std::uint64_t newest = newest_checkpoint_size();
        if (delivered &&
            std::count(keys.begin(), keys.end(), s3_checkpoint_key(kPrefix, BoxFixture::kBox, newest)))
          return keys;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "not archived within 30 s; status " << archive_status().dump();
    return keys;
  }
  std::uint64_t newest_checkpoint_size() {
    Reply cp = Api(engine()).log_checkpoint();
    if (!cp.text) return 0;
    auto n = note::Note::parse(*cp.text);
    if (!n.ok()) return 0;
    auto c = Checkpoint::parse(n->text());
    return c.ok() ? c->size : 0;
  }

  // The bucket's copy of the box's log, as `aws s3 sync s3://BUCKET/PREFIX/BOX DIR` makes it.
  fs::path download(const std::vector<std::string>& keys) {
    const fs::path copy = dir_.path() / ("copy-" + std::to_string(++copies_));
    for (const auto& key : keys) {
      auto bytes = client().get(key);
      EXPECT_TRUE(bytes.ok()) << key << ": " << bytes.error().message;
      if (!bytes.ok()) continue;
      const fs::path p = copy / key.substr(base().size() + 1);
      fs::create_directories(p.parent_path());
      test_util::spit(p, *bytes);
    }
    return copy;
  }
  test_util::CliRun verify(const fs::path& copy, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"log", "verify", copy.string(), "--key",
                                     (dir_.path() / "box-log.pub").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return test_util::run_cli(args, system_now);
  }

  // The versions the bucket holds of `key` (ListObjectVersions).
  std::vector<std::string> versions_of(const std::string& key) {
    auto r = client().request("GET", "", "prefix=" + s3_uri_encode(key, false) + "&versions=");
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->error_text() : r.error().message);
    std::vector<std::string> out;
    if (!r.ok()) return out;
    static const std::regex version("<VersionId>([^<]*)</VersionId>");
    for (std::sregex_iterator it(r->body.begin(), r->body.end(), version), end; it != end; ++it)
      out.push_back((*it)[1]);
    return out;
  }

  static RadosgwFixture* rgw_;
  static int buckets_;
  int copies_ = 0;
  std::string bucket_;
  test_util::TempDir dir_{"s3"};
  BoxFixture box_{dir_.path()};
  test_util::EngineHolder engine_{box_};
};

RadosgwFixture* S3Archive::rgw_ = nullptr;
int S3Archive::buckets_ = 0;

// The segment keys in `keys`, as [first, last] pairs, in listing order.
std::vector<std::pair<std::uint64_t, std::uint64_t>> segments_in(const std::vector<std::string>& keys) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  static const std::regex segment(".*/segments/([0-9]{12})-([0-9]{12})\\.jsonl");
  for (const auto& k : keys) {
    std::smatch m;
    if (std::regex_match(k, m, segment)) out.emplace_back(std::stoull(m[1]), std::stoull(m[2]));
  }
  return out;
}

TEST_F(S3Archive, SegmentsAreLockedAndTheCopyVerifies) {
  engine();
  append(20, "first");
  const std::uint64_t n = log_size();
  ASSERT_GE(n, 20u);
  const auto keys = wait_until_archived();

  // Documented keys: PREFIX/BOX/segments/FIRST-LAST.jsonl, in order, none missing, none
  // longer than the configured 8 entries; PREFIX/BOX/checkpoints/SIZE.note.
  const auto segs = segments_in(keys);
  ASSERT_FALSE(segs.empty()) << ::testing::PrintToString(keys);
  std::uint64_t next = 0;
  for (const auto& [first, last] : segs) {
    EXPECT_EQ(first, next) << ::testing::PrintToString(keys);
    EXPECT_LE(last - first + 1, 8u);
    next = last + 1;
  }
  EXPECT_EQ(next, n);
  const std::string newest = base() + "/checkpoints/" + std::string(12 - std::to_string(n).size(), '0') +
                             std::to_string(n) + ".note";
  if (newest_checkpoint_size() == n) {
    EXPECT_TRUE(std::count(keys.begin(), keys.end(), newest)) << ::testing::PrintToString(keys);
  }

  // Every version is locked in COMPLIANCE mode for the configured retention.
  auto head = client().request("HEAD", keys.front());
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(head->headers["x-amz-object-lock-mode"], "COMPLIANCE");
  auto until = parse_rfc3339(head->headers["x-amz-object-lock-retain-until-date"].substr(0, 19) + "Z");
  ASSERT_TRUE(until.ok()) << head->headers["x-amz-object-lock-retain-until-date"];
  EXPECT_NEAR(static_cast<double>(*until - system_now()), 2.0 * 86400, 120.0);
  // ... and says what it holds by SHA-256 too (x-amz-meta-sha256), which HEAD shows where an
  // ETag is not an MD5 (SSE-KMS buckets).
  auto body = client().get(keys.front());
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(head->headers["x-amz-meta-sha256"], hex_encode(sha256(*body))) << keys.front();

  // The auditor's downloaded copy verifies offline.
  const fs::path copy = download(keys);
  auto ok = verify(copy, {"--json"});
  ASSERT_EQ(ok.rc, 0) << ok;
  const json j = json::parse(ok.out);
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["entries"], n);
  EXPECT_EQ(j["segments"], segs.size());
  EXPECT_EQ(j["newest_checkpoint"]["size"], newest_checkpoint_size());

  // A copy missing a segment says which entries are missing.
  ASSERT_GE(segs.size(), 3u);
  const auto [first, last] = segs[1];
  fs::remove(copy / "segments" / fs::path(s3_segment_key("", "x", first, last)).filename());
  auto missing = verify(copy);
  EXPECT_EQ(missing.rc, 1) << missing;
  EXPECT_TRUE(contains(missing.err,
                       "no segment holds entries " + std::to_string(first) + ".." + std::to_string(last)))
      << missing;
}

TEST_F(S3Archive, OwnCredentialsCannotDeleteOrShorten) {
  engine();
  append(10, "locked");
  const auto keys = wait_until_archived();
  const std::string key = keys.front();
  const auto versions = versions_of(key);
  ASSERT_EQ(versions.size(), 1u);
  auto original = client().get(key);
  ASSERT_TRUE(original.ok());

  // Deleting the version: refused by the server.
  auto del = client().request("DELETE", key, "versionId=" + s3_uri_encode(versions[0], false));
  ASSERT_TRUE(del.ok()) << del.error().message;
  EXPECT_EQ(del->status, 403) << del->error_text();
  EXPECT_TRUE(contains(del->error_text(), "AccessDenied")) << del->error_text();

  // Shortening its retention: refused.
  const std::string retention =
      "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode>"
      "<RetainUntilDate>" +
      format_rfc3339(system_now() + 3600) + "</RetainUntilDate></Retention>";
  auto shorten = client().request("PUT", key, "retention=&versionId=" + s3_uri_encode(versions[0], false),
                                  retention, {"Content-MD5: " + md5_base64(retention)});
  ASSERT_TRUE(shorten.ok()) << shorten.error().message;
  EXPECT_EQ(shorten->status, 403) << shorten->error_text();

  // Writing other bytes under the key adds a version; the shipped one is unchanged.
  auto over = client().put_locked(key, "{\"forged\": true}\n", system_now() + 86400);
  ASSERT_TRUE(over.ok()) << over.error().message;
  auto kept = client().get(key, versions[0]);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_EQ(*kept, *original);

  // And the box itself never writes other bytes under a key that holds some: a segment key
  // taken by someone else stops the archive there, loudly, naming the key.
  const std::uint64_t at = log_size();
  for (std::uint64_t last = at; last < at + 8; ++last)  // whatever length the box's next segment has
    ASSERT_TRUE(
        client()
            .put_locked(s3_segment_key(kPrefix, BoxFixture::kBox, at, last), "{}\n", system_now() + 86400)
            .ok());
  append(8, "blocked");
  json s;
  for (int i = 0; i < 100; ++i) {
    s = archive_status();
    if (s.contains("error")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(s.contains("error")) << s.dump();
  EXPECT_TRUE(contains(s["error"], "/" + bucket_ + "/" + base() + "/segments/")) << s.dump();
  EXPECT_TRUE(contains(s["error"], " already holds other bytes")) << s.dump();
  EXPECT_EQ(s["delivered"], at);
  for (std::uint64_t last = at; last < at + 8; ++last)
    EXPECT_EQ(versions_of(s3_segment_key(kPrefix, BoxFixture::kBox, at, last)).size(), 1u);
}

TEST_F(S3Archive, ADownArchiveGetsEverythingLater) {
  engine();
  append(9, "before");
  wait_until_archived();
  const std::uint64_t before = log_size();

  rgw_->stop_rgw();
  append(12, "while down");
  json s;
  for (int i = 0; i < 100; ++i) {
    s = archive_status();
    if (s.contains("error")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(s.contains("error")) << s.dump();
  EXPECT_EQ(s["delivered"], before);
  ASSERT_TRUE(rgw_->start_rgw()) << rgw_->skip_reason();

  const auto keys = wait_until_archived();
  const auto segs = segments_in(keys);
  std::uint64_t next = 0;
  for (const auto& [first, last] : segs) {
    EXPECT_EQ(first, next) << ::testing::PrintToString(keys);
    next = last + 1;
  }
  EXPECT_EQ(next, log_size());
  EXPECT_FALSE(archive_status().contains("error"));
  auto ok = verify(download(keys));
  EXPECT_EQ(ok.rc, 0) << ok;
  EXPECT_TRUE(contains(ok.out, "none missing")) << ok;
}

TEST_F(S3Archive, NothingIsUploadedTwiceAcrossARestart) {
  engine();
  append(16, "first run");
  const auto keys = wait_until_archived();
  restart();
  append(3, "second run");
  const auto after = wait_until_archived();
  EXPECT_GT(after.size(), keys.size());
  for (const auto& key : after) EXPECT_EQ(versions_of(key).size(), 1u) << key;
  EXPECT_TRUE(fs::exists(box_.config().daemon_dir() + "/ship/s3.json"));
  EXPECT_TRUE(fs::exists(box_.config().daemon_dir() + "/ship/s3.checkpoints.json"));
}

}  // namespace
}  // namespace countersign::daemon
