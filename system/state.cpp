#include "system/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fileio.h"
#include "core/jcs.h"
#include "system/fs_at.h"

namespace countersign::daemon {
namespace {

constexpr int kLockWaitSeconds = 120;

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::kIo, what + " " + path + ": " + std::strerror(errno));
}

Result<void> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return io_error("cannot create", path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open", path);
  return check_root_only(fd.get(), path);
}

Result<std::string> canonical_text(const nlohmann::json& j) {
  CS_TRY(std::string text, jcs::serialize(j));
  return text;
}

}  // namespace

Result<SystemState> SystemState::open(const Config& config,
                                      const std::function<bool(const PolicyKey&)>& attested) {
  SystemState s{SystemPaths(config)};
  const SystemPaths& p = s.paths_;
  for (const auto& d : {p.dir, p.proposals(), p.policy_chain(), p.installed(), p.vetoes()})
    CS_TRY_VOID(make_dir(d));

  s.lock_ = UniqueFd(::open(p.lock().c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!s.lock_.valid()) return io_error("cannot open", p.lock());
  bool locked = false;
  for (int tenth = 0; tenth < kLockWaitSeconds * 10 && !locked; ++tenth) {
    if (::flock(s.lock_.get(), LOCK_EX | LOCK_NB) == 0) {
      locked = true;
    } else if (errno != EWOULDBLOCK && errno != EINTR) {
      return io_error("cannot lock", p.lock());
    } else {
      ::usleep(100 * 1000);
    }
  }
  if (!locked) {
    return Error(Errc::kTimeout, "another countersign-system held " + p.lock() + " for " +
                                     std::to_string(kLockWaitSeconds) + " s; giving up");
  }

  // The executed set; a torn last line (a crash during an append) is cut off.
  UniqueFd ex(::open(p.executed().c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!ex.valid()) return io_error("cannot open", p.executed());
  CS_TRY(s.executed_, read_executed_set(p.executed()));
  CS_TRY(std::string data, read_file(p.executed(), std::uint64_t{1} << 30));
  const std::size_t nl = data.rfind('\n');
  const std::size_t good = nl == std::string::npos ? 0 : nl + 1;
  if (good != data.size()) {
    if (::ftruncate(ex.get(), static_cast<off_t>(good)) != 0 || ::fsync(ex.get()) != 0) {
      return io_error("cannot repair", p.executed());
    }
  }

  auto chain = read_policy_chain(config, attested);
  if (!chain.ok()) return chain.error();
  s.chain_.emplace(std::move(*chain));
  return s;
}

Result<void> SystemState::mark_executed(const Digest& id) {
  if (executed_.count(id)) return {};
  UniqueFd fd(::open(paths_.executed().c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open", paths_.executed());
  const std::string line = digest_to_string(id) + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fdatasync(fd.get()) != 0) {
    return io_error("cannot append to", paths_.executed());
  }
  executed_.insert(id);
  return {};
}

Result<void> SystemState::save(const ProposalRecord& record) const {
  CS_TRY(std::string text, canonical_text(record.to_json()));
  return write_file_atomic(paths_.proposal(record.id), text, 0644);
}

Result<void> SystemState::save_vetoes(const VetoRecord& record) const {
  CS_TRY(std::string text, canonical_text(record.to_json()));
  return write_file_atomic(paths_.veto_record(record.id), text, 0644);
}

Result<void> SystemState::add_rotation(const Bundle& rotation) {
  if (!rotation.new_policy() || rotation.new_policy()->version() != policy().version() + 1) {
    return Error(Errc::kRejected, "the rotation does not take policy version " +
                                      std::to_string(policy().version()) + " to the next");
  }
  std::vector<Bundle> rotations = chain_->rotations;
  rotations.push_back(rotation);
  const Policy& next = *rotation.new_policy();
  CS_TRY(std::string bundle_text, canonical_text(rotation.to_json()));
  CS_TRY_VOID(write_file_atomic(paths_.policy_chain() + "/" + rotation_file_name(next.version()), bundle_text,
                                0644, true));
  CS_TRY(std::string head,
         canonical_text({{"version", next.version()}, {"policy", digest_to_string(next.hash())}}));
  CS_TRY_VOID(write_file_atomic(paths_.policy_chain() + "/" + kPolicyHeadFile, head, 0644));
  chain_->rotations = std::move(rotations);
  chain_->current = next;
  return {};
}

Result<SealedFiles> SystemState::read_sealed(const Digest& id) const {
  SealedFiles out;
  const std::string path = paths_.sealed(id);
  if (::access(path.c_str(), F_OK) != 0) return out;
  CS_TRY(std::string data, read_file(path, std::uint64_t{1} << 30));
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn tail: hashed again
    auto j = nlohmann::json::parse(data.substr(pos, nl - pos), nullptr, false);
    pos = nl + 1;
    if (!j.is_array() || j.size() != 6 || !j[0].is_string()) continue;
    bool numbers = true;
    for (std::size_t i = 1; i < 6; ++i) numbers = numbers && j[i].is_number_integer();
    if (!numbers) continue;
    out[j[0].get<std::string>()] =
        SealedFile{j[1].get<std::uint64_t>(), j[2].get<std::uint64_t>(), j[3].get<std::uint64_t>(),
                   j[4].get<std::int64_t>(), j[5].get<std::int64_t>()};
  }
  return out;
}

Result<void> SystemState::append_sealed(const Digest& id, const SealedFiles& files) const {
  if (files.empty()) return {};
  std::string lines;
  for (const auto& [path, f] : files) {
    lines += nlohmann::json::array({path, f.dev, f.ino, f.size, f.ctime_s, f.ctime_ns}).dump() + "\n";
  }
  const std::string path = paths_.sealed(id);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return io_error("cannot open", path);
  if (::write(fd.get(), lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) {
    return io_error("cannot append to", path);
  }
  return {};
}

Result<void> SystemState::remove_sealed(const Digest& id) const {
  const std::string path = paths_.sealed(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return {};
}

Result<void> SystemState::save_installed(const std::string& manifest_hex,
                                         const nlohmann::json& record) const {
  CS_TRY(std::string text, canonical_text(record));
  return write_file_atomic(paths_.installed_record(manifest_hex), text, 0644);
}

Result<void> SystemState::remove_installed(const std::string& manifest_hex) const {
  const std::string path = paths_.installed_record(manifest_hex);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return {};
}

}  // namespace countersign::daemon
