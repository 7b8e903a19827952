// fetch_manifest against a real nginx (tests/daemon/nginx_fixture.h) and file sources: what
// lands in staging and in its parts directory, the events the audit log would get, the
// requests the mirror saw.
#include "daemon/fetch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/daemon/integration.h"
#include "tests/daemon/nginx_fixture.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using test_util::contains;
using test_util::slurp;
using test_util::spit;
using Kind = FetchEvent::Kind;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

void put(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  spit(file, bytes);
}

Source source(const std::string& spec) {
  auto s = Source::from_spec(spec);
  EXPECT_TRUE(s.ok()) << spec << ": " << s.error().message;
  return s.ok() ? *s : Source{};
}

struct Outcome {
  Result<void> result;
  std::vector<FetchEvent> events;
  std::vector<FileProgress> progress;
  double seconds = 0;

  std::vector<FetchEvent> of_kind(Kind k) const {
    std::vector<FetchEvent> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  std::string dump() const {
    std::string s = result.ok() ? "ok" : "error: " + result.error().message;
    for (const auto& e : events) {
      s += "\n  event " + std::to_string(static_cast<int>(e.kind)) + " " + e.path + " [" + e.source + "] " +
           e.reason;
    }
    return s;
  }
};

// A fetch that got past one bad source: it succeeded and reported exactly one event of
// `kind`, from `bad`. Returns that event, or nothing after recording why not.
std::optional<FetchEvent> got_past(const Outcome& out, Kind kind, const Source& bad) {
  if (!out.result.ok()) {
    ADD_FAILURE() << "the fetch failed: " << out.dump();
    return std::nullopt;
  }
  auto found = out.of_kind(kind);
  if (found.size() != 1) {
    ADD_FAILURE() << found.size() << " events of kind " << static_cast<int>(kind)
                  << ", expected one: " << out.dump();
    return std::nullopt;
  }
  EXPECT_EQ(found[0].source, bad.describe()) << out.dump();
  return found[0];
}

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(nginx_.running(), nginx_.skip_reason());
    fs::create_directories(staging_);
  }

  // A manifest of `files` (path -> bytes), listing `sources`.
  Manifest manifest(const std::map<std::string, std::string>& files, std::vector<Source> sources = {}) {
    Manifest::Fields f;
    f.name = "test-model";
    f.version = "1";
    f.license.spdx = "Apache-2.0";
    for (const auto& [path, bytes] : files)
      f.files.push_back(ManifestFile{path, bytes.size(), sha256(bytes)});
    f.sources = std::move(sources);
    auto m = Manifest::create(std::move(f));
    EXPECT_TRUE(m.ok()) << m.error().message;
    return std::move(m).value();
  }

  // nginx's document root, one folder per simulated mirror.
  fs::path served(const std::string& rel) const { return nginx_.root() / rel; }
  Source mirror(const std::string& folder) const { return source(nginx_.base_url() + folder + "/"); }

  Outcome fetch(const Manifest& m, const std::vector<Source>& mirrors, const FetchSettings& settings = {},
                std::function<bool(const Outcome&)> cancel = nullptr) {
    Outcome out;
    FetchObserver obs;
    obs.on_event = [&](const FetchEvent& e) { out.events.push_back(e); };
    obs.on_progress = [&](const FileProgress& p) { out.progress.push_back(p); };
    if (cancel) obs.cancelled = [&] { return cancel(out); };
    auto t0 = std::chrono::steady_clock::now();
    out.result = fetch_manifest(m, mirrors, staging_.string(), settings, obs);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
  }

  // Every regular file or link under staging, relative ("a.bin", "sub/b.bin").
  std::set<std::string> staging_entries() const {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(staging_)) {
      if (!e.is_directory()) out.insert(fs::relative(e.path(), staging_).string());
    }
    return out;
  }

  // The names in the parts directory ("0", "2"); empty when it does not exist.
  std::set<std::string> part_names() const {
    std::set<std::string> out;
    if (!fs::exists(fs::symlink_status(parts_))) return out;
    for (const auto& e : fs::directory_iterator(parts_)) out.insert(e.path().filename().string());
    return out;
  }

  test_util::NginxFixture nginx_;
  test_util::TempDir tmp_{"fetch"};
  fs::path staging_ = tmp_.path() / "staging";
  fs::path parts_ = tmp_.path() / "staging.parts";  // partial files, by index in the manifest
};

// Progress never reports more bytes than declared, and each verified file ends at its size.
void expect_sane_progress(const Outcome& out, const Manifest& m) {
  std::map<std::size_t, std::uint64_t> last;
  for (const auto& p : out.progress) {
    ASSERT_LT(p.file, m.files().size());
    EXPECT_EQ(p.total, m.files()[p.file].size);
    EXPECT_LE(p.done, p.total) << m.files()[p.file].path;
    last[p.file] = p.done;
  }
  if (out.result.ok()) {
    for (std::size_t i = 0; i < m.files().size(); ++i)
      EXPECT_EQ(last[i], m.files()[i].size) << m.files()[i].path;
  }
}

TEST_F(FetchTest, EveryFileLandsVerifiedFromTheFirstSource) {
  std::map<std::string, std::string> files = {
      {"config.json", "{\"layers\": 2}\n"},
      {"empty.txt", ""},
      {"model-00001-of-00002.safetensors", random_bytes(3 << 20, 1)},
      {"model-00002-of-00002.safetensors", random_bytes(700 * 1024, 2)},
      {"tokenizer/vocab with space.json", random_bytes(5000, 3)},
  };
  fs::path usb = tmp_.path() / "usb";
  for (const auto& [path, bytes] : files) {
    put(served("m1") / path, bytes);
    put(usb / path, bytes);
  }
  Manifest m = manifest(files, {source("file://" + usb.string() + "/")});
  FetchSettings settings;
  settings.parallel = 3;
  Outcome out = fetch(m, {mirror("m1")}, settings);

  ASSERT_TRUE(out.result.ok()) << out.dump();
  std::set<std::string> expected;
  for (const auto& [path, bytes] : files) {
    EXPECT_EQ(slurp(staging_ / path), bytes) << path;
    expected.insert(path);
  }
  EXPECT_EQ(staging_entries(), expected);  // nothing else
  EXPECT_FALSE(fs::exists(parts_));
  EXPECT_EQ(out.of_kind(Kind::kFileVerified).size(), files.size()) << out.dump();
  EXPECT_EQ(out.events.size(), files.size()) << out.dump();
  for (const auto& e : out.events) EXPECT_EQ(e.source, mirror("m1").describe());
  expect_sane_progress(out, m);
}

