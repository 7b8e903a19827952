#include "daemon/fetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

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
// Write-back is started (write_behind) every this many bytes a file receives in order, and for
// each completed range: the helper's fsync after its re-hash, or a range map's fdatasync, then
// finds little left to write.
constexpr std::uint64_t kWriteBehindBytes = 8u << 20;
// The range map is rewritten at most this often while ranges complete (and once more when
// fetch_manifest returns): each write costs an fdatasync of the partial file first, which,
// even on the map writer's thread, slows the writes of the fetch loop while it runs (every
// 500 ms cost a capped fetch a sixth of its time). A crash loses at most this much download.
constexpr auto kMapInterval = std::chrono::milliseconds(2000);

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

// Starts the write-back of bytes [from, to) of `fd` to the disk without waiting for it
// (Linux sync_file_range), so that dirty pages stay few while a large file arrives and the
// fsync before its rename, or a range map's fdatasync, has little left to do. Best effort:
// only the fsync makes anything durable.
void write_behind(int fd, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return;
  (void)::sync_file_range(fd, static_cast<off_t>(from), static_cast<off_t>(to - from), SYNC_FILE_RANGE_WRITE);
}

Result<void> pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t at, const std::string& rel) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", rel, errno);
    }
    data += w;
    at += static_cast<std::uint64_t>(w);
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

// One response header line: a status line starts a new response (after a redirect or 100
// Continue) and forgets an earlier Content-Range; "Content-Range: bytes FIRST-LAST/COMPLETE"
// (RFC 9110 14.4) sets `content_range_start` to FIRST.
void note_header(std::string_view line, std::int64_t& content_range_start) {
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
    content_range_start = -1;
  } else if (starts_with_nocase("content-range:")) {
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
      if (digits > 0 && digits < v.size() && v[digits] == '-') content_range_start = first;
    }
  }
}

// The range map <staging>.parts/<index>.ranges of a partially fetched ranged file: which
// ranges of FetchSettings::range_size are complete on disk. Text, so a person can read it:
//   countersign-ranges 1
//   size <declared size>
//   range <range size>
//   done <one '0' or '1' per range, in file order>
//   sha256 <hex SHA-256 of the lines above>
// The checksum catches a torn write; a map that does not parse exactly so, or describes
// another size or range size, is worth nothing (read_range_map returns nullopt).
std::string range_map_text(std::uint64_t size, std::uint64_t range_size, const std::vector<bool>& done) {
  std::string body = "countersign-ranges 1\nsize " + std::to_string(size) + "\nrange " +
                     std::to_string(range_size) + "\ndone ";
  for (bool d : done) body += d ? '1' : '0';
  body += '\n';
  Sha256 h;
  h.update(ByteView(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()));
  return body + "sha256 " + digest_to_string(h.finish()) + "\n";
}

std::size_t range_count(std::uint64_t size, std::uint64_t range_size) {
  return static_cast<std::size_t>((size + range_size - 1) / range_size);
}

std::optional<std::vector<bool>> read_range_map(std::string_view text, std::uint64_t size,
                                                std::uint64_t range_size) {
  const std::string_view prefix = "done ";
  const auto at = text.find("\ndone ");
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t count = range_count(size, range_size);
  const std::size_t first = at + 1 + prefix.size();
  if (text.size() < first + count) return std::nullopt;
  std::vector<bool> done(count, false);
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[first + i];
    if (c != '0' && c != '1') return std::nullopt;
    done[i] = c == '1';
  }
  // Exactly what we would have written, checksum included: nothing else is trusted.
  if (range_map_text(size, range_size, done) != text) return std::nullopt;
  return done;
}

// A Sha256 we can reset without finishing into a named value.
void reset_hash(Sha256& h) { (void)h.finish(); }

// At most this many bytes wait for the hashing thread; beyond, the fetch loop waits for it.
constexpr std::size_t kHashQueueBytes = 4u << 20;

// Runs the SHA-256 of every file on a thread of its own, so that on a machine of two cores
// the hashing goes on beside the fetch loop's receiving and writing rather than in series
// with it (the loop is one thread: libcurl's callbacks). The loop hands over a copy of the
// bytes, in file order per hash (one queue, first in first out), and calls drain() before it
// reads or resets a hash. Memory stays bounded: at most kHashQueueBytes queued, and as much
// again in buffers kept for reuse.
class AsyncHasher {
 public:
  AsyncHasher() : thread_([this] { loop(); }) {}
  ~AsyncHasher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_.notify_all();
    thread_.join();
  }
  AsyncHasher(const AsyncHasher&) = delete;
  AsyncHasher& operator=(const AsyncHasher&) = delete;

  void update(Sha256& h, const void* data, std::size_t n) {
    if (n == 0) return;
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return queued_ + n <= kHashQueueBytes || queue_.empty(); });
    std::vector<std::uint8_t> bytes;
    if (!spare_.empty()) {
      bytes = std::move(spare_.back());
      spare_.pop_back();
      spare_bytes_ -= bytes.capacity();
    }
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes.assign(p, p + n);
    queue_.push_back(Work{&h, std::move(bytes)});
    queued_ += n;
    lock.unlock();
    work_.notify_one();
  }

  // Returns once every byte handed over is in its hash.
  void drain() {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

 private:
  struct Work {
    Sha256* hash;
    std::vector<std::uint8_t> bytes;
  };

  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      Work w = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      w.hash->update(ByteView(w.bytes.data(), w.bytes.size()));
      lock.lock();
      busy_ = false;
      queued_ -= w.bytes.size();
      if (spare_bytes_ + w.bytes.capacity() <= kHashQueueBytes) {
        spare_bytes_ += w.bytes.capacity();
        spare_.push_back(std::move(w.bytes));
      }
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_;  // queued, or stopping
  std::condition_variable done_;  // some work done
  std::deque<Work> queue_;
  std::size_t queued_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::vector<std::vector<std::uint8_t>> spare_;
  std::size_t spare_bytes_ = 0;
  std::thread thread_;  // last: started once everything above is made
};

