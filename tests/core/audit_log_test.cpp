// The audit log on disk: appends, proofs, repair of a torn tail, rebuilding derived files,
// and offline verification catching each kind of tampering with a message naming it.
#include "core/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/audit_entry.h"
#include "core/audit_verify.h"
#include "core/bytes.h"
#include "core/merkle.h"
#include "tests/test_util.h"

namespace countersign::audit {
namespace {

namespace fs = std::filesystem;

using test_util::slurp;
using test_util::spit;

// Records of a record file, as (payload, checksum) strings.
std::vector<Record> records(const fs::path& p) {
  std::string data = slurp(p);
  std::vector<Record> out;
  std::uint64_t pos = kHeaderSize;
  while (pos < data.size()) {
    std::uint64_t next = 0;
    auto r = parse_record(data, pos, 1 << 20, next);
    if (!r.ok()) break;
    out.push_back(*r);
    pos = next;
  }
  return out;
}

std::string encode(const std::string& payload, const Digest& checksum) {
  std::string r(4, '\0');
  auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) r[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  return r + payload + std::string(reinterpret_cast<const char*>(checksum.data()), 32);
}

// Rewrites a record file from payloads; with fix_checksums the checksums are recomputed (an
// attacker who knows the format), else the old ones are kept where given.
void rewrite(const fs::path& p, std::string_view header, const std::vector<Record>& recs) {
  std::string out(header);
  for (const auto& r : recs) out += encode(r.payload, r.checksum);
  spit(p, out);
}
Record fixed(std::string payload) {
  Record r;
  r.checksum = merkle::leaf_hash(as_bytes(payload));
  r.payload = std::move(payload);
  return r;
}

class AuditLogTest : public ::testing::Test {
 protected:
  Clock clock() {
    return [this] { return now_++; };
  }

  // n entries, a checkpoint after each.
  void make_log(int n, const note::Signer& signer, bool checkpoint_each = true) {
    auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
    ASSERT_TRUE(log.ok()) << log.error().message;
    for (int i = 0; i < n; ++i) {
      nlohmann::json fields = {{"proposal", "sha256:" + std::string(64, static_cast<char>('a' + i % 6))}};
      auto seq = log->append(i % 2 ? event::kBundleVerified : event::kBundleReceived, fields);
      ASSERT_TRUE(seq.ok()) << seq.error().message;
      if (checkpoint_each) {
        ASSERT_TRUE(log->sign_checkpoint(signer).ok());
      }
    }
    if (!checkpoint_each) {
      ASSERT_TRUE(log->sign_checkpoint(signer).ok());
    }
  }

  Result<VerifyReport> verify(const std::vector<std::string>& extra = {}) {
    return verify_log_dir(dir_.string(), key_.verifier(), extra);
  }

  void expect_rejected(const std::vector<std::string>& must_contain,
                       const std::vector<std::string>& extra = {}) {
    auto r = verify(extra);
    ASSERT_FALSE(r.ok()) << "tampering not detected";
    for (const auto& s : must_contain)
      EXPECT_NE(r.error().message.find(s), std::string::npos) << r.error().message;
  }

