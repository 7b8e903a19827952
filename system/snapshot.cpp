#include "system/snapshot.h"

#include <fcntl.h>
#include <linux/magic.h>  // BTRFS_SUPER_MAGIC
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>  // renameat2, RENAME_EXCHANGE
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/fileio.h"
#include "system/fs_at.h"

namespace countersign::daemon {
namespace {

// The inode number of the root directory of every btrfs subvolume (BTRFS_FIRST_FREE_OBJECTID
// in linux/btrfs_tree.h): how a subvolume is told apart from a plain directory.
constexpr ino_t kBtrfsSubvolumeIno = 256;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

bool is_subvolume(const struct stat& st) { return S_ISDIR(st.st_mode) && st.st_ino == kBtrfsSubvolumeIno; }

void sort_oldest_first(std::vector<SnapshotInfo>& v) {
  std::stable_sort(v.begin(), v.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.taken != b.taken ? a.taken < b.taken : a.id < b.id;
  });
}

Error command_failed(const std::vector<std::string>& shown, const CommandOutput& out) {
  std::string why = first_line(out.err.empty() ? out.out : out.err);
  if (why.empty()) why = "exit status " + std::to_string(out.status);
  return Error(Errc::kIo, describe_command(shown) + " failed: " + why);
}

class NoneBackend final : public SnapshotBackend {
 public:
  std::string_view name() const override { return "none"; }
  Result<std::optional<SnapshotInfo>> take() override { return std::optional<SnapshotInfo>(); }
  Result<std::vector<SnapshotInfo>> list() override { return std::vector<SnapshotInfo>(); }
  Result<std::vector<std::string>> restore(const std::string&) override {
    return Error(Errc::kUnsupported, "no snapshot backend configured (snapshot = none): nothing to restore");
  }
};

// Where a btrfs backend works: the subvolume it protects (opened by the helper), the directory
// holding it (a restore swaps the subvolume there) and the directory of its snapshots (in
// `parent`, root-only, created on the first snapshot). The models backend: models/ in the
// state directory, snapshots at <state_dir>/snapshots; the system root's (system.h
// `packages install`): SYSTEM_ROOT in its parent directory, snapshots at
// <parent>/.countersign-system-snapshots.
struct BtrfsLayout {
  int subvolume_fd = -1;
  std::string subvolume_shown;  // "/var/lib/countersign/models"
  int parent_fd = -1;
  std::string parent_shown;    // "/var/lib/countersign"
  std::string name;            // "models": the subvolume's entry in parent
  std::string snapshots_name;  // "snapshots": in parent
};

// Read-only snapshots of a subvolume (BtrfsLayout) at <parent>/<snapshots_name>/<id>.
//
// The btrfs tool is handed paths of the form /proc/self/fd/N/NAME, where N is a directory
// this helper opened without following symlinks and checked: the tool then reaches exactly
// that directory, not whatever a path string resolves to by the time it runs.
class BtrfsBackend final : public SnapshotBackend {
 public:
  BtrfsBackend(const SnapshotContext& c, BtrfsLayout layout) : c_(c), l_(std::move(layout)) {}

  std::string_view name() const override { return "btrfs"; }

  Result<std::optional<SnapshotInfo>> take() override {
    CS_TRY(UniqueFd snaps, snapshots_dir(true));
    SnapshotInfo info{make_snapshot_id(c_.clock(), c_.random()), "btrfs", 0, ""};
    CS_TRY(info.taken, parse_snapshot_id(info.id));
    CS_TRY(auto clash, stat_at(snaps.get(), info.id, shown_snapshot(info.id)));
    if (clash) return Error(Errc::kInternal, shown_snapshot(info.id) + " already exists");
    CS_TRY_VOID(run(btrfs_take_command("/proc/self/fd/3", "/proc/self/fd/4/" + info.id),
                    btrfs_take_command(l_.subvolume_shown, shown_snapshot(info.id)),
                    {l_.subvolume_fd, snaps.get()}));
    CS_TRY(auto made, stat_at(snaps.get(), info.id, shown_snapshot(info.id)));
    if (!made || !is_subvolume(*made)) {
      return Error(Errc::kIo,
                   "btrfs reported success but " + shown_snapshot(info.id) + " is not a subvolume");
    }
    CS_TRY_VOID(sync_fd(snaps.get(), snapshots_shown()));
    return std::optional<SnapshotInfo>(info);
  }

