// A verifier's witness policy (c2sp.org/tlog-cosignature "Log clients can verify a quorum of
// cosignatures"): a checkpoint is trusted only when at least K of the witness keys the
// verifier names have a valid cosignature (type 0x04) on it. Cosignatures by keys not named
// are ignored; a key named twice counts once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/signed_note.h"

namespace countersign::witness {

struct CosignerCheck {
  std::string label;  // NAME+ID of the witness key
  bool valid = false;
  std::uint64_t time = 0;  // the cosignature's timestamp, when valid
  std::string problem;     // why not, when not valid ("no cosignature by ...", "does not verify")
};

struct QuorumReport {
  std::vector<CosignerCheck> witnesses;  // one per distinct key, in the order given
  std::size_t valid = 0;
  std::size_t required = 0;
  bool met() const { return valid >= required; }
};

// Checks every distinct key of `witnesses` against the note's signatures.
QuorumReport check_quorum(const note::Note& checkpoint, const std::vector<note::Verifier>& witnesses,
                          std::size_t required);

// kRejected when the quorum is not met: "N of the K required cosignatures valid (by ...);
// missing: LABEL (why), ...". Ok otherwise.
Result<void> require_quorum(const QuorumReport& r);

// The note of `note_text` with the signature lines of every note in `extra` whose text is the
// same checkpoint added (a line already present is not repeated): the cosignatures that
// different witnesses returned, on one checkpoint. kInvalidArgument naming the first note
// that is about another checkpoint (`what` names the inputs in the message).
Result<note::Note> merge_cosignatures(const std::string& note_text, const std::vector<std::string>& extra,
                                      const std::vector<std::string>& what);

}  // namespace countersign::witness
