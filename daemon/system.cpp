#include "daemon/system.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "core/fileio.h"
#include "core/manifest.h"
#include "core/sha256.h"
#include "daemon/fs_at.h"
#include "daemon/snapshot.h"

namespace countersign::daemon {
namespace {

constexpr std::uint64_t kMaxManifestBytes = std::uint64_t{64} << 20;
constexpr int kLockWaitSeconds = 120;
constexpr int kCommandTimeoutSeconds = 600;

// At most 80 characters of an untrusted argument, control characters replaced, for messages.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 80));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > 80) out += "…";
  return out;
}

Error usage_error(const std::string& why) { return Error(Errc::kInvalidArgument, why + " (see --help)"); }

Result<std::string> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    const int e = errno;
    return Error(e == ENOENT ? Errc::kNotFound : Errc::kIo,
                 "cannot resolve " + path + ": " + std::strerror(e));
  }
  return std::string(buf);
}

// The configured `path` must resolve to exactly `expected` (inside the real state
// directory): a symlink anywhere below the state directory is refused, whatever it points at.
Result<void> check_resolves_to(const std::string& path, const std::string& expected,
                               const std::string& state_dir) {
  CS_TRY(std::string real, real_path(path));
  if (real != expected) {
    return Error(Errc::kRejected, path + " resolves to " + real + ", not " + expected +
                                      " inside the state directory " + state_dir +
                                      " (symbolic links are refused)");
  }
  return {};
}

// The directories every subcommand works in, opened without following symlinks.
struct StateDirs {
  UniqueFd state;
  UniqueFd models;
  UniqueFd staging;  // not valid when <models>/.staging does not exist (and was not required)
};

Result<StateDirs> open_state(const Config& c, bool need_staging) {
  StateDirs d;
  CS_TRY(std::string state_real, real_path(c.state_dir));
  CS_TRY_VOID(check_resolves_to(c.models_dir(), state_real + "/models", c.state_dir));
  CS_TRY(d.state, open_directory(state_real));
  // Its entries (models, snapshots, the restore's temporary name) are what the helper works
  // on by name: nobody but root may rename or replace them.
  CS_TRY_VOID(check_root_only(d.state.get(), "the state directory " + c.state_dir));
  CS_TRY(d.models, open_directory_at(d.state.get(), "models", c.models_dir()));
  CS_TRY_VOID(check_root_only(d.models.get(), "the models directory " + c.models_dir()));
  CS_TRY(auto staging, stat_at(d.models.get(), ".staging", c.staging_dir()));
  if (!staging) {
    if (need_staging)
      return Error(Errc::kNotFound, "the staging directory " + c.staging_dir() + " does not exist");
    return d;
  }
  CS_TRY_VOID(check_resolves_to(c.staging_dir(), state_real + "/models/.staging", c.state_dir));
  CS_TRY(d.staging, open_directory_at(d.models.get(), ".staging", c.staging_dir()));
  return d;
}

// One helper at a time: an exclusive flock on the state directory, waited for (bounded).
Result<void> lock_state(int state_fd, const std::string& shown) {
  for (int tenth = 0; tenth < kLockWaitSeconds * 10; ++tenth) {
    if (::flock(state_fd, LOCK_EX | LOCK_NB) == 0) return {};
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Error(Errc::kIo, "cannot lock " + shown + ": " + std::strerror(errno));
    }
    ::usleep(100 * 1000);
  }
  return Error(Errc::kTimeout, "another countersign-system held the lock on " + shown + " for " +
                                   std::to_string(kLockWaitSeconds) + " s; giving up");
}

Result<StateDirs> open_and_lock(const Config& c, bool need_staging) {
  CS_TRY(StateDirs d, open_state(c, need_staging));
  CS_TRY_VOID(lock_state(d.state.get(), c.state_dir));
  return d;
}

// Root owns everything installed, read-only: chown only when running as root (tests may not).
Result<void> make_root_read_only(int fd, mode_t mode, const std::string& shown) {
  if (::geteuid() == 0 && ::fchown(fd, 0, 0) != 0) {
    return Error(Errc::kIo, "cannot chown " + shown + " to root: " + std::strerror(errno));
  }
  if (::fchmod(fd, mode) != 0) return Error(Errc::kIo, "cannot chmod " + shown + ": " + std::strerror(errno));
  return {};
}