// Whether `name` is the decimal index of one of `count` files, written as std::to_string
// writes it ("7", never "07" or "+7").
bool is_file_index(std::string_view name, std::size_t count) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  return ec == std::errc() && end == name.data() + name.size() && value < count &&
         std::to_string(value) == name;
}

// The only names the parts directory may hold: a partial file "<index>" and its range map
// "<index>.ranges", for an index of one of `count` files.
bool is_parts_name(std::string_view name, std::size_t count) {
  constexpr std::string_view kMapSuffix = ".ranges";
  if (name.ends_with(kMapSuffix)) name.remove_suffix(kMapSuffix.size());
  return is_file_index(name, count);
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

struct Job;
struct RangeConn;

// What CURLOPT_PRIVATE points at: the file, and the range request when it is one.
struct Transfer {
  Job* job = nullptr;
  RangeConn* range = nullptr;
};

// One request for one range of a ranged file: bytes [pos, end) from one source, written in
// place at their offsets.
struct RangeConn {
  Transfer tag;
  std::size_t range = 0;  // index of the range (offset / range_size)
  std::size_t source = 0;
  std::uint64_t request_start = 0;
  std::uint64_t pos = 0;  // where the next byte goes
  std::uint64_t end = 0;  // one past the last byte asked for
  std::uint64_t received = 0;
  bool response_checked = false;
  bool ignores_range = false;  // answered 200 to a Range request
  std::int64_t content_range_start = -1;
  std::optional<Verdict> verdict;
  std::optional<Error> fatal;
  EasyPtr easy;
  char errbuf[CURL_ERROR_SIZE] = {};
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
  std::uint64_t received = 0;      // body bytes of this request
  std::uint64_t written_back = 0;  // write_behind started for bytes before this offset
  bool response_checked = false;
  std::int64_t content_range_start = -1;
  std::optional<Verdict> verdict;
  std::optional<Error> fatal;  // local failure (disk full, ...): ends the whole fetch
  Clock::time_point last_progress{};
  char errbuf[CURL_ERROR_SIZE] = {};
  Transfer tag;

  // Ranged mode (size >= FetchSettings::range_threshold, connections_per_file > 1): `offset`
  // is the hash frontier, the end of the prefix hashed so far, and ranges ahead of it land
  // out of order.
  bool ranged = false;
  bool one_source = false;  // every range from `source` (after a wrong SHA-256 of several sources)
  std::vector<bool> range_done;
  std::vector<bool> range_busy;              // a request for it runs
  std::vector<std::uint64_t> range_written;  // bytes on disk from the range's start
  std::vector<bool> source_out;              // given up on for this file
  std::vector<int> range_resumes;            // dropped connections still resumed, per range
  std::vector<std::size_t> range_source;     // the source the range's bytes so far came from
  std::vector<bool> contributed;             // gave bytes of this file, per source
  std::vector<std::unique_ptr<RangeConn>> conns;
  std::size_t next_source = 0;  // round robin over the sources still in
  std::string map_name;         // "<index>.ranges"
  std::string map_rel;
  Clock::time_point map_written{};
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
    if (map_writer_.joinable()) map_writer_.join();
    for (auto& job : jobs_) {
      detach(*job);
      detach_ranges(*job);
    }
  }
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  Result<void> run(const std::string& staging_dir);
  Result<void> run_all(const std::string& staging_dir);

  static size_t on_write(char* data, size_t size, size_t nmemb, void* user);
  static size_t on_header(char* data, size_t size, size_t nitems, void* user);
  static size_t on_range_write(char* data, size_t size, size_t nmemb, void* user);
  static size_t on_range_header(char* data, size_t size, size_t nitems, void* user);

 private:
  bool cancelled() const { return observer_.cancelled && observer_.cancelled(); }
  // The job's hash once hasher_ has every byte handed to it; a reset the same way.
  Digest finish_hash(Job& job) {
    hasher_.drain();
    return job.hash.finish();
  }
  void restart_hash(Job& job) {
    hasher_.drain();
    reset_hash(job.hash);
  }
  // The event names the job's current source unless `no_source` (a file found in staging).
  void emit(FetchEvent::Kind kind, const Job& job, std::string reason, bool no_source = false) const;
  void emit_from(FetchEvent::Kind kind, const Job& job, std::size_t source, std::string reason) const;
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
  // A libcurl handle for `path` from `src`, answering to `tag`; `range` is CURLOPT_RANGE
  // ("" for none).
  Result<EasyPtr> new_handle(const Source& src, const std::string& path, Transfer* tag, char* errbuf,
                             curl_write_callback on_body, curl_write_callback on_head, void* data,
                             const std::string& range);
  Result<void> finish(Job& job, CURLcode rc);
  Result<void> install(Job& job);
  Result<void> gave_wrong_bytes(Job& job, const std::string& reason);
  Result<void> failed(Job& job, const std::string& reason);
  Result<void> next_source(Job& job);
  Result<void> restart_from_zero(Job& job);
  bool check_response(Job& job);
  // Why a request ended with `rc`, after `bytes` bytes of the file.
  std::string failure_reason(CURL* easy, const char* errbuf, CURLcode rc, std::uint64_t bytes) const;
  void detach(Job& job);

  // Ranged mode.
  std::uint64_t range_start(std::size_t r) const { return std::uint64_t{r} * settings_.range_size; }
  std::uint64_t range_end(const Job& job, std::size_t r) const {
    return std::min<std::uint64_t>(job.file->size, range_start(r) + settings_.range_size);
  }
  bool http_source(std::size_t s) const { return sources_[s]->type != Source::Type::kFile; }
  static bool all_ranges_done(const Job& job) {
    for (bool d : job.range_done) {
      if (!d) return false;
    }
    return job.conns.empty();
  }
  void init_ranges(Job& job);
  Result<void> resume_ranges(Job& job, int part_fd, std::uint64_t on_disk);
  Result<void> hash_range(Job& job, int fd, std::uint64_t from, std::uint64_t to);
  Result<void> advance_frontier(Job& job);
  Result<void> persist_map(int data, const std::string& map_name, const std::string& map_rel,
                           const std::string& part_rel, const std::string& text, bool first) const;
  Result<void> write_map(Job& job);
  Result<void> write_map_async(Job& job);
  Result<void> join_map_writer();
  Result<void> drop_map(Job& job);
  Result<void> save_maps();
  Result<void> start_ranged(Job& job);
  Result<void> fill(Job& job);
  std::optional<std::size_t> pick_source(Job& job);
  Result<void> configure_range(Job& job, RangeConn& conn);
  bool check_range_response(RangeConn& conn);
  Result<void> finish_range(RangeConn& conn, CURLcode rc);
  Result<void> ranges_complete(Job& job);
  Result<void> give_up_ranges(Job& job);
  Result<void> leave_ranged_mode(Job& job, std::size_t source);
  void detach_ranges(Job& job);
  Result<void> restart_ranges(Job& job);
  Result<std::optional<std::vector<bool>>> load_map(Job& job);

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
  // After jobs_: destroyed (its thread stopped) before the hashes it updates.
  AsyncHasher hasher_;
  // The range map write in flight (write_map_async); map_error_ is read only after the join.
  std::thread map_writer_;
  std::atomic<bool> map_write_done_{true};
  std::optional<Error> map_error_;
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

void Fetcher::emit_from(FetchEvent::Kind kind, const Job& job, std::size_t source, std::string reason) const {
  if (!observer_.on_event) return;
  FetchEvent ev;
  ev.kind = kind;
  ev.path = job.file->path;
  ev.source = sources_[source]->describe();
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
  if (job.ranged && !job.done) {
    // Bytes on disk, the hash frontier behind them.
    p.done = 0;
    for (std::uint64_t w : job.range_written) p.done += w;
  }
  p.total = job.file->size;
  if (job.easy) p.source = source_of(job).describe();
  if (!job.conns.empty()) p.source = sources_[job.conns.front()->source]->describe();
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
    if (!is_parts_name(name, manifest_.files().size())) {
      return tampered(rel, "is not named by the index of a file of this manifest");
    }
    CS_TRY(Entry kind, probe(parts_.get(), name, rel));
    if (kind != Entry::kRegular && kind != Entry::kAbsent) return not_expected(kind, rel, false);
  }
}

