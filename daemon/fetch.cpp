#include "daemon/fetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "core/unique_fd.h"

namespace countersign::daemon {

namespace {

using Clock = std::chrono::steady_clock;

// A connection that drops mid-file is resumed on the same source this many times before
// the next source is tried.
constexpr int kResumesPerSource = 2;
// A source below this rate for FetchSettings::stall_timeout_seconds is dropped.
constexpr long kStallBytesPerSecond = 1024;
constexpr auto kProgressInterval = std::chrono::milliseconds(200);
constexpr int kPollMilliseconds = 200;
constexpr long kCurlBufferSize = 256 * 1024;
constexpr std::size_t kHashBufferSize = 1 << 20;

// ---- RAII owners (STYLE.md: one for every C handle) ----

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const { curl_multi_cleanup(h); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;
struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};
struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) std::abort();
  });
}

std::string errno_text(int e) { return std::strerror(e); }

// The staging-relative directory holding `path` ("." at the top), for messages.
std::string parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string(".") : std::string(path.substr(0, slash));
}

Error io_error(const std::string& what, const std::string& path, int e) {
  return make_error(Errc::kIo, what + " " + path + " in staging: " + errno_text(e));
}

Error tampered(const std::string& rel, const std::string& what) {
  return make_error(Errc::kInvalidArgument, "staging was tampered with: " + rel + " " + what);
}

// What an entry found in staging is, without following it.
enum class Entry { kAbsent, kRegular, kDirectory, kSymlink, kOther };

Result<Entry> probe(int dir, const std::string& name, const std::string& rel) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Entry::kAbsent;
    return io_error("cannot inspect", rel, errno);
  }
  if (S_ISLNK(st.st_mode)) return Entry::kSymlink;
  if (S_ISREG(st.st_mode)) return Entry::kRegular;
  if (S_ISDIR(st.st_mode)) return Entry::kDirectory;
  return Entry::kOther;
}

// The error for an entry that should have been a regular file (or directory) and is not.
Error not_expected(Entry e, const std::string& rel, bool want_directory) {
  if (e == Entry::kSymlink) return tampered(rel, "is a symlink");
  return tampered(rel, want_directory ? "is not a directory" : "is not a regular file");
}

// Opens `name` in `dir` without following a symlink; O_NONBLOCK so a FIFO planted there
// cannot block us before fstat shows it is not a regular file.
Result<UniqueFd> open_regular(int dir, const std::string& name, const std::string& rel, int flags,
                              mode_t mode = 0644) {
  UniqueFd fd(::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (!fd.valid()) {
    int e = errno;
    if (e == ELOOP) return tampered(rel, "is a symlink");
    return io_error("cannot open", rel, e);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot inspect", rel, errno);
  if (!S_ISREG(st.st_mode)) return tampered(rel, "is not a regular file");
  return fd;
}

Result<void> fsync_fd(int fd, const std::string& rel) {
  if (::fsync(fd) != 0) return io_error("cannot sync", rel, errno);
  return {};
}

// Opens (creating as needed) the directory that holds manifest path `path` inside the
// staging directory `root`, one component at a time with O_NOFOLLOW.
Result<UniqueFd> open_parent(int root, std::string_view path) {
  UniqueFd dir(::dup(root));
  if (!dir.valid()) return io_error("cannot use", ".", errno);
  std::size_t start = 0;
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', start)) {
    std::string name(path.substr(start, slash - start));
    std::string rel(path.substr(0, slash));
    if (::mkdirat(dir.get(), name.c_str(), 0755) == 0) {
      CS_TRY_VOID(fsync_fd(dir.get(), parent_of(rel)));  // the new entry is durable
    } else if (errno != EEXIST) {
      return io_error("cannot create directory", rel, errno);
    }
    UniqueFd next(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      int e = errno;
      if (e == ELOOP || e == ENOTDIR) {
        CS_TRY(Entry kind, probe(dir.get(), name, rel));
        return not_expected(kind, rel, true);
      }
      return io_error("cannot open directory", rel, e);
    }
    dir = std::move(next);
    start = slash + 1;
  }
  return dir;
}

Result<void> write_all(int fd, const char* data, std::size_t n, const std::string& rel) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", rel, errno);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

std::string percent_encode_segments(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    // curl_easy_escape keeps only RFC 3986 unreserved characters. (A length of 0 would
    // make it call strlen: empty segments, as before the leading '/', are skipped.)
    if (!seg.empty()) {
      std::unique_ptr<char, CurlFree> enc(
          curl_easy_escape(nullptr, seg.data(), static_cast<int>(seg.size())));
      if (!enc) std::abort();
      out += enc.get();
    }
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

// A Sha256 we can reset without finishing into a named value.
void reset_hash(Sha256& h) { (void)h.finish(); }

// Whether `name` is the decimal index of one of `count` files, written as std::to_string
// writes it ("7", never "07" or "+7"): the only names the parts directory may hold.
bool is_file_index(std::string_view name, std::size_t count) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  return ec == std::errc() && end == name.data() + name.size() && value < count &&
         std::to_string(value) == name;
}

}  // namespace

