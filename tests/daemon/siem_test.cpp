// The audit log leaving the box for a SIEM (daemon/log_shipper.h): a real
// rsyslog with TLS on 127.0.0.1 (tests/daemon/rsyslog_fixture.h) receiving what countersignd's
// engine ships, with the real helper writing the log. What is asserted is what the SIEM team
// sees in the collector's file: RFC 5424 messages in log order, each carrying the entry's
// exact bytes, which verify against the box's signed checkpoint; nothing missing after the
// collector was down, nothing sent to a collector whose certificate does not verify.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/audit_verify.h"
#include "core/bytes.h"
#include "core/merkle.h"
#include "core/signed_note.h"
#include "daemon/api.h"
#include "daemon/engine.h"
#include "daemon/log_reader.h"
#include "daemon/log_shipper.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/engine_holder.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/rsyslog_fixture.h"
#include "tests/daemon/system_test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::BoxFixture;
using test_util::contains;

// One received line split as RFC 5424 says: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID
// MSGID STRUCTURED-DATA MSG.
struct Syslog5424 {
  std::string pri_version, timestamp, hostname, app, procid, msgid, sd, msg;
};

std::optional<Syslog5424> parse_5424(const std::string& line) {
  Syslog5424 m;
  std::string* fields[] = {&m.pri_version, &m.timestamp, &m.hostname, &m.app, &m.procid, &m.msgid};
  std::size_t pos = 0;
  for (std::string* f : fields) {
    const auto sp = line.find(' ', pos);
    if (sp == std::string::npos) return std::nullopt;
    *f = line.substr(pos, sp - pos);
    pos = sp + 1;
  }
  if (pos >= line.size() || line[pos] != '[') return std::nullopt;
  std::size_t end = pos;
  for (bool escaped = false; end < line.size(); ++end) {
    if (escaped) {
      escaped = false;
    } else if (line[end] == '\\') {
      escaped = true;
    } else if (line[end] == ']') {
      break;
    }
  }
  if (end >= line.size()) return std::nullopt;
  m.sd = line.substr(pos, end - pos + 1);
  if (end + 1 >= line.size() || line[end + 1] != ' ') return std::nullopt;
  m.msg = line.substr(end + 2);
  return m;
}

std::uint64_t sd_seq(const std::string& sd) {
  const auto at = sd.find(" seq=\"");
  return at == std::string::npos ? UINT64_MAX : std::stoull(sd.substr(at + 6));
}

class SiemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_REQUIRE_OR_SKIP(rsyslog_.running(), rsyslog_.skip_reason());
    CS_REQUIRE_OR_SKIP(fs::exists(COUNTERSIGN_SYSTEM_BIN), "countersign-system not built");
    box_.config().syslog = "127.0.0.1:" + std::to_string(rsyslog_.port());
    box_.config().syslog_ca = rsyslog_.ca_file();
    box_.config().ship_retry_seconds = 1;
    box_.config().stall_timeout_seconds = 5;
  }
  Engine& engine() { return engine_.get(); }
  void restart() {
    engine_.reset();
    engine();
  }
  // Entries the daemon reports, appended by the helper as the daemon has it do.
  void append(int n, const std::string& what) {
    test::append_reported_entries(box_.config_file(), n, "weights/model-", what + " — naïve ü");
  }
  std::uint64_t log_size() { return *engine().log().size(); }
  json status() { return Api(engine()).status().body; }
  // The status once the first destination reports an error (bounded: 5 s), or the last one seen.
  json status_once_failing() {
    json s;
    for (int i = 0; i < 100; ++i) {
      s = status();
      if (s["log_destinations"][0].contains("error")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return s;
  }

  // The received messages, checked line by line; returns the entries by seq (the last copy
  // of each) and checks that seqs never skip ahead (a resend repeats, it never leaves a gap).
  std::map<std::uint64_t, std::string> entries_received(const std::vector<std::string>& lines) {
    std::map<std::uint64_t, std::string> out;
    std::uint64_t next = 0;
    for (const auto& line : lines) {
      auto m = parse_5424(line);
      EXPECT_TRUE(m) << line;
      if (!m) continue;
      EXPECT_EQ(m->pri_version, "<110>1") << line;  // facility log audit, severity informational
      EXPECT_EQ(m->hostname, BoxFixture::kBox);
      EXPECT_EQ(m->app, "countersign");
      EXPECT_EQ(m->procid, "-");
      const json e = json::parse(m->msg);
      EXPECT_EQ(m->msgid, e["event"].get<std::string>());
      EXPECT_EQ(m->timestamp, e["time"].get<std::string>());
      const std::uint64_t seq = sd_seq(m->sd);
      EXPECT_EQ(seq, e["seq"].get<std::uint64_t>()) << m->sd;
      EXPECT_TRUE(contains(m->sd, " event=\"" + e["event"].get<std::string>() + "\"")) << m->sd;
      EXPECT_LE(seq, next) << "entry " << seq << " arrived before entry " << next << "\n" << line;
      if (seq == next) ++next;
      out[seq] = m->msg;
    }
    return out;
  }

  // The received entries, as leaves, give the root of the box's signed checkpoint.
  void expect_checkpoint_verifies(const std::map<std::uint64_t, std::string>& entries) {
    Reply cp = Api(engine()).log_checkpoint();
    ASSERT_TRUE(cp.text);
    auto key = test_util::must(note::Verifier::parse(box_.log_verifier()), "log key");
    auto checkpoint = audit::open_checkpoint(*cp.text, key);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().message;
    ASSERT_GE(entries.size(), checkpoint->size);
    std::vector<Digest> leaves;
    for (std::uint64_t i = 0; i < checkpoint->size; ++i) {
      ASSERT_TRUE(entries.count(i)) << "entry " << i << " never arrived";
      leaves.push_back(merkle::leaf_hash(as_bytes(entries.at(i))));
    }
    EXPECT_EQ(merkle::root_of(leaves), checkpoint->root);
  }

  // What the compliance officer runs on the collector's file (`countersign log verify FILE
  // --checkpoint cp.txt`): every entry there, repeats the same bytes, the checkpoint's root.
  void expect_copy_verifies(const std::vector<std::string>& lines) {
    Reply cp = Api(engine()).log_checkpoint();
    ASSERT_TRUE(cp.text);
    auto key = test_util::must(note::Verifier::parse(box_.log_verifier()), "log key");
    std::string body;
    for (const auto& l : lines) body += l + "\n";
    const fs::path copy = dir_.path() / "collector-copy.log";
    test_util::spit(copy, body);
    auto r = audit::verify_syslog_copy(copy.string(), key, {*cp.text});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->lines, lines.size());
    EXPECT_EQ(r->log.entries + r->duplicates, lines.size());
  }

  test_util::RsyslogFixture rsyslog_;
  test_util::TempDir dir_{"siem"};
  BoxFixture box_{dir_.path()};
  test_util::EngineHolder engine_{box_};
};