// Once every file verified the parts directory is empty (each partial file was renamed into
// staging or removed) and goes.
Result<void> Fetcher::remove_parts() {
  CS_TRY_VOID(join_map_writer());
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
  Entry map_kind = Entry::kAbsent;
  if (parts_.valid()) {
    CS_TRY(map_kind, probe(parts_.get(), job.map_name, job.map_rel));
  }
  if (final_kind != Entry::kAbsent && final_kind != Entry::kRegular)
    return not_expected(final_kind, f.path, false);
  if (part_kind != Entry::kAbsent && part_kind != Entry::kRegular)
    return not_expected(part_kind, job.part_rel, false);
  if (map_kind != Entry::kAbsent && map_kind != Entry::kRegular)
    return not_expected(map_kind, job.map_rel, false);

  if (final_kind == Entry::kRegular) {
    CS_TRY(UniqueFd fd, open_regular(dir.get(), job.leaf, f.path, O_RDONLY));
    Sha256 h;
    CS_TRY(std::uint64_t n, hash_fd(fd.get(), f.path, h));
    if (n == f.size && h.finish() == f.sha256) {
      if (part_kind == Entry::kRegular && ::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0) {
        return io_error("cannot remove", job.part_rel, errno);
      }
      if (map_kind == Entry::kRegular) CS_TRY_VOID(drop_map(job));
      job.done = true;
      job.offset = n;
      emit(FetchEvent::Kind::kFileVerified, job, "already in staging", true);
      progress(job, true);
      return {};
    }
    if (::unlinkat(dir.get(), job.leaf.c_str(), 0) != 0) return io_error("cannot remove", f.path, errno);
  }

  if (map_kind == Entry::kRegular) {
    // A file fetched in ranges: only what the map claims, and the file holds, is kept.
    CS_TRY(std::optional<std::vector<bool>> claimed, load_map(job));
    if (part_kind != Entry::kRegular) {
      CS_TRY_VOID(drop_map(job));  // a map without its partial file: nothing to resume
    } else {
      CS_TRY(UniqueFd fd, open_regular(parts_.get(), job.part_name, job.part_rel, O_RDWR));
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0) return io_error("cannot inspect", job.part_rel, errno);
      const auto on_disk = static_cast<std::uint64_t>(st.st_size);
      std::vector<bool> done(range_count(f.size, settings_.range_size), false);
      if (claimed && on_disk <= f.size) {
        for (std::size_t r = 0; r < done.size(); ++r) done[r] = (*claimed)[r] && range_end(job, r) <= on_disk;
      }
      std::uint64_t prefix = 0;
      for (std::size_t r = 0; r < done.size() && done[r]; ++r) prefix = range_end(job, r);
      CS_TRY_VOID(hash_range(job, fd.get(), 0, prefix));
      job.offset = prefix;
      if (job.ranged) {
        for (std::size_t r = 0; r < done.size(); ++r) {
          job.range_done[r] = done[r];
          job.range_written[r] = done[r] ? range_end(job, r) - range_start(r) : 0;
        }
      } else {
        // One connection now: the contiguous prefix is kept, the rest goes.
        if (::ftruncate(fd.get(), static_cast<off_t>(prefix)) != 0)
          return io_error("cannot truncate", job.part_rel, errno);
        CS_TRY_VOID(drop_map(job));
      }
      if (prefix == f.size) {
        if (finish_hash(job) == f.sha256) {
          CS_TRY_VOID(drop_map(job));
          job.dir = std::move(dir);
          job.part = std::move(fd);
          return install(job);
        }
        job.offset = 0;
        if (job.ranged) init_ranges(job);
        fd.reset();
        if (::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0)
          return io_error("cannot remove", job.part_rel, errno);
        CS_TRY_VOID(drop_map(job));
      }
      job.inherited = job.offset;
      if (job.ranged) {
        // Every kept byte, in the prefix or not: they came from an earlier run.
        job.inherited = 0;
        for (std::uint64_t w : job.range_written) job.inherited += w;
      }
      progress(job, true);
      return {};
    }
  }

  if (part_kind == Entry::kRegular) {
    CS_TRY(UniqueFd fd, open_regular(parts_.get(), job.part_name, job.part_rel, O_RDONLY));
    hasher_.drain();  // hash_fd updates job.hash itself
    CS_TRY(std::uint64_t n, hash_fd(fd.get(), job.part_rel, job.hash));
    job.offset = n;
    if (n > f.size || (n == f.size && finish_hash(job) != f.sha256)) {
      // Not a prefix of the right file: start again.
      restart_hash(job);
      job.offset = 0;
      if (::unlinkat(parts_.get(), job.part_name.c_str(), 0) != 0)
        return io_error("cannot remove", job.part_rel, errno);
    } else if (n == f.size) {
      job.dir = std::move(dir);
      job.part = std::move(fd);
      return install(job);
    }
  }
  if (job.ranged) {
    // A partial file written in file order (one connection, before this run): its prefix.
    for (std::size_t r = 0; r < job.range_done.size(); ++r) {
      const std::uint64_t a = range_start(r), b = range_end(job, r);
      job.range_done[r] = b <= job.offset;
      job.range_written[r] = job.offset >= b ? b - a : job.offset > a ? job.offset - a : 0;
    }
  }
  job.inherited = job.offset;
  progress(job, true);
  return {};
}

