// Fuzz target: a C2SP tlog-proof (core/tlog_proof.h TlogProof::parse), then its check with
// the fixed log key of fuzz_keys.h (check_tlog_proof: the checkpoint's signature, the entry in
// "extra", the inclusion proof), as `countersign log check-proof` runs them. The seeds made by
// make_log_seeds verify, so mutations of the entry, the index and the proof lines reach the
// entry and Merkle checks behind the signature.
//
// Properties checked (abort() so libFuzzer records the input):
//  - a proof that parses has at most 63 lines of 32 bytes, and its serialization parses back
//    to the same extra, index, proof and checkpoint;
//  - every refusal, of the parser and of the check, says why.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/signed_note.h"
#include "core/tlog_proof.h"
#include "tests/fuzz/fuzz_keys.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tlog_proof_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace countersign;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = audit::TlogProof::parse(text);
  if (!p.ok()) {
    if (p.error().message.empty()) fail("refusal without a message");
    return 0;
  }
  if (p->proof.size() > 63) fail("more than 63 proof lines");
  for (const auto& h : p->proof)
    if (h.size() != 32) fail("a proof line that is not 32 bytes");
  auto again = audit::TlogProof::parse(p->serialize());
  if (!again.ok() || again->extra != p->extra || again->index != p->index || again->proof != p->proof ||
      again->checkpoint != p->checkpoint)
    fail("serialize/parse round trip");

  static const auto key = note::Verifier::parse(fuzz::kLogVkey);
  if (!key.ok()) fail("fixed log key does not parse");
  auto checked = audit::check_tlog_proof(*p, *key);
  if (!checked.ok() && checked.error().message.empty()) fail("check refused without a message");
  return 0;
}
