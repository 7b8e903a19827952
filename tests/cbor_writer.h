// A minimal CBOR writer for tests (shortest-form heads, RFC 8949 section 3): enough to write
// or re-encode a Nitro attestation document (tests/smartcard/nitro_test.cpp,
// tests/cli/attest_cli_test.cpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.h"

namespace countersign::test_util {

struct CborWriter {
  Bytes out;
  void head(std::uint8_t major, std::uint64_t n) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (n < 24) {
      out.push_back(static_cast<std::uint8_t>(m | n));
      return;
    }
    const int len = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
    out.push_back(static_cast<std::uint8_t>(m | (len == 1 ? 24 : len == 2 ? 25 : len == 4 ? 26 : 27)));
    for (int i = len - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  }
  void bytes(ByteView b) {
    head(2, b.size());
    out.insert(out.end(), b.begin(), b.end());
  }
  void text(std::string_view t) {
    head(3, t.size());
    out.insert(out.end(), t.begin(), t.end());
  }
};

}  // namespace countersign::test_util
