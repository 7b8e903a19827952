// Writes the seeds of the tlog_proof and witness_request corpora that need a real log: a log
// of 13 entries made by core/audit_log.h with the fixed keys of fuzz_keys.h, its signed
// checkpoints at sizes 1, 6 and 13, and from them, as the CLI makes them (core/audit_proof.h,
// tlog_proof.h, witness.h):
//   OUT/tlog_proof/log-entry-I[-cosigned]   tlog-proofs of entries 0, 5, 12 to the last checkpoint
//   OUT/witness_request/log-A-to-B          add-checkpoint bodies, consistency A -> B (the
//                                           checkpoint of 6 is witness_request_fuzz's known one)
// Usage: make_log_seeds OUTDIR (tests/fuzz/corpus). Not part of the build (EXCLUDE_FROM_ALL):
//   cmake --build build-fuzz --target make_log_seeds && build-fuzz/tests/fuzz/make_log_seeds
//   tests/fuzz/corpus
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/audit_log.h"
#include "core/audit_proof.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "core/signed_note.h"
#include "core/tlog_proof.h"
#include "core/witness.h"
#include "core/witness_quorum.h"
#include "tests/fuzz/fuzz_keys.h"

using namespace countersign;

namespace {

// The secret halves of fuzz_keys.h (test keys; see there).
constexpr std::string_view kLogSkey =
    "PRIVATE+KEY+fuzz.countersign.example/log+28ff087e+AYmO04uM+kSHlXu70VsvDSlBr/RQYRNU/F/N5cSgUVr0";
constexpr std::string_view kWitnessSkey =
    "PRIVATE+KEY+fuzz.countersign.example/w1+8e459665+BCveVYJWBmNz+Kv39++0Uxm3Yt3RnO/om+nxyVpA3pXX";

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "make_log_seeds: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "make_log_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::printf("%s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_log_seeds OUTDIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "countersign-make-log-seeds";
  std::filesystem::remove_all(dir);
  auto log_key = must(note::Signer::parse(SecretBytes::copy_of(as_bytes(kLogSkey))), "log key");
  auto witness_key = must(note::Signer::parse(SecretBytes::copy_of(as_bytes(kWitnessSkey))), "witness key");
  std::string checkpoint;
  {
    UnixTime t = 1798761600;  // 2027-01-01: fixed, so the seeds are the same on every run
    auto log = must(audit::AuditLog::open(
                        dir.string(), audit::AuditLog::Mode::kWrite, [&] { return t++; },
                        audit::AuditLog::Durability::kNoSync),
                    "open log");
    for (int i = 0; i < 13; ++i) {
      (void)must(log.append(i == 0 ? "daemon-started" : "proposal-pending",
                            i == 0 ? nlohmann::json(nullptr) : nlohmann::json{{"n", i}}),
                 "append");
      if (i == 0 || i == 5 || i == 12) checkpoint = must(log.sign_checkpoint(log_key), "checkpoint");
      if (i == 5) write(out / "witness_request" / "log-0-to-6", "old 0\n\n" + checkpoint);
    }
  }
  auto log = must(audit::AuditLog::open(dir.string(), audit::AuditLog::Mode::kReadOnly), "reopen log");
  const note::Note cp = must(note::Note::parse(checkpoint), "checkpoint note");
  note::Note cosigned = cp;
  cosigned.add_signature(must(witness_key.cosign(cp.text(), 1798761700), "cosign"));

  for (std::uint64_t index : {std::uint64_t{0}, std::uint64_t{5}, std::uint64_t{12}}) {
    auto doc = must(audit::inclusion_proof_doc(log, index, 13), "inclusion proof");
    auto p = must(audit::tlog_proof_from_inclusion_doc(doc), "tlog-proof");
    write(out / "tlog_proof" / ("log-entry-" + std::to_string(index)), p.serialize());
    if (index == 5) {
      auto c = must(audit::tlog_proof_from_inclusion_doc(doc, cosigned.serialize()), "cosigned tlog-proof");
      write(out / "tlog_proof" / "log-entry-5-cosigned", c.serialize());
    }
  }
  const std::pair<std::uint64_t, std::uint64_t> ranges[] = {{0, 13}, {1, 13}, {6, 13}, {13, 13}};
  for (const auto& [a, b] : ranges) {
    witness::Request r;
    r.old_size = a;
    if (a != 0) {
      for (const auto& h : must(log.consistency_proof(a, b), "consistency proof"))
        r.proof.emplace_back(h.begin(), h.end());
    }
    r.checkpoint = checkpoint;
    write(out / "witness_request" / ("log-" + std::to_string(a) + "-to-" + std::to_string(b)), r.serialize());
  }
  std::filesystem::remove_all(dir);
  return 0;
}