  Result<std::vector<SnapshotInfo>> list() override {
    std::vector<SnapshotInfo> out;
    CS_TRY(UniqueFd snaps, snapshots_dir(false));
    if (!snaps.valid()) return out;
    CS_TRY(auto names, list_directory(snaps.get(), std::size_t{1} << 20, snapshots_shown()));
    for (const auto& name : names) {
      auto taken = parse_snapshot_id(name);
      if (!taken.ok()) continue;  // not one of ours
      CS_TRY(auto st, stat_at(snaps.get(), name, shown_snapshot(name)));
      if (!st || !is_subvolume(*st)) continue;
      out.push_back({name, "btrfs", *taken, ""});
    }
    sort_oldest_first(out);
    return out;
  }

  Result<std::vector<std::string>> restore(const std::string& id) override {
    CS_TRY_VOID(parse_snapshot_id(id));
    CS_TRY(UniqueFd snaps, snapshots_dir(false));
    std::optional<struct stat> snap;
    if (snaps.valid()) {
      CS_TRY(snap, stat_at(snaps.get(), id, shown_snapshot(id)));
    }
    if (!snap || !is_subvolume(*snap)) return Error(Errc::kNotFound, "there is no btrfs snapshot " + id);

    // 1. A writable snapshot of the snapshot, next to the subvolume.
    const std::string temp = ".restore-" + id;
    const std::string temp_shown = l_.parent_shown + "/" + temp;
    CS_TRY_VOID(remove_leftover(temp));
    CS_TRY_VOID(run(btrfs_clone_command("/proc/self/fd/3/" + id, "/proc/self/fd/4/" + temp),
                    btrfs_clone_command(shown_snapshot(id), temp_shown), {snaps.get(), l_.parent_fd}));
    CS_TRY(auto made, stat_at(l_.parent_fd, temp, temp_shown));
    if (!made || !is_subvolume(*made)) {
      return Error(Errc::kIo, "btrfs reported success but " + temp_shown + " is not a subvolume");
    }
    // 2. Swap it with the subvolume in one step: readers see the old tree or the restored
    //    one, never neither.
    if (::renameat2(l_.parent_fd, temp.c_str(), l_.parent_fd, l_.name.c_str(), RENAME_EXCHANGE) != 0) {
      const int e = errno;
      auto cleanup = remove_leftover(temp);
      return Error(Errc::kIo, "cannot swap " + temp_shown + " with " + l_.subvolume_shown + ": " +
                                  std::strerror(e) +
                                  (cleanup.ok() ? "" : " (and " + cleanup.error().message + ")"));
    }
    CS_TRY_VOID(sync_fd(l_.parent_fd, l_.parent_shown));
    // 3. Delete the old tree, now under the temporary name. Failing here leaves a leftover
    //    the next restore removes; the restore itself is done.
    std::vector<std::string> warnings;
    auto removed = remove_leftover(temp);
    if (!removed.ok())
      warnings.push_back("restored, but the old tree is left at " + temp_shown + ": " +
                         removed.error().message);
    return warnings;
  }

 private:
  std::string snapshots_shown() const { return l_.parent_shown + "/" + l_.snapshots_name; }
  std::string shown_snapshot(const std::string& id) const { return snapshots_shown() + "/" + id; }

