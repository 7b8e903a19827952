// Fuzz target: the request bodies of countersignd's POST endpoints (daemon/api.h), each read
// by the same functions the handlers call before any state or policy is involved. The first
// byte picks the endpoint ('0'..'3' in the seeds), the rest is the body:
//   0  POST /v1/bundles                   jcs::parse, Bundle::parse (Admission::submit_bundle)
//   1  POST /v1/proposals                 parse_pending_request (Admission::create_pending)
//   2  POST .../signatures, .../vetoes,   SignatureFile::parse_text (Admission::add_signature,
//      /v1/proofs                         add_veto, Engine::prove)
//   3  POST /v1/log/cosignatures          note::Note::parse, Checkpoint::parse
//                                         (Witnesses::add_cosignatures)
// POST /v1/challenges takes no body.
//
// Properties checked (abort() so libFuzzer records the input): every refusal says why; a
// bundle, pending proposal or signature file that parses writes out to JSON that parses again
// to the same canonical bytes; a pending proposal is a bundle without signatures.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/bundle.h"
#include "core/checkpoint.h"
#include "core/jcs.h"
#include "core/signature_file.h"
#include "core/signed_note.h"
#include "daemon/admission.h"

using namespace countersign;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "api_body_fuzz: %s\n", what);
  std::abort();
}

template <typename T>
bool refused(const Result<T>& r) {
  if (r.ok()) return false;
  if (r.error().message.empty()) fail("refusal without a message");
  return true;
}

// What parses writes out to JSON that parses to the same canonical bytes.
template <typename Doc>
void round_trip(const Doc& doc) {
  auto again = Doc::parse(doc.to_json());
  if (!again.ok()) fail("written out, does not parse again");
  auto a = jcs::serialize(doc.to_json());
  auto b = jcs::serialize(again->to_json());
  if (!a.ok() || !b.ok() || *a != *b) fail("round trip changes the document");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto doc = jcs::parse(body);
      if (refused(doc)) break;
      auto b = Bundle::parse(*doc);
      if (refused(b)) break;
      round_trip(*b);
      break;
    }
    case 1: {
      auto p = daemon::parse_pending_request(body);
      if (refused(p)) break;
      if (!p->bundle.signatures().empty()) fail("a pending proposal with signatures");
      round_trip(p->bundle);
      break;
    }
    case 2: {
      auto s = SignatureFile::parse_text(body);
      if (refused(s)) break;
      round_trip(*s);
      break;
    }
    default: {
      auto n = note::Note::parse(body);
      if (refused(n)) break;
      (void)refused(Checkpoint::parse(n->text()));
      break;
    }
  }
  return 0;
}
