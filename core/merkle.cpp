#include "core/merkle.h"

#include <algorithm>
#include <bit>
#include <string>

namespace countersign::merkle {

namespace {

// Largest power of two strictly less than n (n >= 2): the split point k of section 2.1.1.
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

Error proof_error(const std::string& what) { return Error(Errc::kCrypto, what); }

Result<Digest> to_digest(ByteView b, const std::string& what) {
  if (b.size() != 32) {
    return Error(Errc::kInvalidArgument, what + " is " + std::to_string(b.size()) + " bytes, expected 32");
  }
  Digest d;
  std::copy(b.begin(), b.end(), d.begin());
  return d;
}

Result<std::vector<Digest>> to_digests(const std::vector<Bytes>& proof) {
  std::vector<Digest> out;
  out.reserve(proof.size());
  for (std::size_t i = 0; i < proof.size(); ++i) {
    CS_TRY(Digest d, to_digest(proof[i], "proof hash " + std::to_string(i)));
    out.push_back(d);
  }
  return out;
}

// PATH(m, D[begin:end]) of section 2.1.3.1, appended to `out` from the leaf up.
Result<void> path(const SubtreeSource& src, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
                  std::vector<Digest>& out) {
  std::uint64_t n = end - begin;
  if (n == 1) return {};
  std::uint64_t k = split_point(n);
  if (m < k) {
    CS_TRY_VOID(path(src, m, begin, begin + k, out));
    CS_TRY(Digest right, range_hash(src, begin + k, end));
    out.push_back(right);
  } else {
    CS_TRY_VOID(path(src, m - k, begin + k, end, out));
    CS_TRY(Digest left, range_hash(src, begin, begin + k));
    out.push_back(left);
  }
  return {};
}

// SUBPROOF(m, D[begin:end], b) of section 2.1.4.1.
Result<void> subproof(const SubtreeSource& src, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
                      bool complete_subtree, std::vector<Digest>& out) {
  std::uint64_t n = end - begin;
  if (m == n) {
    if (!complete_subtree) {
      CS_TRY(Digest h, range_hash(src, begin, end));
      out.push_back(h);
    }
    return {};
  }
  std::uint64_t k = split_point(n);
  if (m <= k) {
    CS_TRY_VOID(subproof(src, m, begin, begin + k, complete_subtree, out));
    CS_TRY(Digest right, range_hash(src, begin + k, end));
    out.push_back(right);
  } else {
    CS_TRY_VOID(subproof(src, m - k, begin + k, end, false, out));
    CS_TRY(Digest left, range_hash(src, begin, begin + k));
    out.push_back(left);
  }
  return {};
}

}  // namespace

Digest leaf_hash(ByteView entry) {
  Sha256 h;
  const std::uint8_t prefix = 0x00;
  h.update(ByteView(&prefix, 1));
  h.update(entry);
  return h.finish();
}

Digest node_hash(const Digest& left, const Digest& right) {
  std::uint8_t buf[65];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 33);
  return sha256(ByteView(buf, sizeof buf));
}

Digest empty_root() { return sha256(ByteView()); }

Digest root_of(std::span<const Digest> leaves) {
  if (leaves.empty()) return empty_root();
  if (leaves.size() == 1) return leaves[0];
  std::size_t k = static_cast<std::size_t>(split_point(leaves.size()));
  return node_hash(root_of(leaves.subspan(0, k)), root_of(leaves.subspan(k)));
}

Result<Digest> range_hash(const SubtreeSource& source, std::uint64_t begin, std::uint64_t end) {
  if (end <= begin) return Error(Errc::kInternal, "range_hash: empty range");
  std::uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return source(static_cast<unsigned>(std::countr_zero(n)), begin / n);
  }
  std::uint64_t k = split_point(n);
  CS_TRY(Digest left, range_hash(source, begin, begin + k));
  CS_TRY(Digest right, range_hash(source, begin + k, end));
  return node_hash(left, right);
}

Result<std::vector<Digest>> inclusion_proof(const SubtreeSource& source, std::uint64_t index,
                                            std::uint64_t size) {
  if (index >= size) {
    return Error(Errc::kInvalidArgument,
                 "no entry " + std::to_string(index) + " in a tree of size " + std::to_string(size));
  }
  std::vector<Digest> out;
  CS_TRY_VOID(path(source, index, 0, size, out));
  return out;
}

Result<std::vector<Digest>> consistency_proof(const SubtreeSource& source, std::uint64_t size1,
                                              std::uint64_t size2) {
  if (size1 == 0 || size1 > size2) {
    return Error(Errc::kInvalidArgument, "no consistency proof from tree size " + std::to_string(size1) +
                                             " to " + std::to_string(size2) + " (need 0 < old <= new)");
  }
  std::vector<Digest> out;
  CS_TRY_VOID(subproof(source, size1, 0, size2, true, out));
  return out;
}

