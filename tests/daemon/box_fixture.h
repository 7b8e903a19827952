// A box for the daemon's integration tests: five approvers with software keys, a 3-of-5
// policy, a log key, a state directory, a config file that points the privileged helper
// (the real countersign-system binary, run without sudo) at it, and builders for manifests,
// proposals, signatures and bundles. Model files are served by a real nginx
// (tests/daemon/nginx_fixture.h).
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bundle.h"
#include "core/jcs.h"
#include "core/manifest.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "core/signed_note.h"
#include "core/software_key.h"
#include "daemon/config.h"
#include "tests/core/document_test_util.h"
#include "tests/test_util.h"

namespace countersign::test_util {

using countersign::testing::must;

class BoxFixture {
 public:
  static constexpr const char* kBox = "box-7f3a";
  static constexpr const char* kDomain = "acme-prod";
  inline static const std::vector<std::string> kApprovers = {"alice", "bob", "carol", "dave", "erin"};

  explicit BoxFixture(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_ / "etc");
    for (const auto& id : kApprovers)
      keys_.emplace(id, must(SoftwareKey::generate(Alg::kEd25519), "approver key"));
    outsider_.emplace(must(SoftwareKey::generate(Alg::kEd25519), "outsider key"));
    policy_doc_ = make_policy_doc(1, {{"install-model", {{"threshold", 3}}},
                                      {"remove-model", {{"threshold", 2}}},
                                      {"restore-snapshot", {{"threshold", 3}}},
                                      {"rotate-policy", {{"threshold", 3}}}});
    spit(dir_ / "etc/policy.json", policy_doc_.dump(2));
    auto signer = must(note::Signer::generate(std::string(kBox) + ".example/audit"), "log key");
    auto skey = signer.skey();
    spit(dir_ / "etc/log.key", std::string(reinterpret_cast<const char*>(skey.data()), skey.size()));
    ::chmod((dir_ / "etc/log.key").c_str(), 0600);  // the helper refuses a key others can read
    log_verifier_ = signer.verifier().vkey();
    config_.policy = (dir_ / "etc/policy.json").string();
    config_.state_dir = (dir_ / "state").string();
    config_.box_id = kBox;
    config_.log_key = (dir_ / "etc/log.key").string();
    config_.socket = (dir_ / "countersignd.sock").string();
    config_.helper = {COUNTERSIGN_SYSTEM_BIN};
    config_.stall_timeout_seconds = 2;
    config_.connect_timeout_seconds = 2;
    std::filesystem::create_directories(config_.state_dir + "/models/.staging");
    // A system root of its own with an empty dpkg database, never the machine's /var/lib/dpkg
    // (packages tests put a real one there: tests/daemon/packages_install_test.cpp).
    config_.system_root = (dir_ / "sysroot").string();
    // No Nitro Secure Module unless a test makes one here (never the machine's /dev/nsm).
    config_.nsm_device = (dir_ / "nsm").string();
    std::filesystem::create_directories(dir_ / "sysroot/var/lib/dpkg");
    spit(dir_ / "sysroot/var/lib/dpkg/status", "");
    write_config();
  }

  // Writes config() as a file and points the helper at it (COUNTERSIGN_SYSTEM_CONFIG).
  void write_config() {
    std::string text = "policy = " + config_.policy + "\nstate_dir = " + config_.state_dir +
                       "\nbox_id = " + config_.box_id + "\nlog_key = " + config_.log_key +
                       "\nsocket = " + config_.socket + "\nsnapshot = " + config_.snapshot.to_string() +
                       "\nsystem_root = " + config_.system_root +
                       "\nsystem_snapshot = " + config_.system_snapshot.to_string() +
                       "\nnsm_device = " + config_.nsm_device + "\nhelper =";
    for (const auto& w : config_.helper) text += " " + w;
    text += "\nstall_timeout = " + std::to_string(config_.stall_timeout_seconds) +
            "s\nconnect_timeout = " + std::to_string(config_.connect_timeout_seconds) +
            "s\nparallel = " + std::to_string(config_.parallel) + "\n";
    for (const auto& r : config_.attestation_roots) text += "attestation_root = " + r + "\n";
    for (const auto& w : config_.witnesses)
      text += "witness = " + w.vkey + (w.url ? " " + *w.url : "") + "\n";
    if (config_.syslog) text += "syslog = " + *config_.syslog + "\n";
    if (config_.syslog_ca) text += "syslog_ca = " + *config_.syslog_ca + "\n";
    if (config_.syslog_name) text += "syslog_name = " + *config_.syslog_name + "\n";
    if (config_.syslog_cert) text += "syslog_cert = " + *config_.syslog_cert + "\n";
    if (config_.syslog_key) text += "syslog_key = " + *config_.syslog_key + "\n";
    if (config_.journal) text += "journal = yes\n";
    text += "ship_retry = " + std::to_string(config_.ship_retry_seconds) + "s\n";
    for (const auto& m : config_.mirrors) {
      text += "mirror = " + (m.type == Source::Type::kFile ? "file://" + m.base : m.base) + "\n";
    }
    spit(config_file(), text);
    ::setenv("COUNTERSIGN_SYSTEM_CONFIG", config_file().c_str(), 1);
  }