// Step 4 of install_model: locks down and checks the tree at <models>/<name> against the
// manifest. Messages name paths under `shown` (the staging path the daemon knows).
class TreeCheck {
 public:
  TreeCheck(const Manifest& manifest, std::string shown) : shown_(std::move(shown)) {
    for (const auto& f : manifest.files()) {
      files_[f.path] = f.size;
      std::string p = f.path;
      ++children_[parent_of(p)];
      for (auto slash = p.rfind('/'); slash != std::string::npos; slash = p.rfind('/')) {
        p.resize(slash);
        if (dirs_.insert(p).second) ++children_[parent_of(p)];
      }
    }
  }

  Result<void> run(int models_fd, const std::string& name) {
    CS_TRY(UniqueFd top, open_directory_at(models_fd, name, shown_));
    struct stat st {};
    if (::fstat(top.get(), &st) != 0)
      return Error(Errc::kIo, "cannot stat " + shown_ + ": " + std::strerror(errno));
    dev_ = st.st_dev;
    CS_TRY_VOID(walk(top.get(), "", 0));
    for (const auto& [path, size] : files_) {
      if (!seen_.count(path)) return Error(Errc::kIo, show(path) + ": missing (the manifest lists it)");
    }
    return {};
  }

 private:
  static std::string parent_of(const std::string& p) {
    auto slash = p.rfind('/');
    return slash == std::string::npos ? "" : p.substr(0, slash);
  }
  std::string show(const std::string& rel) const { return rel.empty() ? shown_ : shown_ + "/" + rel; }

  Result<void> walk(int fd, const std::string& rel, int depth) {
    if (depth > kMaxTreeDepth) return Error(Errc::kIo, show(rel) + ": nested too deeply");
    struct stat self {};
    if (::fstat(fd, &self) != 0)
      return Error(Errc::kIo, "cannot stat " + show(rel) + ": " + std::strerror(errno));
    if (self.st_dev != dev_)
      return Error(Errc::kIo, show(rel) + ": is another file system (a mount point or subvolume)");
    // Lock the directory before reading it: from here its entries cannot change under us.
    CS_TRY_VOID(make_root_read_only(fd, 0555, show(rel)));
    const auto expected = children_.count(rel) ? children_.at(rel) : 0;
    // Room for a few extra entries so that one is reported by name below; a directory
    // stuffed with more is refused without reading it all.
    CS_TRY(auto names, list_directory(fd, expected + 64, show(rel)));
    for (const auto& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      CS_TRY(auto st, stat_at(fd, name, show(child)));
      if (!st) return Error(Errc::kIo, show(child) + ": vanished while being checked");
      if (S_ISDIR(st->st_mode)) {
        if (!dirs_.count(child))
          return Error(Errc::kIo, show(child) + ": not in the manifest (unexpected directory)");
        CS_TRY(UniqueFd sub, open_directory_at(fd, name, show(child)));
        struct stat opened {};
        if (::fstat(sub.get(), &opened) != 0 || opened.st_ino != st->st_ino || opened.st_dev != st->st_dev) {
          return Error(Errc::kIo, show(child) + ": replaced while being checked");
        }
        CS_TRY_VOID(walk(sub.get(), child, depth + 1));
      } else if (S_ISREG(st->st_mode)) {
        CS_TRY_VOID(check_file(fd, name, child, *st));
      } else {
        return Error(Errc::kIo, show(child) + ": is " + describe_file_type(st->st_mode) +
                                    "; only regular files and directories are allowed");
      }
    }
    return sync_fd(fd, show(rel));
  }

