// The policy chain (DESIGN.md "Policy": rotation; "Box-side daemon"): the box's configured
// root policy plus every rotation bundle it accepted, in order. The policy in force is what
// replaying the chain from the root gives; it is never read from a file by its version number.
//
// On disk (the System component's root-owned state, system/state.h) the chain is one file
// per accepted rotation, `rotation-<N>.json` holding the whole rotate-policy bundle whose new
// policy has version N, plus `head.json` ({"version": N, "policy": "sha256:<hash>"}), written
// after the rotation file, so that a chain cut short (a rotation file deleted) is told apart
// from one that never grew. Readers (countersignd, for its advisory copy) replay the same
// files with the same code.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/bundle.h"
#include "core/policy.h"
#include "core/result.h"
#include "core/verify.h"

namespace countersign {

struct PolicyChain {
  Policy root;
  std::vector<Bundle> rotations;  // rotations[i] takes version root+i to root+i+1
  Policy current;                 // the policy in force
};

// Replays `rotations` from `root`. Each must be a rotate-policy bundle approved under the
// policy before it (verify_bundle: signatures, threshold, the new policy's own rule, same
// domain, version + 1), judged as of its proposal's creation time (it was accepted while
// valid; expiry is not judged again) and never as a replay. `attested` is the attestation
// check of require_attestation rules. Errors (kInvalidDocument) name the rotation and why.
Result<PolicyChain> replay_policy_chain(Policy root, std::vector<Bundle> rotations, const std::string& box_id,
                                        const std::function<bool(const PolicyKey&)>& attested);

// Loads the chain kept in `dir` (rotation-<N>.json from root.version()+1 up, and head.json)
// and replays it. A missing head with no rotation files is a chain of length zero; anything
// else that does not fit (a gap, a file past the head, a head the files do not reach, a head
// whose hash is not the replayed policy's, a rotation that does not verify) is kInvalidDocument
// naming the file: the box refuses to start rather than fall back to an older policy.
Result<PolicyChain> load_policy_chain(const Policy& root, const std::string& dir, const std::string& box_id,
                                      const std::function<bool(const PolicyKey&)>& attested);

// File names inside the chain directory.
std::string rotation_file_name(std::uint64_t version);
inline constexpr const char* kPolicyHeadFile = "head.json";

}  // namespace countersign