  test_util::TempDir tmp_{"auditlog"};
  // The log directory itself is made by AuditLog::open.
  fs::path dir_ = tmp_.path() / "log";
  UnixTime now_ = 1767225600;  // 2026-01-01T00:00:00Z
  note::Signer key_ = *note::Signer::generate("box.example/audit");
};

TEST(AuditEntry, VocabularyAndCanonicalForm) {
  auto e =
      make_entry(7, 1767225600, event::kBundleRejected,
                 {{"proposal", "sha256:" + std::string(64, 'e')}, {"reasons", {"expired", "threshold"}}});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(*e,
            "{\"event\":\"bundle-rejected\",\"proposal\":\"sha256:" + std::string(64, 'e') +
                "\",\"reasons\":[\"expired\",\"threshold\"],\"seq\":7,\"time\":\"2026-01-01T00:00:00Z\"}");
  EXPECT_TRUE(check_entry(*e, 7).ok());
  EXPECT_FALSE(check_entry(*e, 8).ok());
  EXPECT_FALSE(make_entry(0, 0, "made-up", nullptr).ok());
  EXPECT_FALSE(make_entry(0, 0, event::kDaemonStarted, {{"seq", 3}}).ok());
  EXPECT_FALSE(make_entry(0, 0, event::kDaemonStarted, {{"proposal", "abc"}}).ok());
  EXPECT_FALSE(make_entry(0, 0, event::kDaemonStarted, {{"x", std::string(kMaxEntrySize, 'x')}}).ok());
  EXPECT_FALSE(
      check_entry("{\"seq\":0, \"time\":\"2026-01-01T00:00:00Z\",\"event\":\"x\"}", 0).ok());  // not JCS
  for (auto name :
       {event::kBundleReceived, event::kBundleVerified, event::kSignatureAccepted, event::kSnapshotTaken,
        event::kSnapshotRestored, event::kFetchStarted, event::kSourceFailed, event::kHashMismatchAlert,
        event::kFileVerified, event::kInstallComplete, event::kInstallAborted, event::kPolicyRotated,
        event::kModelRemoved, event::kDaemonStarted, event::kDaemonStopped, event::kLogRepaired}) {
    EXPECT_TRUE(is_known_event(name)) << name;
  }
}

TEST(AuditEntry, ExportLineRoundTrip) {
  std::string e = *make_entry(3, 1767225600, event::kDaemonStarted, nullptr);
  Digest leaf = merkle::leaf_hash(as_bytes(e));
  std::string line = export_line(3, e, leaf);
  auto parsed = parse_export_line(line);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->index, 3u);
  EXPECT_EQ(parsed->entry, e);
  std::string changed = line;
  changed.replace(changed.find("daemon-started"), 14, "daemon-stopped");
  auto bad = parse_export_line(changed);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kHashMismatch);
}

TEST_F(AuditLogTest, AppendsReopensAndProves) {
  make_log(100, key_, false);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_EQ(log->size(), 100u);
  std::vector<Digest> leaves;
  for (std::uint64_t i = 0; i < 100; ++i) {
    auto e = log->entry(i);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(check_entry(*e, i).ok());
    leaves.push_back(merkle::leaf_hash(as_bytes(*e)));
    EXPECT_EQ(*log->leaf_hash(i), leaves.back());
  }
  EXPECT_EQ(log->root(), merkle::root_of(leaves));
  for (std::uint64_t n = 1; n <= 100; n += 7)
    EXPECT_EQ(*log->root_at(n), merkle::root_of(std::span(leaves).first(n)));
  for (std::uint64_t i = 0; i < 100; ++i) {
    auto p = log->inclusion_proof(i, 100);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(merkle::verify_inclusion(i, 100, leaves[i], *p, log->root()).ok()) << i;
  }
  for (std::uint64_t m = 1; m <= 100; ++m) {
    auto p = log->consistency_proof(m, 100);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(merkle::verify_consistency(m, 100, *p, *log->root_at(m), log->root()).ok()) << m;
  }
  auto cps = log->checkpoints();
  ASSERT_TRUE(cps.ok());
  ASSERT_EQ(cps->size(), 1u);
  auto cp = open_checkpoint(cps->front(), key_.verifier());
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->size, 100u);
  EXPECT_EQ(cp->root, log->root());
  EXPECT_EQ(*log->entry(0), *make_entry(0, 1767225600, event::kBundleReceived,
                                        {{"proposal", "sha256:" + std::string(64, 'a')}}));
  auto r = verify();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->entries, 100u);
  EXPECT_EQ(r->unsigned_entries, 0u);
  EXPECT_FALSE(log->append(event::kDaemonStopped).ok());  // read-only
}

