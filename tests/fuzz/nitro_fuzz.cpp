// Fuzz target: an AWS Nitro Enclaves attestation document, COSE_Sign1 over CBOR
// (smartcard/nitro.h parse), and, for a document that parses, its verification against the
// pinned AWS root at the document's own time (nitro::verify: the certificate chain, the ES384
// signature over the Sig_structure), as `countersign attest verify` runs them. Seeded with the
// two real documents of tests/data/nitro-attestation.
//
// Properties checked (abort() so libFuzzer records the input):
//  - a document that parses keeps every field within its limit (nitro.h), every PCR index
//    below 32, a 96-byte signature, and is at most kMaxDocument bytes;
//  - every refusal, of the parser and of the verifier, says why.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "smartcard/nitro.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "nitro_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace countersign;
  const ByteView cose(data, size);
  auto doc = nitro::parse(cose);
  if (!doc.ok()) {
    if (doc.error().message.empty()) fail("refusal without a message");
    return 0;
  }
  if (size > nitro::kMaxDocument) fail("a document over kMaxDocument parsed");
  if (doc->module_id.size() > nitro::kMaxModuleId) fail("module_id over its limit");
  if (doc->certificate.size() > nitro::kMaxCertificate) fail("certificate over its limit");
  if (doc->cabundle.size() > nitro::kMaxCabundle) fail("cabundle over its limit");
  for (const auto& c : doc->cabundle)
    if (c.size() > nitro::kMaxCertificate) fail("cabundle certificate over its limit");
  if (doc->pcrs.size() > nitro::kPcrCount) fail("too many PCRs");
  for (const auto& [index, value] : doc->pcrs)
    if (index >= nitro::kPcrCount) fail("PCR index out of range");
  if (doc->signature.size() != 96) fail("signature is not 96 bytes");
  for (const auto* f : {&doc->public_key, &doc->user_data, &doc->nonce})
    if (*f && (*f)->size() > nitro::kMaxOptionalField) fail("optional field over its limit");

  static const std::vector<Bytes> roots = nitro::pinned_roots();
  auto report = nitro::verify(cose, roots, static_cast<UnixTime>(doc->timestamp_ms / 1000));
  if (!report.ok() && report.error().message.empty()) fail("verification refused without a message");
  return 0;
}