  // <parent>/<snapshots_name>, root-only; created (0700) when `create`, else an invalid fd
  // when absent.
  Result<UniqueFd> snapshots_dir(bool create) {
    if (create && ::mkdirat(l_.parent_fd, l_.snapshots_name.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error(Errc::kIo, "cannot create " + snapshots_shown() + ": " + std::strerror(errno));
    }
    auto fd = open_directory_at(l_.parent_fd, l_.snapshots_name, snapshots_shown());
    if (!fd.ok() && fd.error().code == Errc::kNotFound && !create) return UniqueFd();
    if (!fd.ok()) return std::move(fd).error();
    CS_TRY_VOID(check_root_only(fd->get(), snapshots_shown()));
    return fd;
  }

  // Removes <parent>/NAME left by an earlier restore: a subvolume with btrfs, anything
  // else (never a symlink's target) with remove_tree_at.
  Result<void> remove_leftover(const std::string& name) {
    const std::string shown = l_.parent_shown + "/" + name;
    CS_TRY(auto st, stat_at(l_.parent_fd, name, shown));
    if (!st) return {};
    if (is_subvolume(*st)) {
      return run(btrfs_delete_command("/proc/self/fd/3/" + name), btrfs_delete_command(shown),
                 {l_.parent_fd});
    }
    CS_TRY_VOID(remove_tree_at(l_.parent_fd, name, shown));
    return {};
  }

  Result<void> run(const std::vector<std::string>& argv, const std::vector<std::string>& shown,
                   const std::vector<int>& fds) {
    CS_TRY(CommandOutput out, c_.run(argv, fds));
    if (out.status != 0) return command_failed(shown, out);
    return {};
  }

  SnapshotContext c_;
  BtrfsLayout l_;
};

// Snapshots DATASET@ID of the dataset mounted at the models directory.
class ZfsBackend final : public SnapshotBackend {
 public:
  ZfsBackend(std::string dataset, std::string mountpoint, Clock clock, std::function<std::uint32_t()> random,
             CommandRunner run)
      : dataset_(std::move(dataset)),
        mountpoint_(std::move(mountpoint)),
        clock_(std::move(clock)),
        random_(std::move(random)),
        run_(std::move(run)) {}

  std::string_view name() const override { return "zfs"; }

  Result<std::optional<SnapshotInfo>> take() override {
    SnapshotInfo info{make_snapshot_id(clock_(), random_()), "zfs", 0, dataset_};
    CS_TRY(info.taken, parse_snapshot_id(info.id));
    CS_TRY(auto out, run_(zfs_take_command(dataset_, info.id), {}));
    if (out.status != 0) return command_failed(zfs_take_command(dataset_, info.id), out);
    return std::optional<SnapshotInfo>(info);
  }

  Result<std::vector<SnapshotInfo>> list() override {
    CS_TRY(auto out, run_(zfs_list_command(dataset_), {}));
    if (out.status != 0) return command_failed(zfs_list_command(dataset_), out);
    return parse_zfs_list(out.out, dataset_);
  }

  // zfs_restore_commands (snapshot.h): no snapshot is destroyed.
  Result<std::vector<std::string>> restore(const std::string& id) override {
    CS_TRY_VOID(parse_snapshot_id(id));
    if (dataset_.find('/') == std::string::npos) {
      return Error(Errc::kUnsupported,
                   "zfs:" + dataset_ +
                       " is a pool's root dataset, which cannot be renamed: restore needs "
                       "the models in a dataset below it (like " +
                       dataset_ + "/models)");
    }
    CS_TRY(auto all, list());
    auto it = std::find_if(all.begin(), all.end(), [&](const SnapshotInfo& s) { return s.id == id; });
    if (it == all.end()) return Error(Errc::kNotFound, "there is no zfs snapshot " + dataset_ + "@" + id);
    const std::string fresh = make_snapshot_id(clock_(), random_());
    for (const auto& argv : zfs_restore_commands(dataset_, it->dataset, id, fresh, mountpoint_)) {
      CS_TRY(auto out, run_(argv, {}));
      if (out.status != 0) return command_failed(argv, out);
    }
    return std::vector<std::string>();
  }

