// Fuzz target: PackagesReview::parse_text (see document_fuzz.h for the property checked), and
// the Debian changelog reader that produces its entries: any bytes give entries within the
// bounds of core/packages_review.h, or an error that says why.
#include "core/packages_review.h"
#include "tests/fuzz/document_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = countersign::parse_debian_changelog(text, 50);
  if (!entries.ok() && entries.error().message.empty()) std::abort();
  if (entries.ok()) {
    if (entries->size() > 50) std::abort();
    for (const auto& e : *entries) {
      if (e.text.size() > countersign::kMaxChangelogEntryText) std::abort();
      if (countersign::to_valid_utf8(e.text) != e.text) std::abort();
    }
  }
  return fuzz_document<countersign::PackagesReview>(data, size);
}
