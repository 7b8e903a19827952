// Fuzz target: Proposal::parse_text (see document_fuzz.h for the property checked).
#include "core/proposal.h"
#include "tests/fuzz/document_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz_document<countersign::Proposal>(data, size);
}
