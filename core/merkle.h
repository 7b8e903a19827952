// RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.
//
//   leaf hash  MTH({d}) = SHA-256(0x00 || d)                    RFC 9162 section 2.1.1
//   node hash           = SHA-256(0x01 || left || right)
//   empty tree MTH({})  = SHA-256("")
//
// Proof generation (section 2.1.3.1 PATH, section 2.1.4.1 PROOF/SUBPROOF) reads subtree
// hashes through a SubtreeSource, so a log on disk answers with O(log n) reads. Verification
// (sections 2.1.3.2 and 2.1.4.2) works on untrusted bytes: every hash must be exactly 32
// bytes, and a consistency proof from tree size 0 is refused (the conventions of the
// transparency-dev/merkle test vectors; a proof from the empty tree proves nothing).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/sha256.h"

namespace countersign::merkle {

Digest leaf_hash(ByteView entry);
Digest node_hash(const Digest& left, const Digest& right);
Digest empty_root();

// MTH over a list of leaf hashes, by the recursive definition of section 2.1.1. O(n); for
// tests and small trees.
Digest root_of(std::span<const Digest> leaf_hashes);

// Hash of the perfect subtree at `level` covering leaves [index * 2^level, (index+1) * 2^level).
// Level 0 is the leaf hashes. Callers only ask for subtrees that are complete in the tree
// they are proving against.
using SubtreeSource = std::function<Result<Digest>(unsigned level, std::uint64_t index)>;

// MTH(D[begin:end]) for 0 <= begin < end, begin a multiple of the largest power of two not
// greater than end - begin (as in every recursion of section 2.1); O(log n) reads.
Result<Digest> range_hash(const SubtreeSource& source, std::uint64_t begin, std::uint64_t end);

// PATH(index, D[0:size]), section 2.1.3.1: sibling hashes from the leaf up.
// kInvalidArgument when index >= size.
Result<std::vector<Digest>> inclusion_proof(const SubtreeSource& source, std::uint64_t index,
                                            std::uint64_t size);

// PROOF(size1, D[0:size2]), section 2.1.4.1. kInvalidArgument unless 0 < size1 <= size2.
Result<std::vector<Digest>> consistency_proof(const SubtreeSource& source, std::uint64_t size1,
                                              std::uint64_t size2);

// Section 2.1.3.2. kCrypto naming the reason when the proof does not lead to `root`;
// kInvalidArgument for index >= size or hashes that are not 32 bytes.
Result<void> verify_inclusion(std::uint64_t index, std::uint64_t size, ByteView leaf_hash,
                              const std::vector<Bytes>& proof, ByteView root);
Result<void> verify_inclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf_hash,
                              std::span<const Digest> proof, const Digest& root);

// Section 2.1.4.2. size1 == size2 needs an empty proof and equal roots; size1 == 0 is refused.
Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<Bytes>& proof,
                                ByteView root1, ByteView root2);
Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, std::span<const Digest> proof,
                                const Digest& root1, const Digest& root2);

// The frontier ("compact range" [0, size)) of a growing tree: the roots of the perfect
// subtrees whose sizes are the set bits of size, largest (leftmost) first. Appending and
// taking the root are O(log n) time and memory, independent of how many leaves came before.
class CompactRange {
 public:
  CompactRange() = default;
  // From a stored frontier: `hashes` must hold popcount(size) digests, largest subtree first.
  static Result<CompactRange> from_frontier(std::uint64_t size, std::vector<Digest> hashes);

  // Appends one leaf hash. `on_complete(level, index, hash)`, when given, is told of every
  // perfect subtree the append completes (level 0 is the leaf itself), so that a caller can
  // persist subtree hashes for proofs.
  void append(const Digest& leaf,
              const std::function<void(unsigned, std::uint64_t, const Digest&)>& on_complete = nullptr);

  std::uint64_t size() const { return size_; }
  const std::vector<Digest>& frontier() const { return hashes_; }
  // MTH(D[0:size]): the frontier folded from the right (section 2.1.1's split rule).
  Digest root() const;

 private:
  std::uint64_t size_ = 0;
  std::vector<Digest> hashes_;
};

}  // namespace countersign::merkle
