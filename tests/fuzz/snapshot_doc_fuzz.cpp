// Fuzz target: SnapshotDoc::parse_text, the snapshot documents `box snapshots` returns and a
// restore-snapshot proposal names (see document_fuzz.h for the property checked).
#include "core/snapshot_doc.h"
#include "tests/fuzz/document_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz_document<countersign::SnapshotDoc>(data, size);
}