TEST_F(AuditLogTest, OneWriterAtATime) {
  auto a = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
  ASSERT_TRUE(a.ok());
  auto b = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("in use"), std::string::npos);
  EXPECT_TRUE(AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly).ok());
}

TEST_F(AuditLogTest, TornTailIsCutAndLoggedNothingBeforeChanges) {
  make_log(5, key_);
  const std::string before = slurp(dir_ / "entries");
  std::string torn = encode(*make_entry(5, 0, event::kDaemonStopped, nullptr), Digest{}).substr(0, 30);
  spit(dir_ / "entries", before + torn);

  auto ro = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  EXPECT_EQ(ro->size(), 5u);
  ASSERT_EQ(ro->torn_tail().size(), 1u);
  EXPECT_EQ(slurp(dir_ / "entries"), before + torn);  // read-only changes nothing
  auto r = verify();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->torn.has_value());
  EXPECT_EQ(r->torn->bytes, 30u);

  {
    auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
    ASSERT_TRUE(log.ok()) << log.error().message;
    ASSERT_EQ(log->torn_tail().size(), 1u);
    EXPECT_EQ(log->torn_tail()[0].offset, before.size());
    ASSERT_EQ(log->size(), 6u);
    auto e = nlohmann::json::parse(*log->entry(5));
    EXPECT_EQ(e["event"], "log-repaired");
    EXPECT_EQ(e["torn_bytes"], 30);
    EXPECT_EQ(e["file"], "entries");
    ASSERT_TRUE(log->sign_checkpoint(key_).ok());
  }
  EXPECT_EQ(slurp(dir_ / "entries").substr(0, before.size()), before);
  auto again = verify();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->entries, 6u);
  EXPECT_FALSE(again->torn.has_value());
}

TEST_F(AuditLogTest, CorruptionBeforeTheTailIsRefusedNotRepaired) {
  make_log(5, key_);
  std::string data = slurp(dir_ / "entries");
  data[kHeaderSize + 10] ^= 0x20;  // inside entry 0
  spit(dir_ / "entries", data);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
  // The last record is intact and indexed, so the writer opens without rescanning...
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 5u);
  // ...but the auditor's full check names the record.
  expect_rejected({"entries record 0", "checksum"});
  EXPECT_EQ(slurp(dir_ / "entries"), data);
}

TEST_F(AuditLogTest, DerivedFilesAreRebuilt) {
  make_log(37, key_);
  Digest root = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly)->root();
  for (const auto& e : fs::directory_iterator(dir_)) {
    std::string n = e.path().filename().string();
    if (n.rfind("tree-", 0) == 0 || n == "offsets") fs::resize_file(e.path(), fs::file_size(e.path()) / 3);
  }
  auto ro = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_FALSE(ro.ok());
  EXPECT_NE(ro.error().message.find("behind"), std::string::npos);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kWrite, clock());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->size(), 37u);
  EXPECT_EQ(log->root(), root);
  EXPECT_TRUE(log->torn_tail().empty());
  auto p = log->inclusion_proof(20, 37);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(merkle::verify_inclusion(20, 37, *log->leaf_hash(20), *p, root).ok());
}

// --- tampering, each detected with a message naming what -----------------------------

TEST_F(AuditLogTest, TamperOneByteOfAnEntry) {
  make_log(10, key_);
  auto recs = records(dir_ / "entries");
  recs[3].payload[recs[3].payload.find("bundle")] = 'B';
  rewrite(dir_ / "entries", kEntriesHeader, recs);  // old checksum kept
  expect_rejected({"entries record 3", "checksum"});
  recs[3] = fixed(recs[3].payload);  // checksum fixed too
  rewrite(dir_ / "entries", kEntriesHeader, recs);
  expect_rejected({"entry 3", "tree-00"});
  fs::remove(dir_ / "tree-00");  // and the stored leaf hashes gone: the checkpoints still tell
  expect_rejected({"checkpoint 3", "entry 3 changed"});
}

