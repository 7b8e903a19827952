// A proposal id as people compare it over the phone: the hex in groups of four, and six
// words from the SLIP-0039 word list (1024 words, each unique in its first four letters)
// taken from the first 60 bits of the id. The words are a quick check; the hex is the id.
#pragma once

#include <string>
#include <vector>

#include "core/sha256.h"

namespace countersign::app {

struct Fingerprint {
  std::string hex_groups;          // "1a2b 3c4d ..." (16 groups of 4, one line)
  std::vector<std::string> words;  // 6 words
  std::string words_text() const;  // words joined by spaces
};

Fingerprint fingerprint(const Digest& id);

}  // namespace countersign::app