TEST_F(FetchTest, SeveralFilesAreInFlightAtOnceButNoMoreThanParallel) {
  // /slow/ sends 64 KiB/s per connection: each 96 KiB file takes about 1.5 s, so files
  // fetched one after the other would never overlap.
  std::map<std::string, std::string> files;
  for (int i = 0; i < 4; ++i) {
    files["f" + std::to_string(i) + ".bin"] = random_bytes(96 * 1024, 10u + static_cast<unsigned>(i));
  }
  for (const auto& [path, bytes] : files) put(nginx_.root() / path, bytes);
  Manifest m = manifest(files);
  FetchSettings settings;
  settings.parallel = 2;

  std::set<std::size_t> in_flight;
  std::size_t most = 0;
  FetchObserver obs;
  obs.on_progress = [&](const FileProgress& p) {
    if (p.done < p.total && !p.source.empty()) in_flight.insert(p.file);
    most = std::max(most, in_flight.size());
  };
  obs.on_event = [&](const FetchEvent& e) {
    for (std::size_t i = 0; i < m.files().size(); ++i) {
      if (m.files()[i].path == e.path) in_flight.erase(i);
    }
  };
  std::vector<Source> mirrors = {source(nginx_.slow_url())};
  auto r = fetch_manifest(m, mirrors, staging_.string(), settings, obs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(most, 2u);
  for (const auto& [path, bytes] : files) EXPECT_EQ(slurp(staging_ / path), bytes);
}

TEST_F(FetchTest, WrongHashOnTheFirstMirrorIsReportedAndTheSecondMirrorIsUsed) {
  std::string good = random_bytes(256 * 1024, 4);
  std::string bad = good;
  bad[1000] ^= 0x01;
  put(served("m1/model.bin"), bad);
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {mirror("m1"), mirror("m2")});

  auto mismatch = got_past(out, Kind::kHashMismatch, mirror("m1"));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_EQ(mismatch->path, "model.bin");
  EXPECT_EQ(mismatch->reason, "wrong SHA-256: got " + digest_to_string(sha256(bad)) + ", the manifest says " +
                                  digest_to_string(sha256(good)));
  auto verified = out.of_kind(Kind::kFileVerified);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_EQ(verified[0].source, mirror("m2").describe());
  EXPECT_EQ(staging_entries(), std::set<std::string>{"model.bin"});
  EXPECT_FALSE(fs::exists(parts_));
}

TEST_F(FetchTest, TruncatedFileOnTheFirstSourceIsReportedAsTooFewBytes) {
  std::string good = random_bytes(100 * 1024, 5);
  put(served("m1/model.bin"), good.substr(0, 60 * 1024));
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {mirror("m1"), mirror("m2")});

  auto mismatch = got_past(out, Kind::kHashMismatch, mirror("m1"));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_EQ(mismatch->reason, "fewer bytes than declared: 61440 of 102400");
}

TEST_F(FetchTest, LongerFileIsCutAtTheDeclaredSize) {
  std::string good = random_bytes(64 * 1024, 6);
  put(served("m1/model.bin"), good + random_bytes(8 << 20, 7));  // 8 MiB too many
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {mirror("m1"), mirror("m2")});

  auto mismatch = got_past(out, Kind::kHashMismatch, mirror("m1"));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(contains(mismatch->reason, "more bytes than the 65536 declared")) << mismatch->reason;
  expect_sane_progress(out, m);
}

TEST_F(FetchTest, EndlessSourceIsCutAtTheDeclaredSizeNotReadToTheEnd) {
  std::string good = random_bytes(200 * 1024, 8);
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.endless_url()), mirror("m2")});

  auto mismatch = got_past(out, Kind::kHashMismatch, source(nginx_.endless_url()));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_EQ(mismatch->reason, "more bytes than the 204800 declared");
  expect_sane_progress(out, m);  // the partial file never grew past the declared size
  // The backend streams up to 1 GiB; the fetcher hung up long before (socket buffers only).
  auto reqs = nginx_.backend_requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/endless/model.bin");
  EXPECT_LT(reqs[0].body_bytes_sent, std::uint64_t{64} << 20);
}

TEST_F(FetchTest, MissingFileIsHttp404AndTheNextSourceIsTried) {
  std::string good = random_bytes(10 * 1024, 9);
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}}, {mirror("m2")});
  Outcome out = fetch(m, {mirror("m1")});

  auto failure = got_past(out, Kind::kSourceFailed, mirror("m1"));
  ASSERT_TRUE(failure);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_EQ(failure->reason, "HTTP 404");
}

TEST_F(FetchTest, StalledSourceIsDroppedAfterTheStallTimeout) {
  std::string good = random_bytes(10 * 1024, 11);
  put(served("m2/model.bin"), good);
  Manifest m = manifest({{"model.bin", good}});
  FetchSettings settings;
  settings.stall_timeout_seconds = 2;
  Outcome out = fetch(m, {source(nginx_.stall_url()), mirror("m2")}, settings);

  auto failure = got_past(out, Kind::kSourceFailed, source(nginx_.stall_url()));
  ASSERT_TRUE(failure);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(contains(failure->reason, "stalled: less than 1 KiB/s for 2 s")) << failure->reason;
  EXPECT_GE(out.seconds, 1.5);
  EXPECT_LT(out.seconds, 10.0);
}

