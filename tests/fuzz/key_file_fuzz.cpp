// Fuzz target: a software key file's contents (SoftwareKey::public_key_of_text), every check
// `key public` and `sign --key` make before the deliberately slow key derivation, which is
// left out so that the parser gets the executions. A refusal must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/software_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;  // read_key_file refuses larger files before parsing
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto key = countersign::SoftwareKey::public_key_of_text(text);
  if (!key.ok() && key.error().message.empty()) std::abort();
  return 0;
}
