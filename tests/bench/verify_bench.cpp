// Bundle verification, 5 of 9, in process: the work a box does per bundle. Target < 1 ms.
// Prints the mean and best time per verification over a fixed number of rounds.
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/bundle.h"
#include "core/software_key.h"
#include "core/verify.h"

using namespace countersign;

int main() {
  constexpr int kApprovers = 9, kThreshold = 5, kRounds = 2000;
  std::vector<SoftwareKey> keys;
  nlohmann::json approvers = nlohmann::json::array();
  for (int i = 0; i < kApprovers; ++i) {
    // Mixed algorithms, as in a real policy: software Ed25519 and ECDSA P-256 keys.
    auto k = SoftwareKey::generate(i % 2 == 0 ? Alg::kEd25519 : Alg::kEcdsaP256);
    if (!k.ok()) return 1;
    approvers.push_back(
        {{"id", "approver" + std::to_string(i)},
         {"keys", {policy_key_to_json(PolicyKey{k->public_key(), {}, false, std::nullopt})}}});
    keys.push_back(std::move(k).value());
  }
  nlohmann::json pdoc{{"schema", kPolicySchema},
                      {"domain", "bench"},
                      {"version", 1},
                      {"approvers", approvers},
                      {"rules", {{"install-model", {{"threshold", kThreshold}}}}}};
  auto policy = Policy::parse(pdoc);
  if (!policy.ok()) return 1;
  Manifest::Fields mf;
  mf.name = "bench";
  mf.version = "1";
  mf.license.spdx = "MIT";
  for (int i = 0; i < 20; ++i)
    mf.files.push_back({"shard-" + std::to_string(i), 1u << 30, sha256(std::to_string(i))});
  auto manifest = Manifest::create(mf);
  Proposal::Fields pf;
  pf.domain = "bench";
  pf.manifest = manifest->hash();
  pf.created = 1'800'000'000;
  pf.expires = pf.created + 86400;
  auto proposal = Proposal::create(pf);
  std::vector<SignatureFile> sigs;
  for (int i = 0; i < kThreshold; ++i) {
    sigs.push_back(
        *sign_proposal(keys[static_cast<std::size_t>(i)], proposal->id(), std::nullopt, pf.created));
  }
  auto bundle = Bundle::create(*proposal, manifest->to_json(), sigs);
  if (!bundle.ok()) return 1;
  VerifyOptions opt;
  opt.now = pf.created + 60;
  double total = 0, best = 1e9;
  for (int r = 0; r < kRounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    VerifyReport rep = verify_bundle(*bundle, *policy, opt);
    auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (!rep.approved) {
      std::fprintf(stderr, "bundle unexpectedly not approved\n");
      return 1;
    }
    total += us;
    if (us < best) best = us;
  }
  double mean = total / kRounds;
  std::printf("bundle verify 5-of-9: mean %.1f us, best %.1f us per bundle (target < 1000 us): %s\n", mean,
              best, mean < 1000 ? "met" : "NOT met");
  return 0;
}