TEST_F(FetchTest, TricklingSourceIsDroppedAndTheNextSourceResumesAfterItsBytes) {
  std::string good = random_bytes(64 * 1024, 12);
  put(nginx_.root() / "model.bin", good);  // /trickle/ (256 B/s) and / serve the same file
  Manifest m = manifest({{"model.bin", good}});
  FetchSettings settings;
  settings.stall_timeout_seconds = 2;
  Outcome out = fetch(m, {source(nginx_.trickle_url()), source(nginx_.base_url())}, settings);

  auto failure = got_past(out, Kind::kSourceFailed, source(nginx_.trickle_url()));
  ASSERT_TRUE(failure);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(contains(failure->reason, "stalled")) << failure->reason;
  // The trickled bytes were kept: the second source was asked for the rest only.
  bool resumed = false;
  for (const auto& e : nginx_.access_log()) {
    if (e.uri == "/model.bin") {
      EXPECT_EQ(e.status, 206);
      resumed = e.range.rfind("bytes=", 0) == 0 && e.range != "bytes=0-";
    }
  }
  EXPECT_TRUE(resumed);
}

TEST_F(FetchTest, DroppedConnectionIsResumedWithRangeOnTheSameSource) {
  std::string good = random_bytes(1 << 20, 13);
  put(nginx_.root() / "model.bin", good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.drop_url())});

  ASSERT_TRUE(out.result.ok()) << out.dump() << "\n" << nginx_.error_log();
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(out.of_kind(Kind::kSourceFailed).empty()) << out.dump();
  EXPECT_TRUE(out.of_kind(Kind::kHashMismatch).empty()) << out.dump();
  auto reqs = nginx_.backend_requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].range, "");
  EXPECT_EQ(reqs[0].body_bytes_sent, good.size() / 2);  // then the connection dropped
  EXPECT_EQ(reqs[1].range, "bytes=" + std::to_string(good.size() / 2) + "-");
  EXPECT_EQ(reqs[1].body_bytes_sent, good.size() - good.size() / 2);
}

TEST_F(FetchTest, NoSourceWithTheRightBytesIsAnErrorNamingTheFileAndEverySource) {
  std::string good = random_bytes(20 * 1024, 14);
  std::string bad = good;
  bad[0] ^= 0x40;
  put(served("m1/sub/model.bin"), bad);
  put(served("ok/other.bin"), "fine");
  Manifest m = manifest({{"other.bin", "fine"}, {"sub/model.bin", good}}, {mirror("m2")});
  Outcome out = fetch(m, {mirror("m1"), mirror("ok")});

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, Errc::kNotFound);
  EXPECT_EQ(out.result.error().message,
            "no source gave the right bytes for sub/model.bin: " + mirror("m1").describe() +
                ": wrong SHA-256: got " + digest_to_string(sha256(bad)) + ", the manifest says " +
                digest_to_string(sha256(good)) + "; " + mirror("ok").describe() + ": HTTP 404; " +
                mirror("m2").describe() + ": HTTP 404");
  EXPECT_FALSE(fs::exists(staging_ / "sub/model.bin"));
  EXPECT_EQ(part_names(), std::set<std::string>{});  // the wrong bytes are gone
}

TEST_F(FetchTest, NoSourcesAtAllIsAnError) {
  Manifest m = manifest({{"model.bin", "x"}});
  Outcome out = fetch(m, {});
  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, Errc::kNotFound);
  EXPECT_TRUE(contains(out.result.error().message, "no sources")) << out.result.error().message;
}

TEST_F(FetchTest, PartFileFromAnEarlierRunIsResumedWithRange) {
  std::string good = random_bytes(1 << 20, 15);
  put(nginx_.root() / "model.bin", good);
  put(parts_ / "0", good.substr(0, 300000));
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_EQ(staging_entries(), std::set<std::string>{"model.bin"});
  EXPECT_FALSE(fs::exists(parts_));
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].range, "bytes=300000-");
  EXPECT_EQ(log[0].status, 206);
  EXPECT_EQ(log[0].body_bytes, good.size() - 300000);
  ASSERT_FALSE(out.progress.empty());
  EXPECT_EQ(out.progress.front().done, 300000u);  // the kept bytes count from the start
}

TEST_F(FetchTest, SourceIgnoringRangeIsReadFromTheStartAgain) {
  std::string good = random_bytes(200 * 1024, 16);
  put(nginx_.root() / "model.bin", good);
  put(parts_ / "0", good.substr(0, 1000));
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.no_range_url())});

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].range, "bytes=1000-");
  EXPECT_EQ(log[0].status, 200);
  EXPECT_TRUE(out.of_kind(Kind::kHashMismatch).empty()) << out.dump();
}

TEST_F(FetchTest, WrongPartFileIsCaughtByTheHashAndFetchedAgainFromTheStart) {
  std::string good = random_bytes(300 * 1024, 17);
  put(nginx_.root() / "model.bin", good);
  put(parts_ / "0", random_bytes(100 * 1024, 18));  // not a prefix of good
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  auto mismatch = got_past(out, Kind::kHashMismatch, source(nginx_.base_url()));
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(contains(mismatch->reason, "after resuming at byte 102400")) << mismatch->reason;
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].range, "bytes=102400-");
  EXPECT_EQ(log[1].range, "");
  EXPECT_EQ(log[1].status, 200);
}

TEST_F(FetchTest, CompleteFileInStagingIsKeptWhenItMatchesAndReplacedWhenNot) {
  std::string a = random_bytes(50 * 1024, 19);
  std::string b = random_bytes(50 * 1024, 20);
  put(nginx_.root() / "a.bin", a);
  put(nginx_.root() / "b.bin", b);
  spit(staging_ / "a.bin", a);
  spit(staging_ / "b.bin", a);  // same size, wrong bytes
  Manifest m = manifest({{"a.bin", a}, {"b.bin", b}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "a.bin"), a);
  EXPECT_EQ(slurp(staging_ / "b.bin"), b);
  auto verified = out.of_kind(Kind::kFileVerified);
  ASSERT_EQ(verified.size(), 2u);
  EXPECT_EQ(verified[0].path, "a.bin");
  EXPECT_EQ(verified[0].source, "");  // found in staging, not fetched
  EXPECT_EQ(verified[0].reason, "already in staging");
  EXPECT_EQ(verified[1].source, source(nginx_.base_url()).describe());
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 1u);  // a.bin was not downloaded again
  EXPECT_EQ(log[0].uri, "/b.bin");
}