std::string fetch_url(const Source& source, std::string_view path) {
  if (source.type == Source::Type::kFile) {
    init_curl_once();
    return "file://" + percent_encode_segments(source.location_of(path));
  }
  return source.location_of(path);
}

RequestPlan plan_request(const Source& source, std::string_view path, const FetchSettings& settings) {
  RequestPlan plan;
  plan.url = fetch_url(source, path);
  if (source.type == Source::Type::kFile) {
    plan.protocols = "file";
    return plan;
  }
  plan.protocols = "http,https";
  plan.follow_redirects = settings.max_redirects > 0;
  plan.bearer_token = source.type == Source::Type::kHuggingFace && settings.hf_token.has_value();
  // The region is part of the signing scope: only a validated one (the URL is empty otherwise).
  if (source.type == Source::Type::kS3 && settings.s3.has_value() &&
      (source.region.empty() || is_s3_region(source.region))) {
    plan.aws_sigv4 = "aws:amz:" + (source.region.empty() ? std::string("us-east-1") : source.region) + ":s3";
  }
  return plan;
}

namespace {

class Fetcher;

// How one attempt at one source ended badly, decided while the bytes streamed in.
struct Verdict {
  FetchEvent::Kind kind = FetchEvent::Kind::kSourceFailed;
  std::string reason;
};

// One manifest file: where it is in staging, the bytes so far and their running hash, the
// source being tried and, while a request runs, its libcurl handle.
struct Job {
  Fetcher* owner = nullptr;
  std::size_t index = 0;
  const ManifestFile* file = nullptr;
  std::string leaf;       // last path segment
  std::string part_name;  // decimal index: the partial file's name in the parts directory
  std::string part_rel;   // "<staging name>.parts/<index>", for messages
  bool done = false;

  Sha256 hash;  // over bytes [0, offset) of the partial file
  std::uint64_t offset = 0;
  std::uint64_t inherited = 0;  // leading bytes not fetched from the current source
  std::size_t source = 0;
  int resumes_left = kResumesPerSource;
  std::vector<std::string> failures;  // "<source>: <reason>", one per source given up on

  // While a transfer runs.
  UniqueFd dir;   // the staging directory that will hold `path`
  UniqueFd part;  // the partial file, in the parts directory
  EasyPtr easy;
  std::uint64_t request_start = 0;
  std::uint64_t received = 0;  // body bytes of this request
  bool response_checked = false;
  std::int64_t content_range_start = -1;
  std::optional<Verdict> verdict;
  std::optional<Error> fatal;  // local failure (disk full, ...): ends the whole fetch
  Clock::time_point last_progress{};
  char errbuf[CURL_ERROR_SIZE] = {};
};

class Fetcher {
 public:
  Fetcher(const Manifest& manifest, std::span<const Source> mirrors, const FetchSettings& settings,
          const FetchObserver& observer)
      : manifest_(manifest), settings_(settings), observer_(observer) {
    for (const Source& s : mirrors) sources_.push_back(&s);
    for (const Source& s : manifest.sources()) sources_.push_back(&s);
  }
  ~Fetcher() {
    for (auto& job : jobs_) detach(*job);
  }
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  Result<void> run(const std::string& staging_dir);

  static size_t on_write(char* data, size_t size, size_t nmemb, void* user);
  static size_t on_header(char* data, size_t size, size_t nitems, void* user);

 private:
  bool cancelled() const { return observer_.cancelled && observer_.cancelled(); }
  // The event names the job's current source unless `no_source` (a file found in staging).
  void emit(FetchEvent::Kind kind, const Job& job, std::string reason, bool no_source = false) const;
  void progress(Job& job, bool force);
  const Source& source_of(const Job& job) const { return *sources_[job.source]; }

