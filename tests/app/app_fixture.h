// Fixture documents for the app tests and the screenshot script, made with core's APIs in
// a directory: five approvers with software keys, a policy (install-model: 3, including
// someone from compliance, only on a box attested to run approved image safebox-2026.11,
// whose PCRs 0 and 1 are those of tests/nitro_test_box.h's documents), two manifests (the
// previous and the new one), an install-model proposal for box-7f3a (proposed by dave),
// alice's, bob's and carol's signatures, a bundle of them,
// dave's and erin's vetoes (two end the proposal), and an audit log export with its
// checkpoint and log key, in which alice, bob and carol proved their keys recently and
// dave 100 days ago (the policy asks for proofs every 90 days).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <sodium.h>

#include "core/audit_entry.h"
#include "core/audit_log.h"
#include "core/bundle.h"
#include "core/fileio.h"
#include "core/manifest.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "core/signed_note.h"
#include "core/software_key.h"

namespace countersign::app_fixture {

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "fixture step \"%s\" failed: %s\n", what, r.error().message.c_str());
    std::abort();
  }
  return std::move(r).value();
}
inline void must_ok(Result<void> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "fixture step \"%s\" failed: %s\n", what, r.error().message.c_str());
    std::abort();
  }
}

struct ApproverSpec {
  const char* id;
  const char* name;
  const char* role;
};
inline const std::vector<ApproverSpec>& approvers() {
  static const std::vector<ApproverSpec> a = {{"alice", "Alice Chen, CTO", "engineering"},
                                              {"bob", "Bob Osei", "compliance"},
                                              {"carol", "Carol Diaz", "engineering"},
                                              {"dave", "Dave Kim", "security"},
                                              {"erin", "Erin Wolf", "compliance"}};
  return a;
}
inline std::string passphrase_of(const std::string& id) { return "pass-" + id; }

inline Digest file_hash(const std::string& seed) { return sha256(std::string_view(seed)); }

// `files` files named weights/part-NNNNNN.bin; `variant` changes a few of them.
inline Manifest make_manifest(const std::string& version, std::size_t files, int variant) {
  Manifest::Fields f;
  f.name = "gemma-4-12b-it";
  f.version = version;
  f.description = "Support bot model";
  f.license = {"Apache-2.0", std::string("https://www.apache.org/licenses/LICENSE-2.0")};
  char buf[64];
  for (std::size_t i = 0; i < files; ++i) {
    std::snprintf(buf, sizeof buf, "weights/part-%06zu.bin", i);
    std::uint64_t size = 1000 + i;
    std::string seed = buf;
    if (variant == 1 && i % 1000 == 7) seed += "-v2";  // hash changed
    if (variant == 1 && i % 1000 == 9) size += 1;      // size changed
    if (variant == 1 && i % 1000 == 11) continue;      // removed
    f.files.push_back({buf, size, file_hash(seed)});
  }
  if (variant == 1) f.files.push_back({"tokenizer.json", 4242, file_hash("tokenizer")});  // added
  f.sources.push_back(must(
      Source::from_spec("hf:google/gemma-4-12b-it@" + std::string(40, variant == 1 ? 'b' : 'a')), "source"));
  f.sources.push_back(must(Source::from_spec("https://mirror.internal/models/gemma/"), "source"));
  return must(Manifest::create(std::move(f)), "manifest");
}

struct Fixture {
  std::string dir;
  std::string policy, previous, manifest, proposal, bundle, log, checkpoint, log_key;
  std::vector<std::string> keys;        // key file per approver, in approvers() order
  std::vector<std::string> signatures;  // alice, bob, carol
  std::vector<std::string> vetoes;      // dave, erin
  Digest proposal_id{};
};