TEST_F(FetchTest, SymlinkInStagingAbortsWithoutTouchingItsTarget) {
  std::string good = random_bytes(4096, 21);
  put(nginx_.root() / "model.bin", good);
  fs::path victim = tmp_.path() / "victim.txt";
  spit(victim, "precious");
  fs::create_symlink(victim, staging_ / "model.bin");
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(out.result.error().message, "staging was tampered with: model.bin is a symlink");
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(staging_ / "model.bin"));
  EXPECT_TRUE(nginx_.access_log().empty());
}

TEST_F(FetchTest, SymlinkedDirectoryInStagingAbortsWithoutWritingThroughIt) {
  std::string good = random_bytes(4096, 22);
  put(nginx_.root() / "sub/model.bin", good);
  fs::path elsewhere = tmp_.path() / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, staging_ / "sub");
  Manifest m = manifest({{"sub/model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(out.result.error().message, "staging was tampered with: sub is a symlink");
  EXPECT_TRUE(fs::is_empty(elsewhere));
  EXPECT_TRUE(fs::is_symlink(staging_ / "sub"));
}

TEST_F(FetchTest, CancelStopsAtOnceAndKeepsThePartFileForAResume) {
  std::string good = random_bytes(1 << 20, 23);  // 16 s at /slow/'s 64 KiB/s
  put(nginx_.root() / "model.bin", good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.slow_url())}, {}, [](const Outcome& so_far) {
    for (const auto& p : so_far.progress) {
      if (p.done > 0) return true;
    }
    return false;
  });

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, Errc::kInternal);
  EXPECT_EQ(out.result.error().message, "cancelled");
  EXPECT_LT(out.seconds, 5.0);
  EXPECT_EQ(staging_entries(), std::set<std::string>{});
  ASSERT_EQ(part_names(), std::set<std::string>{"0"});
  std::string part = slurp(parts_ / "0");
  EXPECT_GT(part.size(), 0u);
  EXPECT_LT(part.size(), good.size());
  EXPECT_EQ(part, good.substr(0, part.size()));
}

TEST_F(FetchTest, PartialFileIsInThePartsDirectoryUnderItsIndexAndNeverInStaging) {
  std::string config = "{\"layers\": 2}\n";
  std::string model = random_bytes(1 << 20, 40);  // 16 s at /slow/'s 64 KiB/s
  put(nginx_.root() / "config.json", config);
  put(nginx_.root() / "sub/model.bin", model);
  Manifest m = manifest({{"config.json", config}, {"sub/model.bin", model}});  // indexes 0 and 1
  FetchSettings one_at_a_time;
  one_at_a_time.parallel = 1;
  std::set<std::string> seen;  // every file that was in staging while the fetch ran
  Outcome out = fetch(m, {source(nginx_.slow_url())}, one_at_a_time, [&](const Outcome& so_far) {
    for (const auto& e : staging_entries()) seen.insert(e);
    for (const auto& p : so_far.progress) {
      if (p.file == 1 && p.done > 0) return true;
    }
    return false;
  });

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().message, "cancelled");
  EXPECT_EQ(seen, std::set<std::string>{"config.json"});  // complete and verified, nothing else
  EXPECT_EQ(staging_entries(), std::set<std::string>{"config.json"});
  ASSERT_EQ(part_names(), std::set<std::string>{"1"});
  std::string part = slurp(parts_ / "1");
  ASSERT_GT(part.size(), 0u);
  ASSERT_LT(part.size(), model.size());
  EXPECT_EQ(part, model.substr(0, part.size()));

  Outcome resumed = fetch(m, {source(nginx_.base_url())});
  ASSERT_TRUE(resumed.result.ok()) << resumed.dump();
  EXPECT_EQ(slurp(staging_ / "config.json"), config);
  EXPECT_EQ(slurp(staging_ / "sub/model.bin"), model);
  EXPECT_EQ(staging_entries(), (std::set<std::string>{"config.json", "sub/model.bin"}));
  EXPECT_FALSE(fs::exists(parts_));
  std::vector<test_util::AccessLogEntry> fetched;
  for (const auto& e : nginx_.access_log()) {
    if (e.uri.rfind("/slow/", 0) != 0) fetched.push_back(e);
  }
  ASSERT_EQ(fetched.size(), 1u);  // config.json was kept
  EXPECT_EQ(fetched[0].uri, "/sub/model.bin");
  EXPECT_EQ(fetched[0].range, "bytes=" + std::to_string(part.size()) + "-");
}

// Partial files once lived beside the files as "<path>.part", where a manifest
// listing "x" and "x.part" had two files share one name, and a resume after a crash left
// wrong bytes in "x".
TEST_F(FetchTest, ManifestPathsThatLookLikePartialFilesSurviveACrashMidFetch) {
  const std::vector<std::string> paths = {"x", "x.part", "x.part.part"};  // indexes 0, 1, 2
  std::map<std::string, std::string> files;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    files[paths[i]] = random_bytes(256 * 1024 + i * 1000, 50u + static_cast<unsigned>(i));  // 4 s each
    put(nginx_.root() / paths[i], files[paths[i]]);
  }
  Manifest m = manifest(files);
  ASSERT_EQ(m.files()[1].path, "x.part");
  FetchSettings all_at_once;
  all_at_once.parallel = 3;
  // The crash: every file has some bytes, none is complete.
  Outcome crashed = fetch(m, {source(nginx_.slow_url())}, all_at_once, [](const Outcome& so_far) {
    std::set<std::size_t> started;
    for (const auto& p : so_far.progress) {
      if (p.done > 0) started.insert(p.file);
    }
    return started.size() == 3;
  });
  ASSERT_FALSE(crashed.result.ok());
  ASSERT_EQ(crashed.result.error().message, "cancelled");
  EXPECT_EQ(staging_entries(), std::set<std::string>{});
  ASSERT_EQ(part_names(), (std::set<std::string>{"0", "1", "2"}));
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::string part = slurp(parts_ / std::to_string(i));
    const std::string& bytes = files[paths[i]];
    EXPECT_GT(part.size(), 0u) << paths[i];
    EXPECT_LT(part.size(), bytes.size()) << paths[i];
    EXPECT_EQ(part, bytes.substr(0, part.size())) << paths[i];
    kept.push_back(part.size());
  }

  Outcome resumed = fetch(m, {source(nginx_.base_url())});
  ASSERT_TRUE(resumed.result.ok()) << resumed.dump();
  for (const auto& [path, bytes] : files) EXPECT_EQ(slurp(staging_ / path), bytes) << path;
  EXPECT_EQ(staging_entries(), (std::set<std::string>{"x", "x.part", "x.part.part"}));
  EXPECT_FALSE(fs::exists(parts_));
  EXPECT_TRUE(resumed.of_kind(Kind::kHashMismatch).empty()) << resumed.dump();
  std::map<std::string, std::string> ranges;  // uri -> Range of the resumed run's request
  for (const auto& e : nginx_.access_log()) {
    if (e.uri.rfind("/slow/", 0) != 0) ranges[e.uri] = e.range;
  }
  EXPECT_EQ(ranges, (std::map<std::string, std::string>{
                        {"/x", "bytes=" + std::to_string(kept[0]) + "-"},
                        {"/x.part", "bytes=" + std::to_string(kept[1]) + "-"},
                        {"/x.part.part", "bytes=" + std::to_string(kept[2]) + "-"},
                    }));
}

