#include "core/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>  // renameat2, RENAME_NOREPLACE
#include <cstring>
#include <filesystem>
#include <iterator>
#include <random>

namespace countersign {

using nlohmann::json;

namespace {

Error io_error(const std::string& what, const std::string& path, int e = errno) {
  return Error(Errc::kIo, what + " " + path + ": " + std::strerror(e));
}

Error already_exists(const std::string& path) {
  return Error(Errc::kInvalidArgument, path + " already exists; refusing to overwrite it");
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Moves `tmp` to `path`. With `exclusive` the move itself refuses an existing `path`
// (renameat2 RENAME_NOREPLACE, or link() where the file system lacks it), so a file created
// after the caller's check is not clobbered either.
Result<void> move_into_place(const std::string& tmp, const std::string& path, bool exclusive) {
  if (!exclusive) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename a temporary file to", path);
    return {};
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return {};
  int e = errno;
  if (e == EINVAL || e == ENOSYS) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return {};
    }
    e = errno;
  }
  if (e == EEXIST) return already_exists(path);
  return io_error("cannot rename a temporary file to", path, e);
}

// Integral doubles within 2^53 become integers, so dump() prints 42 rather than 42.0.
void integralize(json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740991.0) {
      if (d >= 0) {
        v = static_cast<std::uint64_t>(d);
      } else {
        v = static_cast<std::int64_t>(d);
      }
    }
  } else if (v.is_object() || v.is_array()) {
    for (auto& child : v) integralize(child);
  }
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::uint64_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(Errc::kIo, "cannot read " + path + ": it is a directory");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = io_error("cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_size) {
      ::close(fd);
      return Error(Errc::kInvalidArgument, path + " is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

Result<std::string> read_file_or_stdin(const std::string& path, std::istream& in, std::uint64_t max_size) {
  if (path != "-") return read_file(path, max_size);
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<std::size_t>(in.gcount()));
    if (out.size() > max_size) {
      return Error(Errc::kInvalidArgument,
                   "standard input is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  return out;
}

Result<void> refuse_existing(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return already_exists(path);
  return {};
}

Result<void> write_output_file(const std::string& path, std::string_view data, mode_t mode) {
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0) {
    if (errno != ENOENT) return io_error("cannot inspect", path);
    return write_file_atomic(path, data, mode);
  }
  if (S_ISREG(lst.st_mode)) return write_file_atomic(path, data, mode);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (S_ISLNK(lst.st_mode)) {
      return Error(Errc::kInvalidArgument, path + " is a symbolic link to nothing; not writing through it");
    }
    return io_error("cannot inspect", path);
  }
  if (S_ISDIR(st.st_mode)) return Error(Errc::kInvalidArgument, path + " is a directory");
  if (S_ISREG(st.st_mode)) {
    // A link to a regular file: that file is replaced, the link kept.
    std::error_code ec;
    auto target = std::filesystem::canonical(path, ec);
    if (ec) return Error(Errc::kIo, "cannot resolve " + path + ": " + ec.message());
    return write_file_atomic(target.string(), data, mode);
  }
  if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    return Error(Errc::kInvalidArgument, path + " is neither a file, a device nor a FIFO");
  }
  // A device or FIFO is written, never replaced (no O_CREAT: it exists; no O_TRUNC).
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  auto written = write_all(fd, data, path);
  if (::close(fd) != 0 && written.ok()) return io_error("cannot write", path);
  return written;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode, bool exclusive) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (exclusive) CS_TRY_VOID(refuse_existing(path));
  // The temp file is created 0600 with O_EXCL (never someone else's file, never readable by
  // others while being written) and only then given `mode`.
  std::random_device rd;
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(rd()))).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) return io_error("cannot create a temporary file next to", path);
  }
  if (fd < 0) return Error(Errc::kIo, "cannot create a temporary file next to " + path);
  // fchmod rather than open's mode: the umask may have taken bits away.
  Result<void> r = ::fchmod(fd, mode) == 0 ? Result<void>() : io_error("cannot set the mode of", tmp);
  if (r.ok()) r = write_all(fd, data, tmp);
  if (r.ok() && ::fsync(fd) != 0) r = io_error("cannot fsync", tmp);
  if (::close(fd) != 0 && r.ok()) r = io_error("cannot close", tmp);
  if (r.ok()) r = move_into_place(tmp, path, exclusive);
  if (!r.ok()) {
    ::unlink(tmp.c_str());
    return r;
  }
  // The new name is durable only once the directory is.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("cannot open directory", dir.string());
  const bool synced = ::fsync(dfd) == 0;
  const int e = errno;
  ::close(dfd);
  if (!synced) return io_error("cannot fsync directory", dir.string(), e);
  return {};
}

std::string to_pretty_json(const json& value) {
  json copy = value;
  integralize(copy);
  return copy.dump(2) + "\n";
}

}  // namespace countersign
