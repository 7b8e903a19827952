#include "core/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/audit_entry.h"
#include "core/bytes.h"
#include "core/fileio.h"

namespace countersign::audit {

namespace {

constexpr unsigned kMaxLevels = 64;

Error sys_error(const std::string& what, const std::string& path) {
  return Error(errno == ENOENT ? Errc::kNotFound : Errc::kIo,
               what + " " + path + ": " + std::strerror(errno));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}

std::string level_name(unsigned level) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "tree-%02u", level);
  return buf;
}

// An owned file descriptor with positioned, complete reads and writes.
class File {
 public:
  File() = default;
  ~File() { reset(); }
  File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  File& operator=(File&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      path_ = std::move(o.path_);
      o.fd_ = -1;
    }
    return *this;
  }

  static Result<File> open(const std::string& path, bool write, bool create) {
    int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (create ? O_CREAT : 0);
    // 0644 (less the umask): the log is public to whoever may read its directory (on a box
    // the System component writes it and the daemon serves it); it holds no secret.
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return sys_error("cannot open", path);
    File f;
    f.fd_ = fd;
    f.path_ = path;
    return f;
  }

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  Result<std::uint64_t> size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return sys_error("cannot stat", path_);
    return static_cast<std::uint64_t>(st.st_size);
  }
  // Reads exactly n bytes at off; kMalformed if the file ends first.
  Result<void> read_at(std::uint64_t off, std::uint8_t* buf, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return sys_error("cannot read", path_);
      }
      if (r == 0) return Error(Errc::kMalformed, path_ + ": ends at byte " + std::to_string(off + done));
      done += static_cast<std::size_t>(r);
    }
    return {};
  }
  Result<void> write_at(std::uint64_t off, const std::uint8_t* buf, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pwrite(fd_, buf + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return sys_error("cannot write", path_);
      }
      done += static_cast<std::size_t>(r);
    }
    return {};
  }
  Result<void> sync() const {
    if (::fdatasync(fd_) != 0) return sys_error("cannot fdatasync", path_);
    return {};
  }
  Result<void> truncate(std::uint64_t n) const {
    if (::ftruncate(fd_, static_cast<off_t>(n)) != 0) return sys_error("cannot truncate", path_);
    return {};
  }
  Result<Digest> read_digest(std::uint64_t index) const {
    Digest d;
    CS_TRY_VOID(read_at(index * 32, d.data(), 32));
    return d;
  }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::string path_;
};

// Checks a record's framing at `pos` given the file size: returns the payload length, or
// a kMalformed "torn" error when the bytes from pos to the end cannot hold a complete
// record, or kHashMismatch for a complete record whose checksum is wrong.
Result<Record> read_record(const File& f, std::uint64_t pos, std::uint64_t file_size, std::size_t max_payload,
                           std::uint64_t& next) {
  const std::uint64_t left = file_size - pos;
  auto torn = [&](const std::string& why) {
    return Error(Errc::kMalformed,
                 "torn record at byte " + std::to_string(pos) + " of " + f.path() + ": " + why);
  };
  if (left < 4) return torn("no complete length");
  std::uint8_t len_buf[4];
  CS_TRY_VOID(f.read_at(pos, len_buf, 4));
  std::uint32_t len = get_u32(len_buf);
  if (len == 0 || len > max_payload) {
    if (left <= kRecordOverhead + max_payload) return torn("length " + std::to_string(len) + " out of range");
    return Error(Errc::kHashMismatch, f.path() + ": record at byte " + std::to_string(pos) + " has length " +
                                          std::to_string(len) + " out of range, and data follows it");
  }
  if (left < kRecordOverhead + len) return torn("incomplete");
  Record r;
  r.offset = pos;
  r.payload.resize(len);
  CS_TRY_VOID(f.read_at(pos + 4, reinterpret_cast<std::uint8_t*>(r.payload.data()), len));
  CS_TRY_VOID(f.read_at(pos + 4 + len, r.checksum.data(), 32));
  if (merkle::leaf_hash(as_bytes(r.payload)) != r.checksum) {
    if (left == kRecordOverhead + len) return torn("checksum mismatch in the final record");
    return Error(Errc::kHashMismatch, f.path() + ": record at byte " + std::to_string(pos) +
                                          " does not match its checksum (changed after it was written)");
  }
  next = pos + kRecordOverhead + len;
  return r;
}

