// The System component's own state (system/records.h has the layout), as the helper writes
// it: one helper at a time (an exclusive flock on system/.lock, waited for up to 120 s),
// every file replaced atomically (temp file, fsync, rename, fsync the directory), the
// executed set appended and fsynced. Running as root, system/ must be owned by root and
// writable only by root, or the helper refuses to work.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/bundle.h"
#include "core/policy_chain.h"
#include "core/result.h"
#include "core/unique_fd.h"
#include "daemon/config.h"
#include "system/records.h"

namespace countersign::daemon {

// The identity of a file the helper sealed (root's, 0444) and hashed ahead of the install
// (`model seal`), as fstat gives it after the seal. ctime changes with any later change of
// owner, mode or content, which only root could make.
struct SealedFile {
  std::uint64_t dev = 0, ino = 0, size = 0;
  std::int64_t ctime_s = 0, ctime_ns = 0;
  bool operator==(const SealedFile&) const = default;
};
using SealedFiles = std::map<std::string, SealedFile>;  // by manifest path

class SystemState {
 public:
  // Creates system/ and its subdirectories when missing (0755), takes the lock, loads the
  // executed set (cutting off a torn last line) and replays the policy chain from the
  // configured root policy: a broken chain is an error, never a fallback (core/policy_chain.h).
  static Result<SystemState> open(const Config& config,
                                  const std::function<bool(const PolicyKey&)>& attested);

  const SystemPaths& paths() const { return paths_; }
  const Policy& policy() const { return chain_->current; }

  bool executed(const Digest& id) const { return executed_.count(id) != 0; }
  // Appends and fsyncs. Idempotent.
  Result<void> mark_executed(const Digest& id);

  Result<std::optional<ProposalRecord>> load(const Digest& id) const {
    return read_proposal_record(paths_, id);
  }
  Result<void> save(const ProposalRecord& record) const;

  // Appends an accepted rotation to the chain (rotation-<N>.json, then head.json) and makes
  // its policy the one in force. The bundle must take the current version to the next.
  Result<void> add_rotation(const Bundle& rotation);

  // The files of an accepted install sealed and hashed ahead (proposals/<id>.sealed, JSON
  // lines appended; a torn or unreadable line only means that file is hashed again).
  Result<SealedFiles> read_sealed(const Digest& id) const;
  Result<void> append_sealed(const Digest& id, const SealedFiles& files) const;
  Result<void> remove_sealed(const Digest& id) const;

  Result<std::optional<VetoRecord>> load_vetoes(const Digest& id) const {
    return read_veto_record(paths_, id);
  }
  // Replaced atomically and fsynced.
  Result<void> save_vetoes(const VetoRecord& record) const;

  Result<void> save_installed(const std::string& manifest_hex, const nlohmann::json& record) const;
  Result<void> remove_installed(const std::string& manifest_hex) const;

 private:
  SystemState(SystemPaths paths) : paths_(std::move(paths)) {}
  SystemPaths paths_;
  UniqueFd lock_;
  std::set<Digest> executed_;
  std::optional<PolicyChain> chain_;
};

}  // namespace countersign::daemon
