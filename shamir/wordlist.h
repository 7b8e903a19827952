// The SLIP-0039 word list: 1024 words, one per 10-bit value, embedded in the library
// (generated from python-shamir-mnemonic's wordlist.txt into wordlist_data.inc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace countersign::shamir::wordlist {

inline constexpr std::size_t kWordCount = 1024;

// The word for a 10-bit value. Precondition: index < 1024.
std::string_view word(std::uint16_t index);

// The value of `w` (lowercase, exact), or nullopt when it is not in the list.
std::optional<std::uint16_t> index_of(std::string_view w);

// Up to `max` words closest to `w` by Levenshtein edit distance (ties in list order), for
// "did you mean" messages. Any word sharing the first four letters comes first (the four
// letters identify a word uniquely in SLIP-0039).
std::vector<std::string_view> closest(std::string_view w, std::size_t max = 3);

}  // namespace countersign::shamir::wordlist