  Result<void> open_staging(const std::string& staging_dir);
  Result<void> open_parts(bool create);
  Result<void> check_parts();
  Result<void> remove_parts();
  Result<void> prepare(Job& job);
  // Feeds the whole file to `h`; returns how many bytes it read.
  Result<std::uint64_t> hash_fd(int fd, const std::string& rel, Sha256& h);
  Result<void> start(Job& job);
  Result<void> configure(Job& job);
  Result<void> finish(Job& job, CURLcode rc);
  Result<void> install(Job& job);
  Result<void> gave_wrong_bytes(Job& job, const std::string& reason);
  Result<void> failed(Job& job, const std::string& reason);
  Result<void> next_source(Job& job);
  Result<void> restart_from_zero(Job& job);
  bool check_response(Job& job);
  std::string failure_reason(Job& job, CURLcode rc) const;
  void detach(Job& job);

  const Manifest& manifest_;
  const FetchSettings& settings_;
  const FetchObserver& observer_;
  std::vector<const Source*> sources_;
  UniqueFd parent_;         // the directory holding the staging directory and its parts directory
  UniqueFd root_;           // the staging directory: complete, verified files only
  UniqueFd parts_;          // <staging>.parts, once it exists: partial files named by index
  std::string parts_name_;  // "<staging name>.parts", its name in parent_ and in messages
  SlistPtr connect_to_;     // settings_.connect_to, shared by every request
  MultiPtr multi_;
  std::vector<std::unique_ptr<Job>> jobs_;
  std::vector<char> hash_buffer_;
};

void Fetcher::emit(FetchEvent::Kind kind, const Job& job, std::string reason, bool no_source) const {
  if (!observer_.on_event) return;
  FetchEvent ev;
  ev.kind = kind;
  ev.path = job.file->path;
  if (!no_source && job.source < sources_.size()) ev.source = source_of(job).describe();
  ev.reason = std::move(reason);
  observer_.on_event(ev);
}

void Fetcher::progress(Job& job, bool force) {
  if (!observer_.on_progress) return;
  auto now = Clock::now();
  if (!force && now - job.last_progress < kProgressInterval) return;
  job.last_progress = now;
  FileProgress p;
  p.file = job.index;
  p.done = job.offset;
  p.total = job.file->size;
  if (job.easy) p.source = source_of(job).describe();
  observer_.on_progress(p);
}

Result<std::uint64_t> Fetcher::hash_fd(int fd, const std::string& rel, Sha256& h) {
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  hash_buffer_.resize(kHashBufferSize);
  std::uint64_t total = 0;
  for (;;) {
    if (cancelled()) return make_error(Errc::kInternal, "cancelled");
    ssize_t n = ::read(fd, hash_buffer_.data(), hash_buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", rel, errno);
    }
    if (n == 0) break;
    h.update(
        ByteView(reinterpret_cast<const std::uint8_t*>(hash_buffer_.data()), static_cast<std::size_t>(n)));
    total += static_cast<std::uint64_t>(n);
  }
  return total;
}

// Opens the staging directory and the directory holding it (where the parts directory goes),
// without following a symlink in place of the staging directory: both must be on one file
// system for a partial file to be renamed into staging.
Result<void> Fetcher::open_staging(const std::string& staging_dir) {
  std::string path = staging_dir;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return make_error(Errc::kInvalidArgument, "the staging directory " + staging_dir +
                                                  " has no name of its own for a parts directory beside it");
  }
  parent_ = UniqueFd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_.valid()) {
    return make_error(Errc::kIo,
                      "cannot open " + parent + ", which holds the staging directory: " + errno_text(errno));
  }
  root_ = UniqueFd(::openat(parent_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_.valid()) {
    return make_error(Errc::kIo, "cannot open staging directory " + staging_dir + ": " + errno_text(errno));
  }
  parts_name_ = name + ".parts";
  return {};
}