TEST_F(AuditLogTest, TamperDropAnEntry) {
  make_log(10, key_);
  fs::remove(dir_ / "tree-00");
  auto recs = records(dir_ / "entries");
  recs.erase(recs.begin() + 4);
  rewrite(dir_ / "entries", kEntriesHeader, recs);
  expect_rejected({"entry 4", "\"seq\" is 5, expected 4"});
}

TEST_F(AuditLogTest, TamperReorderTwoEntries) {
  make_log(10, key_);
  fs::remove(dir_ / "tree-00");
  auto recs = records(dir_ / "entries");
  std::swap(recs[6], recs[7]);
  rewrite(dir_ / "entries", kEntriesHeader, recs);
  expect_rejected({"entry 6", "\"seq\" is 7, expected 6"});
}

TEST_F(AuditLogTest, TamperTruncate) {
  make_log(10, key_);
  auto recs = records(dir_ / "entries");
  recs.resize(8);
  rewrite(dir_ / "entries", kEntriesHeader, recs);
  expect_rejected({"checkpoint 8", "covers 9 entries but the log has 8", "entry 8 dropped or truncated"});
}

TEST_F(AuditLogTest, TamperAppendForgedCheckpoint) {
  make_log(10, key_);
  auto forger = *note::Signer::generate("box.example/audit");  // same name, other key
  auto cps = records(dir_ / "checkpoints");
  auto n = *note::Note::from_text("box.example/audit\n11\n" + base64_encode(Digest{}) + "\n");
  n.add_signature(*forger.sign(n.text()));
  cps.push_back(fixed(n.serialize()));
  rewrite(dir_ / "checkpoints", kCheckpointsHeader, cps);
  expect_rejected({"checkpoint 10", "no signature by " + key_.verifier().label()});
  // A signature line under the log's own name and key id, but not made with its key.
  cps.pop_back();
  auto n2 = *note::Note::from_text("box.example/audit\n11\n" + base64_encode(Digest{}) + "\n");
  n2.add_signature(note::Signature{key_.verifier().name(), key_.verifier().key_id(), Bytes(64, 7)});
  cps.push_back(fixed(n2.serialize()));
  rewrite(dir_ / "checkpoints", kCheckpointsHeader, cps);
  expect_rejected({"checkpoint 10", "does not verify"});
}

TEST_F(AuditLogTest, TamperRewriteHistoryAndResignWithAnotherKey) {
  make_log(10, key_);
  std::string saved = records(dir_ / "checkpoints")[4].payload;  // the auditor kept size 5
  fs::remove_all(dir_);
  auto other = *note::Signer::generate("box.example/audit");
  now_ += 1000;  // different times: a different history
  make_log(12, other);
  expect_rejected({"checkpoint 0", "no signature by " + key_.verifier().label()});
}

TEST_F(AuditLogTest, SavedCheckpointCatchesHistoryRewrittenWithTheBoxKey) {
  make_log(10, key_);
  std::string saved = records(dir_ / "checkpoints")[4].payload;
  ASSERT_TRUE(verify({saved}).ok());
  // The box itself (holding its key) rebuilds the log with a different history.
  fs::remove_all(dir_);
  now_ += 1000;
  make_log(12, key_);
  ASSERT_TRUE(verify().ok());  // self-consistent on its own...
  expect_rejected({"given checkpoint 1", "size 5", "does not match the entries"},
                  {saved});  // ...but not with the past
}