Result<void> check_header(const File& f, std::string_view header) {
  CS_TRY(std::uint64_t size, f.size());
  std::uint8_t buf[kHeaderSize];
  if (size < kHeaderSize || !f.read_at(0, buf, kHeaderSize).ok() ||
      std::memcmp(buf, header.data(), kHeaderSize) != 0) {
    return Error(Errc::kInvalidDocument, f.path() + " is not a countersign audit log file (bad header)");
  }
  return {};
}

// A record file (`entries` or `checkpoints`) with its derived offset index.
struct RecordFile {
  std::string name;
  File data;
  File index;
  std::size_t max_payload = 0;
  std::uint64_t count = 0;          // records indexed and trusted
  std::uint64_t end = kHeaderSize;  // byte after the last trusted record

  Result<std::uint64_t> offset_of(std::uint64_t i) const {
    std::uint8_t b[8];
    CS_TRY_VOID(index.read_at(i * 8, b, 8));
    return get_u64(b);
  }

  Result<Record> read(std::uint64_t i) const {
    CS_TRY(std::uint64_t off, offset_of(i));
    CS_TRY(std::uint64_t size, data.size());
    if (off < kHeaderSize || off >= size) {
      return Error(Errc::kInvalidDocument,
                   index.path() + ": offset of record " + std::to_string(i) + " is out of range");
    }
    std::uint64_t next = 0;
    return read_record(data, off, size, max_payload, next);
  }

  // Trusts at most `limit` indexed records; checks the last one (and `matches` on it).
  // Falls back to 0 when the index disagrees with the data.
  template <typename Check>
  Result<void> load_prefix(std::uint64_t limit, const Check& matches) {
    CS_TRY(std::uint64_t isize, index.size());
    count = std::min(isize / 8, limit);
    end = kHeaderSize;
    while (count > 0) {
      auto rec = read(count - 1);
      if (rec.ok() && matches(count - 1, *rec)) {
        end = rec->offset + kRecordOverhead + rec->payload.size();
        break;
      }
      count = 0;  // the index is not to be trusted: rebuild it from the data
    }
    return {};
  }

  // Reads records after `end`. Each is passed to on_new(i, record) and indexed (write
  // mode). A torn tail is cut off (write mode) or left alone, and reported.
  template <typename OnNew>
  Result<std::optional<TornTail>> scan_tail(bool write, const OnNew& on_new) {
    CS_TRY(std::uint64_t size, data.size());
    if (write) CS_TRY_VOID(index.truncate(count * 8));
    while (end < size) {
      std::uint64_t next = 0;
      auto rec = read_record(data, end, size, max_payload, next);
      if (!rec.ok()) {
        if (rec.error().code != Errc::kMalformed) return rec.error();
        TornTail t{name, end, size - end};
        if (write) {
          CS_TRY_VOID(data.truncate(end));
          CS_TRY_VOID(data.sync());
        }
        return std::optional<TornTail>(t);
      }
      if (!write) {
        return Error(Errc::kInvalidDocument,
                     "the index files of " + data.path() +
                         " are behind its records; open the log for writing to rebuild them");
      }
      CS_TRY_VOID(on_new(count, *rec));
      std::uint8_t b[8];
      put_u64(b, end);
      CS_TRY_VOID(index.write_at(count * 8, b, 8));
      ++count;
      end = next;
    }
    if (write) CS_TRY_VOID(index.sync());
    return std::optional<TornTail>();
  }

