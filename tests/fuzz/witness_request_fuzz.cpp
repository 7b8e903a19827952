// Fuzz target: the body of a C2SP tlog-witness add-checkpoint request (core/witness.h
// Request::parse), then the witness's checks of it (Witness::add_checkpoint), as `countersign
// log witness serve` runs them on a POST /add-checkpoint. The witness follows the fixed log
// key of fuzz_keys.h and, before each input, knows that log's checkpoint of size 6 (the seed
// log-0-to-6 of make_log_seeds), so that the seeds' consistency proofs from 6 verify and
// mutations of the old size and the proof lines reach the consistency check.
//
// Properties checked (abort() so libFuzzer records the input):
//  - a request that parses has at most 63 proof lines of 32 bytes and serializes to a body
//    that parses to the same old size, proof and checkpoint;
//  - every refusal says why; a cosigned checkpoint carries exactly one cosignature, by the
//    witness key, that verifies.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/secret.h"
#include "core/signed_note.h"
#include "core/witness.h"
#include "tests/fuzz/fuzz_keys.h"

using namespace countersign;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "witness_request_fuzz: %s\n", what);
  std::abort();
}

// The checkpoint of size 6 of the make_log_seeds log (corpus/witness_request/log-0-to-6).
constexpr std::string_view kKnownCheckpoint =
    "fuzz.countersign.example/log\n"
    "6\n"
    "xAOePLBKrrb1/xOMWU+ajQEI9CxJH/qO6PfXxnn+2A8=\n"
    "\n"
    "— fuzz.countersign.example/log "
    "KP8IfvtwDAwhDUxDcF7BYGQJmKWPA/0PYCtH8S1ST/cbnusvfzBzA8w2gUZPfyTsJs9h3YL3h7Ny343jSta67L/9JwI=\n";

// One witness for the process, in a temporary directory removed at exit.
struct Fixture {
  std::filesystem::path dir;
  std::optional<witness::Witness> w;
  witness::Request known;

  Fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "witness_request_fuzz.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) fail("cannot create a temporary directory");
    dir = tmpl;
    auto log_key = note::Verifier::parse(fuzz::kLogVkey);
    auto cosigner = note::Signer::generate("fuzz.countersign.example/witness", note::kTypeCosignatureV1);
    if (!log_key.ok() || !cosigner.ok()) fail("fixed keys");
    auto opened = witness::Witness::open((dir / "state").string(), std::vector<note::Verifier>{*log_key},
                                         std::move(cosigner).value());
    if (!opened.ok()) fail("cannot open the witness");
    w.emplace(std::move(opened).value());
    known.old_size = 0;
    known.checkpoint = std::string(kKnownCheckpoint);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Back to knowing only the checkpoint of size 6. Only a cosignature changes what the
  // witness knows (a refused fork adds an evidence file, which no decision reads), so the
  // state is rebuilt only after one: most inputs then cost no file writes.
  bool changed = true;
  void reset() {
    if (!changed) return;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir / "state" / "logs", ec))
      std::filesystem::remove(e.path(), ec);
    auto r = w->add_checkpoint(known, 1798761700);
    if (!r.ok() || r->status != witness::Status::kCosigned) fail("the known checkpoint is not cosigned");
    changed = false;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto req = witness::Request::parse(body);
  if (!req.ok()) {
    if (req.error().message.empty()) fail("refusal without a message");
    return 0;
  }
  if (req->proof.size() > witness::kMaxProofLines) fail("more than 63 proof lines");
  for (const auto& h : req->proof)
    if (h.size() != 32) fail("a proof line that is not 32 bytes");
  auto again = witness::Request::parse(req->serialize());
  if (!again.ok() || again->old_size != req->old_size || again->proof != req->proof ||
      again->checkpoint != req->checkpoint)
    fail("serialize/parse round trip");

  static Fixture fixture;
  fixture.reset();
  auto out = fixture.w->add_checkpoint(*req, 1798761800);
  fixture.changed = !out.ok() || out->status == witness::Status::kCosigned;
  if (!out.ok()) {
    if (out.error().message.empty()) fail("error without a message");
    return 0;
  }
  if (out->status != witness::Status::kCosigned) {
    if (out->message.empty()) fail("refusal without a message");
    return 0;
  }
  if (out->cosignatures.size() != 1) fail("cosigned without exactly one cosignature");
  auto n = note::Note::parse(req->checkpoint);
  if (!n.ok()) fail("cosigned a checkpoint that does not parse");
  n->add_signature(out->cosignatures[0]);
  if (!note::verify_cosignature(*n, fixture.w->cosigner()).ok()) fail("the cosignature does not verify");
  return 0;
}
