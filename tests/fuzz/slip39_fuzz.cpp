// libFuzzer target: SLIP-39 mnemonic parsing and combining. The input is split into lines;
// every line is a mnemonic. Decoding, recovery of the encrypted master secret and the check
// must never crash, and a parsed share must re-encode to a mnemonic that parses back to the
// same fields. The decryption (PBKDF2, at least 40 000 HMAC-SHA256 per input) is left out:
// it reads no input structure, only a recovered secret of a checked size, and paying it on
// every input held this target to 36 executions per second; the SLIP-0039 vectors and the
// interoperability tests cover it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "shamir/share.h"
#include "shamir/slip39.h"

using namespace countersign;
using namespace countersign::shamir;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<MnemonicInput> lines;
  std::size_t start = 0, line = 0;
  while (start <= text.size() && lines.size() < 40) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line;
    if (end > start) lines.push_back({line, SecretBytes::copy_of(as_bytes(text.substr(start, end - start)))});
    start = end + 1;
  }
  bool all_parse = true;
  for (const auto& l : lines) {
    auto share = parse_share(as_chars(l.text.view()));
    if (!share.ok()) {
      all_parse = false;
      continue;
    }
    auto again = parse_share(as_chars(encode_share(*share).view()));
    if (!again.ok() || again->identifier != share->identifier || again->member_index != share->member_index ||
        again->value.size() != share->value.size()) {
      std::abort();
    }
  }
  // A line that does not parse fails decode_mnemonics the same way (its message per line):
  // parsing every line a second time, word suggestions included, would halve the executions.
  if (!all_parse) return 0;
  auto decoded = decode_mnemonics(lines);
  if (!decoded.ok()) return 0;
  (void)check_mnemonics(lines, 200);
  (void)recover_encrypted_secret(*decoded);
  return 0;
}
