#include "app/model/fingerprint.h"

#include "core/bytes.h"
#include "shamir/wordlist.h"

namespace countersign::app {

std::string Fingerprint::words_text() const {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

Fingerprint fingerprint(const Digest& id) {
  Fingerprint f;
  const std::string hex = hex_encode(id);
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i != 0) f.hex_groups += ' ';
    f.hex_groups += hex.substr(i, 4);
  }
  // Big-endian bit string of the id; word k is bits [10k, 10k + 10).
  for (std::size_t k = 0; k < 6; ++k) {
    unsigned value = 0;
    for (std::size_t b = 0; b < 10; ++b) {
      const std::size_t bit = k * 10 + b;
      value = (value << 1) | ((static_cast<unsigned>(id[bit / 8]) >> (7 - bit % 8)) & 1u);
    }
    f.words.emplace_back(shamir::wordlist::word(static_cast<std::uint16_t>(value)));
  }
  return f;
}

}  // namespace countersign::app