  Result<void> check_file(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    auto it = files_.find(rel);
    if (it == files_.end()) return Error(Errc::kIo, show(rel) + ": not in the manifest (unexpected file)");
    if (st.st_nlink != 1) {
      return Error(Errc::kIo, show(rel) + ": has " + std::to_string(st.st_nlink) +
                                  " hard links; a model file must have exactly one");
    }
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return Error(Errc::kIo, "cannot open " + show(rel) + ": " + std::strerror(errno));
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0 || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev ||
        !S_ISREG(opened.st_mode) || opened.st_nlink != 1) {
      return Error(Errc::kIo, show(rel) + ": replaced while being checked");
    }
    const auto size = static_cast<std::uint64_t>(opened.st_size);
    if (size != it->second) {
      return Error(Errc::kIo, show(rel) + ": " + std::to_string(size) + " bytes; the manifest says " +
                                  std::to_string(it->second));
    }
    CS_TRY_VOID(make_root_read_only(fd.get(), 0444, show(rel)));
    CS_TRY_VOID(sync_fd(fd.get(), show(rel)));
    seen_.insert(rel);
    return {};
  }

  std::string shown_;
  std::map<std::string, std::uint64_t> files_;
  std::set<std::string> dirs_;
  std::map<std::string, std::size_t> children_;  // expected entries per directory ("" = top)
  std::set<std::string> seen_;
  dev_t dev_ = 0;
};

// A refused tree goes back where the daemon left it (so the failure can be looked at, and
// `staging remove` cleans it up); when that place is taken again, it is removed instead.
void put_back(const StateDirs& d, const std::string& work, const std::string& hex, const Config& c) {
  const std::string shown = c.models_dir() + "/" + work;
  if (::geteuid() != 0) {
    // Moving a directory to another parent rewrites its "..": an unprivileged owner (tests)
    // needs write permission on the 0555 directory it just made.
    if (auto top = open_directory_at(d.models.get(), work, shown); top.ok()) ::fchmod(top->get(), 0755);
  }
  if (d.staging.valid() &&
      rename_noreplace(d.models.get(), work, d.staging.get(), hex, c.staging_dir() + "/" + hex).ok()) {
    (void)sync_fd(d.staging.get(), c.staging_dir());
  } else {
    (void)remove_tree_at(d.models.get(), work, shown);
  }
  (void)sync_fd(d.models.get(), c.models_dir());
}

nlohmann::json hash_json(const std::string& hex) { return "sha256:" + hex; }

}  // namespace

bool is_manifest_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<SystemInvocation> parse_system_args(const std::vector<std::string>& args) {
  if (args.empty()) return usage_error("no subcommand given");
  const std::string& group = args[0];
  if (args.size() == 1 && (group == "--help" || group == "-h" || group == "help")) {
    return SystemInvocation{SystemAction::kHelp, ""};
  }
  auto hex_argument = [&](SystemAction action, const char* form) -> Result<SystemInvocation> {
    if (args.size() != 3) return usage_error(std::string(form) + " takes exactly one manifest hash");
    if (!is_manifest_hex(args[2])) {
      return usage_error("\"" + printable(args[2]) +
                         "\" is not a manifest hash (64 lowercase hex digits, no sha256: prefix)");
    }
    return SystemInvocation{action, args[2]};
  };
  const std::string verb = args.size() >= 2 ? args[1] : "";
  if (group == "snapshot") {
    if ((verb == "take" || verb == "list") && args.size() != 2) {
      return usage_error("snapshot " + verb + " takes no arguments");
    }
    if (verb == "take") return SystemInvocation{SystemAction::kSnapshotTake, ""};
    if (verb == "list") return SystemInvocation{SystemAction::kSnapshotList, ""};
    if (verb == "restore") {
      if (args.size() != 3) return usage_error("snapshot restore takes exactly one snapshot id");
      auto id = parse_snapshot_id(args[2]);
      if (!id.ok()) return usage_error(id.error().message);
      return SystemInvocation{SystemAction::kSnapshotRestore, args[2]};
    }
    return usage_error("snapshot takes take, list or restore ID");
  }
  if (group == "model") {
    if (verb == "install") return hex_argument(SystemAction::kModelInstall, "model install");
    if (verb == "remove") return hex_argument(SystemAction::kModelRemove, "model remove");
    return usage_error("model takes install HEX or remove HEX");
  }
  if (group == "staging") {
    if (verb == "remove") return hex_argument(SystemAction::kStagingRemove, "staging remove");
    return usage_error("staging takes remove HEX");
  }
  return usage_error("unknown subcommand \"" + printable(group) + "\"");
}

