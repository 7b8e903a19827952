// libFuzzer target: SLIP-39 mnemonic parsing and combining. The input is split into lines;
// every line is a mnemonic. Decoding, recovery, check and (with iteration exponent 0 only,
// to stay fast) decryption must never crash, and a parsed share must re-encode to a
// mnemonic that parses back to the same fields.
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
  for (const auto& l : lines) {
    auto share = parse_share(as_chars(l.text.view()));
    if (!share.ok()) continue;
    auto again = parse_share(as_chars(encode_share(*share).view()));
    if (!again.ok() || again->identifier != share->identifier || again->member_index != share->member_index ||
        again->value.size() != share->value.size()) {
      std::abort();
    }
  }
  auto decoded = decode_mnemonics(lines);
  if (!decoded.ok()) return 0;
  (void)check_mnemonics(lines, 200);
  if ((*decoded)[0].share.iteration_exponent == 0) {
    (void)combine_mnemonics(lines, SecretBytes());
  } else {
    (void)recover_encrypted_secret(*decoded);
  }
  return 0;
}
