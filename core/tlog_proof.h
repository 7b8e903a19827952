// C2SP tlog-proof (c2sp.org/tlog-proof@v1): one entry's evidence, verifiable offline:
//
//   c2sp.org/tlog-proof@v1
//   extra <base64 of the entry's JCS bytes>
//   index <N>
//   <base64 RFC 9162 inclusion proof hash, leaf's sibling first>   (zero or more lines)
//   <empty line>
//   <the signed checkpoint, with any witness cosignatures>
//
// The spec leaves "extra" opaque and unauthenticated; countersign puts the entry there, and
// the verifier trusts it only because its leaf hash is proven included in the checkpoint
// (audit::check_inclusion). A proof without "extra" is refused: it would prove a leaf hash,
// not an entry anyone can read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/result.h"
#include "core/signed_note.h"

namespace countersign::audit {

inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";

struct TlogProof {
  std::string extra;  // decoded extra data: for countersign, the entry's JCS bytes
  std::uint64_t index = 0;
  std::vector<Bytes> proof;
  std::string checkpoint;  // the signed note, verbatim

  // kMalformed naming the line that is wrong; at most 63 proof lines, 1 MiB.
  static Result<TlogProof> parse(std::string_view text);
  std::string serialize() const;
};

// True when `text` starts with the tlog-proof header line (and is not, say, JSON).
bool is_tlog_proof(std::string_view text);

// The tlog-proof form of an inclusion proof document (kInclusionProofSchema), its checkpoint
// replaced by `checkpoint_note` when that is not empty (the same checkpoint with witness
// cosignatures added, witness::merge_cosignatures). kInvalidDocument when the document is not
// an inclusion proof; kInvalidArgument when `checkpoint_note` is another checkpoint.
Result<TlogProof> tlog_proof_from_inclusion_doc(const nlohmann::json& doc,
                                                const std::string& checkpoint_note = "");

// Checks a tlog-proof with the log key: the entry in "extra", its inclusion, the checkpoint's
// signature. Returns what it proves, as check_proof_doc does.
Result<std::string> check_tlog_proof(const TlogProof& p, const note::Verifier& key);

}  // namespace countersign::audit