  // Appends one record: data first (fdatasync'd when durable), then its index entry.
  Result<void> append(std::string_view payload, const Digest& checksum, bool durable) {
    std::string rec(kRecordOverhead + payload.size(), '\0');
    auto* p = reinterpret_cast<std::uint8_t*>(rec.data());
    put_u32(p, static_cast<std::uint32_t>(payload.size()));
    std::memcpy(p + 4, payload.data(), payload.size());
    std::memcpy(p + 4 + payload.size(), checksum.data(), 32);
    CS_TRY_VOID(data.write_at(end, p, rec.size()));
    if (durable) CS_TRY_VOID(data.sync());
    std::uint8_t b[8];
    put_u64(b, end);
    CS_TRY_VOID(index.write_at(count * 8, b, 8));  // derived: synced by sync_derived()
    ++count;
    end += rec.size();
    return {};
  }
};

Result<void> create_record_file(const std::string& path, std::string_view header) {
  if (::access(path.c_str(), F_OK) == 0) return {};
  // Atomic creation: a crash leaves no file or one with the whole header.
  return write_file_atomic(path, header, 0644, true);
}

}  // namespace

Result<Record> parse_record(std::string_view data, std::uint64_t pos, std::size_t max_payload,
                            std::uint64_t& next) {
  if (pos > data.size()) return Error(Errc::kInvalidArgument, "record position past the end");
  const std::uint64_t left = data.size() - pos;
  if (left < 4) return Error(Errc::kMalformed, "torn record: no complete length");
  auto u = reinterpret_cast<const std::uint8_t*>(data.data()) + pos;
  std::uint32_t len = get_u32(u);
  if (len == 0 || len > max_payload)
    return Error(Errc::kMalformed, "record length " + std::to_string(len) + " out of range");
  if (left < kRecordOverhead + len) return Error(Errc::kMalformed, "torn record: incomplete");
  Record r;
  r.offset = pos;
  r.payload.assign(data.substr(static_cast<std::size_t>(pos) + 4, len));
  std::memcpy(r.checksum.data(), u + 4 + len, 32);
  if (merkle::leaf_hash(as_bytes(r.payload)) != r.checksum) {
    return Error(Errc::kHashMismatch,
                 "record at byte " + std::to_string(pos) + " does not match its checksum");
  }
  next = pos + kRecordOverhead + len;
  return r;
}

Result<std::optional<TornTail>> scan_record_file(
    const std::string& path, std::string_view header, std::size_t max_payload, const std::string& name,
    const std::function<Result<void>(const Record&)>& on_record) {
  CS_TRY(File f, File::open(path, false, false));
  CS_TRY_VOID(check_header(f, header));
  CS_TRY(std::uint64_t size, f.size());
  std::uint64_t pos = kHeaderSize;
  std::uint64_t n = 0;
  while (pos < size) {
    std::uint64_t next = 0;
    auto rec = read_record(f, pos, size, max_payload, next);
    if (!rec.ok()) {
      if (rec.error().code != Errc::kMalformed)
        return rec.error().with_context(name + " record " + std::to_string(n));
      return std::optional<TornTail>(TornTail{name, pos, size - pos});
    }
    CS_TRY_VOID(on_record(*rec));
    pos = next;
    ++n;
  }
  return std::optional<TornTail>();
}

struct AuditLog::State {
  std::string dir;
  Mode mode = Mode::kReadOnly;
  Clock clock;
  File lock_holder;  // `entries` opened for flock in write mode
  RecordFile entries;
  RecordFile checkpoints;
  std::vector<File> levels;  // tree-00, tree-01, ...
  merkle::CompactRange range;
  std::vector<TornTail> torn;
  bool broken = false;  // an append failed half-way: reopen to repair
  bool durable = true;
  std::vector<bool> dirty;  // derived files written since the last sync_derived()

