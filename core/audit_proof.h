// Proof files for the audit log (DESIGN.md "Audit log": inclusion and consistency proofs,
// checked offline). The CLI writes them from a log directory (`countersign log prove`) and
// the daemon serves the same documents over its API (`countersign box log prove`); both are
// checked by `countersign log check-proof` with nothing but the log's verifier key:
//
//   {"schema": "countersign/log-inclusion-proof/v1", "index": N, "tree_size": S,
//    "entry": {...}, "leaf_hash": "<hex>", "proof": ["<b64>", ...], "checkpoint": "<note>"}
//   {"schema": "countersign/log-consistency-proof/v1", "old_checkpoint": "<note>",
//    "new_checkpoint": "<note>", "proof": ["<b64>", ...]}
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/audit_log.h"
#include "core/checkpoint.h"
#include "core/result.h"
#include "core/signed_note.h"

namespace countersign::audit {

inline constexpr const char* kInclusionProofSchema = "countersign/log-inclusion-proof/v1";
inline constexpr const char* kConsistencyProofSchema = "countersign/log-consistency-proof/v1";

// The newest signed checkpoint of exactly `size` entries (the newest of all when 0): the
// note text and its parsed form. kNotFound when there is none.
Result<std::pair<std::string, Checkpoint>> find_checkpoint(const AuditLog& log, std::uint64_t size);

// Inclusion proof of entry `index` to the signed checkpoint of `tree_size` entries (the
// newest checkpoint when 0). kInvalidArgument when the checkpoint does not cover the entry.
Result<nlohmann::json> inclusion_proof_doc(const AuditLog& log, std::uint64_t index, std::uint64_t tree_size);
// Consistency proof between the signed checkpoints of `old_size` and `new_size` entries.
Result<nlohmann::json> consistency_proof_doc(const AuditLog& log, std::uint64_t old_size,
                                             std::uint64_t new_size);

// Checks that `entry` (an entry's JCS bytes) is entry `index` of the log whose signed
// checkpoint is `checkpoint_note`: the checkpoint's signature by `key`, the entry's form, and
// the RFC 9162 inclusion proof `proof` to the checkpoint's root. Returns what it proves.
Result<std::string> check_inclusion(const std::string& entry, std::uint64_t index,
                                    const std::vector<Bytes>& proof, const std::string& checkpoint_note,
                                    const note::Verifier& key);

// Checks a proof document offline; returns a human sentence saying what it proves.
Result<std::string> check_proof_doc(const nlohmann::json& doc, const note::Verifier& key);

}  // namespace countersign::audit
