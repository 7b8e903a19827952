#include "shamir/share.h"

#include <cctype>
#include <cstring>
#include <optional>
#include <vector>

#include <sodium.h>

#include "shamir/rs1024.h"
#include "shamir/wordlist.h"

namespace countersign::shamir {

namespace {

constexpr unsigned kRadixBits = 10;
constexpr std::size_t kMaxWords = 64;  // far above 7 + 26 words for a 256-bit value

// Word indices of a mnemonic in guarded memory: they encode a share value.
class WordIndices {
 public:
  explicit WordIndices(std::size_t n) : buf_(n * 2), n_(n) {}
  std::size_t size() const { return n_; }
  std::uint16_t get(std::size_t i) const {
    return static_cast<std::uint16_t>((buf_.data()[2 * i] << 8) | buf_.data()[2 * i + 1]);
  }
  void set(std::size_t i, std::uint16_t v) {
    buf_.data()[2 * i] = static_cast<std::uint8_t>(v >> 8);
    buf_.data()[2 * i + 1] = static_cast<std::uint8_t>(v & 0xFF);
  }
  // A plain copy of the indices for the checksum (the checksum reads every word). The
  // caller wipes it with wipe().
  std::vector<std::uint16_t> copy() const {
    std::vector<std::uint16_t> v(n_);
    for (std::size_t i = 0; i < n_; ++i) v[i] = get(i);
    return v;
  }

