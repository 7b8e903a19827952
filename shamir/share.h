// One SLIP-0039 share and its mnemonic form (SLIP-0039 "Format of the share mnemonic"):
//
//   id (15 bits) | ext (1) | e (4) | GI (4) | Gt-1 (4) | g-1 (4) | I (4) | t-1 (4) | value | checksum (30)
//
// packed into 10-bit words of the SLIP-0039 word list. The share value is left-padded with
// at most 8 zero bits to a whole number of words; the checksum is RS1024 with customization
// "shamir" or "shamir_extendable".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/secret.h"

namespace countersign::shamir {

inline constexpr std::size_t kMinSecretBytes = 16;  // 128 bits (SLIP-0039 minimum)
inline constexpr std::size_t kMaxSecretBytes = 32;  // 256 bits (our maximum when creating)
inline constexpr unsigned kMaxShareCount = 16;
// 2 (id, ext, e) + 2 (group and member parameters) + 3 (checksum) words, plus the value.
inline constexpr std::size_t kMetadataWords = 7;
inline constexpr std::size_t kMinMnemonicWords = kMetadataWords + 13;  // 128-bit value: 13 words

struct Share {
  std::uint16_t identifier = 0;         // 15 bits; the same for every share of one secret
  bool extendable = false;              // the extendable backup flag
  std::uint8_t iteration_exponent = 0;  // 0..15: PBKDF2 runs 2500 << e iterations per round
  std::uint8_t group_index = 0;         // 0..15
  std::uint8_t group_threshold = 1;     // 1..16, <= group_count
  std::uint8_t group_count = 1;         // 1..16
  std::uint8_t member_index = 0;        // 0..15
  std::uint8_t member_threshold = 1;    // 1..16
  SecretBytes value;                    // the share value (same length as the secret)

  // True when both shares name the same set (identifier, extendable, e, group threshold and
  // count): SLIP-0039's "common parameters".
  bool same_set(const Share& other) const;
};

// Parses one mnemonic: words separated by spaces (any amount of whitespace; upper case is
// accepted). Errors, all kMalformed unless noted, with a message naming the word by its
// 1-based position:
//   - a word not in the list: "word 5 \"acadamic\" is not in the SLIP-39 word list; closest: ..."
//   - fewer than 20 words, or a word count that cannot hold a whole even number of bytes;
//   - a bad checksum: "invalid checksum (a word is mistyped, missing, swapped or extra)";
//   - non-zero padding bits: "invalid padding";
//   - a value shorter than 16 bytes or of odd length: "invalid master secret length";
//   - a group threshold larger than the group count (kInvalidArgument).
Result<Share> parse_share(std::string_view mnemonic);

// The mnemonic of `share`, words separated by single spaces, in guarded memory (a share is a
// secret). Preconditions: fields in range, value length even and >= 16.
SecretBytes encode_share(const Share& share);

}  // namespace countersign::shamir