std::string system_usage() {
  return "usage: countersign-system SUBCOMMAND\n"
         "The privileged helper of countersignd (run through sudo). Paths come from\n"
         "/etc/countersign/countersignd.conf; output is one JSON document.\n"
         "\n"
         "  snapshot take          snapshot the models directory\n"
         "  snapshot list          our snapshots, oldest first\n"
         "  snapshot restore ID    put the models directory back as it was in snapshot ID\n"
         "  model install HEX      move the verified staging directory of manifest HEX into\n"
         "                         models/HEX, owned by root and read-only\n"
         "  model remove HEX       remove models/HEX\n"
         "  staging remove HEX     remove the staging directory and manifest of HEX\n"
         "\n"
         "HEX is a manifest hash: 64 lowercase hex digits. ID is cs-YYYYMMDDTHHMMSSZ-xxxxxxxx.\n"
         "Exit status: 0 done, 1 refused or failed (one line on stderr), 2 bad usage.\n";
}

std::string system_config_path(const std::function<const char*(const char*)>& getenv, bool elevated) {
  const char* path = getenv(kSystemConfigEnv);
  const bool via_sudo = getenv("SUDO_USER") != nullptr || getenv("SUDO_UID") != nullptr;
  if (path != nullptr && *path != '\0' && !via_sudo && !elevated) return path;
  return kSystemConfigPath;
}

Result<Config> load_system_config(const std::string& path) {
  if (::geteuid() == 0) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return Error(errno == ENOENT ? Errc::kNotFound : Errc::kIo,
                   "cannot read " + path + ": " + std::strerror(errno));
    }
    if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
      return Error(Errc::kRejected, path + " must be owned by root and writable only by root (it is uid " +
                                        std::to_string(st.st_uid) + ", mode " + mode_string(st.st_mode) +
                                        ")");
    }
  }
  CS_TRY(Config config, load_config(path));
  auto valid = config.validate();
  if (!valid.ok()) return valid.error().with_context(path);
  return config;
}

SystemEnv SystemEnv::real() {
  SystemEnv env;
  env.clock = system_now;
  env.random = random_u32;
  env.run = system_command_runner(kCommandTimeoutSeconds);
  env.read_mountinfo = [] { return read_file("/proc/self/mountinfo", std::uint64_t{16} << 20); };
  return env;
}