  // Derived files are rebuilt from `entries` on open if a crash loses them, so they are
  // synced only before a checkpoint is signed and on close, not on every append.
  Result<void> sync_derived() {
    if (mode != Mode::kWrite) return {};
    CS_TRY_VOID(entries.data.sync());  // a no-op unless opened with kNoSync
    CS_TRY_VOID(entries.index.sync());
    CS_TRY_VOID(checkpoints.index.sync());
    for (std::size_t k = 0; k < dirty.size() && k < levels.size(); ++k) {
      if (dirty[k]) CS_TRY_VOID(levels[k].sync());
      dirty[k] = false;
    }
    return {};
  }
  ~State() { (void)sync_derived(); }

  std::string path(const std::string& name) const { return (std::filesystem::path(dir) / name).string(); }

  Result<const File*> level(unsigned k, bool create) {
    while (levels.size() <= k) {
      std::string p = path(level_name(static_cast<unsigned>(levels.size())));
      bool exists = ::access(p.c_str(), F_OK) == 0;
      if (!exists && !create) return static_cast<const File*>(nullptr);
      CS_TRY(File f, File::open(p, mode == Mode::kWrite, mode == Mode::kWrite));
      levels.push_back(std::move(f));
    }
    return &levels[k];
  }

  Result<std::uint64_t> level_count(unsigned k) {
    CS_TRY(const File* f, level(k, false));
    if (f == nullptr) return std::uint64_t{0};
    CS_TRY(std::uint64_t s, f->size());
    return s / 32;
  }

  merkle::SubtreeSource source() const {
    return [this](unsigned k, std::uint64_t j) -> Result<Digest> {
      if (k >= levels.size() || j >= (range.size() >> k)) {
        return Error(Errc::kInternal,
                     "subtree " + std::to_string(k) + "/" + std::to_string(j) + " is not complete");
      }
      return levels[k].read_digest(j);
    };
  }

  // Writes the subtree hashes an appended leaf completes (tree-NN files; not synced).
  Result<void> add_leaf(const Digest& leaf) {
    Result<void> status;
    std::vector<unsigned> touched;
    range.append(leaf, [&](unsigned k, std::uint64_t j, const Digest& h) {
      if (!status.ok()) return;
      auto f = level(k, true);
      if (!f.ok()) {
        status = f.error();
        return;
      }
      status = (*f)->write_at(j * 32, h.data(), 32);
      touched.push_back(k);
    });
    CS_TRY_VOID(status);
    for (unsigned k : touched) {
      if (dirty.size() <= k) dirty.resize(k + 1, false);
      dirty[k] = true;
    }
    return {};
  }
};

AuditLog::AuditLog(std::unique_ptr<State> s) : s_(std::move(s)) {}
AuditLog::~AuditLog() = default;
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog& AuditLog::operator=(AuditLog&&) noexcept = default;