 private:
  SecretBytes buf_;
  std::size_t n_;
};

void wipe(std::vector<std::uint16_t>& v) { sodium_memzero(v.data(), v.size() * sizeof(std::uint16_t)); }

std::string describe_word(std::string_view w) {
  std::string out = "\"";
  for (char c : w.substr(0, 24)) out += std::isprint(static_cast<unsigned char>(c)) != 0 ? c : '?';
  if (w.size() > 24) out += "...";
  return out + "\"";
}

Result<WordIndices> words_to_indices(std::string_view mnemonic) {
  // First pass: count words so that the index buffer is allocated once.
  std::size_t count = 0;
  for (std::size_t i = 0; i < mnemonic.size();) {
    while (i < mnemonic.size() && std::isspace(static_cast<unsigned char>(mnemonic[i])) != 0) ++i;
    if (i == mnemonic.size()) break;
    ++count;
    while (i < mnemonic.size() && std::isspace(static_cast<unsigned char>(mnemonic[i])) == 0) ++i;
  }
  if (count > kMaxWords) {
    return make_error(Errc::kMalformed, "too many words (" + std::to_string(count) +
                                            "); a share has at most " + std::to_string(kMaxWords));
  }
  WordIndices indices(count);
  std::size_t n = 0;
  char lower[9];  // the longest word has 8 letters
  for (std::size_t i = 0; i < mnemonic.size();) {
    while (i < mnemonic.size() && std::isspace(static_cast<unsigned char>(mnemonic[i])) != 0) ++i;
    if (i == mnemonic.size()) break;
    const std::size_t start = i;
    while (i < mnemonic.size() && std::isspace(static_cast<unsigned char>(mnemonic[i])) == 0) ++i;
    const std::string_view w = mnemonic.substr(start, i - start);
    std::optional<std::uint16_t> index;
    if (w.size() < sizeof lower) {
      for (std::size_t k = 0; k < w.size(); ++k) {
        lower[k] = static_cast<char>(std::tolower(static_cast<unsigned char>(w[k])));
      }
      index = wordlist::index_of(std::string_view(lower, w.size()));
      sodium_memzero(lower, sizeof lower);
    }
    if (!index) {
      std::string msg = "word " + std::to_string(n + 1) + " " + describe_word(w) +
                        " is not in the SLIP-39 word list; closest: ";
      std::string folded;
      for (char c : w.substr(0, 24)) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto near = wordlist::closest(folded);
      for (std::size_t k = 0; k < near.size(); ++k) msg += (k == 0 ? "" : ", ") + std::string(near[k]);
      return make_error(Errc::kMalformed, msg);
    }
    indices.set(n++, *index);
  }
  return indices;
}

}  // namespace

bool Share::same_set(const Share& other) const {
  return identifier == other.identifier && extendable == other.extendable &&
         iteration_exponent == other.iteration_exponent && group_threshold == other.group_threshold &&
         group_count == other.group_count;
}

Result<Share> parse_share(std::string_view mnemonic) {
  CS_TRY(WordIndices words, words_to_indices(mnemonic));
  const std::size_t n = words.size();
  if (n < kMinMnemonicWords) {
    return make_error(Errc::kMalformed, "a share has at least " + std::to_string(kMinMnemonicWords) +
                                            " words; this one has " + std::to_string(n));
  }
  const std::size_t value_words = n - kMetadataWords;
  // The value is a whole number of 16-bit units (even byte length), left-padded with at
  // most 8 bits (SLIP-0039 "Format of the share mnemonic").
  const std::size_t padding_bits = (kRadixBits * value_words) % 16;
  if (padding_bits > 8) {
    return make_error(Errc::kMalformed, "invalid mnemonic length: " + std::to_string(n) +
                                            " words cannot hold a secret of an even number of bytes");
  }

  Share s;
  const std::uint32_t id_exp = (static_cast<std::uint32_t>(words.get(0)) << 10) | words.get(1);
  s.identifier = static_cast<std::uint16_t>(id_exp >> 5);
  s.extendable = ((id_exp >> 4) & 1u) != 0;
  s.iteration_exponent = static_cast<std::uint8_t>(id_exp & 0xFu);

  {
    std::vector<std::uint16_t> all = words.copy();
    const bool ok = rs1024::verify_checksum(all, s.extendable);
    wipe(all);
    if (!ok) {
      return make_error(Errc::kMalformed,
                        "invalid checksum: a word is mistyped, missing, swapped with another or extra");
    }
  }

  const std::uint32_t params = (static_cast<std::uint32_t>(words.get(2)) << 10) | words.get(3);
  s.group_index = static_cast<std::uint8_t>((params >> 16) & 0xFu);
  s.group_threshold = static_cast<std::uint8_t>(((params >> 12) & 0xFu) + 1);
  s.group_count = static_cast<std::uint8_t>(((params >> 8) & 0xFu) + 1);
  s.member_index = static_cast<std::uint8_t>((params >> 4) & 0xFu);
  s.member_threshold = static_cast<std::uint8_t>((params & 0xFu) + 1);
  if (s.group_threshold > s.group_count) {
    return make_error(Errc::kInvalidArgument,
                      "invalid share: its group threshold (" + std::to_string(s.group_threshold) +
                          ") is larger than its group count (" + std::to_string(s.group_count) + ")");
  }

  // Read the value bits MSB first, after `padding_bits` leading bits that must be zero.
  const std::size_t value_bytes = (kRadixBits * value_words - padding_bits) / 8;
  if (value_bytes < kMinSecretBytes || value_bytes % 2 != 0) {
    return make_error(Errc::kMalformed,
                      "invalid master secret length: " + std::to_string(value_bytes * 8) +
                          " bits (SLIP-39 needs at least 128 bits, an even number of bytes)");
  }
  s.value = SecretBytes(value_bytes);
  unsigned padding = 0;
  for (std::size_t bit = 0; bit < kRadixBits * value_words; ++bit) {
    const std::uint16_t w = words.get(4 + bit / kRadixBits);
    const unsigned b = (static_cast<unsigned>(w) >> (kRadixBits - 1 - bit % kRadixBits)) & 1u;
    if (bit < padding_bits) {
      padding |= b;
      continue;
    }
    const std::size_t vbit = bit - padding_bits;
    s.value.data()[vbit / 8] = static_cast<std::uint8_t>(s.value.data()[vbit / 8] | (b << (7 - vbit % 8)));
  }
  if (padding != 0)
    return make_error(Errc::kMalformed, "invalid padding: the bits before the share value must be zero");
  return s;
}

SecretBytes encode_share(const Share& share) {
  const std::size_t value_bits = share.value.size() * 8;
  const std::size_t value_words = (value_bits + kRadixBits - 1) / kRadixBits;
  const std::size_t padding_bits = value_words * kRadixBits - value_bits;
  const std::size_t n = kMetadataWords + value_words;
  std::vector<std::uint16_t> words(n, 0);

  const std::uint32_t id_exp = (static_cast<std::uint32_t>(share.identifier & 0x7FFFu) << 5) |
                               (share.extendable ? 16u : 0u) | (share.iteration_exponent & 0xFu);
  words[0] = static_cast<std::uint16_t>(id_exp >> 10);
  words[1] = static_cast<std::uint16_t>(id_exp & 1023u);
  const std::uint32_t params = (static_cast<std::uint32_t>(share.group_index & 0xFu) << 16) |
                               (static_cast<std::uint32_t>((share.group_threshold - 1) & 0xF) << 12) |
                               (static_cast<std::uint32_t>((share.group_count - 1) & 0xF) << 8) |
                               (static_cast<std::uint32_t>(share.member_index & 0xFu) << 4) |
                               static_cast<std::uint32_t>((share.member_threshold - 1) & 0xF);
  words[2] = static_cast<std::uint16_t>(params >> 10);
  words[3] = static_cast<std::uint16_t>(params & 1023u);
  for (std::size_t vbit = 0; vbit < value_bits; ++vbit) {
    const unsigned b = (static_cast<unsigned>(share.value.data()[vbit / 8]) >> (7 - vbit % 8)) & 1u;
    const std::size_t bit = vbit + padding_bits;
    words[4 + bit / kRadixBits] =
        static_cast<std::uint16_t>(words[4 + bit / kRadixBits] | (b << (kRadixBits - 1 - bit % kRadixBits)));
  }
  const auto checksum = rs1024::create_checksum(
      std::span<const std::uint16_t>(words.data(), n - rs1024::kChecksumWords), share.extendable);
  for (std::size_t i = 0; i < rs1024::kChecksumWords; ++i)
    words[n - rs1024::kChecksumWords + i] = checksum[i];

  std::size_t length = 0;
  for (std::uint16_t w : words) length += wordlist::word(w).size() + 1;
  SecretBytes out(length);
  std::size_t pos = 0;
  for (std::uint16_t w : words) {
    const std::string_view text = wordlist::word(w);
    std::memcpy(out.data() + pos, text.data(), text.size());
    pos += text.size();
    out.data()[pos++] = ' ';
  }
  out.truncate(length - 1);  // no trailing space
  wipe(words);
  return out;
}

}  // namespace countersign::shamir