Result<void> Fetcher::start(Job& job) {
  if (job.ranged) return start_ranged(job);
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
    restart_hash(job);
    job.offset = 0;
    job.inherited = 0;
  }
  job.request_start = job.offset;
  job.written_back = job.offset;
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
  std::string range;
  if (job.offset > 0) {
    // CURLOPT_RANGE rather than CURLOPT_RESUME_FROM_LARGE: a server that ignores Range
    // answers 200 and we start again from byte 0 (check_response) instead of failing.
    range = std::to_string(job.offset) + "-";
  }
  CS_TRY(job.easy, new_handle(source_of(job), job.file->path, &job.tag, job.errbuf, &Fetcher::on_write,
                              &Fetcher::on_header, &job, range));
  return {};
}

Result<EasyPtr> Fetcher::new_handle(const Source& src, const std::string& path, Transfer* tag, char* errbuf,
                                    curl_write_callback on_body, curl_write_callback on_head, void* data,
                                    const std::string& range) {
  RequestPlan plan = plan_request(src, path, settings_);
  EasyPtr easy(curl_easy_init());
  CURL* h = easy.get();
  if (h == nullptr) return make_error(Errc::kInternal, "curl_easy_init failed");
  bool ok = true;
  auto set = [&](CURLcode rc) { ok = ok && rc == CURLE_OK; };
  set(curl_easy_setopt(h, CURLOPT_URL, plan.url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_PRIVATE, tag));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, plan.protocols.c_str()));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, data));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_head));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, data));
  set(curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kCurlBufferSize));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings_.connect_timeout_seconds)));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, kStallBytesPerSecond));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.stall_timeout_seconds)));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, "countersignd"));
  if (!range.empty()) set(curl_easy_setopt(h, CURLOPT_RANGE, range.c_str()));
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
  return easy;
}

size_t Fetcher::on_header(char* data, size_t size, size_t nitems, void* user) {
  auto* job = static_cast<Job*>(user);
  std::size_t n = size * nitems;
  note_header(std::string_view(data, n), job->content_range_start);
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
  self->hasher_.update(job->hash, data, n);
  job->offset += n;
  job->received += n;
  if (job->offset - job->written_back >= kWriteBehindBytes) {
    write_behind(job->part.get(), job->written_back, job->offset);
    job->written_back = job->offset;
  }
  self->progress(*job, false);
  return n;
}