TEST_F(FetchTest, WrongCompleteFileInStagingIsDeletedAndFetchedAgain) {
  std::string good = random_bytes(64 * 1024, 41);
  put(nginx_.root() / "sub/model.bin", good);
  put(staging_ / "sub/model.bin", random_bytes(80 * 1024, 42));  // planted: other bytes, longer
  Manifest m = manifest({{"sub/model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.base_url())});

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "sub/model.bin"), good);
  EXPECT_EQ(staging_entries(), std::set<std::string>{"sub/model.bin"});
  EXPECT_FALSE(fs::exists(parts_));
  auto verified = out.of_kind(Kind::kFileVerified);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_EQ(verified[0].source, source(nginx_.base_url()).describe());  // fetched, not kept
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].uri, "/sub/model.bin");
  EXPECT_EQ(log[0].range, "");
}

TEST_F(FetchTest, AnythingInThePartsDirectoryButPartialFilesOfThisManifestAborts) {
  std::string good = random_bytes(4096, 43);
  put(nginx_.root() / "model.bin", good);
  Manifest m = manifest({{"model.bin", good}});  // one file: only "0" may be in the parts directory
  fs::path victim = tmp_.path() / "victim.txt";
  spit(victim, "precious");
  const std::string not_an_index = "is not named by the index of a file of this manifest";
  struct Planted {
    std::string name;
    std::function<void(const fs::path&)> plant;
    std::string what;
  };
  auto file = [](const fs::path& p) { spit(p, "x"); };
  const std::vector<Planted> cases = {
      {"1", file, not_an_index},  // past the end of the manifest
      {"00", file, not_an_index},
      {"model.bin", file, not_an_index},
      {"0.part", file, not_an_index},
      {"1.ranges", file, not_an_index},  // a range map is named by its file's index too
      {"0.ranges.bak", file, not_an_index},
      {"0.ranges", [&](const fs::path& p) { fs::create_symlink(victim, p); }, "is a symlink"},
      {"0", [](const fs::path& p) { fs::create_directory(p); }, "is not a regular file"},
      {"0", [&](const fs::path& p) { fs::create_symlink(victim, p); }, "is a symlink"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " " + c.what);
    fs::remove_all(parts_);
    fs::create_directories(parts_);
    c.plant(parts_ / c.name);
    Outcome out = fetch(m, {source(nginx_.base_url())});
    ASSERT_FALSE(out.result.ok());
    EXPECT_EQ(out.result.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(out.result.error().message,
              "staging was tampered with: staging.parts/" + c.name + " " + c.what);
    EXPECT_TRUE(fs::exists(fs::symlink_status(parts_ / c.name)));  // left for whoever looks
    EXPECT_EQ(staging_entries(), std::set<std::string>{});
  }
  fs::remove_all(parts_);
  fs::create_directory_symlink(tmp_.path(), parts_);
  Outcome out = fetch(m, {source(nginx_.base_url())});
  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().message, "staging was tampered with: staging.parts is a symlink");
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_TRUE(nginx_.access_log().empty());
}

TEST_F(FetchTest, FileSourceMissingAFileFailsOverToTheNext) {
  std::string good = random_bytes(30 * 1024, 24);
  fs::path usb = tmp_.path() / "usb stick";
  put(usb / "dir" / "model.bin", good);
  Manifest m = manifest({{"dir/model.bin", good}, {"missing.bin", "m"}},
                        {source("file://" + usb.string() + "/"), mirror("m2")});
  put(served("m2/missing.bin"), "m");
  Outcome out = fetch(m, {});

  auto failure = got_past(out, Kind::kSourceFailed, source("file://" + usb.string() + "/"));
  ASSERT_TRUE(failure);
  EXPECT_EQ(slurp(staging_ / "dir/model.bin"), good);
  EXPECT_EQ(slurp(staging_ / "missing.bin"), "m");
  EXPECT_EQ(failure->path, "missing.bin");
  EXPECT_TRUE(contains(failure->reason, "cannot read the file")) << failure->reason;
}

TEST_F(FetchTest, RedirectsAreFollowedOnlyToHttp) {
  std::string good = random_bytes(8 * 1024, 25);
  put(nginx_.root() / "model.bin", good);
  Manifest m = manifest({{"model.bin", good}});
  Outcome out = fetch(m, {source(nginx_.redirect_to_file_url()), source(nginx_.redirect_url())});

  auto failure = got_past(out, Kind::kSourceFailed, source(nginx_.redirect_to_file_url()));
  ASSERT_TRUE(failure);
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  EXPECT_TRUE(contains(failure->reason, "protocol not allowed")) << failure->reason;
  auto verified = out.of_kind(Kind::kFileVerified);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_EQ(verified[0].source, source(nginx_.redirect_url()).describe());
}