// model install HEX
//
//  1. Read <staging>/HEX.manifest.json (a regular file, at most 64 MiB), parse it, check that
//     its hash is HEX and its kind "model". From here on only this parsed copy counts.
//  2. Refuse when <models>/HEX exists ("already installed").
//  3. Move <staging>/HEX to <models>/.install-HEX. <models> is root's, so from this moment
//     the daemon's user can no longer rename or replace the top of the tree; whatever was at
//     <staging>/HEX (a symlink, a swapped-in directory) is what gets checked. When
//     <staging>/HEX is absent but <models>/.install-HEX exists, an earlier install was
//     interrupted there, and it is checked from scratch instead.
//  4. Walk the tree (TreeCheck). Each directory is chowned to root and made 0555 before its
//     entries are read, so nothing can be added, removed or renamed in it behind the walk.
//     Each entry is looked at with AT_SYMLINK_NOFOLLOW and must be a directory some manifest
//     path needs or a regular file the manifest lists, with exactly one link and the declared
//     size; it is opened with O_NOFOLLOW (and must be the same inode), chowned to root, made
//     0444 and fsynced. No other entry, no missing file.
//  5. Rename <models>/.install-HEX to <models>/HEX (RENAME_NOREPLACE), fsync <models>: the
//     model appears complete in one step, or not at all.
//  6. Remove <staging>/HEX.manifest.json.
// On a refusal in 3-5 the tree is put back at <staging>/HEX (put_back).
//
// The helper does not hash the files again. The daemon hashed every byte as it streamed in
// (daemon/fetch.h) and asks for the install only after every file verified; hashing a 50 GB
// model a second time here would double the install for no gain against what the helper is
// for. The helper guards the box, not the daemon's arithmetic: after steps 3-4 the tree is
// exactly the manifest's set of plain files with the declared sizes, owned by root and
// read-only, before it is moved, so no symlink, hard link, device or extra file can turn
// root's chown and chmod against the system or end up in models/. (A daemon that kept a
// writable descriptor open across the install could still change bytes; such a daemon could
// as well have hashed wrongly. The integrity of the bytes is the daemon's promise, logged in
// its audit log.)
Result<nlohmann::json> install_model(const Config& config, const std::string& hex) {
  if (!is_manifest_hex(hex)) return Error(Errc::kInvalidArgument, "not a manifest hash");
  CS_TRY(StateDirs d, open_and_lock(config, true));
  const std::string shown = config.staging_dir() + "/" + hex;
  const std::string manifest_name = hex + ".manifest.json";

  CS_TRY(std::string text, read_regular_file_at(d.staging.get(), manifest_name, kMaxManifestBytes,
                                                config.staging_dir() + "/" + manifest_name));
  auto manifest = Manifest::parse_text(text);
  if (!manifest.ok()) return manifest.error().with_context(config.staging_dir() + "/" + manifest_name);
  const std::string actual = digest_to_string(manifest->hash());
  if (actual != "sha256:" + hex) {
    return Error(Errc::kHashMismatch, config.staging_dir() + "/" + manifest_name +
                                          ": the manifest's hash is " + actual + ", not sha256:" + hex);
  }
  if (manifest->kind() != "model") {
    return Error(Errc::kRejected, "manifest sha256:" + hex + " is of kind \"" + manifest->kind() +
                                      "\"; model install installs models only");
  }

  CS_TRY(auto installed, stat_at(d.models.get(), hex, config.models_dir() + "/" + hex));
  if (installed) return Error(Errc::kRejected, "model sha256:" + hex + " is already installed");

  const std::string work = ".install-" + hex;
  const std::string work_shown = config.models_dir() + "/" + work;
  CS_TRY(auto staged, stat_at(d.staging.get(), hex, shown));
  CS_TRY(auto interrupted, stat_at(d.models.get(), work, work_shown));
  if (staged) {
    if (interrupted) CS_TRY_VOID(remove_tree_at(d.models.get(), work, work_shown));
    CS_TRY_VOID(rename_noreplace(d.staging.get(), hex, d.models.get(), work, work_shown));
    CS_TRY_VOID(sync_fd(d.staging.get(), config.staging_dir()));
    CS_TRY_VOID(sync_fd(d.models.get(), config.models_dir()));
  } else if (!interrupted) {
    return Error(Errc::kNotFound, "there is no staging directory " + shown);
  }

  TreeCheck check(*manifest, shown);
  if (auto checked = check.run(d.models.get(), work); !checked.ok()) {
    put_back(d, work, hex, config);
    return checked.error();
  }
  if (auto moved =
          rename_noreplace(d.models.get(), work, d.models.get(), hex, config.models_dir() + "/" + hex);
      !moved.ok()) {
    put_back(d, work, hex, config);
    if (moved.error().code == Errc::kRejected) {
      return Error(Errc::kRejected, "model sha256:" + hex + " is already installed");
    }
    return moved.error();
  }
  CS_TRY_VOID(sync_fd(d.models.get(), config.models_dir()));
  if (::unlinkat(d.staging.get(), manifest_name.c_str(), 0) != 0 && errno != ENOENT) {
    return Error(Errc::kIo, "installed, but cannot remove " + config.staging_dir() + "/" + manifest_name +
                                ": " + std::strerror(errno));
  }
  CS_TRY_VOID(sync_fd(d.staging.get(), config.staging_dir()));
  return nlohmann::json{{"hash", hash_json(hex)}, {"path", config.models_dir() + "/" + hex}};
}