Result<AuditLog> AuditLog::open(const std::string& dir, Mode mode, Clock clock, Durability durability) {
  auto s = std::make_unique<State>();
  s->durable = durability == Durability::kSyncEachAppend;
  s->dir = dir;
  s->mode = mode;
  s->clock = clock ? clock : system_now;
  const bool write = mode == Mode::kWrite;
  if (write) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error(Errc::kIo, "cannot create log directory " + dir + ": " + ec.message());
    CS_TRY_VOID(create_record_file(s->path("entries"), kEntriesHeader));
    CS_TRY_VOID(create_record_file(s->path("checkpoints"), kCheckpointsHeader));
  } else if (!std::filesystem::is_directory(dir)) {
    return Error(Errc::kNotFound, dir + " is not a log directory");
  }

  s->entries.name = "entries";
  s->entries.max_payload = kMaxEntrySize;
  s->checkpoints.name = "checkpoints";
  s->checkpoints.max_payload = note::kMaxNoteSize;
  CS_TRY(s->entries.data, File::open(s->path("entries"), write, false));
  if (write && ::flock(s->entries.data.fd(), LOCK_EX | LOCK_NB) != 0) {
    return Error(Errc::kInvalidArgument, "log " + dir + " is in use by another writer");
  }
  CS_TRY_VOID(check_header(s->entries.data, kEntriesHeader));
  CS_TRY(s->checkpoints.data, File::open(s->path("checkpoints"), write, false));
  CS_TRY_VOID(check_header(s->checkpoints.data, kCheckpointsHeader));
  CS_TRY(s->entries.index, File::open(s->path("offsets"), write, write));
  CS_TRY(s->checkpoints.index, File::open(s->path("checkpoint-offsets"), write, write));
  CS_TRY(const File* leaves, s->level(0, write));
  if (leaves == nullptr) return Error(Errc::kInvalidDocument, dir + ": tree-00 is missing");

  // How many leaves do the derived tree files cover completely?
  CS_TRY(std::uint64_t m, s->level_count(0));
  for (unsigned k = 1; k < kMaxLevels && (m >> k) > 0; ++k) {
    CS_TRY(std::uint64_t c, s->level_count(k));
    if (c < (m >> k)) m = c << k;
  }
  CS_TRY_VOID(s->entries.load_prefix(m, [&](std::uint64_t i, const Record& r) {
    auto leaf = s->levels[0].read_digest(i);
    return leaf.ok() && *leaf == r.checksum;
  }));
  m = s->entries.count;
  if (write) {
    // Stale hashes past the trusted size, at any level, go; they are recomputed on rescan.
    for (unsigned k = 0; k < kMaxLevels; ++k) {
      if (k >= s->levels.size() && !std::filesystem::exists(s->path(level_name(k)))) continue;
      CS_TRY(const File* f, s->level(k, true));
      CS_TRY_VOID(f->truncate((m >> k) * 32));
    }
  }
  // The frontier: one perfect subtree per set bit of m, largest first.
  std::vector<Digest> frontier;
  for (unsigned k = 64; k-- > 0;) {
    if (((m >> k) & 1) == 0) continue;
    CS_TRY(const File* f, s->level(k, false));
    if (f == nullptr) return Error(Errc::kInvalidDocument, dir + ": " + level_name(k) + " is missing");
    CS_TRY(Digest h, f->read_digest((m >> k) - 1));
    frontier.push_back(h);
  }
  CS_TRY(s->range, merkle::CompactRange::from_frontier(m, std::move(frontier)));

  State* st = s.get();
  CS_TRY(auto torn_entries,
         s->entries.scan_tail(write, [st](std::uint64_t i, const Record& r) -> Result<void> {
           auto e = check_entry(r.payload, i);
           if (!e.ok())
             return e.error().with_context("entry " + std::to_string(i) + " at byte " +
                                           std::to_string(r.offset));
           return st->add_leaf(r.checksum);
         }));
  if (torn_entries) s->torn.push_back(*torn_entries);
  CS_TRY_VOID(s->sync_derived());

  CS_TRY_VOID(
      s->checkpoints.load_prefix(~std::uint64_t{0}, [](std::uint64_t, const Record&) { return true; }));
  CS_TRY(auto torn_cp,
         s->checkpoints.scan_tail(write, [](std::uint64_t, const Record&) { return Result<void>(); }));
  if (torn_cp) s->torn.push_back(*torn_cp);

  AuditLog log(std::move(s));
  if (write) {
    for (const TornTail& t : log.s_->torn) {
      auto seq = log.append(event::kLogRepaired, {{"file", t.file},
                                                  {"offset", t.offset},
                                                  {"torn_bytes", t.bytes},
                                                  {"reason", "torn final record cut off on open"}});
      if (!seq.ok()) return seq.error().with_context("logging the repair of " + dir);
    }
  }
  return log;
}