 private:
  std::string dataset_;
  std::string mountpoint_;
  Clock clock_;
  std::function<std::uint32_t()> random_;
  CommandRunner run_;
};

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Decodes the \ooo escapes proc(5) uses for space, tab, newline and backslash in paths.
std::string decode_mount_path(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

nlohmann::json SnapshotInfo::to_json() const {
  return {{"id", id}, {"backend", backend}, {"taken", format_rfc3339(taken)}};
}

std::string make_snapshot_id(UnixTime taken, std::uint32_t random) {
  std::string compact;
  for (char c : format_rfc3339(taken)) {
    if (c != '-' && c != ':') compact += c;
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", random);
  return "cs-" + compact + "-" + hex;
}

Result<UnixTime> parse_snapshot_id(std::string_view id) {
  auto bad = [&] {
    std::string shown(id.substr(0, 64));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return Error(Errc::kInvalidArgument,
                 "\"" + shown + "\" is not a snapshot id (cs-YYYYMMDDTHHMMSSZ-xxxxxxxx)");
  };
  if (id.size() != kSnapshotIdLength || !id.starts_with("cs-") || id[11] != 'T' || id[18] != 'Z' ||
      id[19] != '-') {
    return bad();
  }
  for (std::size_t i : {3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 12u, 13u, 14u, 15u, 16u, 17u}) {
    if (!is_digit(id[i])) return bad();
  }
  for (std::size_t i = 20; i < kSnapshotIdLength; ++i) {
    if (!is_lower_hex(id[i])) return bad();
  }
  std::string rfc;
  rfc.append(id.substr(3, 4)).append("-").append(id.substr(7, 2)).append("-").append(id.substr(9, 2));
  rfc.append("T")
      .append(id.substr(12, 2))
      .append(":")
      .append(id.substr(14, 2))
      .append(":")
      .append(id.substr(16, 2));
  rfc.append("Z");
  auto t = parse_rfc3339(rfc);
  if (!t.ok()) return bad();
  return *t;
}

std::vector<std::string> btrfs_take_command(const std::string& subvolume, const std::string& dest) {
  return {"btrfs", "subvolume", "snapshot", "-r", subvolume, dest};
}

std::vector<std::string> btrfs_clone_command(const std::string& snapshot, const std::string& dest) {
  return {"btrfs", "subvolume", "snapshot", snapshot, dest};
}

std::vector<std::string> btrfs_delete_command(const std::string& subvolume) {
  return {"btrfs", "subvolume", "delete", subvolume};
}

std::vector<std::string> zfs_take_command(const std::string& dataset, const std::string& id) {
  return {"zfs", "snapshot", dataset + "@" + id};
}

std::vector<std::string> zfs_list_command(const std::string& dataset) {
  const auto slash = dataset.rfind('/');
  if (slash == std::string::npos) {
    return {"zfs",           "list", "-H",       "-p", "-t", "snapshot", "-o",
            "name,creation", "-s",   "creation", "-d", "1",  dataset};
  }
  return {"zfs", "list",          "-H", "-p",       "-t", "snapshot",
          "-o",  "name,creation", "-s", "creation", "-r", dataset.substr(0, slash)};
}

std::vector<std::vector<std::string>> zfs_restore_commands(const std::string& dataset,
                                                           const std::string& holder, const std::string& id,
                                                           const std::string& fresh,
                                                           const std::string& mountpoint) {
  const std::string restoring = dataset + "-restore-" + fresh;
  const std::string retired = dataset + "-retired-" + fresh;
  return {
      {"zfs", "clone", "-o", "canmount=noauto", "-o", "mountpoint=" + mountpoint, holder + "@" + id,
       restoring},
      {"zfs", "promote", restoring},
      {"zfs", "set", "canmount=noauto", dataset},
      {"zfs", "rename", "-u", dataset, retired},
      {"zfs", "rename", "-u", restoring, dataset},
      {"zfs", "set", "canmount=on", dataset},
      {"zfs", "mount", "-O", dataset},
  };
}

Result<std::vector<SnapshotInfo>> parse_zfs_list(std::string_view output, const std::string& dataset) {
  std::vector<SnapshotInfo> out;
  // DATASET itself, or DATASET-retired-ID / DATASET-restore-ID that a restore made.
  auto ours = [&](std::string_view name) {
    if (name == dataset) return true;
    if (!name.starts_with(dataset + "-")) return false;
    std::string_view rest = name.substr(dataset.size() + 1);
    for (std::string_view kind : {"retired-", "restore-"}) {
      if (rest.starts_with(kind) && parse_snapshot_id(rest.substr(kind.size())).ok()) return true;
    }
    return false;
  };
  std::size_t line_no = 0;
  while (!output.empty()) {
    auto nl = output.find('\n');
    std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return Error(Errc::kMalformed, "zfs list output line " + std::to_string(line_no) + ": " + why);
    };
    auto tab = line.find('\t');
    if (tab == std::string_view::npos || line.find('\t', tab + 1) != std::string_view::npos) {
      return bad("expected NAME<TAB>CREATION");
    }
    std::string_view name = line.substr(0, tab), creation = line.substr(tab + 1);
    const auto at = name.find('@');
    if (at == std::string_view::npos || at == 0)
      return bad("\"" + std::string(name) + "\" is not a snapshot");
    UnixTime taken = 0;
    auto [p, ec] = std::from_chars(creation.data(), creation.data() + creation.size(), taken);
    if (ec != std::errc() || p != creation.data() + creation.size() || taken < 0) {
      return bad("creation \"" + std::string(creation) + "\" is not seconds since the epoch");
    }
    std::string_view holder = name.substr(0, at), snap = name.substr(at + 1);
    if (!ours(holder)) continue;                  // a sibling dataset or a child
    if (!parse_snapshot_id(snap).ok()) continue;  // somebody else's snapshot
    out.push_back({std::string(snap), "zfs", taken, std::string(holder)});
  }
  sort_oldest_first(out);
  return out;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
  // field 5 is the mount point; after the "-" separator come type and source.
  std::vector<MountEntry> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto fields = split_spaces(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto sep = std::find(fields.begin(), fields.end(), std::string_view("-"));
    if (fields.size() < 6 || sep == fields.end() || sep - fields.begin() < 6 || fields.end() - sep < 3)
      continue;
    out.push_back({decode_mount_path(fields[4]), std::string(*(sep + 1)), decode_mount_path(*(sep + 2))});
  }
  return out;
}

Result<void> check_zfs_mount(std::string_view mountinfo, const std::string& dataset,
                             const std::string& path) {
  std::optional<MountEntry> found;
  for (auto& m : parse_mountinfo(mountinfo)) {
    if (m.mount_point == path) found = std::move(m);
  }
  if (!found) {
    return Error(Errc::kRejected, "snapshot = zfs:" + dataset + ": nothing is mounted at " + path +
                                      "; the dataset must be mounted at the models directory");
  }
  if (found->fstype != "zfs" || found->source != dataset) {
    return Error(Errc::kRejected, "snapshot = zfs:" + dataset + ": " + path + " is " + found->fstype + " " +
                                      found->source + ", not the zfs dataset " + dataset);
  }
  return {};
}

Result<std::unique_ptr<SnapshotBackend>> make_snapshot_backend(const SnapshotContext& c) {
  const Config& config = *c.config;
  switch (config.snapshot.kind) {
    case SnapshotSpec::Kind::kNone:
      return std::unique_ptr<SnapshotBackend>(std::make_unique<NoneBackend>());
    case SnapshotSpec::Kind::kBtrfs: {
      if (strip_trailing_slashes(config.snapshot.target) != config.models_dir()) {
        return Error(Errc::kRejected, "snapshot = btrfs:" + config.snapshot.target +
                                          ": the subvolume must be the models directory " +
                                          config.models_dir() +
                                          " (restoring more would roll back the audit log and executed ids)");
      }
      struct statfs fs {};
      struct stat st {};
      if (::fstatfs(c.models_fd, &fs) != 0 || ::fstat(c.models_fd, &st) != 0) {
        return Error(Errc::kIo, "cannot stat " + config.models_dir() + ": " + std::strerror(errno));
      }
      if (fs.f_type != BTRFS_SUPER_MAGIC || !is_subvolume(st)) {
        return Error(Errc::kRejected, "snapshot = btrfs: " + config.models_dir() +
                                          " is not a btrfs subvolume (btrfs subvolume create it)");
      }
      if (::access("/proc/self/fd", X_OK) != 0) {
        return Error(Errc::kUnsupported, "btrfs snapshots need /proc mounted (/proc/self/fd)");
      }
      BtrfsLayout layout{c.models_fd, config.models_dir(), c.state_fd, config.state_dir,
                         "models",    "snapshots"};
      return std::unique_ptr<SnapshotBackend>(std::make_unique<BtrfsBackend>(c, std::move(layout)));
    }
    case SnapshotSpec::Kind::kZfs: {
      char real[PATH_MAX];
      if (::realpath(config.models_dir().c_str(), real) == nullptr) {
        return Error(Errc::kIo, "cannot resolve " + config.models_dir() + ": " + std::strerror(errno));
      }
      CS_TRY(std::string mountinfo, c.read_mountinfo());
      CS_TRY_VOID(check_zfs_mount(mountinfo, config.snapshot.target, real));
      return make_zfs_backend(config.snapshot.target, real, c.clock, c.random, c.run);
    }
  }
  return Error(Errc::kInternal, "unknown snapshot backend");
}

Result<std::unique_ptr<SnapshotBackend>> make_system_snapshot_backend(const SystemSnapshotContext& c) {
  const Config& config = *c.config;
  if (config.system_snapshot.kind == SnapshotSpec::Kind::kNone) {
    return std::unique_ptr<SnapshotBackend>(std::make_unique<NoneBackend>());
  }
  if (config.system_snapshot.kind != SnapshotSpec::Kind::kBtrfs) {
    return Error(Errc::kUnsupported, "system_snapshot = " + config.system_snapshot.to_string() +
                                         ": only btrfs is supported for the system root");
  }
  if (config.system_snapshot.target != config.system_root || config.system_root == "/") {
    return Error(Errc::kRejected, "system_snapshot = btrfs:" + config.system_snapshot.target +
                                      " must name the system root " + config.system_root + ", not /");
  }
  struct statfs fs {};
  struct stat st {};
  if (::fstatfs(c.root_fd, &fs) != 0 || ::fstat(c.root_fd, &st) != 0) {
    return Error(Errc::kIo, "cannot stat " + config.system_root + ": " + std::strerror(errno));
  }
  if (fs.f_type != BTRFS_SUPER_MAGIC || !is_subvolume(st)) {
    return Error(Errc::kRejected, "system_snapshot = btrfs: the system root " + config.system_root +
                                      " is not a btrfs subvolume (docs/daemon.md \"Debian packages\")");
  }
  if (::access("/proc/self/fd", X_OK) != 0) {
    return Error(Errc::kUnsupported, "btrfs snapshots need /proc mounted (/proc/self/fd)");
  }
  const auto slash = config.system_root.rfind('/');
  BtrfsLayout layout{c.root_fd,
                     config.system_root,
                     c.parent_fd,
                     slash == 0 ? "/" : config.system_root.substr(0, slash),
                     config.system_root.substr(slash + 1),
                     std::string(kSystemSnapshotsDir)};
  SnapshotContext base{&config, -1, -1, c.clock, c.random, c.run, nullptr};
  return std::unique_ptr<SnapshotBackend>(std::make_unique<BtrfsBackend>(base, std::move(layout)));
}

std::unique_ptr<SnapshotBackend> make_zfs_backend(const std::string& dataset, const std::string& mountpoint,
                                                  Clock clock, std::function<std::uint32_t()> random,
                                                  CommandRunner run) {
  return std::make_unique<ZfsBackend>(dataset, mountpoint, std::move(clock), std::move(random),
                                      std::move(run));
}

std::uint32_t random_u32() {
  std::uint32_t v = 0;
  for (int tries = 0; tries < 8; ++tries) {
    const ssize_t n = ::getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) return v;
    if (n < 0 && errno != EINTR) break;
  }
  std::random_device rd;  // getrandom is missing or failing: ids need uniqueness only
  return static_cast<std::uint32_t>(rd());
}

}  // namespace countersign::daemon
