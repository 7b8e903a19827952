#include "core/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <random>

namespace countersign {

using nlohmann::json;

namespace {

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::kIo, what + " " + path + ": " + std::strerror(errno));
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
      return Error(Errc::kInvalidArgument, "standard input is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  return out;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode, bool exclusive) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (exclusive && ::access(path.c_str(), F_OK) == 0) {
    return Error(Errc::kInvalidArgument, path + " already exists; refusing to overwrite it");
  }
  std::random_device rd;
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(rd()))).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) return io_error("cannot create a temporary file next to", path);
  }
  if (fd < 0) return Error(Errc::kIo, "cannot create a temporary file next to " + path);
  auto fail = [&](const char* what) {
    Error e = io_error(what, path);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    Error e = io_error("cannot close", path);
    ::unlink(tmp.c_str());
    return e;
  }
  if (exclusive) {
    // link() fails if the target appeared meanwhile, so we never replace a file we were
    // told not to.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      Error e = errno == EEXIST ? Error(Errc::kInvalidArgument, path + " already exists; refusing to overwrite it")
                                : io_error("cannot create", path);
      ::unlink(tmp.c_str());
      return e;
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = io_error("cannot rename into", path);
    ::unlink(tmp.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::string to_pretty_json(const json& value) {
  json copy = value;
  integralize(copy);
  return copy.dump(2) + "\n";
}

}  // namespace countersign