TEST_F(FetchTest, RedirectIsASourceFailureWhenRedirectsAreOff) {
  std::string good = random_bytes(1024, 26);
  put(nginx_.root() / "model.bin", good);
  Manifest m = manifest({{"model.bin", good}});
  FetchSettings settings;
  settings.max_redirects = 0;
  Outcome out = fetch(m, {source(nginx_.redirect_url())}, settings);

  ASSERT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().message,
            "no source gave the right bytes for model.bin: " + source(nginx_.redirect_url()).describe() +
                ": unexpected HTTP 302");
  EXPECT_FALSE(fs::exists(staging_ / "model.bin"));
}

// Credentials on the wire: nginx over TLS stands in for huggingface.co, an S3 endpoint and
// a plain mirror (CURLOPT_CONNECT_TO), and logs the Authorization header each one received.
class FetchCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(nginx_.running(), nginx_.skip_reason());
    fs::create_directories(staging_);
    settings_.ca_file = nginx_.ca_file();
    for (const char* host : {"huggingface.co", "mirror.internal", "acme-models.s3.eu-west-1.amazonaws.com"}) {
      settings_.connect_to.push_back(nginx_.connect_to(host));
    }
    settings_.hf_token = SecretBytes::copy_of(as_bytes(std::string_view("hf_secret_token")));
    settings_.s3 =
        S3Credentials{"AKIDEXAMPLE", SecretBytes::copy_of(as_bytes(std::string_view("s3-secret-key")))};
  }

  Manifest manifest_of(const std::string& bytes, std::vector<Source> sources) {
    Manifest::Fields f;
    f.name = "m";
    f.version = "1";
    f.license.spdx = "MIT";
    f.files.push_back(ManifestFile{"model.bin", bytes.size(), sha256(bytes)});
    f.sources = std::move(sources);
    auto m = Manifest::create(std::move(f));
    EXPECT_TRUE(m.ok()) << m.error().message;
    return std::move(m).value();
  }

  test_util::NginxFixture nginx_{{.tls = true, .tls_proxy = {}}};
  test_util::TempDir tmp_{"fetch-creds"};
  fs::path staging_ = tmp_.path() / "staging";
  FetchSettings settings_;
};

TEST_F(FetchCredentialsTest, HuggingFaceTokenIsSentAsBearerToHuggingFaceAndNowhereElse) {
  const std::string rev = "0123456789abcdef0123456789abcdef01234567";
  std::string good = random_bytes(40 * 1024, 30);
  std::string bad = good;
  bad[5] ^= 1;
  put(nginx_.root() / "m" / "model.bin", bad);  // the mirror is asked first and is wrong
  put(nginx_.root() / "google/gemma/resolve" / rev / "model.bin", good);
  Manifest m = manifest_of(good, {source("hf:google/gemma@" + rev)});
  std::vector<FetchEvent> events;
  FetchObserver obs;
  obs.on_event = [&](const FetchEvent& e) { events.push_back(e); };
  std::vector<Source> mirrors = {source("https://mirror.internal/m/")};
  auto r = fetch_manifest(m, mirrors, staging_.string(), settings_, obs);

  ASSERT_TRUE(r.ok()) << r.error().message << "\n" << nginx_.error_log();
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].host, "mirror.internal");
  EXPECT_EQ(log[0].authorization, "");
  EXPECT_EQ(log[1].host, "huggingface.co");
  EXPECT_EQ(log[1].uri, "/google/gemma/resolve/" + rev + "/model.bin");
  EXPECT_EQ(log[1].authorization, "Bearer hf_secret_token");
  for (const auto& e : events) EXPECT_FALSE(contains(e.reason + e.source, "hf_secret_token"));
}

TEST_F(FetchCredentialsTest, S3RequestsAreSignedWithSigV4) {
  std::string good = random_bytes(10 * 1024, 31);
  put(nginx_.root() / "gemma/model.bin", good);
  Manifest m = manifest_of(good, {source("s3://acme-models/gemma/?region=eu-west-1")});
  auto r = fetch_manifest(m, {}, staging_.string(), settings_, {});

  ASSERT_TRUE(r.ok()) << r.error().message << "\n" << nginx_.error_log();
  EXPECT_EQ(slurp(staging_ / "model.bin"), good);
  auto log = nginx_.access_log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].host, "acme-models.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(log[0].uri, "/gemma/model.bin");
  // AWS SigV4: "AWS4-HMAC-SHA256 Credential=KEYID/DATE/REGION/SERVICE/aws4_request, ..."
  EXPECT_EQ(log[0].authorization.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u)
      << log[0].authorization;
  EXPECT_TRUE(contains(log[0].authorization, "/eu-west-1/s3/aws4_request")) << log[0].authorization;
  EXPECT_TRUE(contains(log[0].authorization, "Signature=")) << log[0].authorization;
  EXPECT_FALSE(contains(log[0].authorization, "s3-secret-key"));
}

TEST_F(FetchCredentialsTest, UntrustedCertificateIsASourceFailure) {
  std::string good = random_bytes(1024, 32);
  put(nginx_.root() / "m/model.bin", good);
  Manifest m = manifest_of(good, {source("https://mirror.internal/m/")});
  settings_.ca_file.clear();  // the system's CAs, which do not know the fixture's certificate
  auto r = fetch_manifest(m, {}, staging_.string(), settings_, {});

  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_TRUE(contains(r.error().message, "https://mirror.internal/m/: TLS certificate not trusted"))
      << r.error().message;
  EXPECT_TRUE(nginx_.access_log().empty());
}

// ---- Ranged fetching: one large file over several connections ----

class FetchRangesTest : public FetchTest {
 protected:
  // Files of 256 KiB and more go in ranges of 64 KiB, four connections at a time.
  static FetchSettings ranged() {
    FetchSettings s;
    s.range_threshold = 256 * 1024;
    s.range_size = 64 * 1024;
    s.connections_per_file = 4;
    return s;
  }
  static constexpr std::size_t kRange = 64 * 1024;

  // The Range header of each range of a file of `size` bytes ("bytes=0-65535", ...).
  static std::set<std::string> all_ranges(std::size_t size) {
    std::set<std::string> out;
    for (std::size_t a = 0; a < size; a += kRange)
      out.insert("bytes=" + std::to_string(a) + "-" + std::to_string(std::min(size, a + kRange) - 1));
    return out;
  }