// Writes the fixture into `dir` (which must exist). `now` is the time the proposal was made.
inline Fixture make(const std::string& dir, UnixTime now, std::size_t files = 40) {
  SoftwareKey::set_kdf_limits_for_tests(crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                        crypto_pwhash_argon2id_MEMLIMIT_MIN);
  Fixture fx;
  fx.dir = dir;
  auto path = [&](const std::string& name) { return dir + "/" + name; };
  nlohmann::json approver_docs = nlohmann::json::array();
  std::vector<SoftwareKey> keys;
  for (const auto& a : approvers()) {
    SoftwareKey k = must(SoftwareKey::generate(Alg::kEd25519), "key");
    const std::string pass = passphrase_of(a.id);
    const std::string key_path = path(std::string(a.id) + ".key");
    must_ok(k.save(key_path, SecretBytes::copy_of(as_bytes(pass)), true), "save key");
    fx.keys.push_back(key_path);
    approver_docs.push_back(
        {{"id", a.id},
         {"name", a.name},
         {"roles", {a.role}},
         {"keys", {policy_key_to_json(PolicyKey{k.public_key(), {}, false, std::nullopt})}}});
    keys.push_back(std::move(k));
  }
  nlohmann::json policy{{"schema", kPolicySchema},
                        {"domain", "acme-prod"},
                        {"version", 1},
                        {"approvers", approver_docs},
                        {"rules",
                         {{"install-model",
                           {{"threshold", 3},
                            {"require_roles", {"compliance"}},
                            {"veto", 2},
                            {"exclude_proposer", true},
                            {"attested_image", true}}},
                          {"remove-model", {{"threshold", 2}}}}},
                        {"images",
                         {{{"name", "safebox-2026.11"},
                           {"platform", "aws-nitro"},
                           {"pcrs", {{"0", std::string(96, '1')}, {"1", std::string(96, '2')}}}}}},
                        {"liveness_days", 90}};
  must(Policy::parse(policy), "policy");
  fx.policy = path("policy.json");
  must_ok(write_file_atomic(fx.policy, to_pretty_json(policy)), "write policy");

  const Manifest before = make_manifest("2026-05-01", files, 0);
  const Manifest after = make_manifest("2026-06-01", files, 1);
  fx.previous = path("known/manifest-2026-05-01.json");
  std::filesystem::create_directories(path("known"));
  must_ok(write_file_atomic(fx.previous, to_pretty_json(before.to_json())), "write previous");
  fx.manifest = path("manifest.json");
  must_ok(write_file_atomic(fx.manifest, to_pretty_json(after.to_json())), "write manifest");

  Proposal::Fields pf;
  pf.domain = "acme-prod";
  pf.action = Action::kInstallModel;
  pf.manifest = after.hash();
  pf.previous = before.hash();
  pf.boxes = std::vector<std::string>{"box-7f3a"};
  pf.created = now - 3600;
  pf.expires = now + 7 * 86400;
  pf.note = "Upgrade the support bot to Gemma 4 12B";
  pf.proposer = "dave";
  const Proposal proposal = must(Proposal::create(pf), "proposal");
  fx.proposal_id = proposal.id();
  fx.proposal = path("proposal.json");
  must_ok(write_file_atomic(fx.proposal, to_pretty_json(proposal.to_json())), "write proposal");

  std::vector<SignatureFile> sigs;
  for (std::size_t i = 0; i < 3; ++i) {
    SignatureFile s =
        must(sign_proposal(keys[i], proposal.id(), std::string(approvers()[i].id), now - 600), "sign");
    const std::string p = path(std::string(approvers()[i].id) + ".sig.json");
    must_ok(write_file_atomic(p, to_pretty_json(s.to_json())), "write signature");
    fx.signatures.push_back(p);
    sigs.push_back(std::move(s));
  }
  for (std::size_t i = 3; i < 5; ++i) {
    SignatureFile v = must(
        sign_statement(keys[i], Statement::kVeto, proposal.id(), std::string(approvers()[i].id), now - 300),
        "veto");
    const std::string p = path(std::string(approvers()[i].id) + ".veto.json");
    must_ok(write_file_atomic(p, to_pretty_json(v.to_json())), "write veto");
    fx.vetoes.push_back(p);
  }
  const Bundle bundle = must(Bundle::create(proposal, after.to_json(), sigs), "bundle");
  fx.bundle = path("bundle.json");
  must_ok(write_file_atomic(fx.bundle, to_pretty_json(bundle.to_json())), "write bundle");

  // Audit log: a few entries, a signed checkpoint, the JSON-lines export.
  UnixTime log_now = now - 100 * 86400;
  auto log = must(audit::AuditLog::open(
                      path("log"), audit::AuditLog::Mode::kWrite, [&log_now] { return log_now; },
                      audit::AuditLog::Durability::kNoSync),
                  "log");
  const std::string pid = digest_to_string(proposal.id());
  auto proved = [&](std::size_t i) {
    must(log.append(audit::event::kApproverProved,
                    {{"approver", approvers()[i].id}, {"key", keys[i].public_key().id()}}),
         "append");
  };
  proved(3);  // dave, 100 days ago
  log_now = now - 2 * 86400;
  for (std::size_t i = 0; i < 3; ++i) proved(i);
  log_now = now;
  must(log.append(audit::event::kDaemonStarted), "append");
  must(log.append(audit::event::kBundleReceived, {{"proposal", pid}}), "append");
  must(log.append(audit::event::kBundleVerified, {{"proposal", pid}}), "append");
  must(log.append(audit::event::kInstallComplete,
                  {{"proposal", pid}, {"manifest", digest_to_string(after.hash())}}),
       "append");
  const note::Signer signer = must(note::Signer::generate("box-7f3a.acme.example/log"), "log key");
  const std::string cp = must(log.sign_checkpoint(signer), "checkpoint");
  std::string lines;
  for (std::uint64_t i = 0; i < log.size(); ++i)
    lines += audit::export_line(i, must(log.entry(i), "entry"), must(log.leaf_hash(i), "leaf")) + "\n";
  fx.log = path("log.jsonl");
  must_ok(write_file_atomic(fx.log, lines), "write export");
  fx.checkpoint = path("checkpoint.note");
  must_ok(write_file_atomic(fx.checkpoint, cp), "write checkpoint");
  fx.log_key = path("log.pub");
  must_ok(write_file_atomic(fx.log_key, signer.verifier().vkey() + "\n"), "write vkey");
  return fx;
}

}  // namespace countersign::app_fixture
