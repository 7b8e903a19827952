// RFC 9162 tree hashing and proofs against the transparency-dev/merkle vectors
// (tests/data/merkle-transparency-dev), plus generated proofs checked both ways.
#include "core/merkle.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace countersign::merkle {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(COUNTERSIGN_TEST_DATA) / "merkle-transparency-dev";

nlohmann::json load(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str());
}

Bytes b64(const nlohmann::json& v) {
  if (v.is_null()) return {};
  auto r = base64_decode(v.get<std::string>());
  EXPECT_TRUE(r.ok()) << v;
  return r.ok() ? *r : Bytes{};
}

std::vector<Bytes> proof_of(const nlohmann::json& v) {
  std::vector<Bytes> out;
  if (v.is_null()) return out;
  for (const auto& h : v) out.push_back(b64(h));
  return out;
}

Digest digest(const Bytes& b) {
  Digest d{};
  EXPECT_EQ(b.size(), 32u);
  std::copy_n(b.begin(), std::min<std::size_t>(32, b.size()), d.begin());
  return d;
}

std::vector<fs::path> vector_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kData / "testdata" / dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The reference tree: leaves from reference.json.
struct Reference {
  std::vector<Digest> leaves;
  std::vector<Digest> roots;  // roots[n] = MTH(first n leaves)
};
Reference reference() {
  auto j = load(kData / "reference.json");
  Reference r;
  for (const auto& in : j["leafInputs"]) r.leaves.push_back(leaf_hash(*hex_decode(in.get<std::string>())));
  for (const auto& h : j["rootHashes"]) r.roots.push_back(digest(*hex_decode(h.get<std::string>())));
  return r;
}

// Perfect subtree hashes computed naively from the leaves.
SubtreeSource naive_source(const std::vector<Digest>& leaves) {
  return [&leaves](unsigned level, std::uint64_t index) -> Result<Digest> {
    std::uint64_t w = std::uint64_t{1} << level;
    if ((index + 1) * w > leaves.size()) return Error(Errc::kInternal, "incomplete subtree asked for");
    return root_of(std::span<const Digest>(leaves).subspan(static_cast<std::size_t>(index * w),
                                                           static_cast<std::size_t>(w)));
  };
}

TEST(MerkleReference, RootsOfEveryPrefix) {
  Reference ref = reference();
  ASSERT_EQ(ref.leaves.size(), 8u);
  ASSERT_EQ(ref.roots.size(), 9u);
  CompactRange range;
  EXPECT_EQ(range.root(), ref.roots[0]);
  EXPECT_EQ(empty_root(), ref.roots[0]);
  for (std::size_t n = 1; n <= ref.leaves.size(); ++n) {
    EXPECT_EQ(root_of(std::span<const Digest>(ref.leaves).first(n)), ref.roots[n]) << n;
    range.append(ref.leaves[n - 1]);
    EXPECT_EQ(range.root(), ref.roots[n]) << n;
    auto via_source = range_hash(naive_source(ref.leaves), 0, n);
    ASSERT_TRUE(via_source.ok());
    EXPECT_EQ(*via_source, ref.roots[n]) << n;
  }
}

TEST(MerkleVectors, Inclusion) {
  Reference ref = reference();
  int run = 0;
  int happy = 0;
  for (const auto& path : vector_files("inclusion")) {
    auto j = load(path);
    auto r = verify_inclusion(j["leafIdx"].get<std::uint64_t>(), j["treeSize"].get<std::uint64_t>(),
                              b64(j["leafHash"]), proof_of(j["proof"]), b64(j["root"]));
    EXPECT_EQ(r.ok(), !j["wantErr"].get<bool>()) << path << ": " << (r.ok() ? "accepted" : r.error().message);
    ++run;
    if (path.filename() == "happy-path.json") {
      // Our generator gives the same proof, byte for byte.
      auto idx = j["leafIdx"].get<std::uint64_t>();
      auto size = j["treeSize"].get<std::uint64_t>();
      auto gen = inclusion_proof(naive_source(ref.leaves), idx, size);
      ASSERT_TRUE(gen.ok());
      auto want = proof_of(j["proof"]);
      ASSERT_EQ(gen->size(), want.size()) << path;
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(Bytes((*gen)[i].begin(), (*gen)[i].end()), want[i]);
      ++happy;
    }
  }
  EXPECT_EQ(run, 98);
  EXPECT_EQ(happy, 5);
}