  // The Range headers of the requests nginx logged for `uri`, from entry `from` on.
  std::vector<test_util::AccessLogEntry> requests_for(const std::string& uri, std::size_t from = 0) const {
    std::vector<test_util::AccessLogEntry> out;
    auto log = nginx_.access_log();
    for (std::size_t i = from; i < log.size(); ++i) {
      if (log[i].uri == uri) out.push_back(log[i]);
    }
    return out;
  }

  // The range map of file 0 as the fetch left it: one '0' or '1' per range.
  std::string map_done() const {
    const std::string text = slurp(parts_ / "0.ranges");
    const auto at = text.find("\ndone ");
    if (at == std::string::npos) return "";
    const auto end = text.find('\n', at + 1);
    return text.substr(at + 6, end - at - 6);
  }

  // Starts a ranged fetch of a file of 8 ranges from /slow/ (64 KiB/s a connection) and
  // cancels it once more than 4 ranges' bytes are on disk, so a fifth range has started and
  // one of the first four is complete: the partial file and its range map stay.
  void fetch_half_then_cancel(const Manifest& m) {
    ASSERT_EQ(m.files()[0].size, 8 * kRange);
    Outcome out = fetch(m, {source(nginx_.slow_url())}, ranged(), [](const Outcome& so_far) {
      return !so_far.progress.empty() && so_far.progress.back().done > 4 * kRange;
    });
    ASSERT_FALSE(out.result.ok());
    ASSERT_EQ(out.result.error().message, "cancelled");
    ASSERT_EQ(part_names(), (std::set<std::string>{"0", "0.ranges"}));
  }
};

TEST_F(FetchRangesTest, LargeFileIsFetchedAsRangesWrittenInPlaceAndVerified) {
  std::string big = random_bytes(17 * kRange - 1000, 60);  // 17 ranges, the last one short
  std::string small = random_bytes(10 * 1024, 61);         // under the threshold: one request
  put(nginx_.root() / "big.bin", big);
  put(nginx_.root() / "small.bin", small);
  Manifest m = manifest({{"big.bin", big}, {"small.bin", small}});
  Outcome out = fetch(m, {source(nginx_.base_url())}, ranged());

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  EXPECT_EQ(slurp(staging_ / "small.bin"), small);
  EXPECT_FALSE(fs::exists(parts_));  // no partial file, no range map left
  std::set<std::string> asked;
  for (const auto& e : requests_for("/big.bin")) {
    EXPECT_EQ(e.status, 206) << e.range;
    EXPECT_TRUE(asked.insert(e.range).second) << "asked twice: " << e.range;
  }
  EXPECT_EQ(asked, all_ranges(big.size()));
  auto one = requests_for("/small.bin");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].range, "");
  expect_sane_progress(out, m);
  EXPECT_EQ(out.of_kind(Kind::kFileVerified).size(), 2u) << out.dump();
}

TEST_F(FetchRangesTest, OneConnectionPerFileWhenConnectionsPerFileIsOne) {
  std::string big = random_bytes(8 * kRange, 62);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  FetchSettings settings = ranged();
  settings.connections_per_file = 1;
  Outcome out = fetch(m, {source(nginx_.base_url())}, settings);

  ASSERT_TRUE(out.result.ok()) << out.dump();
  auto reqs = requests_for("/big.bin");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].range, "");
  EXPECT_EQ(reqs[0].status, 200);
}

TEST_F(FetchRangesTest, RangesComeFromSeveralMirrorsInTurn) {
  std::string big = random_bytes(12 * kRange, 63);
  put(served("m1/big.bin"), big);
  put(served("m2/big.bin"), big);
  Manifest m = manifest({{"big.bin", big}});
  Outcome out = fetch(m, {mirror("m1"), mirror("m2")}, ranged());

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  auto from1 = requests_for("/m1/big.bin");
  auto from2 = requests_for("/m2/big.bin");
  EXPECT_EQ(from1.size(), 6u);
  EXPECT_EQ(from2.size(), 6u);
  std::set<std::string> asked;
  for (const auto& e : from1) asked.insert(e.range);
  for (const auto& e : from2) asked.insert(e.range);
  EXPECT_EQ(asked, all_ranges(big.size()));
  auto verified = out.of_kind(Kind::kFileVerified);
  ASSERT_EQ(verified.size(), 1u);
}

TEST_F(FetchRangesTest, WrongBytesFromOneOfSeveralMirrorsAreFetchedAgainOneSourceAtATimeToNameIt) {
  std::string good = random_bytes(8 * kRange, 64);
  std::string bad = good;
  bad[4 * kRange + 7] ^= 1;  // range 4: m1's when the sources take turns (m1 0, 2, 4, ...)
  put(served("m1/big.bin"), bad);
  put(served("m2/big.bin"), good);
  Manifest m = manifest({{"big.bin", good}});
  Outcome out = fetch(m, {mirror("m1"), mirror("m2")}, ranged());

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), good);
  auto mismatches = out.of_kind(Kind::kHashMismatch);
  ASSERT_EQ(mismatches.size(), 2u) << out.dump();
  // First the whole-file hash of ranges from both: no single source to blame yet.
  EXPECT_EQ(mismatches[0].source, "");
  EXPECT_TRUE(contains(mismatches[0].reason, "wrong SHA-256 from ranges of several sources"))
      << mismatches[0].reason;
  // Then m1 alone gives the whole file, and is named.
  EXPECT_EQ(mismatches[1].source, mirror("m1").describe());
  EXPECT_TRUE(contains(mismatches[1].reason, "wrong SHA-256: got")) << mismatches[1].reason;
  // Once m1 is out, every range comes from m2: the file was read whole from m1 alone.
  std::set<std::string> m1_alone;
  for (const auto& e : requests_for("/m1/big.bin")) m1_alone.insert(e.range);
  EXPECT_EQ(m1_alone, all_ranges(good.size()));
}