// model remove HEX: renamed to <models>/.trash-HEX first, so the model disappears in one
// step, then the tree is removed (a leftover from an interrupted removal goes first).
Result<nlohmann::json> remove_model(const Config& config, const std::string& hex) {
  if (!is_manifest_hex(hex)) return Error(Errc::kInvalidArgument, "not a manifest hash");
  CS_TRY(StateDirs d, open_and_lock(config, false));
  CS_TRY(auto installed, stat_at(d.models.get(), hex, config.models_dir() + "/" + hex));
  if (!installed) return Error(Errc::kNotFound, "model sha256:" + hex + " is not installed");
  const std::string trash = ".trash-" + hex;
  const std::string trash_shown = config.models_dir() + "/" + trash;
  CS_TRY_VOID(remove_tree_at(d.models.get(), trash, trash_shown));
  CS_TRY_VOID(rename_noreplace(d.models.get(), hex, d.models.get(), trash, trash_shown));
  CS_TRY_VOID(sync_fd(d.models.get(), config.models_dir()));
  CS_TRY_VOID(remove_tree_at(d.models.get(), trash, trash_shown));
  CS_TRY_VOID(sync_fd(d.models.get(), config.models_dir()));
  return nlohmann::json{{"hash", hash_json(hex)}, {"removed", true}};
}

Result<nlohmann::json> remove_staging(const Config& config, const std::string& hex) {
  if (!is_manifest_hex(hex)) return Error(Errc::kInvalidArgument, "not a manifest hash");
  CS_TRY(StateDirs d, open_and_lock(config, false));
  if (d.staging.valid()) {
    CS_TRY_VOID(remove_tree_at(d.staging.get(), hex, config.staging_dir() + "/" + hex));
    const std::string manifest_name = hex + ".manifest.json";
    CS_TRY_VOID(remove_tree_at(d.staging.get(), manifest_name, config.staging_dir() + "/" + manifest_name));
    CS_TRY_VOID(sync_fd(d.staging.get(), config.staging_dir()));
  }
  const std::string work = ".install-" + hex;
  CS_TRY_VOID(remove_tree_at(d.models.get(), work, config.models_dir() + "/" + work));
  CS_TRY_VOID(sync_fd(d.models.get(), config.models_dir()));
  return nlohmann::json{{"hash", hash_json(hex)}, {"removed", true}};
}

Result<SystemOutcome> run_system(const SystemInvocation& inv, const Config& config, const SystemEnv& env) {
  SystemOutcome outcome;
  switch (inv.action) {
    case SystemAction::kHelp:
      return Error(Errc::kInvalidArgument, "--help has no JSON output");
    case SystemAction::kModelInstall: {
      CS_TRY(outcome.output, install_model(config, inv.argument));
      return outcome;
    }
    case SystemAction::kModelRemove: {
      CS_TRY(outcome.output, remove_model(config, inv.argument));
      return outcome;
    }
    case SystemAction::kStagingRemove: {
      CS_TRY(outcome.output, remove_staging(config, inv.argument));
      return outcome;
    }
    case SystemAction::kSnapshotTake:
    case SystemAction::kSnapshotList:
    case SystemAction::kSnapshotRestore:
      break;
  }
  CS_TRY(StateDirs d, open_and_lock(config, false));
  SnapshotContext context{&config,    d.state.get(), d.models.get(),    env.clock,
                          env.random, env.run,       env.read_mountinfo};
  CS_TRY(auto backend, make_snapshot_backend(context));
  if (inv.action == SystemAction::kSnapshotTake) {
    CS_TRY(auto taken, backend->take());
    outcome.output = taken
                         ? taken->to_json()
                         : nlohmann::json{{"id", nullptr}, {"backend", backend->name()}, {"taken", nullptr}};
  } else if (inv.action == SystemAction::kSnapshotList) {
    CS_TRY(auto all, backend->list());
    outcome.output = nlohmann::json::array();
    for (const auto& s : all) outcome.output.push_back(s.to_json());
  } else {
    CS_TRY(outcome.warnings, backend->restore(inv.argument));
    outcome.output = nlohmann::json{{"id", inv.argument}, {"restored", true}};
  }
  return outcome;
}

}  // namespace countersign::daemon