TEST(MerkleVectors, Consistency) {
  Reference ref = reference();
  int run = 0;
  int happy = 0;
  for (const auto& path : vector_files("consistency")) {
    auto j = load(path);
    auto s1 = j["size1"].get<std::uint64_t>();
    auto s2 = j["size2"].get<std::uint64_t>();
    auto r = verify_consistency(s1, s2, proof_of(j["proof"]), b64(j["root1"]), b64(j["root2"]));
    EXPECT_EQ(r.ok(), !j["wantErr"].get<bool>()) << path << ": " << (r.ok() ? "accepted" : r.error().message);
    ++run;
    if (path.filename() == "happy-path.json") {
      auto gen = consistency_proof(naive_source(ref.leaves), s1, s2);
      ASSERT_TRUE(gen.ok());
      auto want = proof_of(j["proof"]);
      ASSERT_EQ(gen->size(), want.size()) << path;
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(Bytes((*gen)[i].begin(), (*gen)[i].end()), want[i]);
      ++happy;
    }
  }
  EXPECT_EQ(run, 98);
  EXPECT_EQ(happy, 5);
}

std::vector<Digest> leaves(std::size_t n) {
  std::vector<Digest> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(leaf_hash(as_bytes("leaf " + std::to_string(i))));
  return out;
}

TEST(MerkleProofs, GeneratedInclusionProofsVerifyAndTamperingFails) {
  auto all = leaves(70);
  auto src = naive_source(all);
  for (std::uint64_t n = 1; n <= all.size(); ++n) {
    Digest root = root_of(std::span<const Digest>(all).first(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      auto proof = inclusion_proof(src, i, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(verify_inclusion(i, n, all[i], *proof, root).ok()) << i << "/" << n;
      if (n > 1) {
        EXPECT_FALSE(verify_inclusion((i + 1) % n, n, all[i], *proof, root).ok());
        auto bad = *proof;
        bad[0][0] ^= 1;
        EXPECT_FALSE(verify_inclusion(i, n, all[i], bad, root).ok());
      }
    }
  }
  EXPECT_FALSE(inclusion_proof(src, 5, 5).ok());
}

TEST(MerkleProofs, GeneratedConsistencyProofsVerifyAndTamperingFails) {
  auto all = leaves(70);
  auto src = naive_source(all);
  for (std::uint64_t n = 1; n <= all.size(); ++n) {
    Digest root2 = root_of(std::span<const Digest>(all).first(n));
    for (std::uint64_t m = 1; m <= n; ++m) {
      Digest root1 = root_of(std::span<const Digest>(all).first(m));
      auto proof = consistency_proof(src, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(verify_consistency(m, n, *proof, root1, root2).ok()) << m << "->" << n;
      if (m < n) {
        auto bad = *proof;
        bad.back()[31] ^= 0x80;
        EXPECT_FALSE(verify_consistency(m, n, bad, root1, root2).ok());
        Digest other = root1;
        other[0] ^= 1;
        EXPECT_FALSE(verify_consistency(m, n, *proof, other, root2).ok());
      }
    }
  }
  EXPECT_FALSE(consistency_proof(src, 0, 4).ok());
  EXPECT_FALSE(consistency_proof(src, 5, 4).ok());
}

TEST(MerkleProofs, CompactRangeReportsEveryCompletedSubtree) {
  auto all = leaves(37);
  CompactRange range;
  std::vector<std::vector<Digest>> levels;
  for (const auto& l : all) {
    range.append(l, [&](unsigned k, std::uint64_t j, const Digest& h) {
      if (levels.size() <= k) levels.resize(k + 1);
      ASSERT_EQ(levels[k].size(), j);
      levels[k].push_back(h);
    });
  }
  ASSERT_EQ(levels.size(), 6u);  // 32 <= 37 < 64
  auto src = naive_source(all);
  for (unsigned k = 0; k < levels.size(); ++k) {
    EXPECT_EQ(levels[k].size(), all.size() >> k);
    for (std::uint64_t j = 0; j < levels[k].size(); ++j) EXPECT_EQ(levels[k][j], *src(k, j));
  }
  auto restored = CompactRange::from_frontier(range.size(), range.frontier());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->root(), range.root());
  EXPECT_FALSE(CompactRange::from_frontier(range.size() + 2, range.frontier()).ok());
}

}  // namespace
}  // namespace countersign::merkle