std::string Fetcher::failure_reason(CURL* easy, const char* errbuf, CURLcode rc, std::uint64_t bytes) const {
  std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  switch (rc) {
    case CURLE_HTTP_RETURNED_ERROR:
      return "HTTP " + std::to_string(code);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connect_us = 0;
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
      if (connect_us == 0) {
        return "timed out connecting after " + std::to_string(settings_.connect_timeout_seconds) + " s";
      }
      return "stalled: less than 1 KiB/s for " + std::to_string(settings_.stall_timeout_seconds) +
             " s after " + std::to_string(bytes) + " bytes";
    }
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
      return "connection dropped after " + std::to_string(bytes) + " bytes";
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
  if (rc != CURLE_OK && !job.verdict && !job.fatal)
    reason = failure_reason(job.easy.get(), job.errbuf, rc, job.offset);
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
    Digest got = finish_hash(job);
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

// Verified: out of the parts directory into staging, where only now does the file appear,
// and reported at once, so that countersign-system seals and re-hashes it while the disk
// still writes it back. No fsync here: the helper makes every file it seals durable after
// hashing it, and every directory of the tree at the install (it trusts no claim of the
// daemon's that bytes are on disk); a staged file a power cut lost or damaged is caught by
// the re-hash of staging when the fetch resumes (prepare) and fetched again.
Result<void> Fetcher::install(Job& job) {
  const ManifestFile& f = *job.file;
  write_behind(job.part.get(), job.written_back, f.size);  // the tail, if not started yet
  job.part.reset();
  if (::renameat(parts_.get(), job.part_name.c_str(), job.dir.get(), job.leaf.c_str()) != 0) {
    return io_error("cannot rename", job.part_rel + " to " + f.path, errno);
  }
  job.dir.reset();
  job.done = true;
  job.offset = f.size;
  emit(FetchEvent::Kind::kFileVerified, job, "");
  progress(job, true);
  return {};
}

Result<void> Fetcher::restart_from_zero(Job& job) {
  restart_hash(job);
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
  restart_hash(job);
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
  // After ranged mode: sources already given up on for this file stay out.
  while (job.source < job.source_out.size() && job.source_out[job.source]) ++job.source;
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

// ---- Ranged mode: one file over several connections ----

void Fetcher::init_ranges(Job& job) {
  const std::size_t n = range_count(job.file->size, settings_.range_size);
  job.range_done.assign(n, false);
  job.range_busy.assign(n, false);
  job.range_written.assign(n, 0);
  job.range_resumes.assign(n, kResumesPerSource);
  job.range_source.assign(n, 0);
  job.source_out.assign(sources_.size(), false);
  job.contributed.assign(sources_.size(), false);
  job.next_source = 0;
}

// The range map, or nullopt when it cannot be read or is not one we wrote for this file
// (then nothing beyond what the file itself proves is trusted). A symlink or a non-regular
// file in its place is tampering.
Result<std::optional<std::vector<bool>>> Fetcher::load_map(Job& job) {
  auto fd = open_regular(parts_.get(), job.map_name, job.map_rel, O_RDONLY);
  if (!fd.ok()) {
    if (fd.error().code == Errc::kInvalidArgument) return std::move(fd).error();
    return std::optional<std::vector<bool>>();
  }
  const std::size_t limit = range_count(job.file->size, settings_.range_size) + 256;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::optional<std::vector<bool>>();
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > limit) return std::optional<std::vector<bool>>();
  }
  return read_range_map(text, job.file->size, settings_.range_size);
}

// Data first, then the map that claims it: a range marked done is on disk. `text` is the
// map as of when it was asked for; `data` the partial file (a descriptor of its own when
// this runs on the map writer's thread).
Result<void> Fetcher::persist_map(int data, const std::string& map_name, const std::string& map_rel,
                                  const std::string& part_rel, const std::string& text, bool first) const {
  if (::fdatasync(data) != 0) return io_error("cannot sync", part_rel, errno);
  CS_TRY(UniqueFd fd, open_regular(parts_.get(), map_name, map_rel, O_WRONLY | O_CREAT));
  CS_TRY_VOID(pwrite_all(fd.get(), text.data(), text.size(), 0, map_rel));
  if (::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0) {
    return io_error("cannot truncate", map_rel, errno);
  }
  CS_TRY_VOID(fsync_fd(fd.get(), map_rel));
  if (first) CS_TRY_VOID(fsync_fd(parts_.get(), parts_name_));  // the new entry is durable
  return {};
}

Result<void> Fetcher::write_map(Job& job) {
  CS_TRY_VOID(join_map_writer());
  const bool first = job.map_written == Clock::time_point{};
  CS_TRY_VOID(persist_map(job.part.get(), job.map_name, job.map_rel, job.part_rel,
                          range_map_text(job.file->size, settings_.range_size, job.range_done), first));
  job.map_written = Clock::now();
  return {};
}

// While ranges complete: the same on a thread of its own, because the fdatasync before the
// map waits for the disk, and the fetch loop waiting with it would leave every connection
// idle (measured: a fifth of the time of a capped fetch). One write at a time; asked while
// one runs, nothing happens (the next range to complete asks again).
Result<void> Fetcher::write_map_async(Job& job) {
  if (map_writer_.joinable()) {
    if (!map_write_done_.load()) return {};
    CS_TRY_VOID(join_map_writer());
  }
  if (job.map_written == Clock::time_point{}) return write_map(job);  // the first: its entry too
  UniqueFd data(::fcntl(job.part.get(), F_DUPFD_CLOEXEC, 0));
  if (!data.valid()) return io_error("cannot duplicate the descriptor of", job.part_rel, errno);
  job.map_written = Clock::now();
  map_write_done_ = false;
  map_writer_ = std::thread([this, data = std::move(data), name = job.map_name, rel = job.map_rel,
                             part_rel = job.part_rel,
                             text = range_map_text(job.file->size, settings_.range_size, job.range_done)] {
    auto r = persist_map(data.get(), name, rel, part_rel, text, false);
    if (!r.ok()) map_error_ = std::move(r).error();  // read after the join
    map_write_done_ = true;
  });
  return {};
}

// Waits for the map write in flight, if any; its failure, if it failed.
Result<void> Fetcher::join_map_writer() {
  if (!map_writer_.joinable()) return {};
  map_writer_.join();
  if (map_error_) return *std::exchange(map_error_, std::nullopt);
  return {};
}

Result<void> Fetcher::drop_map(Job& job) {
  CS_TRY_VOID(join_map_writer());
  if (::unlinkat(parts_.get(), job.map_name.c_str(), 0) != 0 && errno != ENOENT) {
    return io_error("cannot remove", job.map_rel, errno);
  }
  job.map_written = Clock::time_point{};
  return {};
}

Result<void> Fetcher::save_maps() {
  for (auto& job : jobs_) {
    if (job->ranged && !job->done && job->part.valid()) CS_TRY_VOID(write_map(*job));
  }
  return {};
}

