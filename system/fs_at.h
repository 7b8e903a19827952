// File system operations relative to directory descriptors, for the privileged helper
// (countersign-system). Every name is one path component looked up in a directory the caller
// already holds open, with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW: a symbolic link planted by the
// daemon's user is never followed, and a directory renamed away after it was opened cannot
// redirect the walk. Errors are kIo (or kNotFound) and name `shown`, the path as a person
// would write it; descriptors are never printed.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace countersign::daemon {

// Deepest directory nesting the helper walks or removes; deeper trees are refused.
inline constexpr int kMaxTreeDepth = 64;

// Opens an absolute directory path from the root-owned configuration (symlinks in it are the
// administrator's and are followed).
Result<UniqueFd> open_directory(const std::string& path);

// Opens directory `name` inside `dirfd` without following a symlink. kNotFound when absent;
// kIo "… is a symbolic link" / "… is not a directory" otherwise.
Result<UniqueFd> open_directory_at(int dirfd, const std::string& name, const std::string& shown);

// lstat of one entry (AT_SYMLINK_NOFOLLOW); nullopt when it does not exist.
Result<std::optional<struct stat>> stat_at(int dirfd, const std::string& name, const std::string& shown);

// The entries of an open directory, sorted, without "." and "..". Fails when there are more
// than `max_entries` (the caller knows how many it expects).
Result<std::vector<std::string>> list_directory(int dirfd, std::size_t max_entries, const std::string& shown);

// Reads regular file `name` in `dirfd` (O_NOFOLLOW; refuses anything that is not a regular
// file, without opening devices or FIFOs); kInvalidArgument when larger than `max_size`.
Result<std::string> read_regular_file_at(int dirfd, const std::string& name, std::uint64_t max_size,
                                         const std::string& shown);

// fsync(2), naming `shown` on failure.
Result<void> sync_fd(int fd, const std::string& shown);

// renameat2(RENAME_NOREPLACE): never replaces an existing `to` (kRejected "… already exists").
Result<void> rename_noreplace(int from_dir, const std::string& from, int to_dir, const std::string& to,
                              const std::string& shown_to);

// Removes `name` in `dirfd` with everything under it. Never follows a symlink (a link is
// removed, not its target), never descends into another file system (a mount point or a
// btrfs subvolume is refused), makes directories it owns writable first where needed (trees
// the helper made read-only), and gives up after kMaxTreeDepth levels or when entries keep
// appearing. Returns false when nothing was there.
Result<bool> remove_tree_at(int dirfd, const std::string& name, const std::string& shown);

// Directories the helper keeps for itself (models, snapshots) must not be writable by the
// daemon's user, or it could plant entries there. Running as root: kRejected unless owned by
// root with no group or other write bit. Not root (tests): no check.
Result<void> check_root_only(int fd, const std::string& shown);

// "0755": the permission bits of a mode, for messages.
std::string mode_string(mode_t mode);

// "a symbolic link", "a FIFO", "a socket", "a character device", "a block device",
// "a directory", "a regular file": for messages.
std::string describe_file_type(mode_t mode);

}  // namespace countersign::daemon
