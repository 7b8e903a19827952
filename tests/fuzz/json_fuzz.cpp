// Fuzz target for the strict JSON parser and the JCS serializer (core/jcs.h).
//
// Properties checked on every input:
//  - parse() either succeeds or reports kMalformed with a "line L, column C (byte B): "
//    position whose byte offset lies within the input;
//  - whatever parse() accepts, serialize() can write (parsed values hold only finite
//    doubles and valid UTF-8), the canonical text parses back to an equal value, and
//    serializing that again gives the same bytes (canonical form is a fixed point);
//  - canonicalize() and hash_text(), which never build a DOM, agree with the DOM path:
//    the same canonical bytes and digest when parse() accepts, the same error otherwise.
// Any violation calls abort() so libFuzzer records the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/jcs.h"
#include "core/sha256.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "json_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

void check_error_position(const countersign::Error& error, std::size_t size) {
  if (error.code != countersign::Errc::kMalformed) fail("wrong error code", error.message);
  unsigned long line = 0;
  unsigned long column = 0;
  unsigned long byte = 0;
  int consumed = 0;
  if (std::sscanf(error.message.c_str(), "line %lu, column %lu (byte %lu): %n", &line, &column, &byte,
                  &consumed) != 3 ||
      consumed == 0) {
    fail("error without a position", error.message);
  }
  if (line == 0 || column == 0 || byte > size || column > byte + 1)
    fail("impossible position", error.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = countersign::jcs::parse(text);
  auto direct = countersign::jcs::canonicalize(text);
  auto digest = countersign::jcs::hash_text(text);
  if (!value.ok()) {
    check_error_position(value.error(), size);
    if (direct.ok()) fail("canonicalize accepts what parse refuses", value.error().message);
    if (direct.error().message != value.error().message || direct.error().code != value.error().code)
      fail("canonicalize and parse disagree on the error",
           direct.error().message + " / " + value.error().message);
    if (digest.ok() || digest.error().message != value.error().message)
      fail("hash_text and parse disagree on the error", value.error().message);
    return 0;
  }
  auto first = countersign::jcs::serialize(*value);
  if (!first.ok()) fail("parsed value does not serialize", first.error().message);
  auto reparsed = countersign::jcs::parse(*first);
  if (!reparsed.ok()) fail("canonical form does not parse", reparsed.error().message + "\n" + *first);
  if (*reparsed != *value) fail("canonical form parses to a different value", *first);
  auto second = countersign::jcs::serialize(*reparsed);
  if (!second.ok() || *second != *first) fail("canonical form is not a fixed point", *first);
  if (!direct.ok()) fail("canonicalize refuses what parse accepts", direct.error().message);
  if (*direct != *first) fail("canonicalize differs from serialize(parse)", *direct + "\n" + *first);
  if (!digest.ok() || *digest != countersign::sha256(std::string_view(*first)))
    fail("hash_text is not the SHA-256 of the canonical form", *first);
  return 0;
}