// Hashes bytes [from, to) of the partial file, read back (from the page cache: they were
// just written) into job.hash.
Result<void> Fetcher::hash_range(Job& job, int fd, std::uint64_t from, std::uint64_t to) {
  hash_buffer_.resize(kHashBufferSize);
  while (from < to) {
    if (cancelled()) return make_error(Errc::kInternal, "cancelled");
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(to - from, hash_buffer_.size()));
    ssize_t n = ::pread(fd, hash_buffer_.data(), want, static_cast<off_t>(from));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", job.part_rel, errno);
    }
    if (n == 0) return io_error("cannot read", job.part_rel, EIO);  // shorter than what was written
    hasher_.update(job.hash, hash_buffer_.data(), static_cast<std::size_t>(n));
    from += static_cast<std::uint64_t>(n);
  }
  return {};
}

// Moves the hash frontier (job.offset) over every byte on disk right after it: completed
// ranges ahead of it, and the written start of the range at it. From then on the request at
// the frontier hashes its bytes from memory as they come (on_range_write).
Result<void> Fetcher::advance_frontier(Job& job) {
  while (job.offset < job.file->size) {
    const auto r = static_cast<std::size_t>(job.offset / settings_.range_size);
    const std::uint64_t upto = range_start(r) + job.range_written[r];
    if (upto <= job.offset) break;
    CS_TRY_VOID(hash_range(job, job.part.get(), job.offset, upto));
    job.offset = upto;
  }
  return {};
}

Result<void> Fetcher::start_ranged(Job& job) {
  if (!job.dir.valid()) {
    CS_TRY(job.dir, open_parent(root_.get(), job.file->path));
  }
  if (!job.part.valid()) {
    CS_TRY(job.part, open_regular(parts_.get(), job.part_name, job.part_rel, O_RDWR | O_CREAT));
  }
  struct stat st {};
  if (::fstat(job.part.get(), &st) != 0) return io_error("cannot inspect", job.part_rel, errno);
  const auto on_disk = static_cast<std::uint64_t>(st.st_size);
  if (on_disk < job.offset) {
    // The hashed bytes are no longer all on disk (see start()): from byte 0.
    CS_TRY_VOID(restart_ranges(job));
  }
  for (std::size_t r = 0; r < job.range_done.size(); ++r) {
    // Never trust a range beyond the file's size.
    if (range_start(r) + job.range_written[r] > on_disk && range_start(r) >= job.offset) {
      job.range_done[r] = false;
      job.range_written[r] = 0;
    }
  }
  CS_TRY_VOID(write_map(job));  // before the first byte lands out of order
  CS_TRY_VOID(advance_frontier(job));
  return fill(job);
}

// The source of the next range request: nullopt when none is left that serves ranges, or
// when the first source still in for this file is a file source (read in one go, it is the
// box's own disk). Otherwise the HTTP sources still in take turns in the configured order
// (aria2's multi-source), so each range after the first goes to the next mirror; after a
// wrong SHA-256 of several sources (one_source) every range comes from `job.source`.
std::optional<std::size_t> Fetcher::pick_source(Job& job) {
  if (job.one_source) {
    if (job.source < sources_.size() && !job.source_out[job.source] && http_source(job.source))
      return job.source;
    return std::nullopt;
  }
  bool any = false;
  for (std::size_t s = 0; s < sources_.size(); ++s) {
    if (job.source_out[s]) continue;
    if (!any && !http_source(s)) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    const std::size_t s = (job.next_source + i) % sources_.size();
    if (job.source_out[s] || !http_source(s)) continue;
    job.next_source = s + 1;
    return s;
  }
  return std::nullopt;
}

// Starts requests for the first ranges neither done nor being fetched, up to
// connections_per_file at once.
Result<void> Fetcher::fill(Job& job) {
  std::size_t r = 0;
  while (job.conns.size() < settings_.connections_per_file) {
    while (r < job.range_done.size() && (job.range_done[r] || job.range_busy[r])) ++r;
    if (r == job.range_done.size()) break;
    if (range_start(r) + job.range_written[r] >= range_end(job, r)) {
      // Every byte of it landed but its request did not end well (cut, or failed after the
      // last byte): the whole-file hash decides.
      job.range_done[r] = true;
      continue;
    }
    auto src = pick_source(job);
    if (!src) break;
    if (job.range_written[r] > 0 && job.range_source[r] != *src) job.range_resumes[r] = kResumesPerSource;
    job.range_source[r] = *src;
    auto conn = std::make_unique<RangeConn>();
    conn->tag = Transfer{&job, conn.get()};
    conn->range = r;
    conn->source = *src;
    conn->pos = range_start(r) + job.range_written[r];
    conn->request_start = conn->pos;
    conn->end = range_end(job, r);
    CS_TRY_VOID(configure_range(job, *conn));
    if (curl_multi_add_handle(multi_.get(), conn->easy.get()) != CURLM_OK) {
      return make_error(Errc::kInternal, "curl_multi_add_handle failed");
    }
    job.range_busy[r] = true;
    job.conns.push_back(std::move(conn));
  }
  if (!job.conns.empty()) {
    progress(job, true);
    return {};
  }
  if (all_ranges_done(job)) {
    CS_TRY_VOID(advance_frontier(job));
    return ranges_complete(job);
  }
  // Nothing runs and ranges are missing: no source that serves ranges is left.
  if (job.one_source) {
    for (std::size_t s = job.source; s < sources_.size(); ++s) {
      if (!job.source_out[s]) return leave_ranged_mode(job, s);
    }
    return give_up_ranges(job);
  }
  for (std::size_t s = 0; s < sources_.size(); ++s) {
    if (!job.source_out[s]) return leave_ranged_mode(job, s);  // a file source
  }
  return give_up_ranges(job);
}

Result<void> Fetcher::configure_range(Job& job, RangeConn& conn) {
  const std::string range = std::to_string(conn.pos) + "-" + std::to_string(conn.end - 1);
  CS_TRY(conn.easy, new_handle(*sources_[conn.source], job.file->path, &conn.tag, conn.errbuf,
                               &Fetcher::on_range_write, &Fetcher::on_range_header, &conn, range));
  return {};
}