  daemon::Config& config() { return config_; }
  const daemon::Config& config() const { return config_; }
  std::string config_file() const { return (dir_ / "etc/countersignd.conf").string(); }
  const std::string& log_verifier() const { return log_verifier_; }
  std::string models_dir() const { return config_.models_dir(); }

  nlohmann::json approver_json(const std::string& id) const {
    const auto& k = keys_.at(id);
    nlohmann::json a = {
        {"id", id}, {"keys", {{{"alg", "ed25519"}, {"public_key", base64_encode(k.public_key().spki())}}}}};
    if (id == "bob") a["roles"] = {"compliance"};
    return a;
  }
  nlohmann::json make_policy_doc(std::uint64_t version, nlohmann::json rules,
                                 const std::vector<std::string>& ids = kApprovers) const {
    nlohmann::json approvers = nlohmann::json::array();
    for (const auto& id : ids) approvers.push_back(approver_json(id));
    return {{"schema", "countersign/policy/v1"},
            {"domain", kDomain},
            {"version", version},
            {"approvers", approvers},
            {"rules", std::move(rules)}};
  }
  const nlohmann::json& policy_doc() const { return policy_doc_; }
  // Replaces the root policy (before the helper first runs: the chain starts from it).
  void set_policy_doc(nlohmann::json doc) {
    policy_doc_ = std::move(doc);
    spit(dir_ / "etc/policy.json", policy_doc_.dump(2));
  }

  // Writes `files` under `root/sub/` and returns a manifest of them with `sources`.
  static Manifest make_manifest(const std::filesystem::path& root, const std::string& sub,
                                const std::map<std::string, std::string>& files, std::vector<Source> sources,
                                const std::string& name = "demo-model") {
    Manifest::Fields f;
    f.name = name;
    f.version = "1";
    f.license.spdx = "Apache-2.0";
    for (const auto& [path, data] : files) {
      auto p = root / sub / path;
      std::filesystem::create_directories(p.parent_path());
      spit(p, data);
      f.files.push_back({path, data.size(), sha256(std::string_view(data))});
    }
    f.sources = std::move(sources);
    return must(Manifest::create(std::move(f)), "manifest");
  }

  static Source https_source(const std::string& base) { return must(Source::from_spec(base), "source"); }

  struct ProposalOptions {
    Action action = Action::kInstallModel;
    std::string domain = kDomain;
    std::optional<std::vector<std::string>> boxes;
    UnixTime created = 0;  // 0: now - 60 s
    UnixTime expires = 0;  // 0: now + 7 days
  };
  static Proposal make_proposal(const Digest& subject) { return make_proposal(subject, ProposalOptions{}); }
  static Proposal make_proposal(const Digest& subject, const ProposalOptions& o) {
    UnixTime now = system_now();
    Proposal::Fields f;
    f.domain = o.domain;
    f.action = o.action;
    f.manifest = subject;
    f.boxes = o.boxes;
    f.created = o.created ? o.created : now - 60;
    f.expires = o.expires ? o.expires : now + 7 * 86400;
    f.note = "test";
    return must(Proposal::create(std::move(f)), "proposal");
  }

  SignatureFile sign(const std::string& approver, const Proposal& p) {
    SoftwareKey& k = approver == "outsider" ? *outsider_ : keys_.at(approver);
    return must(sign_proposal(k, p.id(), approver, system_now()), "signature");
  }

  // A veto of a proposal, or a liveness proof over a challenge's hash ("outsider": a key
  // in no policy).
  SignatureFile sign_statement(const std::string& approver, Statement statement, const Digest& digest,
                               UnixTime at = 0) {
    SoftwareKey& k = approver == "outsider" ? *outsider_ : keys_.at(approver);
    return must(countersign::sign_statement(k, statement, digest, approver, at ? at : system_now()),
                "statement");
  }

  nlohmann::json bundle(const Proposal& p, const nlohmann::json& subject,
                        const std::vector<std::string>& signers) {
    std::vector<SignatureFile> sigs;
    for (const auto& s : signers) sigs.push_back(sign(s, p));
    return must(Bundle::create(p, subject, std::move(sigs)), "bundle").to_json();
  }

 private:
  std::filesystem::path dir_;
  std::map<std::string, SoftwareKey> keys_;
  std::optional<SoftwareKey> outsider_;
  nlohmann::json policy_doc_;
  std::string log_verifier_;
  daemon::Config config_;
};

}  // namespace countersign::test_util
