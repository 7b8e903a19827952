// Snapshots of the models directory, taken before every install so an install can be undone
// (DESIGN.md "Box-side daemon": a backend interface with zfs, btrfs and none). Used only by
// the privileged helper (countersign-system, system/system.h).
//
// Only the models directory is ever snapshotted and restored: restoring anything larger
// (the whole state directory) would roll back the audit log and the list of executed
// proposal ids, and so allow a replay. So `snapshot = btrfs:PATH` must name the models
// directory, and `zfs:DATASET` must be the dataset mounted there.
//
// Snapshot ids are made by the helper: "cs-YYYYMMDDTHHMMSSZ-xxxxxxxx" (UTC time of taking,
// 8 random lowercase hex digits), 28 characters. Only ids of that form are listed, restored
// or accepted as arguments; snapshots somebody else made (zfs-auto-snapshot, an admin) are
// left alone.
//
// Backends run their tools through a CommandRunner (system/command.h), argv vectors built by
// the pure *_command functions below, never a shell.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"
#include "daemon/config.h"
#include "system/command.h"

namespace countersign::daemon {

struct SnapshotInfo {
  std::string id;
  std::string backend;  // "btrfs", "zfs"
  UnixTime taken = 0;
  std::string dataset;  // zfs: the dataset that holds it (not part of to_json)
  // {"backend": "btrfs", "id": "cs-…", "taken": "2026-06-01T12:00:00Z"}
  nlohmann::json to_json() const;
};

inline constexpr std::size_t kSnapshotIdLength = 28;

// "cs-" + YYYYMMDDTHHMMSSZ of `taken` (UTC) + "-" + `random` as 8 lowercase hex digits.
std::string make_snapshot_id(UnixTime taken, std::uint32_t random);
// Checks the exact form (and a real calendar time); returns the time it encodes.
Result<UnixTime> parse_snapshot_id(std::string_view id);

// Command lines (argv; argv[0] is resolved by the runner in the system directories).
// Arguments must already be validated: absolute paths, zfs dataset names from
// SnapshotSpec::parse, ids from parse_snapshot_id.
//   btrfs subvolume snapshot -r SUBVOLUME DEST    (read-only snapshot)
std::vector<std::string> btrfs_take_command(const std::string& subvolume, const std::string& dest);
//   btrfs subvolume snapshot SNAPSHOT DEST        (writable copy, for restore)
std::vector<std::string> btrfs_clone_command(const std::string& snapshot, const std::string& dest);
//   btrfs subvolume delete SUBVOLUME
std::vector<std::string> btrfs_delete_command(const std::string& subvolume);
//   zfs snapshot DATASET@ID
std::vector<std::string> zfs_take_command(const std::string& dataset, const std::string& id);
//   zfs list -H -p -t snapshot -o name,creation -s creation -r PARENT   (DATASET's parent:
//   DATASET and the datasets a restore retired beside it; -d 1 DATASET for a pool's root)
std::vector<std::string> zfs_list_command(const std::string& dataset);

// A zfs restore never destroys a snapshot (`zfs rollback -r` would destroy every snapshot
// after the target, the restore's own safety snapshot first). To restore DATASET to the
// snapshot HOLDER@ID (HOLDER is DATASET or a dataset an earlier restore retired), with X a
// fresh id, the backend runs zfs_restore_commands:
//   zfs clone -o canmount=noauto -o mountpoint=MODELS HOLDER@ID DATASET-restore-X
//   zfs promote DATASET-restore-X      the snapshots up to ID move to the clone; the later
//                                      ones (the safety snapshot among them) stay put
//   zfs set canmount=noauto DATASET    the tree being replaced never mounts itself again
//   zfs rename -u DATASET DATASET-retired-X        (-u: stays mounted, open files go on)
//   zfs rename -u DATASET-restore-X DATASET
//   zfs set canmount=on DATASET
//   zfs mount -O DATASET               over MODELS (-O: on top of the retired tree)
// Every snapshot remains, on DATASET or on DATASET-retired-X, and `snapshot list` shows
// them all; the retired tree stays mounted below the restored one until it is unmounted
// or the box reboots, and holds its space until an administrator destroys it. A pool's root
// dataset cannot be renamed, so it cannot be restored this way (kUnsupported).
std::vector<std::vector<std::string>> zfs_restore_commands(const std::string& dataset,
                                                           const std::string& holder, const std::string& id,
                                                           const std::string& fresh,
                                                           const std::string& mountpoint);

// Parses the output of zfs_list_command: lines "NAME@SNAPSHOT<TAB>CREATION" (seconds since
// the epoch, -p). Kept: snapshots with one of our ids, of DATASET or of DATASET-retired-ID /
// DATASET-restore-ID (SnapshotInfo::dataset says which); other datasets' and other
// snapshots are skipped. A line not of that form is kMalformed. Oldest first.
Result<std::vector<SnapshotInfo>> parse_zfs_list(std::string_view output, const std::string& dataset);

// One line of /proc/self/mountinfo (proc(5)): mount point (octal escapes decoded), file
// system type and mount source.
struct MountEntry {
  std::string mount_point;
  std::string fstype;
  std::string source;
};
std::vector<MountEntry> parse_mountinfo(std::string_view text);
// Checks that zfs dataset `dataset` is what is mounted at `path` (the last mount there wins,
// as in the kernel). kRejected naming what is mounted there instead.
Result<void> check_zfs_mount(std::string_view mountinfo, const std::string& dataset, const std::string& path);

class SnapshotBackend {
 public:
  virtual ~SnapshotBackend() = default;
  // "none", "btrfs", "zfs".
  virtual std::string_view name() const = 0;
  // Takes a snapshot of the models directory; nullopt from the none backend (installs go on
  // without one).
  virtual Result<std::optional<SnapshotInfo>> take() = 0;
  // Our snapshots, oldest first.
  virtual Result<std::vector<SnapshotInfo>> list() = 0;
  // Puts the models directory back as it was in snapshot `id` (kNotFound when there is no
  // such snapshot). Returns warnings about leftovers that could not be cleaned up (the
  // restore itself happened).
  virtual Result<std::vector<std::string>> restore(const std::string& id) = 0;
};

// What a backend needs from the helper. The descriptors are borrowed and must stay open
// while the backend is used: the state directory and the models directory, both opened and
// checked by the helper (system/system.h).
struct SnapshotContext {
  const Config* config = nullptr;
  int state_fd = -1;
  int models_fd = -1;
  Clock clock;
  std::function<std::uint32_t()> random;
  CommandRunner run;
  // The text of /proc/self/mountinfo (zfs checks its dataset against it).
  std::function<Result<std::string>()> read_mountinfo;
};

// The backend the configuration names, after checking it protects exactly the models
// directory (btrfs: `PATH` is the models directory and a btrfs subvolume; zfs: the dataset
// is mounted there).
Result<std::unique_ptr<SnapshotBackend>> make_snapshot_backend(const SnapshotContext& context);

// The system root's backend (config system_snapshot; `packages install`, system/system.h):
// none, or btrfs:SYSTEM_ROOT when SYSTEM_ROOT (not "/") is a btrfs subvolume. Its snapshots
// are read-only subvolumes at <parent of SYSTEM_ROOT>/.countersign-system-snapshots/<id>; a
// restore makes a writable snapshot of one beside SYSTEM_ROOT and swaps the two in one
// renameat2(RENAME_EXCHANGE), so SYSTEM_ROOT must not itself be a mount point. The
// descriptors are borrowed: `root_fd` is SYSTEM_ROOT, `parent_fd` its parent directory, both
// opened by the helper without following links and checked to be root's.
inline constexpr std::string_view kSystemSnapshotsDir = ".countersign-system-snapshots";
struct SystemSnapshotContext {
  const Config* config = nullptr;
  int root_fd = -1;
  int parent_fd = -1;
  Clock clock;
  std::function<std::uint32_t()> random;
  CommandRunner run;
};
Result<std::unique_ptr<SnapshotBackend>> make_system_snapshot_backend(const SystemSnapshotContext& context);

// The zfs backend without the mount check, for tests with a fake runner. `mountpoint`: the
// models directory, resolved (where a restored dataset is mounted).
std::unique_ptr<SnapshotBackend> make_zfs_backend(const std::string& dataset, const std::string& mountpoint,
                                                  Clock clock, std::function<std::uint32_t()> random,
                                                  CommandRunner run);

// 32 random bits for snapshot ids (getrandom(2)); uniqueness, not secrecy, is what matters.
std::uint32_t random_u32();

}  // namespace countersign::daemon