// A copy of the S3 archive (daemon/s3_archive.h): segments FIRST-LAST.jsonl, checkpoints SIZE.note.
// A SIEM's copy: the RFC 5424 lines the box sends (daemon/log_shipper.cpp), here made by
// hand from the log, one of them sent twice as after a reconnect.
TEST_F(AuditLogTest, SyslogCopyVerifiesWithRepeatsAndNamesAMissingEntryOrAForgedRepeat) {
  make_log(12, key_, false);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok());
  auto message = [&](std::uint64_t i) {
    const std::string entry = *log->entry(i);
    const auto e = nlohmann::json::parse(entry);
    return "<110>1 " + e["time"].get<std::string>() + " box-7f3a countersign - " +
           e["event"].get<std::string>() + " [countersign@32473 seq=\"" + std::to_string(i) + "\" event=\"" +
           e["event"].get<std::string>() + "\" note=\"a \\] and a \\\" inside\"] " + entry;
  };
  auto write = [&](const std::vector<std::string>& lines) {
    std::string body;
    for (const auto& l : lines) body += l + "\n";
    spit(tmp_.path() / "siem.log", body);
    return (tmp_.path() / "siem.log").string();
  };
  std::vector<std::string> lines;
  for (std::uint64_t i = 0; i < 12; ++i) lines.push_back(message(i));
  lines.insert(lines.begin() + 8, {message(6), message(7)});  // 6 and 7 sent again
  const std::string cp = log->checkpoints()->back();
  ASSERT_TRUE(looks_like_syslog(lines[0]));
  EXPECT_FALSE(looks_like_syslog(export_line(0, *log->entry(0), *log->leaf_hash(0))));
  auto ok = verify_syslog_copy(write(lines), key_.verifier(), {cp});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->log.entries, 12u);
  EXPECT_EQ(ok->lines, 14u);
  EXPECT_EQ(ok->duplicates, 2u);

  // Entry 4 never arrived: named, with the line where the copy goes on.
  auto gap = lines;
  gap.erase(gap.begin() + 4);
  auto missing = verify_syslog_copy(write(gap), key_.verifier(), {cp});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kHashMismatch);
  EXPECT_NE(missing.error().message.find("siem.log line 5: entry 4 missing (the copy goes on at seq 5)"),
            std::string::npos)
      << missing.error().message;

  // A repeat that is not the same entry: refused, not counted as a duplicate.
  auto forged = lines;
  forged[8] = message(6);
  const auto year = forged[8].rfind("\"time\":\"") + 8 + 3;  // 2026 -> 2029: still an entry
  forged[8][year] = forged[8][year] == '9' ? '8' : '9';
  auto differs = verify_syslog_copy(write(forged), key_.verifier(), {cp});
  ASSERT_FALSE(differs.ok());
  EXPECT_NE(differs.error().message.find("line 9: entry 6 differs from the copy of it received earlier"),
            std::string::npos)
      << differs.error().message;

  // Without the last entries the checkpoint covers: dropped, as for an export.
  auto cut = verify_syslog_copy(write({lines.begin(), lines.begin() + 10}), key_.verifier(), {cp});
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("entries 8..11 dropped or truncated"), std::string::npos)
      << cut.error().message;
}