// Opens <staging>.parts when it exists, or creates it (0750) first when `create`.
Result<void> Fetcher::open_parts(bool create) {
  if (parts_.valid()) return {};
  if (create) {
    if (::mkdirat(parent_.get(), parts_name_.c_str(), 0750) == 0) {
      CS_TRY_VOID(fsync_fd(parent_.get(), parts_name_));  // the new entry is durable
    } else if (errno != EEXIST) {
      return io_error("cannot create directory", parts_name_, errno);
    }
  }
  parts_ =
      UniqueFd(::openat(parent_.get(), parts_name_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (parts_.valid()) return {};
  const int e = errno;
  if (e == ENOENT && !create) return {};
  if (e == ELOOP || e == ENOTDIR) {
    CS_TRY(Entry kind, probe(parent_.get(), parts_name_, parts_name_));
    return not_expected(kind, parts_name_, true);
  }
  return io_error("cannot open directory", parts_name_, e);
}

// What a previous run left in the parts directory must be partial files of this manifest:
// regular files named by a file's index. Anything else was put there by someone else.
Result<void> Fetcher::check_parts() {
  // fdopendir takes ownership of its descriptor, so it gets a duplicate (sharing the offset).
  const int dup = ::fcntl(parts_.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return io_error("cannot read directory", parts_name_, errno);
  DirPtr dir(::fdopendir(dup));
  if (!dir) {
    const int e = errno;
    ::close(dup);
    return io_error("cannot read directory", parts_name_, e);
  }
  ::rewinddir(dir.get());
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return io_error("cannot read directory", parts_name_, errno);
      return {};
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string rel = parts_name_ + "/" + name;
    if (!is_file_index(name, manifest_.files().size())) {
      return tampered(rel, "is not named by the index of a file of this manifest");
    }
    CS_TRY(Entry kind, probe(parts_.get(), name, rel));
    if (kind != Entry::kRegular && kind != Entry::kAbsent) return not_expected(kind, rel, false);
  }
}

// Once every file verified the parts directory is empty (each partial file was renamed into
// staging or removed) and goes.
Result<void> Fetcher::remove_parts() {
  parts_.reset();
  if (::unlinkat(parent_.get(), parts_name_.c_str(), AT_REMOVEDIR) != 0) {
    const int e = errno;
    if (e == ENOENT) return {};
    if (e == ENOTEMPTY || e == EEXIST) return tampered(parts_name_, "holds files after every file verified");
    if (e == ENOTDIR) {
      CS_TRY(Entry kind, probe(parent_.get(), parts_name_, parts_name_));
      return not_expected(kind, parts_name_, true);
    }
    return io_error("cannot remove directory", parts_name_, e);
  }
  return fsync_fd(parent_.get(), parts_name_);  // the removal is durable
}

// Looks at what a previous run left: a complete file at <staging>/<path> is re-hashed and
// kept when it matches, deleted otherwise; a shorter partial file <staging>.parts/<index> is
// hashed so the transfer resumes after it.
Result<void> Fetcher::prepare(Job& job) {
  const ManifestFile& f = *job.file;
  CS_TRY(UniqueFd dir, open_parent(root_.get(), f.path));
  CS_TRY(Entry final_kind, probe(dir.get(), job.leaf, f.path));
  Entry part_kind = Entry::kAbsent;
  if (parts_.valid()) {
    CS_TRY(part_kind, probe(parts_.get(), job.part_name, job.part_rel));
  }
  if (final_kind != Entry::kAbsent && final_kind != Entry::kRegular)
    return not_expected(final_kind, f.path, false);
  if (part_kind != Entry::kAbsent && part_kind != Entry::kRegular)
    return not_expected(part_kind, job.part_rel, false);

  if (final_kind == Entry::kRegular) {
    CS_TRY(UniqueFd fd, open_regular(dir.get(), job.leaf, f.path, O_RDONLY));
    Sha256 h;
    CS_TRY(std::uint64_t n, hash_fd(fd.get(), f.path, h));
    if (n == f.size && h.finish() == f.sha256) {
      if (part_kind == Entry::kRegular && ::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0) {
        return io_error("cannot remove", job.part_rel, errno);
      }
      job.done = true;
      job.offset = n;
      emit(FetchEvent::Kind::kFileVerified, job, "already in staging", true);
      progress(job, true);
      return {};
    }
    if (::unlinkat(dir.get(), job.leaf.c_str(), 0) != 0) return io_error("cannot remove", f.path, errno);
  }

  if (part_kind == Entry::kRegular) {
    CS_TRY(UniqueFd fd, open_regular(parts_.get(), job.part_name, job.part_rel, O_RDONLY));
    CS_TRY(std::uint64_t n, hash_fd(fd.get(), job.part_rel, job.hash));
    job.offset = n;
    if (n > f.size || (n == f.size && job.hash.finish() != f.sha256)) {
      // Not a prefix of the right file: start again.
      reset_hash(job.hash);
      job.offset = 0;
      if (::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0)
        return io_error("cannot remove", job.part_rel, errno);
    } else if (n == f.size) {
      job.dir = std::move(dir);
      job.part = std::move(fd);
      return install(job);
    }
  }
  job.inherited = job.offset;
  progress(job, true);
  return {};
}

Result<void> Fetcher::start(Job& job) {
  job.verdict.reset();
  job.response_checked = false;
  job.content_range_start = -1;
  job.received = 0;
  job.errbuf[0] = '\0';
  if (!job.dir.valid()) {
    CS_TRY(job.dir, open_parent(root_.get(), job.file->path));
  }
  if (!job.part.valid()) {
    CS_TRY(job.part, open_regular(parts_.get(), job.part_name, job.part_rel, O_WRONLY | O_CREAT));
  }
  struct stat st {};
  if (::fstat(job.part.get(), &st) != 0) return io_error("cannot inspect", job.part_rel, errno);
  if (static_cast<std::uint64_t>(st.st_size) < job.offset) {
    // Some of the bytes the running hash covers are no longer on disk (the partial file was
    // removed or cut since they were hashed): extending it would put zeros under a hash of
    // other bytes. Start again from byte 0 instead.
    reset_hash(job.hash);
    job.offset = 0;
    job.inherited = 0;
  }
  job.request_start = job.offset;
  // Everything after `offset` is dropped: the next bytes go right after the hashed ones.
  if (::ftruncate(job.part.get(), static_cast<off_t>(job.offset)) != 0) {
    return io_error("cannot truncate", job.part_rel, errno);
  }
  if (::lseek(job.part.get(), static_cast<off_t>(job.offset), SEEK_SET) < 0) {
    return io_error("cannot seek in", job.part_rel, errno);
  }
  CS_TRY_VOID(configure(job));
  if (curl_multi_add_handle(multi_.get(), job.easy.get()) != CURLM_OK) {
    return make_error(Errc::kInternal, "curl_multi_add_handle failed");
  }
  progress(job, true);
  return {};
}

Result<void> Fetcher::configure(Job& job) {
  const Source& src = source_of(job);
  RequestPlan plan = plan_request(src, job.file->path, settings_);
  job.easy.reset(curl_easy_init());
  CURL* h = job.easy.get();
  if (h == nullptr) return make_error(Errc::kInternal, "curl_easy_init failed");
  bool ok = true;
  auto set = [&](CURLcode rc) { ok = ok && rc == CURLE_OK; };
  set(curl_easy_setopt(h, CURLOPT_URL, plan.url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_PRIVATE, &job));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, plan.protocols.c_str()));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, job.errbuf));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Fetcher::on_write));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &job));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &Fetcher::on_header));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &job));
  set(curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kCurlBufferSize));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings_.connect_timeout_seconds)));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, kStallBytesPerSecond));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.stall_timeout_seconds)));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, "countersignd"));
  if (job.offset > 0) {
    // CURLOPT_RANGE rather than CURLOPT_RESUME_FROM_LARGE: a server that ignores Range
    // answers 200 and we start again from byte 0 (check_response) instead of failing.
    std::string range = std::to_string(job.offset) + "-";
    set(curl_easy_setopt(h, CURLOPT_RANGE, range.c_str()));
  }
  if (src.type != Source::Type::kFile) {
    // HTTP errors become CURLE_HTTP_RETURNED_ERROR; their bodies never reach on_write.
    set(curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L));
    set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, plan.follow_redirects ? 1L : 0L));
    set(curl_easy_setopt(h, CURLOPT_MAXREDIRS, settings_.max_redirects));
    set(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    if (!settings_.ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str()));
    if (connect_to_) set(curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to_.get()));
  }
  if (plan.bearer_token) {
    // libcurl keeps its own copy until the handle is cleaned up; the NUL-terminated copy we
    // hand it lives in guarded memory and is wiped right after.
    const SecretBytes& token = *settings_.hf_token;
    SecretBytes z(token.size() + 1);
    if (!token.empty()) std::memcpy(z.data(), token.data(), token.size());
    set(curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER));
    set(curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, reinterpret_cast<const char*>(z.data())));
  }
  if (!plan.aws_sigv4.empty()) {
    const S3Credentials& c = *settings_.s3;
    SecretBytes z(c.secret_access_key.size() + 1);
    if (!c.secret_access_key.empty())
      std::memcpy(z.data(), c.secret_access_key.data(), c.secret_access_key.size());
    set(curl_easy_setopt(h, CURLOPT_AWS_SIGV4, plan.aws_sigv4.c_str()));
    set(curl_easy_setopt(h, CURLOPT_USERNAME, c.access_key_id.c_str()));
    set(curl_easy_setopt(h, CURLOPT_PASSWORD, reinterpret_cast<const char*>(z.data())));
  }
  if (!ok) return make_error(Errc::kInternal, "libcurl refused an option for " + src.describe());
  return {};
}