Result<std::uint64_t> AuditLog::append(std::string_view event_name, const nlohmann::json& fields) {
  if (s_->mode != Mode::kWrite) return Error(Errc::kInvalidArgument, "log " + s_->dir + " is open read-only");
  if (s_->broken)
    return Error(Errc::kIo, "an earlier append to " + s_->dir + " failed; reopen the log to repair it");
  const std::uint64_t seq = s_->range.size();
  CS_TRY(std::string bytes, make_entry(seq, s_->clock(), event_name, fields));
  Digest leaf = merkle::leaf_hash(as_bytes(bytes));
  s_->broken = true;
  CS_TRY_VOID(s_->entries.append(bytes, leaf, s_->durable));
  CS_TRY_VOID(s_->add_leaf(leaf));
  s_->broken = false;
  return seq;
}

Result<std::string> AuditLog::sign_checkpoint(const note::Signer& signer) {
  if (s_->mode != Mode::kWrite) return Error(Errc::kInvalidArgument, "log " + s_->dir + " is open read-only");
  if (s_->broken)
    return Error(Errc::kIo, "an earlier append to " + s_->dir + " failed; reopen the log to repair it");
  Checkpoint c;
  c.origin = signer.verifier().name();
  c.size = s_->range.size();
  c.root = s_->range.root();
  CS_TRY(note::Note n, note::Note::from_text(c.to_text()));
  CS_TRY(note::Signature sig, signer.sign(n.text()));
  n.add_signature(std::move(sig));
  std::string text = n.serialize();
  s_->broken = true;
  CS_TRY_VOID(s_->sync_derived());
  CS_TRY_VOID(s_->checkpoints.append(text, merkle::leaf_hash(as_bytes(text)), true));
  CS_TRY_VOID(s_->checkpoints.index.sync());
  s_->broken = false;
  return text;
}

std::uint64_t AuditLog::size() const { return s_->range.size(); }
Digest AuditLog::root() const { return s_->range.root(); }
const std::string& AuditLog::dir() const { return s_->dir; }
const std::vector<TornTail>& AuditLog::torn_tail() const { return s_->torn; }

Result<std::string> AuditLog::entry(std::uint64_t index) const {
  if (index >= size())
    return Error(Errc::kNotFound,
                 "no entry " + std::to_string(index) + " (log size " + std::to_string(size()) + ")");
  CS_TRY(Record r, s_->entries.read(index));
  return std::move(r.payload);
}

Result<Digest> AuditLog::leaf_hash(std::uint64_t index) const {
  if (index >= size())
    return Error(Errc::kNotFound,
                 "no entry " + std::to_string(index) + " (log size " + std::to_string(size()) + ")");
  return s_->levels[0].read_digest(index);
}

Result<Digest> AuditLog::root_at(std::uint64_t tree_size) const {
  if (tree_size > size())
    return Error(Errc::kNotFound, "the log has only " + std::to_string(size()) + " entries");
  if (tree_size == 0) return merkle::empty_root();
  return merkle::range_hash(s_->source(), 0, tree_size);
}

Result<std::vector<Digest>> AuditLog::inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const {
  if (tree_size > size())
    return Error(Errc::kNotFound, "the log has only " + std::to_string(size()) + " entries");
  return merkle::inclusion_proof(s_->source(), index, tree_size);
}

Result<std::vector<Digest>> AuditLog::consistency_proof(std::uint64_t size1, std::uint64_t size2) const {
  if (size2 > size())
    return Error(Errc::kNotFound, "the log has only " + std::to_string(size()) + " entries");
  return merkle::consistency_proof(s_->source(), size1, size2);
}

Result<std::vector<std::string>> AuditLog::checkpoints() const {
  std::vector<std::string> out;
  for (std::uint64_t i = 0; i < s_->checkpoints.count; ++i) {
    CS_TRY(Record r, s_->checkpoints.read(i));
    out.push_back(std::move(r.payload));
  }
  return out;
}

}  // namespace countersign::audit
