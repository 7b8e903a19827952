// Stand-ins for what the daemon's parts talk to, for unit tests without a helper binary or
// a network: a System component that answers from a script and records every call, a
// fetcher that plays progress and events to the observer, and a job sink that records what
// a runner tells the queue.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "daemon/fetcher.h"
#include "daemon/job.h"
#include "daemon/system_client.h"

namespace countersign::daemon::test {

class FakeSystemClient final : public SystemClient {
 public:
  struct Report {
    std::string event;
    nlohmann::json fields;
  };

  // Every call, in order: "accept", "snapshot take <hex>", "model install <hex>",
  // "proposal abandon <hex>", "staging remove <hex>", ... (log append and checkpoint are in
  // `reports` and `checkpoints`).
  std::vector<std::string> calls;
  std::vector<std::string> accepted_texts;   // accept's stdin
  std::vector<std::string> abandon_reasons;  // abandon's stdin
  std::vector<Report> reports;               // appended log entries
  int checkpoints = 0;
  int seals = 0;  // model seal calls
  int seal_count() const {
    std::lock_guard lock(mu_);
    return seals;
  }

  // Answers. model_install fails with the errors in `install_errors` first, one a call.
  Result<HelperAcceptance> accept_answer = HelperAcceptance{{"alice", "bob", "carol"}, 1};
  Result<std::string> snapshot_answer = std::string("none");
  std::deque<Error> install_errors;
  Result<nlohmann::json> install_answer = nlohmann::json{{"installed", true}};
  Result<nlohmann::json> remove_answer = nlohmann::json{{"removed", true}};
  Result<nlohmann::json> packages_answer = nlohmann::json{{"packages", nlohmann::json::array()}};
  Result<nlohmann::json> restore_answer = nlohmann::json{{"restored", true}};
  Result<nlohmann::json> rotate_answer = nlohmann::json{{"rotated", true}};
  Result<void> abandon_answer = {};
  Result<void> staging_answer = {};
  Result<std::optional<std::uint64_t>> log_answer = std::optional<std::uint64_t>(0);
  std::vector<HelperSnapshot> snapshots;
  Result<std::optional<HelperOutcome>> finished_answer = std::optional<HelperOutcome>{};

  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& r : reports) out.push_back(r.event);
    return out;
  }
  std::vector<Report> reports_of(std::string_view event) const {
    std::lock_guard lock(mu_);
    std::vector<Report> out;
    for (const auto& r : reports) {
      if (r.event == event) out.push_back(r);
    }
    return out;
  }

  Result<HelperAcceptance> accept(std::string_view bundle_text) override {
    std::lock_guard lock(mu_);
    calls.push_back("accept");
    accepted_texts.emplace_back(bundle_text);
    return accept_answer;
  }
  Result<std::string> snapshot_take(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("snapshot take " + hex_encode(p));
    return snapshot_answer;
  }
  Result<nlohmann::json> model_seal(const Digest&) override {
    std::lock_guard lock(mu_);
    ++seals;  // from the sealer's thread, whenever it gets to it: not in `calls`
    return nlohmann::json{{"sealed", 1}};
  }
  Result<std::optional<HelperOutcome>> finished(const Digest&) override {
    std::lock_guard lock(mu_);
    return finished_answer;
  }
  Result<nlohmann::json> model_install(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("model install " + hex_encode(p));
    if (install_errors.empty()) return install_answer;
    Error e = install_errors.front();
    install_errors.pop_front();
    return e;
  }
  Result<nlohmann::json> packages_install(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("packages install " + hex_encode(p));
    return packages_answer;
  }
  Result<nlohmann::json> model_remove(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("model remove " + hex_encode(p));
    return remove_answer;
  }
  Result<nlohmann::json> snapshot_restore(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("snapshot restore " + hex_encode(p));
    return restore_answer;
  }
  Result<nlohmann::json> policy_rotate(const Digest& p) override {
    std::lock_guard lock(mu_);
    calls.push_back("policy rotate " + hex_encode(p));
    return rotate_answer;
  }
  Result<void> abandon(const Digest& p, std::string_view reason) override {
    std::lock_guard lock(mu_);
    calls.push_back("proposal abandon " + hex_encode(p));
    abandon_reasons.emplace_back(reason);
    return abandon_answer;
  }
  Result<void> staging_remove(const Digest& manifest) override {
    std::lock_guard lock(mu_);
    calls.push_back("staging remove " + hex_encode(manifest));
    return staging_answer;
  }
  Result<std::optional<std::uint64_t>> log_append(std::string_view event,
                                                  const nlohmann::json& fields) override {
    std::lock_guard lock(mu_);
    if (log_answer.ok()) reports.push_back({std::string(event), fields});
    return log_answer;
  }
  Result<std::uint64_t> log_checkpoint() override {
    std::lock_guard lock(mu_);
    ++checkpoints;
    return std::uint64_t{0};
  }
  Result<std::vector<HelperSnapshot>> snapshot_list() override {
    std::lock_guard lock(mu_);
    calls.push_back("snapshot list");
    return snapshots;
  }

 private:
  mutable std::mutex mu_;  // the fetcher's callbacks report from the fetching thread
};

// Plays `script` to the observer; by default every file streams in four steps, then verifies.
class FakeFetcher final : public Fetcher {
 public:
  using Script = std::function<Result<void>(const Manifest&, const std::string&, const FetchObserver&)>;
  Script script;
  int calls = 0;
  std::string staging_dir;  // of the last call

  Result<void> fetch(const Manifest& m, const std::string& dir, const FetchObserver& obs) override {
    ++calls;
    staging_dir = dir;
    if (script) return script(m, dir, obs);
    return stream_all(m, obs);
  }

  static Result<void> stream_all(const Manifest& m, const FetchObserver& obs) {
    for (std::size_t i = 0; i < m.files().size(); ++i) {
      const auto& f = m.files()[i];
      for (std::uint64_t q = 1; q <= 4; ++q)
        obs.on_progress({i, f.size * q / 4, f.size, "https://models.example/"});
      obs.on_event({FetchEvent::Kind::kFileVerified, f.path, "https://models.example/", ""});
    }
    return {};
  }
};

class FakeSink final : public JobSink {
 public:
  std::vector<JobPhase> phases;
  std::optional<std::string> snapshot;
  int fetches_started = 0;
  std::vector<FileProgress> progress;
  std::vector<std::string> verified;
  bool cancel = false;

  void phase(JobPhase p) override { phases.push_back(p); }
  void snapshot_taken(const std::string& id) override { snapshot = id; }
  void fetch_started(const Manifest&) override {
    phases.push_back(JobPhase::kFetching);
    ++fetches_started;
  }
  void file_progress(const FileProgress& p) override { progress.push_back(p); }
  void file_verified(const std::string& path, const std::string&) override { verified.push_back(path); }
  bool cancelled() const override { return cancel; }
};

}  // namespace countersign::daemon::test