size_t Fetcher::on_header(char* data, size_t size, size_t nitems, void* user) {
  auto* job = static_cast<Job*>(user);
  std::size_t n = size * nitems;
  std::string_view line(data, n);
  auto starts_with_nocase = [&](std::string_view prefix) {
    if (line.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      char c = line[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with_nocase("http/")) {
    job->content_range_start = -1;  // a new response (after a redirect or 100 Continue)
  } else if (starts_with_nocase("content-range:")) {
    // RFC 9110 14.4: "Content-Range: bytes FIRST-LAST/COMPLETE"
    std::string_view v = line.substr(std::string_view("content-range:").size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (v.substr(0, 6) == "bytes ") {
      v.remove_prefix(6);
      std::int64_t first = 0;
      std::size_t digits = 0;
      while (digits < v.size() && digits < 18 && v[digits] >= '0' && v[digits] <= '9') {
        first = first * 10 + (v[digits] - '0');
        ++digits;
      }
      if (digits > 0 && digits < v.size() && v[digits] == '-') job->content_range_start = first;
    }
  }
  return n;
}

// Called with the first body bytes of a response: is this the response we asked for?
bool Fetcher::check_response(Job& job) {
  const Source& src = source_of(job);
  const std::uint64_t size = job.file->size;
  long code = 0;
  curl_easy_getinfo(job.easy.get(), CURLINFO_RESPONSE_CODE, &code);
  if (src.type != Source::Type::kFile) {
    if (job.request_start > 0 && code == 200) {
      // The source ignored Range (RFC 9110 14.2 allows that): take the whole body.
      auto r = restart_from_zero(job);
      if (!r.ok()) {
        job.fatal = std::move(r).error();
        return false;
      }
    } else if (job.request_start > 0 && code == 206) {
      if (job.content_range_start != static_cast<std::int64_t>(job.request_start)) {
        job.verdict = Verdict{FetchEvent::Kind::kSourceFailed,
                              "asked for bytes from " + std::to_string(job.request_start) +
                                  " and got a Content-Range that does not start there"};
        return false;
      }
    } else if (code != 200) {
      job.verdict = Verdict{FetchEvent::Kind::kSourceFailed, "unexpected HTTP " + std::to_string(code)};
      return false;
    }
  }
  curl_off_t announced = -1;
  curl_easy_getinfo(job.easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  if (announced >= 0 && static_cast<std::uint64_t>(announced) > size - job.request_start) {
    job.verdict =
        Verdict{FetchEvent::Kind::kHashMismatch,
                "more bytes than the " + std::to_string(size) + " declared (the source announced " +
                    std::to_string(job.request_start + static_cast<std::uint64_t>(announced)) + ")"};
    return false;
  }
  return true;
}

size_t Fetcher::on_write(char* data, size_t size, size_t nmemb, void* user) {
  auto* job = static_cast<Job*>(user);
  Fetcher* self = job->owner;
  std::size_t n = size * nmemb;
  if (!job->response_checked) {
    if (!self->check_response(*job)) return 0;  // CURLE_WRITE_ERROR
    job->response_checked = true;
  }
  if (n > job->file->size - job->offset) {
    // Cut the transfer before a single byte past the declared size reaches the disk.
    job->verdict = Verdict{FetchEvent::Kind::kHashMismatch,
                           "more bytes than the " + std::to_string(job->file->size) + " declared"};
    return 0;
  }
  auto w = write_all(job->part.get(), data, n, job->part_rel);
  if (!w.ok()) {
    job->fatal = std::move(w).error();
    return 0;
  }
  job->hash.update(ByteView(reinterpret_cast<const std::uint8_t*>(data), n));
  job->offset += n;
  job->received += n;
  self->progress(*job, false);
  return n;
}

std::string Fetcher::failure_reason(Job& job, CURLcode rc) const {
  std::string detail = job.errbuf[0] != '\0' ? std::string(job.errbuf) : std::string(curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(job.easy.get(), CURLINFO_RESPONSE_CODE, &code);
  switch (rc) {
    case CURLE_HTTP_RETURNED_ERROR:
      return "HTTP " + std::to_string(code);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connect_us = 0;
      curl_easy_getinfo(job.easy.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
      if (connect_us == 0) {
        return "timed out connecting after " + std::to_string(settings_.connect_timeout_seconds) + " s";
      }
      return "stalled: less than 1 KiB/s for " + std::to_string(settings_.stall_timeout_seconds) +
             " s after " + std::to_string(job.offset) + " bytes";
    }
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
      return "connection dropped after " + std::to_string(job.offset) + " bytes";
    case CURLE_GOT_NOTHING:
      return "the server closed the connection without a response";
    case CURLE_COULDNT_CONNECT:
      return "cannot connect (" + detail + ")";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "cannot resolve the host (" + detail + ")";
    case CURLE_FILE_COULDNT_READ_FILE:
      return "cannot read the file (" + detail + ")";
    case CURLE_TOO_MANY_REDIRECTS:
      return "more than " + std::to_string(settings_.max_redirects) + " redirects";
    case CURLE_PEER_FAILED_VERIFICATION:
      return "TLS certificate not trusted (" + detail + ")";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "protocol not allowed (" + detail + ")";
    default:
      return detail;
  }
}

Result<void> Fetcher::finish(Job& job, CURLcode rc) {
  std::string reason;
  if (rc != CURLE_OK && !job.verdict && !job.fatal) reason = failure_reason(job, rc);
  long http_code = 0;
  curl_easy_getinfo(job.easy.get(), CURLINFO_RESPONSE_CODE, &http_code);
  detach(job);
  if (job.fatal) return *job.fatal;
  if (job.verdict) {
    if (job.verdict->kind == FetchEvent::Kind::kHashMismatch) {
      return gave_wrong_bytes(job, job.verdict->reason);
    }
    return failed(job, job.verdict->reason);
  }
  const ManifestFile& f = *job.file;
  if (rc == CURLE_OK) {
    if (http_code != 0 && http_code != 200 && http_code != 206) {
      // A response without a body never reached check_response (a redirect not followed).
      return failed(job, "unexpected HTTP " + std::to_string(http_code));
    }
    if (job.offset < f.size) {
      return gave_wrong_bytes(
          job, "fewer bytes than declared: " + std::to_string(job.offset) + " of " + std::to_string(f.size));
    }
    Digest got = job.hash.finish();
    if (got != f.sha256) {
      if (job.inherited > 0) {
        // The first bytes came from an earlier attempt; they may be what is wrong.
        emit(FetchEvent::Kind::kHashMismatch, job,
             "wrong SHA-256 after resuming at byte " + std::to_string(job.inherited) +
                 "; fetching the whole file again");
        CS_TRY_VOID(restart_from_zero(job));
        return start(job);
      }
      return gave_wrong_bytes(job, "wrong SHA-256: got " + digest_to_string(got) + ", the manifest says " +
                                       digest_to_string(f.sha256));
    }
    return install(job);
  }
  bool dropped = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR;
  if (dropped && job.received > 0 && job.resumes_left > 0) {
    --job.resumes_left;
    return start(job);  // same source, Range from job.offset
  }
  if (dropped && job.resumes_left == 0) {
    reason += " (resumed " + std::to_string(kResumesPerSource) + " times)";
  }
  return failed(job, reason);
}

Result<void> Fetcher::install(Job& job) {
  const ManifestFile& f = *job.file;
  CS_TRY_VOID(fsync_fd(job.part.get(), job.part_rel));
  job.part.reset();
  // Out of the parts directory into staging: only now does the file appear there.
  if (::renameat(parts_.get(), job.part_name.c_str(), job.dir.get(), job.leaf.c_str()) != 0) {
    return io_error("cannot rename", job.part_rel + " to " + f.path, errno);
  }
  CS_TRY_VOID(fsync_fd(job.dir.get(), parent_of(f.path)));  // the rename is durable
  job.dir.reset();
  job.done = true;
  job.offset = f.size;
  emit(FetchEvent::Kind::kFileVerified, job, "");
  progress(job, true);
  return {};
}

Result<void> Fetcher::restart_from_zero(Job& job) {
  reset_hash(job.hash);
  job.offset = 0;
  job.inherited = 0;
  job.request_start = 0;
  if (::ftruncate(job.part.get(), 0) != 0) return io_error("cannot truncate", job.part_rel, errno);
  if (::lseek(job.part.get(), 0, SEEK_SET) < 0) return io_error("cannot seek in", job.part_rel, errno);
  return {};
}

Result<void> Fetcher::gave_wrong_bytes(Job& job, const std::string& reason) {
  emit(FetchEvent::Kind::kHashMismatch, job, reason);
  job.failures.push_back(source_of(job).describe() + ": " + reason);
  job.part.reset();
  if (::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0 && errno != ENOENT) {
    return io_error("cannot remove", job.part_rel, errno);
  }
  reset_hash(job.hash);
  job.offset = 0;
  return next_source(job);
}

Result<void> Fetcher::failed(Job& job, const std::string& reason) {
  emit(FetchEvent::Kind::kSourceFailed, job, reason);
  job.failures.push_back(source_of(job).describe() + ": " + reason);
  return next_source(job);  // the partial file is kept: the next source resumes after it
}

Result<void> Fetcher::next_source(Job& job) {
  ++job.source;
  job.resumes_left = kResumesPerSource;
  job.inherited = job.offset;
  if (job.source >= sources_.size()) {
    std::string msg = "no source gave the right bytes for " + job.file->path + ": ";
    for (std::size_t i = 0; i < job.failures.size(); ++i) msg += (i == 0 ? "" : "; ") + job.failures[i];
    job.part.reset();
    // Bytes that came in stay for a later resume; an empty partial file is only clutter.
    if (job.offset == 0 && ::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0 && errno != ENOENT) {
      return io_error("cannot remove", job.part_rel, errno);
    }
    job.dir.reset();
    return make_error(Errc::kNotFound, msg);
  }
  return start(job);
}

void Fetcher::detach(Job& job) {
  if (job.easy) {
    if (multi_) curl_multi_remove_handle(multi_.get(), job.easy.get());
    job.easy.reset();
  }
}

Result<void> Fetcher::run(const std::string& staging_dir) {
  init_curl_once();
  CS_TRY_VOID(open_staging(staging_dir));
  multi_.reset(curl_multi_init());
  if (!multi_) return make_error(Errc::kInternal, "curl_multi_init failed");
  for (const std::string& entry : settings_.connect_to) {
    curl_slist* l = curl_slist_append(connect_to_.get(), entry.c_str());
    if (l == nullptr) return make_error(Errc::kInternal, "curl_slist_append failed");
    (void)connect_to_.release();
    connect_to_.reset(l);
  }

  const auto& files = manifest_.files();
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto job = std::make_unique<Job>();
    job->owner = this;
    job->index = i;
    job->file = &files[i];
    auto slash = files[i].path.rfind('/');
    job->leaf = slash == std::string::npos ? files[i].path : files[i].path.substr(slash + 1);
    job->part_name = std::to_string(i);
    job->part_rel = parts_name_ + "/" + job->part_name;
    jobs_.push_back(std::move(job));
  }

  CS_TRY_VOID(open_parts(false));  // a previous run's partial files, if there are any
  if (parts_.valid()) CS_TRY_VOID(check_parts());
  std::deque<Job*> waiting;
  for (auto& job : jobs_) {
    if (cancelled()) return make_error(Errc::kInternal, "cancelled");
    CS_TRY_VOID(prepare(*job));
    if (!job->done) waiting.push_back(job.get());
  }
  if (waiting.empty()) return remove_parts();
  if (sources_.empty()) {
    return make_error(Errc::kNotFound, "no sources to fetch " + waiting.front()->file->path +
                                           " from: the manifest lists none and the box has no mirrors");
  }
  CS_TRY_VOID(open_parts(true));

  const std::size_t parallel = settings_.parallel == 0 ? 1 : settings_.parallel;
  std::size_t active = 0;
  while (active > 0 || !waiting.empty()) {
    while (active < parallel && !waiting.empty()) {
      Job* job = waiting.front();
      waiting.pop_front();
      CS_TRY_VOID(start(*job));
      ++active;
    }
    int running = 0;
    if (curl_multi_perform(multi_.get(), &running) != CURLM_OK) {
      return make_error(Errc::kInternal, "curl_multi_perform failed");
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Job* job = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &job);
      if (job == nullptr) return make_error(Errc::kInternal, "transfer without its file");
      CURLcode rc = msg->data.result;
      // finish() may start the next request for this file; a failure here ends everything
      // (the destructor detaches the other transfers, their partial files stay for a resume).
      CS_TRY_VOID(finish(*job, rc));
      if (job->done) --active;
    }
    if (cancelled()) return make_error(Errc::kInternal, "cancelled");
    if (active == 0) continue;
    if (curl_multi_poll(multi_.get(), nullptr, 0, kPollMilliseconds, nullptr) != CURLM_OK) {
      return make_error(Errc::kInternal, "curl_multi_poll failed");
    }
  }
  return remove_parts();
}

}  // namespace

Result<void> fetch_manifest(const Manifest& manifest, std::span<const Source> mirrors,
                            const std::string& staging_dir, const FetchSettings& settings,
                            const FetchObserver& observer) {
  Fetcher fetcher(manifest, mirrors, settings, observer);
  return fetcher.run(staging_dir);
}

}  // namespace countersign::daemon