TEST_F(SiemTest, EveryEntryArrivesInOrderAndVerifiesAgainstTheCheckpoint) {
  engine();
  append(20, "first");
  const std::uint64_t n = log_size();
  auto lines = rsyslog_.wait_for(n);
  ASSERT_GE(lines.size(), n) << rsyslog_.output();
  EXPECT_EQ(lines.size(), n);  // nothing sent twice while the collector was up
  auto entries = entries_received(lines);
  EXPECT_EQ(entries.size(), n);
  EXPECT_TRUE(contains(entries.at(n - 1), "naïve ü 19")) << entries.at(n - 1);  // UTF-8 as logged
  expect_checkpoint_verifies(entries);
  expect_copy_verifies(lines);
  json s = status();
  ASSERT_EQ(s["log_destinations"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["log_destinations"][0]["destination"], "syslog " + *box_.config().syslog + " (TLS)");
  EXPECT_FALSE(s["log_destinations"][0].contains("error")) << s.dump(2);
}

TEST_F(SiemTest, ACollectorThatWasDownReceivesEverythingAfterItComesBack) {
  engine();
  append(5, "before");
  ASSERT_GE(rsyslog_.wait_for(log_size()).size(), log_size()) << rsyslog_.output();
  rsyslog_.stop();
  append(10, "while down");
  // The box says the destination is failing, and how far it got.
  json s = status_once_failing();
  ASSERT_TRUE(s["log_destinations"][0].contains("error")) << s.dump(2);
  EXPECT_LT(s["log_destinations"][0]["delivered"].get<std::uint64_t>(), log_size());
  ASSERT_TRUE(rsyslog_.start()) << rsyslog_.skip_reason();
  append(3, "after");
  const std::uint64_t n = log_size();
  auto lines = rsyslog_.wait_for(n);
  auto entries = entries_received(lines);
  for (int i = 0; i < 100 && entries.size() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    entries = entries_received(rsyslog_.received());
  }
  EXPECT_EQ(entries.size(), n) << rsyslog_.output();
  expect_checkpoint_verifies(entries);
  expect_copy_verifies(rsyslog_.received());
}

TEST_F(SiemTest, TheCursorSurvivesARestartSoNothingDeliveredIsSentAgain) {
  engine();
  append(4, "first run");
  const std::uint64_t first = log_size();
  ASSERT_GE(rsyslog_.wait_for(first).size(), first);
  restart();  // daemon-stopped, then daemon-started: the next run goes on from its cursor
  append(2, "second run");
  const std::uint64_t n = log_size();
  auto lines = rsyslog_.wait_for(n);
  EXPECT_EQ(lines.size(), n);
  auto entries = entries_received(lines);
  EXPECT_EQ(entries.size(), n);
  const std::string cursor = test_util::slurp(box_.config().daemon_dir() + "/ship/syslog.json");
  EXPECT_EQ(json::parse(cursor)["delivered"], n) << cursor;
}

TEST_F(SiemTest, ACollectorWhoseCertificateDoesNotNameItGetsNothing) {
  box_.config().syslog_name = "collector.other.example";
  engine();
  append(2, "secret");
  json s = status_once_failing();
  ASSERT_TRUE(s["log_destinations"][0].contains("error")) << s.dump(2);
  EXPECT_TRUE(contains(s["log_destinations"][0]["error"].get<std::string>(), "does not verify")) << s.dump(2);
  EXPECT_EQ(s["log_destinations"][0]["delivered"], 0);
  EXPECT_TRUE(rsyslog_.received().empty());
}

TEST(SyslogMessage, IsRfc5424WithTheEntryBytesAsTheMessage) {
  const std::string entry = R"({"event":"bundle-verified","proposal":"sha256:)" + std::string(64, 'a') +
                            R"(","reason":"a \"quoted\" ] thing","seq":7,"time":"2026-12-03T10:00:00Z"})";
  EXPECT_EQ(syslog_message(entry, "box-7f3a"),
            "<110>1 2026-12-03T10:00:00Z box-7f3a countersign - bundle-verified [countersign@32473 seq=\"7\" "
            "event=\"bundle-verified\" proposal=\"sha256:" +
                std::string(64, 'a') + "\"] " + entry);
  EXPECT_EQ(octet_counted("abc"), "3 abc");
  // An event name outside RFC 5424's MSGID characters is "-" there, escaped in the SD.
  const std::string odd = R"({"event":"x]\"y z","seq":1,"time":"2026-12-03T10:00:00Z"})";
  EXPECT_TRUE(contains(syslog_message(odd, "box"),
                       " countersign - - [countersign@32473 seq=\"1\" event=\"x\\]\\\"y z\"]"))
      << syslog_message(odd, "box");
}

}  // namespace
}  // namespace countersign::daemon