TEST_F(FetchRangesTest, SourceIgnoringRangeFallsBackToOneConnection) {
  std::string big = random_bytes(8 * kRange, 65);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  Outcome out = fetch(m, {source(nginx_.no_range_url())}, ranged());

  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  EXPECT_TRUE(out.of_kind(Kind::kSourceFailed).empty()) << out.dump();
  EXPECT_TRUE(out.of_kind(Kind::kHashMismatch).empty()) << out.dump();
  // The ranged requests got 200s and were dropped at their first byte; then one request
  // without Range read the file whole.
  auto reqs = requests_for("/norange/big.bin");
  std::size_t whole = 0;
  for (const auto& e : reqs) {
    EXPECT_EQ(e.status, 200);
    if (e.range.empty()) {
      ++whole;
      EXPECT_EQ(e.body_bytes, big.size());
    }
  }
  EXPECT_EQ(whole, 1u);
  expect_sane_progress(out, m);
}

TEST_F(FetchRangesTest, RangeAnsweredWithMoreBytesThanAskedIsCutAndTheSourceDropped) {
  std::string big = random_bytes(8 * kRange, 66);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  const Source overlong = source(nginx_.overlong_url());
  Outcome out = fetch(m, {overlong, source(nginx_.base_url())}, ranged());

  auto mismatch = got_past(out, Kind::kHashMismatch, overlong);
  ASSERT_TRUE(mismatch);
  EXPECT_TRUE(contains(mismatch->reason, "more bytes than the 65536 asked for from byte"))
      << mismatch->reason;
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);  // nothing past a range reached the disk
  auto good = requests_for("/big.bin");
  EXPECT_GE(good.size(), 4u);  // its own ranges and the overlong source's
  for (const auto& e : good) EXPECT_EQ(e.status, 206) << e.range;
}

TEST_F(FetchRangesTest, DroppedRangeIsResumedWhereItStoppedOnTheSameSource) {
  std::string big = random_bytes(4 * kRange, 67);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  Outcome out = fetch(m, {source(nginx_.drop_url())}, ranged());

  ASSERT_TRUE(out.result.ok()) << out.dump() << "\n" << nginx_.error_log();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  EXPECT_TRUE(out.of_kind(Kind::kSourceFailed).empty()) << out.dump();
  // Each range: its request cut halfway, then one from where the bytes stopped to its end.
  std::map<std::string, std::vector<std::string>> by_end;
  for (const auto& r : nginx_.backend_requests()) {
    ASSERT_EQ(r.target, "/drop/big.bin");
    by_end[r.range.substr(r.range.find('-') + 1)].push_back(r.range);
  }
  ASSERT_EQ(by_end.size(), 4u);
  for (std::size_t a = 0; a < big.size(); a += kRange) {
    const std::string last = std::to_string(a + kRange - 1);
    const auto& reqs = by_end[last];
    ASSERT_EQ(reqs.size(), 2u) << last;
    EXPECT_EQ(reqs[0], "bytes=" + std::to_string(a) + "-" + last);
    EXPECT_EQ(reqs[1], "bytes=" + std::to_string(a + kRange / 2) + "-" + last);
  }
}

TEST_F(FetchRangesTest, InterruptedFetchKeepsCompletedRangesAndAsksOnlyForTheRest) {
  std::string big = random_bytes(8 * kRange, 68);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  fetch_half_then_cancel(m);
  const std::string done = map_done();
  ASSERT_EQ(done.size(), 8u);
  ASSERT_NE(done.find('1'), std::string::npos) << done;  // some ranges were complete
  const std::size_t logged = nginx_.access_log().size();

  Outcome out = fetch(m, {source(nginx_.base_url())}, ranged());
  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  EXPECT_FALSE(fs::exists(parts_));
  auto again = requests_for("/big.bin", logged);
  ASSERT_FALSE(again.empty());
  for (const auto& e : again) {
    const std::size_t first = std::stoull(e.range.substr(6));
    EXPECT_EQ(done[first / kRange], '0') << "a completed range was asked for again: " << e.range;
  }
  EXPECT_TRUE(out.of_kind(Kind::kHashMismatch).empty()) << out.dump();
}

TEST_F(FetchRangesTest, RangeMapThatDoesNotCheckOutIsIgnoredAndEveryRangeFetchedAgain) {
  std::string big = random_bytes(8 * kRange, 69);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  fetch_half_then_cancel(m);
  std::string text = slurp(parts_ / "0.ranges");
  const auto at = text.find("\ndone ") + 6;
  text[at] = text[at] == '1' ? '0' : '1';  // the checksum no longer matches
  spit(parts_ / "0.ranges", text);
  const std::size_t logged = nginx_.access_log().size();

  Outcome out = fetch(m, {source(nginx_.base_url())}, ranged());
  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  std::set<std::string> asked;
  for (const auto& e : requests_for("/big.bin", logged)) asked.insert(e.range);
  EXPECT_EQ(asked, all_ranges(big.size()));
}

TEST_F(FetchRangesTest, WrongBytesUnderACompletedRangeAreCaughtByTheHashAndTheFileFetchedAgain) {
  std::string big = random_bytes(8 * kRange, 70);
  put(nginx_.root() / "big.bin", big);
  Manifest m = manifest({{"big.bin", big}});
  fetch_half_then_cancel(m);
  const std::string done = map_done();
  const auto r = done.find('1');
  ASSERT_NE(r, std::string::npos) << done;
  {
    // Someone with access to staging changes a byte the map says is right.
    std::string part = slurp(parts_ / "0");
    ASSERT_GT(part.size(), r * kRange + 10);
    part[r * kRange + 10] ^= 1;
    spit(parts_ / "0", part);
  }

  Outcome out = fetch(m, {source(nginx_.base_url())}, ranged());
  ASSERT_TRUE(out.result.ok()) << out.dump();
  EXPECT_EQ(slurp(staging_ / "big.bin"), big);
  auto mismatch = out.of_kind(Kind::kHashMismatch);
  ASSERT_EQ(mismatch.size(), 1u) << out.dump();
  EXPECT_TRUE(contains(mismatch[0].reason, "wrong SHA-256 after resuming with")) << mismatch[0].reason;
}

}  // namespace
}  // namespace countersign::daemon