Result<void> verify_inclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf,
                              std::span<const Digest> proof, const Digest& root) {
  // RFC 9162 section 2.1.3.2, step by step.
  if (index >= size) {
    return Error(Errc::kInvalidArgument,
                 "leaf index " + std::to_string(index) + " is not below tree size " + std::to_string(size));
  }
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Digest r = leaf;
  for (const Digest& p : proof) {
    if (sn == 0) return proof_error("inclusion proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return proof_error("inclusion proof is too short for the tree size");
  if (r != root) return proof_error("inclusion proof leads to a different root hash");
  return {};
}

Result<void> verify_inclusion(std::uint64_t index, std::uint64_t size, ByteView leaf,
                              const std::vector<Bytes>& proof, ByteView root) {
  CS_TRY(Digest l, to_digest(leaf, "leaf hash"));
  CS_TRY(Digest r, to_digest(root, "root hash"));
  CS_TRY(std::vector<Digest> p, to_digests(proof));
  return verify_inclusion(index, size, l, p, r);
}

Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, std::span<const Digest> proof,
                                const Digest& root1, const Digest& root2) {
  if (size1 > size2) {
    return Error(Errc::kInvalidArgument, "old tree size " + std::to_string(size1) +
                                             " is larger than new size " + std::to_string(size2) +
                                             ": the log shrank");
  }
  if (size1 == 0) {
    // Everything is consistent with the empty tree; a "proof" of it proves nothing, so it
    // is refused rather than silently accepted.
    return Error(Errc::kInvalidArgument, "no consistency proof from the empty tree");
  }
  if (size1 == size2) {
    if (!proof.empty()) return proof_error("consistency proof between equal sizes must be empty");
    if (root1 != root2)
      return proof_error("two different root hashes for the same tree size " + std::to_string(size1));
    return {};
  }
  // RFC 9162 section 2.1.4.2.
  if (proof.empty()) return proof_error("consistency proof is empty");
  std::vector<Digest> path_hashes;
  path_hashes.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path_hashes.push_back(root1);  // step 2
  path_hashes.insert(path_hashes.end(), proof.begin(), proof.end());
  std::uint64_t fn = size1 - 1;
  std::uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {  // step 4
    fn >>= 1;
    sn >>= 1;
  }
  Digest fr = path_hashes[0];
  Digest sr = path_hashes[0];
  for (std::size_t i = 1; i < path_hashes.size(); ++i) {
    const Digest& c = path_hashes[i];
    if (sn == 0) return proof_error("consistency proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return proof_error("consistency proof is too short for the tree sizes");
  if (fr != root1) return proof_error("consistency proof does not lead to the old root hash");
  if (sr != root2) return proof_error("consistency proof does not lead to the new root hash");
  return {};
}

Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<Bytes>& proof,
                                ByteView root1, ByteView root2) {
  if (size1 == size2 && size1 > 0) {
    // Equal sizes: the proof is empty and the roots are the same bytes; nothing is hashed,
    // so the roots' length does not matter (transparency-dev/merkle treats it so too).
    if (!proof.empty()) return proof_error("consistency proof between equal sizes must be empty");
    if (!std::equal(root1.begin(), root1.end(), root2.begin(), root2.end())) {
      return proof_error("two different root hashes for the same tree size " + std::to_string(size1));
    }
    return {};
  }
  CS_TRY(Digest r1, to_digest(root1, "old root hash"));
  CS_TRY(Digest r2, to_digest(root2, "new root hash"));
  CS_TRY(std::vector<Digest> p, to_digests(proof));
  return verify_consistency(size1, size2, p, r1, r2);
}

Result<CompactRange> CompactRange::from_frontier(std::uint64_t size, std::vector<Digest> hashes) {
  if (hashes.size() != static_cast<std::size_t>(std::popcount(size))) {
    return Error(Errc::kInvalidArgument, "a frontier of tree size " + std::to_string(size) + " has " +
                                             std::to_string(std::popcount(size)) + " hashes, not " +
                                             std::to_string(hashes.size()));
  }
  CompactRange c;
  c.size_ = size;
  c.hashes_ = std::move(hashes);
  return c;
}

void CompactRange::append(const Digest& leaf,
                          const std::function<void(unsigned, std::uint64_t, const Digest&)>& on_complete) {
  const std::uint64_t position = size_;
  Digest h = leaf;
  unsigned level = 0;
  if (on_complete) on_complete(0, position, h);
  // Each set low bit of the old size is a perfect subtree that the new leaf now completes
  // into one of twice the size.
  while (((position >> level) & 1) != 0) {
    h = node_hash(hashes_.back(), h);
    hashes_.pop_back();
    ++level;
    if (on_complete) on_complete(level, position >> level, h);
  }
  hashes_.push_back(h);
  ++size_;
}

Digest CompactRange::root() const {
  if (hashes_.empty()) return empty_root();
  Digest r = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) r = node_hash(hashes_[i], r);
  return r;
}

}  // namespace countersign::merkle