TEST_F(AuditLogTest, BucketCopyVerifiesAndNamesEveryMissingRange) {
  make_log(20, key_, false);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok());
  const fs::path copy = tmp_.path() / "copy";
  fs::create_directories(copy / "segments");
  fs::create_directories(copy / "checkpoints");
  auto segment = [&](std::uint64_t first, std::uint64_t last) {
    std::string body;
    for (std::uint64_t i = first; i <= last; ++i)
      body += export_line(i, *log->entry(i), *log->leaf_hash(i)) + "\n";
    char name[64];
    std::snprintf(name, sizeof name, "%012llu-%012llu.jsonl", static_cast<unsigned long long>(first),
                  static_cast<unsigned long long>(last));
    spit(copy / "segments" / name, body);
    return copy / "segments" / name;
  };
  segment(0, 7);
  segment(8, 15);
  segment(8, 12);  // sealed again after a crash: overlaps, same entries
  const auto last = segment(16, 19);
  spit(copy / "checkpoints" / "000000000020.note", log->checkpoints()->back());
  auto ok = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->segments, 4u);
  EXPECT_EQ(ok->log.entries, 20u);
  EXPECT_EQ(ok->log.newest.size, 20u);

  // Gaps between segments and a tail the checkpoint covers are all named.
  fs::remove(copy / "segments" / "000000000008-000000000015.jsonl");
  fs::remove(copy / "segments" / "000000000008-000000000012.jsonl");
  segment(10, 12);
  fs::remove(last);
  segment(16, 17);
  auto gaps = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_FALSE(gaps.ok());
  EXPECT_EQ(gaps.error().code, Errc::kHashMismatch);
  EXPECT_NE(gaps.error().message.find("no segment holds entries 8..9, entries 13..15, entries 18..19"),
            std::string::npos)
      << gaps.error().message;

  // Overlapping segments that disagree, a segment whose lines do not match its name, a
  // checkpoint under another size's name: each refused, naming the file.
  fs::remove_all(copy / "segments");
  fs::create_directories(copy / "segments");
  segment(0, 19);
  const auto other = segment(5, 6);
  std::string text = slurp(other);
  std::string changed = text;
  std::string entry = parse_export_line(text.substr(0, text.find('\n'))).value().entry;
  entry.replace(entry.find("bundle-"), 15, "bundle-rejected");
  changed.replace(0, changed.find('\n'), export_line(5, entry, merkle::leaf_hash(as_bytes(entry))));
  spit(other, changed);
  auto differ = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_FALSE(differ.ok());
  EXPECT_NE(differ.error().message.find("entry 5 differs from the same entry in an earlier segment"),
            std::string::npos)
      << differ.error().message;
  spit(other, text.substr(0, text.find('\n') + 1));
  auto short_one = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_FALSE(short_one.ok());
  EXPECT_NE(short_one.error().message.find("its name says it holds up to 6"), std::string::npos)
      << short_one.error().message;
  fs::remove(other);
  fs::rename(copy / "checkpoints" / "000000000020.note", copy / "checkpoints" / "000000000019.note");
  auto misnamed = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_FALSE(misnamed.ok());
  EXPECT_NE(misnamed.error().message.find("holds the checkpoint of size 20, not 19"), std::string::npos)
      << misnamed.error().message;
  spit(copy / "segments" / "notes.txt", "x");
  auto stray = verify_bucket_copy(copy.string(), key_.verifier(), {});
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.error().message.find("notes.txt: not a segment name"), std::string::npos)
      << stray.error().message;
}

TEST_F(AuditLogTest, ExportVerifiesAndTamperedExportFails) {
  make_log(9, key_);
  auto log = AuditLog::open(dir_.string(), AuditLog::Mode::kReadOnly);
  ASSERT_TRUE(log.ok());
  std::string jsonl;
  for (std::uint64_t i = 0; i < log->size(); ++i)
    jsonl += export_line(i, *log->entry(i), *log->leaf_hash(i)) + "\n";
  const fs::path exp = dir_ / "export.jsonl";
  spit(exp, jsonl);
  std::string cp = log->checkpoints()->back();
  auto ok = verify_export(exp.string(), key_.verifier(), {cp});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->entries, 9u);
  auto none = verify_export(exp.string(), key_.verifier(), {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kRejected);

  // An edited entry with its leaf hash recomputed: the checkpoint's root no longer matches.
  std::string changed = jsonl;
  std::size_t at = changed.find("bundle-verified");
  changed.replace(at, 15, "bundle-rejected");
  std::size_t ls = changed.rfind('\n', at) == std::string::npos ? 0 : changed.rfind('\n', at) + 1;
  std::size_t le = changed.find('\n', at);
  auto line = *parse_export_line(std::string_view(jsonl).substr(ls, le - ls));
  std::string new_entry = changed.substr(ls + 9, changed.find(",\"index\"", ls) - ls - 9);
  changed.replace(ls, le - ls, export_line(line.index, new_entry, merkle::leaf_hash(as_bytes(new_entry))));
  spit(exp, changed);
  auto bad = verify_export(exp.string(), key_.verifier(), {cp});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("does not match the entries"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace countersign::audit
