// Crash test: a child process appends to the log in a loop and is killed with SIGKILL at
// random moments. After each kill the log must open for writing, repair at most a torn
// final record (logging the repair), keep every byte that was there before, and verify.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/audit_verify.h"
#include "tests/test_util.h"

namespace countersign::audit {
namespace {

namespace fs = std::filesystem;

using test_util::slurp;

[[noreturn]] void child_appends(const std::string& dir, const note::Signer& key, unsigned seed) {
  auto log = AuditLog::open(dir, AuditLog::Mode::kWrite);
  if (!log.ok()) _exit(3);
  std::mt19937 rng(seed);
  for (std::uint64_t i = 0;; ++i) {
    // Entries of varying size, up to a few pages, so that kills land inside writes too.
    std::string pad(rng() % 12000, 'x');
    if (!log->append(event::kFileVerified, {{"path", "weights/" + std::to_string(i)}, {"pad", pad}}).ok())
      _exit(4);
    if (i % 3 == 0 && !log->sign_checkpoint(key).ok()) _exit(5);
  }
}

TEST(AuditLogCrash, SigkillAtRandomMomentsNeverLosesOrRewritesHistory) {
  const test_util::TempDir tmp("auditlog-crash");
  const fs::path dir = tmp.path() / "log";
  auto key = *note::Signer::generate("box.example/crash");
  std::mt19937 rng(20261122);
  std::string before_entries;
  std::string before_checkpoints;
  std::uint64_t before_size = 0;
  int repairs = 0;
  const int kKills = 20;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int kills = 0;
  for (; kills < kKills && std::chrono::steady_clock::now() < deadline; ++kills) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child_appends(dir.string(), key, static_cast<unsigned>(rng()));
    std::this_thread::sleep_for(std::chrono::microseconds(20000 + rng() % 150000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);

    // Nothing that was there before this round was rewritten.
    std::string entries = slurp(dir / "entries");
    std::string checkpoints = slurp(dir / "checkpoints");
    ASSERT_EQ(entries.substr(0, before_entries.size()), before_entries) << "round " << kills;
    ASSERT_EQ(checkpoints.substr(0, before_checkpoints.size()), before_checkpoints) << "round " << kills;

    if (kills % 3 == 2) {
      // SIGKILL rarely interrupts a single write(); a power cut can. Every third round,
      // leave the beginning of a record that never finished, as such a cut would.
      std::string torn(4, '\0');
      torn[2] = 0x01;                         // a 256-byte record...
      torn += std::string(rng() % 200, '{');  // ...of which only part arrived
      std::ofstream(dir / (kills % 2 ? "entries" : "checkpoints"), std::ios::binary | std::ios::app) << torn;
    }
    auto log = AuditLog::open(dir.string(), AuditLog::Mode::kWrite);
    ASSERT_TRUE(log.ok()) << "round " << kills << ": " << log.error().message;
    ASSERT_LE(log->torn_tail().size(), 2u);
    for (const auto& t : log->torn_tail()) {
      // At most one record was torn: less than one maximal record was cut.
      EXPECT_LT(t.bytes, kRecordOverhead + kMaxEntrySize);
      ++repairs;
    }
    ASSERT_GE(log->size(), before_size);
    if (!log->torn_tail().empty()) {
      auto last = nlohmann::json::parse(*log->entry(log->size() - 1));
      EXPECT_EQ(last["event"], "log-repaired");
    }
    ASSERT_TRUE(log->sign_checkpoint(key).ok());
    auto report = verify_log_dir(dir.string(), key.verifier(), {});
    ASSERT_TRUE(report.ok()) << "round " << kills << ": " << report.error().message;
    EXPECT_EQ(report->entries, log->size());
    before_size = log->size();
    before_entries = slurp(dir / "entries");
    before_checkpoints = slurp(dir / "checkpoints");
  }
  EXPECT_GE(kills, 5);
  EXPECT_GT(before_size, 20u);
  std::printf("crash test: %d kills, %d torn records repaired, %llu entries\n", kills, repairs,
              static_cast<unsigned long long>(before_size));
}

}  // namespace
}  // namespace countersign::audit
