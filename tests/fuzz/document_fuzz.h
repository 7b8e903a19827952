// Shared body of the document fuzz targets: parse; a document that parses must serialize
// back to something that parses again to the same canonical bytes (no value accepted on
// input that we could not write out, and no silent change on the way through).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/jcs.h"

template <typename Doc>
int fuzz_document(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = Doc::parse_text(text);
  if (!doc.ok()) {
    if (doc.error().message.empty()) std::abort();  // every refusal must say why
    return 0;
  }
  auto again = Doc::parse(doc->to_json());
  if (!again.ok()) std::abort();
  auto a = countersign::jcs::serialize(doc->to_json());
  auto b = countersign::jcs::serialize(again->to_json());
  if (!a.ok() || !b.ok() || *a != *b) std::abort();
  return 0;
}
