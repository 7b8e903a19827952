#include "system/fs_at.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>  // renameat2, RENAME_NOREPLACE
#include <cstring>

namespace countersign::daemon {
namespace {

Error io_error(const std::string& what, const std::string& shown, int e) {
  return Error(e == ENOENT ? Errc::kNotFound : Errc::kIo, what + " " + shown + ": " + std::strerror(e));
}

// Passes over a directory while removing it: entries created by someone else meanwhile are
// removed on the next pass; after this many the removal gives up instead of looping.
constexpr int kRemovePasses = 4;

Result<bool> remove_tree_impl(int dirfd, const std::string& name, const std::string& shown, int depth) {
  CS_TRY(auto st, stat_at(dirfd, name, shown));
  if (!st) return false;
  if (!S_ISDIR(st->st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
      return io_error("cannot remove", shown, errno);
    return true;
  }
  if (depth >= kMaxTreeDepth) {
    return Error(Errc::kIo, "cannot remove " + shown + ": nested deeper than " +
                                std::to_string(kMaxTreeDepth) + " directories");
  }
  struct stat parent {};
  if (::fstat(dirfd, &parent) != 0) return io_error("cannot stat the directory holding", shown, errno);
  if (st->st_dev != parent.st_dev) {
    return Error(Errc::kIo, "not removing " + shown +
                                ": it is another file system (a mount point or a btrfs subvolume)");
  }
  CS_TRY(UniqueFd fd, open_directory_at(dirfd, name, shown));
  struct stat self {};
  if (::fstat(fd.get(), &self) != 0) return io_error("cannot stat", shown, errno);
  if (self.st_ino != st->st_ino || self.st_dev != st->st_dev) {
    return Error(Errc::kIo, "not removing " + shown + ": it was replaced while being opened");
  }
  // Read-only trees (models are 0555) cannot be emptied by a non-root owner until the
  // directory is writable again; root needs no permission bits.
  if (self.st_uid == ::geteuid() && (self.st_mode & 0700) != 0700) {
    if (::fchmod(fd.get(), (self.st_mode & 07777) | 0700) != 0)
      return io_error("cannot make writable", shown, errno);
  }
  for (int pass = 0;; ++pass) {
    CS_TRY(auto names, list_directory(fd.get(), std::size_t{1} << 24, shown));
    if (names.empty()) break;
    if (pass == kRemovePasses) {
      return Error(Errc::kIo, "cannot remove " + shown + ": entries keep appearing in it");
    }
    for (const auto& child : names) {
      CS_TRY_VOID(remove_tree_impl(fd.get(), child, shown + "/" + child, depth + 1));
    }
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return io_error("cannot remove", shown, errno);
  }
  return true;
}

}  // namespace

Result<UniqueFd> open_directory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", path, errno);
  return UniqueFd(fd);
}

Result<UniqueFd> open_directory_at(int dirfd, const std::string& name, const std::string& shown) {
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return UniqueFd(fd);
  const int e = errno;
  if (e == ELOOP || e == ENOTDIR) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return Error(Errc::kIo, shown + " is " + describe_file_type(st.st_mode) + ", not a directory");
    }
  }
  return io_error("cannot open directory", shown, e);
}

Result<std::optional<struct stat>> stat_at(int dirfd, const std::string& name, const std::string& shown) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return std::optional<struct stat>(st);
  if (errno == ENOENT) return std::optional<struct stat>();
  return io_error("cannot stat", shown, errno);
}

Result<std::vector<std::string>> list_directory(int dirfd, std::size_t max_entries,
                                                const std::string& shown) {
  // fdopendir takes ownership of its descriptor, so it gets a duplicate; the duplicate shares
  // the read offset, hence the rewind.
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return io_error("cannot read directory", shown, errno);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    const int e = errno;
    ::close(dup);
    return io_error("cannot read directory", shown, e);
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  std::optional<Error> failure;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) failure = io_error("cannot read directory", shown, errno);
      break;
    }
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (names.size() == max_entries) {
      failure = Error(Errc::kIo,
                      shown + " holds more than the " + std::to_string(max_entries) + " entries expected");
      break;
    }
    names.push_back(std::move(name));
  }
  ::closedir(dir);
  if (failure) return *failure;
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> read_regular_file_at(int dirfd, const std::string& name, std::uint64_t max_size,
                                         const std::string& shown) {
  // Look before opening: opening a device or a FIFO can have effects of its own.
  CS_TRY(auto st, stat_at(dirfd, name, shown));
  if (!st) return Error(Errc::kNotFound, shown + " does not exist");
  if (!S_ISREG(st->st_mode))
    return Error(Errc::kIo, shown + " is " + describe_file_type(st->st_mode) + ", not a regular file");
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open", shown, errno);
  struct stat opened {};
  if (::fstat(fd.get(), &opened) != 0) return io_error("cannot stat", shown, errno);
  if (!S_ISREG(opened.st_mode)) return Error(Errc::kIo, shown + " is not a regular file");
  if (static_cast<std::uint64_t>(opened.st_size) > max_size) {
    return Error(Errc::kInvalidArgument, shown + " is larger than " + std::to_string(max_size) + " bytes");
  }
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", shown, errno);
    }
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > max_size) {
      return Error(Errc::kInvalidArgument, shown + " is larger than " + std::to_string(max_size) + " bytes");
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

Result<void> sync_fd(int fd, const std::string& shown) {
  if (::fsync(fd) != 0) return io_error("cannot sync", shown, errno);
  return {};
}

Result<void> rename_noreplace(int from_dir, const std::string& from, int to_dir, const std::string& to,
                              const std::string& shown_to) {
  if (::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return {};
  const int e = errno;
  if (e == EEXIST) return Error(Errc::kRejected, shown_to + " already exists");
  if (e == EXDEV) {
    return Error(Errc::kIo, "cannot move to " + shown_to +
                                ": it is on another file system (the staging directory must be a plain "
                                "directory inside the models directory)");
  }
  return io_error("cannot move to", shown_to, e);
}

Result<bool> remove_tree_at(int dirfd, const std::string& name, const std::string& shown) {
  return remove_tree_impl(dirfd, name, shown, 0);
}

Result<void> check_root_only(int fd, const std::string& shown) {
  if (::geteuid() != 0) return {};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", shown, errno);
  if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
    return Error(Errc::kRejected, shown + " must be owned by root and writable only by root (it is uid " +
                                      std::to_string(st.st_uid) + ", mode " + mode_string(st.st_mode) + ")");
  }
  return {};
}

std::string mode_string(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string describe_file_type(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFLNK:
      return "a symbolic link";
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFDIR:
      return "a directory";
    case S_IFREG:
      return "a regular file";
    default:
      return "an unknown kind of file";
  }
}

}  // namespace countersign::daemon