size_t Fetcher::on_range_header(char* data, size_t size, size_t nitems, void* user) {
  auto* conn = static_cast<RangeConn*>(user);
  std::size_t n = size * nitems;
  note_header(std::string_view(data, n), conn->content_range_start);
  return n;
}

// Called with the first body bytes: a 206 for exactly the bytes asked for?
bool Fetcher::check_range_response(RangeConn& conn) {
  long code = 0;
  curl_easy_getinfo(conn.easy.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code == 200) {
    conn.ignores_range = true;  // RFC 9110 14.2 allows that
    return false;
  }
  if (code != 206) {
    conn.verdict = Verdict{FetchEvent::Kind::kSourceFailed, "unexpected HTTP " + std::to_string(code)};
    return false;
  }
  if (conn.content_range_start != static_cast<std::int64_t>(conn.request_start)) {
    conn.verdict = Verdict{FetchEvent::Kind::kSourceFailed,
                           "asked for bytes from " + std::to_string(conn.request_start) +
                               " and got a Content-Range that does not start there"};
    return false;
  }
  curl_off_t announced = -1;
  curl_easy_getinfo(conn.easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  if (announced >= 0 && static_cast<std::uint64_t>(announced) > conn.end - conn.request_start) {
    conn.verdict = Verdict{FetchEvent::Kind::kHashMismatch,
                           "more bytes than the " + std::to_string(conn.end - conn.request_start) +
                               " asked for from byte " + std::to_string(conn.request_start) +
                               " (the source announced " + std::to_string(announced) + ")"};
    return false;
  }
  return true;
}

size_t Fetcher::on_range_write(char* data, size_t size, size_t nmemb, void* user) {
  auto* conn = static_cast<RangeConn*>(user);
  Job& job = *conn->tag.job;
  Fetcher* self = job.owner;
  std::size_t n = size * nmemb;
  if (!conn->response_checked) {
    if (!self->check_range_response(*conn)) return 0;  // CURLE_WRITE_ERROR
    conn->response_checked = true;
  }
  if (n > conn->end - conn->pos) {
    // Cut before a single byte past the range reaches the disk.
    conn->verdict = Verdict{FetchEvent::Kind::kHashMismatch,
                            "more bytes than the " + std::to_string(conn->end - conn->request_start) +
                                " asked for from byte " + std::to_string(conn->request_start)};
    return 0;
  }
  auto w = pwrite_all(job.part.get(), data, n, conn->pos, job.part_rel);
  if (!w.ok()) {
    conn->fatal = std::move(w).error();
    return 0;
  }
  if (conn->pos == job.offset) {
    // At the hash frontier: hashed from memory, in file order.
    self->hasher_.update(job.hash, data, n);
    job.offset += n;
  }
  conn->pos += n;
  conn->received += n;
  job.range_written[conn->range] = conn->pos - self->range_start(conn->range);
  self->progress(job, false);
  return n;
}

Result<void> Fetcher::finish_range(RangeConn& conn_ref, CURLcode rc) {
  Job& job = *conn_ref.tag.job;
  std::unique_ptr<RangeConn> conn;
  for (auto it = job.conns.begin(); it != job.conns.end(); ++it) {
    if (it->get() == &conn_ref) {
      conn = std::move(*it);
      job.conns.erase(it);
      break;
    }
  }
  if (!conn) return make_error(Errc::kInternal, "range transfer without its file");
  std::string reason;
  if (rc != CURLE_OK && !conn->verdict && !conn->fatal && !conn->ignores_range) {
    reason = failure_reason(conn->easy.get(), conn->errbuf, rc, conn->pos);
  }
  long http_code = 0;
  curl_easy_getinfo(conn->easy.get(), CURLINFO_RESPONSE_CODE, &http_code);
  curl_multi_remove_handle(multi_.get(), conn->easy.get());
  conn->easy.reset();
  const std::size_t r = conn->range;
  const std::size_t s = conn->source;
  job.range_busy[r] = false;
  if (conn->fatal) return *conn->fatal;
  if (conn->received > 0) job.contributed[s] = true;
  if (conn->ignores_range) return leave_ranged_mode(job, s);  // one connection, from that source

  std::optional<Verdict> verdict = conn->verdict;
  if (!verdict && rc == CURLE_OK) {
    if (http_code != 206) {
      verdict = Verdict{FetchEvent::Kind::kSourceFailed, "unexpected HTTP " + std::to_string(http_code)};
    } else if (conn->pos < conn->end) {
      verdict = Verdict{FetchEvent::Kind::kHashMismatch,
                        "fewer bytes than asked for: " + std::to_string(conn->pos - conn->request_start) +
                            " of " + std::to_string(conn->end - conn->request_start) + " from byte " +
                            std::to_string(conn->request_start)};
    } else {
      job.range_done[r] = true;
      write_behind(job.part.get(), range_start(r), range_end(job, r));
      CS_TRY_VOID(advance_frontier(job));
      if (Clock::now() - job.map_written >= kMapInterval) CS_TRY_VOID(write_map_async(job));
      return fill(job);  // the next range, or ranges_complete once every one is done
    }
  }
  if (!verdict) {
    const bool dropped = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR;
    if (dropped && conn->received > 0 && job.range_resumes[r] > 0) {
      --job.range_resumes[r];
      job.next_source = s;  // the range again, from where it stopped, from the same source
      return fill(job);
    }
    if (dropped && job.range_resumes[r] == 0)
      reason += " (resumed " + std::to_string(kResumesPerSource) + " times)";
    verdict = Verdict{FetchEvent::Kind::kSourceFailed, reason};
  }
  if (job.source_out[s]) return fill(job);  // another of its requests already put it out
  emit_from(verdict->kind, job, s, verdict->reason);
  job.failures.push_back(sources_[s]->describe() + ": " + verdict->reason);
  job.source_out[s] = true;
  if (job.one_source) {
    // Every byte from one source, or the next source from byte 0.
    CS_TRY_VOID(restart_ranges(job));
    return fill(job);
  }
  return fill(job);  // its ranges go to the next source; the others carry on
}

// Every range is on disk and hashed in file order: the file is right, or someone gave
// wrong bytes.
Result<void> Fetcher::ranges_complete(Job& job) {
  const ManifestFile& f = *job.file;
  Digest got = finish_hash(job);
  if (got == f.sha256) {
    CS_TRY_VOID(drop_map(job));
    return install(job);
  }
  std::vector<std::size_t> givers;
  for (std::size_t s = 0; s < sources_.size(); ++s) {
    if (job.contributed[s]) givers.push_back(s);
  }
  if (job.inherited > 0) {
    // The first bytes came from an earlier run; they may be what is wrong.
    const std::string why = "wrong SHA-256 after resuming with " + std::to_string(job.inherited) +
                            " bytes from an earlier run; fetching the whole file again";
    if (givers.size() == 1) {
      emit_from(FetchEvent::Kind::kHashMismatch, job, givers[0], why);
    } else {
      emit(FetchEvent::Kind::kHashMismatch, job, why, true);
    }
    CS_TRY_VOID(restart_ranges(job));
    return start_ranged(job);
  }
  if (givers.size() > 1 && !job.one_source) {
    // The manifest has one SHA-256 for the whole file, none per range: which source gave the
    // wrong bytes only shows when each gives the whole file alone.
    std::string names;
    for (std::size_t s : givers) names += (names.empty() ? "" : ", ") + sources_[s]->describe();
    emit(FetchEvent::Kind::kHashMismatch, job,
         "wrong SHA-256 from ranges of several sources (" + names +
             "); fetching the whole file again from one source at a time",
         true);
    job.one_source = true;
    job.source_out.assign(sources_.size(), false);
    job.source = 0;
    CS_TRY_VOID(restart_ranges(job));
    return start_ranged(job);
  }
  const std::size_t bad = givers.empty() ? job.source : givers.front();
  const std::string why =
      "wrong SHA-256: got " + digest_to_string(got) + ", the manifest says " + digest_to_string(f.sha256);
  emit_from(FetchEvent::Kind::kHashMismatch, job, bad, why);
  job.failures.push_back(sources_[bad]->describe() + ": " + why);
  job.source_out[bad] = true;
  CS_TRY_VOID(restart_ranges(job));
  return start_ranged(job);
}

// From byte 0 again: every request stopped, the partial file emptied.
Result<void> Fetcher::restart_ranges(Job& job) {
  detach_ranges(job);
  restart_hash(job);
  job.offset = 0;
  job.inherited = 0;
  const std::size_t n = job.range_done.size();
  job.range_done.assign(n, false);
  job.range_busy.assign(n, false);
  job.range_written.assign(n, 0);
  job.range_resumes.assign(n, kResumesPerSource);
  job.range_source.assign(n, 0);
  job.contributed.assign(sources_.size(), false);
  if (job.one_source) {
    while (job.source < sources_.size() && job.source_out[job.source]) ++job.source;
  }
  if (::ftruncate(job.part.get(), 0) != 0) return io_error("cannot truncate", job.part_rel, errno);
  return write_map(job);
}

// Ranges no source can give: the error names every source given up on; the partial file
// and its map stay for a later run.
Result<void> Fetcher::give_up_ranges(Job& job) {
  detach_ranges(job);
  CS_TRY_VOID(write_map(job));
  std::string msg = "no source gave the right bytes for " + job.file->path + ": ";
  for (std::size_t i = 0; i < job.failures.size(); ++i) msg += (i == 0 ? "" : "; ") + job.failures[i];
  job.part.reset();
  job.dir.reset();
  return make_error(Errc::kNotFound, msg);
}

// On with one connection from `source` (it ignores Range, or is a file source): the hashed
// prefix is kept, whatever landed beyond it goes.
Result<void> Fetcher::leave_ranged_mode(Job& job, std::size_t source) {
  detach_ranges(job);
  CS_TRY_VOID(drop_map(job));
  job.ranged = false;
  job.source = source;
  job.resumes_left = kResumesPerSource;
  job.inherited = job.offset;
  return start(job);  // truncates to the frontier
}

void Fetcher::detach_ranges(Job& job) {
  for (auto& conn : job.conns) {
    if (conn->easy && multi_) curl_multi_remove_handle(multi_.get(), conn->easy.get());
    if (conn->range < job.range_busy.size()) job.range_busy[conn->range] = false;
  }
  job.conns.clear();
}

Result<void> Fetcher::run(const std::string& staging_dir) {
  auto r = run_all(staging_dir);
  // Ranges completed since the last map write survive a cancel or an error.
  if (!r.ok()) (void)save_maps();
  return r;
}

Result<void> Fetcher::run_all(const std::string& staging_dir) {
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
    job->map_name = job->part_name + ".ranges";
    job->map_rel = parts_name_ + "/" + job->map_name;
    job->tag.job = job.get();
    const std::uint64_t size = files[i].size;
    job->ranged = settings_.connections_per_file > 1 && size >= settings_.range_threshold &&
                  size > settings_.range_size;
    if (job->ranged) init_ranges(*job);
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
      if (!job->done) ++active;
    }
    int running = 0;
    if (curl_multi_perform(multi_.get(), &running) != CURLM_OK) {
      return make_error(Errc::kInternal, "curl_multi_perform failed");
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &transfer);
      if (transfer == nullptr || transfer->job == nullptr) {
        return make_error(Errc::kInternal, "transfer without its file");
      }
      Job* job = transfer->job;
      CURLcode rc = msg->data.result;
      // finish() may start the next request for this file; a failure here ends everything
      // (the destructor detaches the other transfers, their partial files stay for a resume).
      if (transfer->range != nullptr) {
        CS_TRY_VOID(finish_range(*transfer->range, rc));
      } else {
        CS_TRY_VOID(finish(*job, rc));
      }
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
