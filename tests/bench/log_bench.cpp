// Audit log benchmark (not a test): appends per second with fsync, and proof generation at
// one million entries. Usage: log_bench [DIR] [ENTRIES]   (default: a temp dir, 1000000)
//
// Phase 1 appends 2000 entries one by one through AuditLog::append, each durable (its
// record fdatasync'd) and reports appends/s. Phase 2 grows the log to ENTRIES (the same
// code path, without the per-record fdatasync) and then times inclusion and consistency proofs and a
// cold reopen, which must not depend on the log's size beyond O(log n).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/merkle.h"

namespace {

using Steady = std::chrono::steady_clock;
double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace countersign;
  namespace fs = std::filesystem;
  fs::path dir =
      argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("log_bench." + std::to_string(::getpid()));
  std::uint64_t total = argc > 2 ? std::stoull(argv[2]) : 1000000;
  fs::remove_all(dir);
  auto log =
      audit::AuditLog::open(dir.string(), audit::AuditLog::Mode::kWrite, [] { return UnixTime{1795341600}; });
  if (!log.ok()) {
    std::fprintf(stderr, "log_bench: %s\n", log.error().message.c_str());
    return 1;
  }
  nlohmann::json fields = {{"proposal", "sha256:" + std::string(64, 'a')},
                           {"path", "weights/model-00001.safetensors"}};

  const int kTimed = 2000;
  auto t0 = Steady::now();
  for (int i = 0; i < kTimed; ++i) {
    if (!log->append(audit::event::kFileVerified, fields).ok()) return 1;
  }
  double s = seconds_since(t0);
  std::printf("append with fsync: %d entries in %.3f s = %.0f appends/s (%.1f us each)\n", kTimed, s,
              kTimed / s, s / kTimed * 1e6);

  // Growing to a million entries at the fsync rate would take a quarter of an hour; the same
  // append path without the per-record fdatasync is used for the bulk.
  log = Error(Errc::kInternal, "closed");  // release the writer lock first
  log = audit::AuditLog::open(
      dir.string(), audit::AuditLog::Mode::kWrite, [] { return UnixTime{1795341600}; },
      audit::AuditLog::Durability::kNoSync);
  if (!log.ok()) {
    std::fprintf(stderr, "log_bench: %s\n", log.error().message.c_str());
    return 1;
  }
  auto t1 = Steady::now();
  while (log->size() < total) {
    if (!log->append(audit::event::kFileVerified, fields).ok()) return 1;
  }
  std::printf("grew the log to %llu entries in %.1f s (no fsync)\n",
              static_cast<unsigned long long>(log->size()), seconds_since(t1));
  log = Error(Errc::kInternal, "closed");  // close: syncs the derived files, drops the lock

  auto t2 = Steady::now();
  auto reopened = audit::AuditLog::open(dir.string(), audit::AuditLog::Mode::kReadOnly);
  if (!reopened.ok()) return 1;
  std::printf("reopen at %llu entries: %.3f ms\n", static_cast<unsigned long long>(reopened->size()),
              seconds_since(t2) * 1e3);

  std::mt19937_64 rng(1);
  const std::uint64_t n = reopened->size();
  const Digest root = reopened->root();
  const int kProofs = 1000;
  auto t3 = Steady::now();
  std::size_t hashes = 0;
  for (int i = 0; i < kProofs; ++i) {
    std::uint64_t idx = rng() % n;
    auto p = reopened->inclusion_proof(idx, n);
    if (!p.ok()) return 1;
    hashes += p->size();
    if (i < 10 && !merkle::verify_inclusion(idx, n, *reopened->leaf_hash(idx), *p, root).ok()) return 1;
  }
  double ps = seconds_since(t3);
  std::printf("inclusion proof at %llu entries: %.1f us each (%zu hashes avg)\n",
              static_cast<unsigned long long>(n), ps / kProofs * 1e6, hashes / kProofs);
  auto t4 = Steady::now();
  for (int i = 0; i < kProofs; ++i) {
    std::uint64_t m = 1 + rng() % (n - 1);
    auto p = reopened->consistency_proof(m, n);
    if (!p.ok()) return 1;
    if (i < 10 && !merkle::verify_consistency(m, n, *p, *reopened->root_at(m), root).ok()) return 1;
  }
  std::printf("consistency proof at %llu entries: %.1f us each\n", static_cast<unsigned long long>(n),
              seconds_since(t4) / kProofs * 1e6);
  std::uintmax_t bytes = 0;
  for (const auto& e : fs::directory_iterator(dir)) bytes += e.file_size();
  std::printf("on disk: %.1f MB (%.0f bytes per entry)\n", static_cast<double>(bytes) / 1e6,
              static_cast<double>(bytes) / static_cast<double>(n));
  fs::remove_all(dir);
  return 0;
}
