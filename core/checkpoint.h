// C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint) note text: the origin line, the tree size
// in decimal without leading zeroes, the base64 RFC 9162 root hash, then optional non-empty
// extension lines, each ending in a newline. Signing and verification are signed_note.h's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/sha256.h"

namespace countersign {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Digest root{};
  std::vector<std::string> extensions;

  // Parses note text (not the signatures). kMalformed naming the line that is wrong.
  static Result<Checkpoint> parse(std::string_view text);
  // The note text, ending in a newline.
  std::string to_text() const;
};

}  // namespace countersign
