#include "system/system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/audit_entry.h"
#include "core/bundle.h"
#include "core/bytes.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/keys.h"
#include "core/liveness.h"
#include "core/manifest.h"
#include "core/secret.h"
#include "core/sha256.h"
#include "core/signed_note.h"
#include "core/untrusted_text.h"
#include "core/verify.h"
#include "core/x509.h"
#include "smartcard/attestation.h"
#include "smartcard/nitro_binding.h"
#include "smartcard/nsm.h"
#include "system/dpkg_query.h"
#include "system/fs_at.h"
#include "system/log_writer.h"
#include "system/packages.h"
#include "system/snapshot.h"
#include "system/state.h"

namespace countersign::daemon {
namespace {

namespace ev = audit::event;
using nlohmann::json;

constexpr int kCommandTimeoutSeconds = 600;
constexpr std::uint64_t kMaxBundleInput = std::uint64_t{64} << 20;
constexpr std::uint64_t kMaxReasonInput = 4096;
constexpr std::uint64_t kMaxReportInput = 64 * 1024;
constexpr std::uint64_t kMaxVetoInput = std::uint64_t{1} << 20;  // a proposal and one veto
constexpr std::uint64_t kMaxProofInput = 64 * 1024;
constexpr std::uint64_t kMaxAttestInput = 4 * 1024;

// At most 80 bytes of an untrusted argument, escaped (core/untrusted_text.h), for messages.
std::string printable(std::string_view s) { return escape_untrusted(s, 80); }

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
  UniqueFd staging;  // not valid when <models>/.staging does not exist
};

Result<StateDirs> open_state(const Config& c) {
  StateDirs d;
  CS_TRY(std::string state_real, real_path(c.state_dir));
  CS_TRY_VOID(check_resolves_to(c.models_dir(), state_real + "/models", c.state_dir));
  CS_TRY(d.state, open_directory(state_real));
  // Its entries (models, snapshots, system, log) are what the helper works on by name:
  // nobody but root may rename or replace them.
  CS_TRY_VOID(check_root_only(d.state.get(), "the state directory " + c.state_dir));
  CS_TRY(d.models, open_directory_at(d.state.get(), "models", c.models_dir()));
  CS_TRY_VOID(check_root_only(d.models.get(), "the models directory " + c.models_dir()));
  CS_TRY(auto staging, stat_at(d.models.get(), ".staging", c.staging_dir()));
  if (!staging) return d;
  CS_TRY_VOID(check_resolves_to(c.staging_dir(), state_real + "/models/.staging", c.state_dir));
  CS_TRY(d.staging, open_directory_at(d.models.get(), ".staging", c.staging_dir()));
  return d;
}

bool running_as_root() { return ::geteuid() == 0; }

// The system root dpkg installs into (config system_root) and its parent directory, opened
// without following links: the configured path must be the real one, and both must be
// root's (whoever could rename them decides what a restore swaps).
struct SystemRootDirs {
  UniqueFd parent;  // not valid when system_root is "/"
  UniqueFd root;
};

Result<SystemRootDirs> open_system_root(const Config& c) {
  SystemRootDirs d;
  CS_TRY(std::string real, real_path(c.system_root));
  if (real != c.system_root) {
    return Error(Errc::kRejected, "system_root " + c.system_root + " resolves to " + real +
                                      " (symbolic links are refused: configure the real path)");
  }
  if (c.system_root == "/") {
    CS_TRY(d.root, open_directory("/"));
    return d;
  }
  const auto slash = c.system_root.rfind('/');
  const std::string parent = slash == 0 ? "/" : c.system_root.substr(0, slash);
  CS_TRY(d.parent, open_directory(parent));
  if (running_as_root()) CS_TRY_VOID(check_root_only(d.parent.get(), "the system root's parent " + parent));
  CS_TRY(d.root, open_directory_at(d.parent.get(), c.system_root.substr(slash + 1), c.system_root));
  if (running_as_root()) CS_TRY_VOID(check_root_only(d.root.get(), "the system root " + c.system_root));
  return d;
}

// Root owns everything installed, read-only: chown only when running as root (tests may not).
Result<void> make_root_read_only(int fd, mode_t mode, const std::string& shown) {
  if (running_as_root() && ::fchown(fd, 0, 0) != 0) {
    return Error(Errc::kIo, "cannot chown " + shown + " to root: " + std::strerror(errno));
  }
  if (::fchmod(fd, mode) != 0) return Error(Errc::kIo, "cannot chmod " + shown + ": " + std::strerror(errno));
  return {};
}

// A file already owned by the helper's user and read-only was sealed earlier (an installed
// model being checked again); the daemon's user cannot open it for writing.
bool already_sealed(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & 07777) == 0444;
}

// No other process may hold the file open once it is sealed: a descriptor the daemon opened
// for writing before the chown/chmod would still write. A write lease (fcntl(2) F_SETLEASE
// F_WRLCK) is granted only when no other open file description refers to the file, so
// taking and at once dropping one proves there is none; after the seal nobody but root can
// open it for writing again.
Result<void> check_not_open_elsewhere(int fd, const std::string& shown) {
  if (::fcntl(fd, F_SETLEASE, F_WRLCK) != 0) {
    if (errno == EAGAIN || errno == EBUSY) {
      return Error(Errc::kRejected, shown + ": is open in another process (it could still be written)");
    }
    return Error(Errc::kIo, "cannot check whether " + shown + " is open elsewhere: " + std::strerror(errno));
  }
  ::fcntl(fd, F_SETLEASE, F_UNLCK);
  return {};
}

SealedFile identity_of(const struct stat& st) {
  return SealedFile{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size), static_cast<std::int64_t>(st.st_ctim.tv_sec),
                    static_cast<std::int64_t>(st.st_ctim.tv_nsec)};
}

// Seals a tree and checks it against a manifest: every directory is chowned to root and made
// 0555 before its entries are read (nothing can be added, removed or renamed behind the
// walk), every entry is looked at without following links and must be a directory some
// manifest path needs or a regular file the manifest lists, with one link and the declared
// size; files are chowned to root, made 0444 and checked not to be open elsewhere. Then every
// file is hashed again (in parallel), must have the manifest's SHA-256, and is fsynced.
// Messages name paths under `shown`.
class TreeCheck {
 public:
  // kInstall: the whole tree must be exactly the manifest, directories are sealed too, and
  // every file is hashed unless `sealed` vouches for it. kAhead (`model seal`, while the
  // daemon still fetches): only the complete files the manifest lists are sealed and hashed;
  // directories stay the daemon's, anything else is passed over, a wrong file is reported
  // (mismatches()) but is no error. A file sealed and hashed ahead is recorded in `sealed`
  // by its identity after the seal: from then on only root could change it, so an install
  // that finds the same root-owned, read-only, singly linked inode there need not read it again.
  enum class Mode { kInstall, kAhead };
  TreeCheck(const Manifest& manifest, std::string shown, unsigned threads, Mode mode = Mode::kInstall,
            const SealedFiles* sealed = nullptr)
      : shown_(std::move(shown)), threads_(threads), mode_(mode), sealed_(sealed) {
    for (const auto& f : manifest.files()) {
      files_[f.path] = &f;
      std::string p = f.path;
      ++children_[parent_of(p)];
      for (auto slash = p.rfind('/'); slash != std::string::npos; slash = p.rfind('/')) {
        p.resize(slash);
        if (dirs_.insert(p).second) ++children_[parent_of(p)];
      }
    }
  }

  Result<void> run(int parent_fd, const std::string& name) {
    CS_TRY(UniqueFd top, open_directory_at(parent_fd, name, shown_));
    struct stat st {};
    if (::fstat(top.get(), &st) != 0)
      return Error(Errc::kIo, "cannot stat " + shown_ + ": " + std::strerror(errno));
    dev_ = st.st_dev;
    CS_TRY_VOID(walk(top.get(), "", 0));
    if (mode_ == Mode::kInstall) {
      for (const auto& [path, file] : files_) {
        if (!seen_.count(path)) return Error(Errc::kIo, show(path) + ": missing (the manifest lists it)");
      }
    }
    return hash_all(top.get());
  }

  std::uint64_t bytes() const { return bytes_; }
  // The files hashed by this run that matched, with their identity (kAhead records them).
  const SealedFiles& newly_sealed() const { return newly_sealed_; }
  // kAhead: files that did not match the manifest ("path: why").
  const std::vector<std::string>& mismatches() const { return mismatches_; }
  // kInstall: files vouched for by an earlier seal, not read again.
  std::size_t reused() const { return reused_; }

 private:
  struct Task {
    std::string rel;
    ino_t ino = 0;
    const ManifestFile* file = nullptr;
    SealedFile id;
  };

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
    if (mode_ == Mode::kInstall) CS_TRY_VOID(make_root_read_only(fd, 0555, show(rel)));
    const auto expected = children_.count(rel) ? children_.at(rel) : 0;
    // Room for a few extra entries so that one is reported by name below; a directory
    // stuffed with more is refused without reading it all.
    CS_TRY(auto names, list_directory(fd, expected + 64, show(rel)));
    for (const auto& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      CS_TRY(auto st, stat_at(fd, name, show(child)));
      if (!st) return Error(Errc::kIo, show(child) + ": vanished while being checked");
      const bool expected_entry = S_ISDIR(st->st_mode) ? dirs_.count(child) != 0 : files_.count(child) != 0;
      if (mode_ == Mode::kAhead && (!expected_entry || !(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode))))
        continue;
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
        CS_TRY_VOID(seal_file(fd, name, child, *st));
      } else {
        return Error(Errc::kIo, show(child) + ": is " + describe_file_type(st->st_mode) +
                                    "; only regular files and directories are allowed");
      }
    }
    return mode_ == Mode::kInstall ? sync_fd(fd, show(rel)) : Result<void>();
  }

  Result<void> seal_file(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    auto it = files_.find(rel);
    if (it == files_.end()) return Error(Errc::kIo, show(rel) + ": not in the manifest (unexpected file)");
    if (mode_ == Mode::kAhead) {
      // Passed over, not refused: the install decides. Already vouched for: nothing to do.
      if (st.st_nlink != 1 || static_cast<std::uint64_t>(st.st_size) != it->second->size) return {};
      if (sealed_ != nullptr && already_sealed(st) && vouched(rel, st)) return {};
    }
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
    if (size != it->second->size) {
      return Error(Errc::kIo, show(rel) + ": " + std::to_string(size) + " bytes; the manifest says " +
                                  std::to_string(it->second->size));
    }
    seen_.insert(rel);
    bytes_ += size;
    if (already_sealed(opened)) {
      // Root's and read-only already: nobody but root could have opened it for writing since
      // it was sealed, so no lease check; sealed and hashed ahead, it is not read again.
      if (mode_ == Mode::kInstall && sealed_ != nullptr && vouched(rel, opened)) {
        ++reused_;
        return {};
      }
    } else {
      CS_TRY_VOID(make_root_read_only(fd.get(), 0444, show(rel)));
      CS_TRY_VOID(check_not_open_elsewhere(fd.get(), show(rel)));
    }
    struct stat now {};
    if (::fstat(fd.get(), &now) != 0)
      return Error(Errc::kIo, "cannot stat " + show(rel) + ": " + std::strerror(errno));
    tasks_.push_back(Task{rel, opened.st_ino, it->second, identity_of(now)});
    return {};
  }

  bool vouched(const std::string& rel, const struct stat& st) const {
    auto it = sealed_->find(rel);
    return it != sealed_->end() && it->second == identity_of(st);
  }

  // Opens `rel` below `top` one component at a time, never following a link (the tree is
  // sealed by now, so this finds what the walk saw; the inode is checked again anyway).
  Result<UniqueFd> open_sealed(int top, const Task& t) const {
    UniqueFd dir;
    int at = top;
    std::size_t pos = 0;
    for (auto slash = t.rel.find('/'); slash != std::string::npos; slash = t.rel.find('/', pos)) {
      CS_TRY(dir, open_directory_at(at, t.rel.substr(pos, slash - pos), show(t.rel.substr(0, slash))));
      at = dir.get();
      pos = slash + 1;
    }
    UniqueFd fd(
        ::openat(at, t.rel.substr(pos).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return Error(Errc::kIo, "cannot open " + show(t.rel) + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || st.st_ino != t.ino || !S_ISREG(st.st_mode)) {
      return Error(Errc::kIo, show(t.rel) + ": replaced while being checked");
    }
    return fd;
  }

  Result<void> hash_one(int top, const Task& t) const {
    CS_TRY(UniqueFd fd, open_sealed(top, t));
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    Sha256 h;
    std::vector<std::uint8_t> buf(std::size_t{1} << 20);
    std::uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error(Errc::kIo, "cannot read " + show(t.rel) + ": " + std::strerror(errno));
      if (n == 0) break;
      h.update(ByteView(buf.data(), static_cast<std::size_t>(n)));
      total += static_cast<std::uint64_t>(n);
    }
    const Digest got = h.finish();
    if (total != t.file->size || got != t.file->sha256) {
      return Error(Errc::kHashMismatch, show(t.rel) + ": SHA-256 is " + digest_to_string(got) +
                                            ", the manifest says " + digest_to_string(t.file->sha256));
    }
    // Durable before it counts (recorded as sealed, or installed): the daemon's word that it
    // synced is not taken. After the hash, so the disk writes back while the CPU hashes (the
    // bytes hashed are the page cache's, the same that reach the disk: nobody else can
    // write the file since the seal).
    return sync_fd(fd.get(), show(t.rel));
  }

  // Largest files first so that the last worker is not left with the biggest one.
  Result<void> hash_all(int top) {
    std::sort(tasks_.begin(), tasks_.end(), [](const Task& a, const Task& b) {
      return a.file->size != b.file->size ? a.file->size > b.file->size : a.rel < b.rel;
    });
    unsigned n = threads_ ? threads_ : std::max(1u, std::thread::hardware_concurrency());
    n = static_cast<unsigned>(std::min<std::size_t>(n, std::max<std::size_t>(1, tasks_.size())));
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::optional<Error> first;
    auto work = [&] {
      for (std::size_t i = next++; i < tasks_.size() && !failed; i = next++) {
        auto r = hash_one(top, tasks_[i]);
        std::lock_guard lock(mu);
        if (r.ok()) {
          newly_sealed_[tasks_[i].rel] = tasks_[i].id;
        } else if (mode_ == Mode::kAhead) {
          mismatches_.push_back(r.error().message);
        } else {
          if (!first || tasks_[i].rel < first_rel_) first = r.error(), first_rel_ = tasks_[i].rel;
          failed = true;
        }
      }
    };
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (first) return *first;
    return {};
  }

  std::string shown_;
  unsigned threads_ = 0;
  Mode mode_ = Mode::kInstall;
  const SealedFiles* sealed_ = nullptr;
  SealedFiles newly_sealed_;
  std::vector<std::string> mismatches_;
  std::size_t reused_ = 0;
  std::map<std::string, const ManifestFile*> files_;
  std::set<std::string> dirs_;
  std::map<std::string, std::size_t> children_;  // expected entries per directory ("" = top)
  std::set<std::string> seen_;
  std::vector<Task> tasks_;
  std::string first_rel_;
  std::uint64_t bytes_ = 0;
  dev_t dev_ = 0;
};

json hash_json(const std::string& hex) { return "sha256:" + hex; }

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

// {"a": <object>, "b": <object>} and nothing else, from the daemon's stdin.
Result<std::pair<json, json>> two_members(const std::string& text, const char* what, const char* a,
                                          const char* b) {
  auto doc = jcs::parse(text);
  if (!doc.ok()) return Error(Errc::kMalformed, std::string(what) + ": " + doc.error().message);
  if (!doc->is_object() || doc->size() != 2 || !doc->contains(a) || !doc->contains(b)) {
    return Error(Errc::kInvalidDocument,
                 std::string(what) + ": expected {\"" + a + "\": {...}, \"" + b + "\": {...}}");
  }
  return std::pair<json, json>((*doc)[a], (*doc)[b]);
}

// Who this box is, as its attestation binds it (smartcard/nitro_binding.h): box_id, the log
// key's SubjectPublicKeyInfo and, when the API listens with TLS, the key of tls_cert.
Result<nitro::BoxKeys> box_keys(const Config& config) {
  CS_TRY(note::Signer key, read_log_key(config.log_key));
  CS_TRY(PublicKey pub, PublicKey::from_raw(Alg::kEd25519, key.verifier().public_key()));
  nitro::BoxKeys keys{config.box_id, pub.spki(), std::nullopt};
  if (config.tls_cert) {
    auto spki = x509::read_spki(*config.tls_cert);
    if (!spki.ok()) return spki.error().with_context("tls_cert");
    keys.tls_key_spki = std::move(*spki);
  }
  return keys;
}

// A document from the box's Nitro Secure Module whose user_data binds `keys`, for `nonce`.
Result<Bytes> own_attestation(const Config& config, const nitro::BoxKeys& keys, std::optional<Bytes> nonce) {
  std::optional<ByteView> tls;
  if (keys.tls_key_spki) tls = ByteView(*keys.tls_key_spki);
  CS_TRY(Digest bound, nitro::binding(keys.box_id, keys.log_key_spki, tls));
  return nsm::attest(config.nsm_device, {Bytes(bound.begin(), bound.end()), std::move(nonce), std::nullopt});
}

// `attest`: {"nonce": HEX} (1 to 1024 bytes) or {} on stdin. Answers {"document": base64,
// "binding": {"box", "log_key", "tls_key"?}, "device"}; the document is not verified here:
// whoever asked checks it offline (`countersign attest verify`).
Result<json> attest(const Config& config, const std::string& input) {
  std::optional<Bytes> nonce;
  if (!input.empty()) {
    auto doc = jcs::parse(input);
    if (!doc.ok()) return doc.error().with_context("attest: the request");
    if (!doc->is_object()) return Error(Errc::kInvalidDocument, "attest: the request is not a JSON object");
    for (const auto& [key, value] : doc->items()) {
      if (key != "nonce")
        return Error(Errc::kInvalidDocument, "attest: unknown member \"" + escape_untrusted(key, 64) + "\"");
      auto raw = value.is_string() ? hex_decode(value.get<std::string>())
                                   : Result<Bytes>(Error(Errc::kMalformed, ""));
      if (!raw.ok() || raw->empty() || raw->size() > nsm::kMaxField) {
        return Error(Errc::kInvalidDocument,
                     "attest: nonce must be 1 to " + std::to_string(nsm::kMaxField) + " bytes in hex");
      }
      nonce = std::move(*raw);
    }
  }
  CS_TRY(nitro::BoxKeys keys, box_keys(config));
  CS_TRY(Bytes document, own_attestation(config, keys, std::move(nonce)));
  json binding = {{"box", keys.box_id}, {"log_key", base64_encode(keys.log_key_spki)}};
  if (keys.tls_key_spki) binding["tls_key"] = base64_encode(*keys.tls_key_spki);
  return json{{"document", base64_encode(document)}, {"binding", binding}, {"device", config.nsm_device}};
}

// Everything one privileged invocation works with: its configuration and environment, the
// state it keeps (locked), the log it writes and the attestation roots it trusts.
class Helper {
 public:
  Helper(const Config& config, const SystemEnv& env, SystemState state, LogWriter log,
         attestation::Roots roots)
      : config_(config),
        env_(env),
        state_(std::move(state)),
        log_(std::move(log)),
        roots_(std::move(roots)) {}

  Result<json> accept(const std::string& text);
  Result<json> snapshot_take(const std::string& hex);
  Result<json> model_seal(const std::string& hex);
  Result<json> model_install(const std::string& hex);
  Result<json> model_remove(const std::string& hex);
  Result<json> packages_install(const std::string& hex);
  Result<json> snapshot_restore(const std::string& hex);
  Result<json> policy_rotate(const std::string& hex);
  Result<json> abandon(const std::string& hex, const std::string& reason);
  Result<json> staging_remove(const std::string& hex);
  Result<json> veto(const std::string& text);
  Result<json> prove(const std::string& text);

  LogWriter& log() { return log_; }

 private:
  // COUNTERSIGN_SYSTEM_CRASH_AT (system.h): dies here as a power cut would, with nothing
  // flushed or cleaned up beyond what is already on disk.
  void crash_point(std::string_view step) const {
    if (!env_.crash_at.empty() && env_.crash_at == step) ::_exit(137);
  }

  struct Actionable {
    ProposalRecord record;
    Bundle bundle;
  };

  // The vetoes kept for `id` (none when there is no record) go into every verification, so
  // that a vetoed proposal is never approved.
  Result<VerifyOptions> verify_options_for(const Digest& id, UnixTime now,
                                           std::function<bool(const Digest&)> executed) const {
    VerifyOptions o = verify_options(now, std::move(executed));
    CS_TRY(auto kept, state_.load_vetoes(id));
    if (kept) o.vetoes = kept->vetoes;
    return o;
  }

  VerifyOptions verify_options(UnixTime now, std::function<bool(const Digest&)> executed) const {
    VerifyOptions o;
    o.now = now;
    o.skew_seconds = config_.skew_seconds;
    o.box_id = config_.box_id;
    o.already_executed = std::move(executed);
    o.attestation_verified = [this](const PolicyKey& k) { return attestation::check(k, roots_).verified; };
    return o;
  }

  // A refusal of something the daemon asked for: logged (bounded, rate-limited) and returned.
  Error refuse(const std::string& subcommand, const std::optional<Digest>& proposal, const Error& why) {
    json fields = {{"subcommand", subcommand}, {"reason", why.message}};
    if (proposal) fields["proposal"] = digest_to_string(*proposal);
    auto logged = log_.append_limited(ev::kActionRefused, fields, false);
    if (!logged.ok()) return logged.error().with_context("refused (" + why.message + "), and cannot log it");
    return why;
  }

  Result<Actionable> actionable(const std::string& subcommand, const std::string& hex, Action action);
  // attested_image (DESIGN.md "Policy"): when the rule for `action` asks for it, the box acts
  // only while its own attestation, asked for now with a fresh nonce, verifies against the
  // pinned AWS root, matches one of the policy's images and binds this box. Returns the
  // image's name, nullopt when the rule does not ask; kRejected saying why otherwise (no
  // Nitro Secure Module: the rule is not met).
  Result<std::optional<std::string>> attested_image(Action action) const;
  Result<std::string> ensure_snapshot(ProposalRecord& record, const StateDirs& d);
  Result<void> finish(ProposalRecord& record, ProposalState state, json result,
                      std::optional<std::string> error) {
    record.state = state;
    record.finished = env_.clock();
    record.result = std::move(result);
    record.error = std::move(error);
    return state_.save(record);
  }
  Result<json> install_from(const StateDirs& d, ProposalRecord& record, const Manifest& m);
  // packages install: the pieces (system/packages.h has the pure checks).
  Result<BoxPackages> read_system_packages();
  Result<std::string> ensure_system_snapshot(ProposalRecord& record, const SystemRootDirs& root);
  Result<void> seal_packages(const StateDirs& d, ProposalRecord& record, const Manifest& m);
  Result<void> remove_packages_work(const StateDirs& d, const std::string& mhex);
  Error packages_failed(const StateDirs& d, const SystemRootDirs& root, ProposalRecord& record,
                        const Manifest& m, const std::string& stage, const std::string& reason);
  // A privileged step found its outcome `entry` logged already (a crash before its record
  // was finished): finishes the record from it and answers as the step did.
  Result<json> finish_logged(ProposalRecord& record, const json& entry) {
    json done = entry;
    for (const char* meta : {"seq", "time", "event"}) done.erase(meta);
    CS_TRY_VOID(finish(record, ProposalState::kDone, done, std::nullopt));
    CS_TRY_VOID(state_.remove_sealed(record.id));
    CS_TRY_VOID(log_.checkpoint_if_grown());
    done["recovered"] = true;
    return done;
  }

  const Config& config_;
  const SystemEnv& env_;
  SystemState state_;
  LogWriter log_;
  attestation::Roots roots_;
};

Result<json> Helper::accept(const std::string& text) {
  auto doc = jcs::parse(text);
  Result<Bundle> parsed = doc.ok() ? Bundle::parse(*doc) : Result<Bundle>(doc.error());
  if (!parsed.ok()) {
    const std::string reason = "malformed bundle: " + parsed.error().message;
    CS_TRY_VOID(log_.append_limited(ev::kBundleRejected, {{"reasons", {reason}}}, false));
    return Error(Errc::kInvalidDocument, reason);
  }
  const Bundle& b = *parsed;
  const Digest id = b.proposal().id();
  std::vector<std::string> reasons;
  if (auto why = box_refusal(b, config_)) {
    reasons.push_back(*why);
  } else {
    CS_TRY(VerifyOptions options,
           verify_options_for(id, env_.clock(), [this](const Digest& d) { return state_.executed(d); }));
    VerifyReport report = verify_bundle(b, state_.policy(), options);
    std::optional<std::string> image;
    if (report.approved) {
      auto attested = attested_image(b.proposal().action());
      if (attested.ok()) {
        image = std::move(*attested);
      } else {
        report.approved = false;
        report.failures.push_back({"attested_image", attested.error().message});
      }
    }
    if (report.approved) {
      // The approval is on record before anything can act on it, in this order: bundle-
      // verified (durable), the helper's own record, then the executed set, which is what
      // every privileged step requires (actionable). A crash before the executed set leaves
      // nothing anyone can act on, and accepting the bundle again finishes the acceptance:
      // a record already there was written after its bundle-verified, so it is kept and only
      // marked executed (the record of a proposal is written once; no second acceptance).
      const std::string action(action_name(b.proposal().action()));
      CS_TRY(auto recorded, state_.load(id));
      if (!recorded) {
        json fields = {{"proposal", digest_to_string(id)},
                       {"action", action},
                       {"subject", digest_to_string(b.subject_hash())},
                       {"counted", report.counted},
                       {"policy_version", report.policy_version},
                       {"policy", digest_to_string(state_.policy().hash())}};
        if (image) fields["image"] = *image;
        CS_TRY_VOID(log_.append(ev::kBundleVerified, fields));
        crash_point("accept-logged");
        ProposalRecord r;
        r.id = id;
        r.bundle = *doc;
        r.accepted = env_.clock();
        CS_TRY_VOID(state_.save(r));
        crash_point("accept-recorded");
      }
      CS_TRY_VOID(state_.mark_executed(id));
      crash_point("accept-executed");
      CS_TRY_VOID(log_.checkpoint_if_grown());
      json out = {{"proposal", digest_to_string(id)},
                  {"action", action},
                  {"state", "accepted"},
                  {"counted", report.counted},
                  {"policy_version", report.policy_version}};
      if (recorded) out["recovered"] = true;  // an acceptance interrupted after its record
      return out;
    }
    reasons = report.reasons();
    bool replay = false;
    for (const auto& f : report.failures) replay = replay || f.check == "replayed";
    if (replay)
      reasons.insert(reasons.begin(), "replayed: proposal " + digest_to_string(id) + " was executed already");
  }
  CS_TRY_VOID(log_.append_limited(ev::kBundleRejected,
                                  {{"proposal", digest_to_string(id)}, {"reasons", reasons}}, false));
  std::string line = reasons.empty() ? "not approved" : reasons.front();
  if (reasons.size() > 1) line += " (and " + std::to_string(reasons.size() - 1) + " more reasons)";
  return Error(Errc::kRejected, "bundle " + digest_to_string(id) + " refused: " + line);
}

Result<Helper::Actionable> Helper::actionable(const std::string& subcommand, const std::string& hex,
                                              Action action) {
  Digest id{};
  decode_lower_hex(hex, id);
  auto refused = [&](Errc code, const std::string& why) { return refuse(subcommand, id, Error(code, why)); };
  CS_TRY(auto record, state_.load(id));
  if (!record)
    return refused(Errc::kNotFound,
                   "no accepted proposal " + digest_to_string(id) + " (submit its bundle first)");
  if (!state_.executed(id))
    return refused(Errc::kRejected, "proposal " + digest_to_string(id) + " was never accepted");
  CS_TRY(auto kept, state_.load_vetoes(id));
  if (kept && kept->dead) {
    return refused(Errc::kRejected, "proposal " + digest_to_string(id) + " was vetoed by " +
                                        join_ids(kept->vetoed_by) + " at " + format_rfc3339(*kept->dead));
  }
  if (record->state != ProposalState::kAccepted) {
    return refused(Errc::kRejected, "proposal " + digest_to_string(id) + " is " +
                                        std::string(proposal_state_name(record->state)) + " already");
  }
  auto bundle = Bundle::parse(record->bundle);
  if (!bundle.ok())
    return refused(Errc::kInvalidDocument, "the kept bundle does not parse: " + bundle.error().message);
  if (bundle->proposal().id() != id)
    return refused(Errc::kInvalidDocument, "the kept bundle is of another proposal");
  if (bundle->proposal().action() != action) {
    return refused(Errc::kRejected, "proposal " + digest_to_string(id) + " is " +
                                        std::string(action_name(bundle->proposal().action())) + ", not " +
                                        std::string(action_name(action)));
  }
  // Again, now: under the policy in force (a rotation since may have revoked a key), as of
  // the acceptance for expiry, never as a replay of itself.
  CS_TRY(VerifyOptions options, verify_options_for(id, record->accepted, [id, this](const Digest& d) {
           return d != id && state_.executed(d);
         }));
  VerifyReport report = verify_bundle(*bundle, state_.policy(), options);
  if (!report.approved) {
    auto reasons = report.reasons();
    return refused(Errc::kRejected, "proposal " + digest_to_string(id) +
                                        " is no longer approved under policy version " +
                                        std::to_string(state_.policy().version()) + ": " +
                                        (reasons.empty() ? "not approved" : reasons.front()));
  }
  auto attested = attested_image(action);
  if (!attested.ok()) {
    return refused(Errc::kRejected,
                   "proposal " + digest_to_string(id) + ": attested_image: " + attested.error().message);
  }
  return Actionable{std::move(*record), std::move(*bundle)};
}

Result<std::optional<std::string>> Helper::attested_image(Action action) const {
  const Rule* rule = state_.policy().rule_for(action);
  if (rule == nullptr || !rule->attested_image) return std::optional<std::string>();
  auto checked = [&]() -> Result<std::string> {
    CS_TRY(nitro::BoxKeys keys, box_keys(config_));
    Bytes nonce(32);
    for (std::size_t i = 0; i < nonce.size(); i += 4) {
      const std::uint32_t r = env_.random();
      for (std::size_t k = 0; k < 4; ++k) nonce[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
    }
    CS_TRY(Bytes document, own_attestation(config_, keys, nonce));
    CS_TRY(nitro::SelfAttestation self,
           nitro::check_self(document, state_.policy(), nitro::pinned_roots(), env_.clock(), nonce, keys));
    return self.image;
  }();
  if (!checked.ok()) {
    return Error(Errc::kRejected, "the rule for " + std::string(action_name(action)) +
                                      " requires an attested image, and this box's attestation is not one: " +
                                      checked.error().message);
  }
  return std::optional<std::string>(*checked);
}

Result<std::string> Helper::ensure_snapshot(ProposalRecord& record, const StateDirs& d) {
  if (record.snapshot) return *record.snapshot;
  const std::string proposal = digest_to_string(record.id);
  if (config_.snapshot.kind == SnapshotSpec::Kind::kNone) {
    CS_TRY_VOID(log_.append(ev::kSnapshotSkipped,
                            {{"proposal", proposal}, {"reason", "no snapshot backend configured"}}));
    record.snapshot = "none";
  } else {
    SnapshotContext context{&config_,    d.state.get(), d.models.get(),     env_.clock,
                            env_.random, env_.run,      env_.read_mountinfo};
    auto taken = [&]() -> Result<std::optional<SnapshotInfo>> {
      CS_TRY(auto backend, make_snapshot_backend(context));
      return backend->take();
    }();
    if (!taken.ok() || !*taken) {
      const std::string why = taken.ok() ? "the backend took no snapshot" : taken.error().message;
      CS_TRY_VOID(log_.append(ev::kSnapshotFailed, {{"proposal", proposal}, {"reason", why}}));
      return Error(Errc::kIo, "snapshot failed: " + why);
    }
    record.snapshot = (*taken)->id;
    CS_TRY_VOID(log_.append(
        ev::kSnapshotTaken,
        {{"proposal", proposal}, {"snapshot", *record.snapshot}, {"backend", config_.snapshot.to_string()}}));
  }
  CS_TRY_VOID(state_.save(record));
  return *record.snapshot;
}

Result<json> Helper::snapshot_take(const std::string& hex) {
  Digest id{};
  decode_lower_hex(hex, id);
  CS_TRY(auto record, state_.load(id));
  if (!record || !state_.executed(id) || record->state != ProposalState::kAccepted) {
    return refuse("snapshot take", id,
                  Error(Errc::kRejected,
                        "no accepted proposal " + digest_to_string(id) + " waits for its privileged step"));
  }
  CS_TRY(StateDirs d, open_state(config_));
  CS_TRY(std::string snap, ensure_snapshot(*record, d));
  return json{{"proposal", digest_to_string(id)},
              {"id", snap == "none" ? json(nullptr) : json(snap)},
              {"backend", config_.snapshot.backend_name()}};
}

// Checks the tree at <models>/<work> against the manifest (TreeCheck); on success moves it
// to <models>/<hex> in one rename. A tree that fails is deleted.
Result<json> Helper::install_from(const StateDirs& d, ProposalRecord& record, const Manifest& m) {
  const std::string hex = hex_encode(m.hash());
  const std::string proposal = digest_to_string(record.id);
  const std::string work = ".install-" + hex;
  const std::string work_shown = config_.models_dir() + "/" + work;
  const std::string shown = config_.staging_dir() + "/" + hex;
  CS_TRY(auto staged, d.staging.valid() ? stat_at(d.staging.get(), hex, shown)
                                        : Result<std::optional<struct stat>>(std::optional<struct stat>{}));
  CS_TRY(auto interrupted, stat_at(d.models.get(), work, work_shown));
  if (staged) {
    // From this rename on the daemon's user can no longer rename or replace the top of the
    // tree (<models> is root's); whatever was at <staging>/HEX is what gets checked.
    if (interrupted) CS_TRY_VOID(remove_tree_at(d.models.get(), work, work_shown));
    CS_TRY_VOID(rename_noreplace(d.staging.get(), hex, d.models.get(), work, work_shown));
    CS_TRY_VOID(sync_fd(d.staging.get(), config_.staging_dir()));
    CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
  } else if (!interrupted) {
    return refuse("model install", record.id,
                  Error(Errc::kNotFound, "there is no staging directory " + shown));
  }
  CS_TRY(SealedFiles sealed, state_.read_sealed(record.id));
  TreeCheck check(m, shown, env_.hash_threads, TreeCheck::Mode::kInstall, &sealed);
  if (auto checked = check.run(d.models.get(), work); !checked.ok()) {
    auto removed = remove_tree_at(d.models.get(), work, work_shown);
    (void)sync_fd(d.models.get(), config_.models_dir());
    json fields = {{"proposal", proposal},
                   {"manifest", hash_json(hex)},
                   {"reason", checked.error().message},
                   {"removed", removed.ok()}};
    CS_TRY_VOID(log_.append(ev::kInstallRefused, fields));
    return Error(checked.error().code,
                 "the staged model was refused and deleted: " + checked.error().message);
  }
  CS_TRY_VOID(rename_noreplace(d.models.get(), work, d.models.get(), hex, config_.models_dir() + "/" + hex));
  CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
  return json{{"files", m.files().size()}, {"bytes", check.bytes()}, {"hashed_ahead", check.reused()}};
}

// model seal PROPOSAL: while the daemon still fetches, seals and hashes the complete files
// of the staged tree that are not vouched for yet, so that the install after the last byte
// reads only what arrived since. Wrong files are reported, not refused: the install decides.
Result<json> Helper::model_seal(const std::string& hex) {
  CS_TRY(Actionable a, actionable("model seal", hex, Action::kInstallModel));
  const Manifest& m = *a.bundle.manifest();
  const std::string mhex = hex_encode(m.hash());
  CS_TRY(StateDirs d, open_state(config_));
  json out = {{"proposal", digest_to_string(a.record.id)}, {"sealed", 0}};
  if (!d.staging.valid()) return out;
  CS_TRY(auto staged, stat_at(d.staging.get(), mhex, config_.staging_dir() + "/" + mhex));
  if (!staged) return out;
  CS_TRY(SealedFiles sealed, state_.read_sealed(a.record.id));
  TreeCheck check(m, config_.staging_dir() + "/" + mhex, env_.hash_threads, TreeCheck::Mode::kAhead, &sealed);
  CS_TRY_VOID(check.run(d.staging.get(), mhex));
  CS_TRY_VOID(state_.append_sealed(a.record.id, check.newly_sealed()));
  out["sealed"] = check.newly_sealed().size();
  out["files_sealed"] = sealed.size() + check.newly_sealed().size();
  if (!check.mismatches().empty()) out["mismatches"] = check.mismatches();
  return out;
}

Result<json> Helper::model_install(const std::string& hex) {
  CS_TRY(Actionable a, actionable("model install", hex, Action::kInstallModel));
  const Manifest& m = *a.bundle.manifest();
  const std::string mhex = hex_encode(m.hash());
  const std::string proposal = digest_to_string(a.record.id);
  const std::string target = config_.models_dir() + "/" + mhex;
  // Interrupted after install-complete was logged: the install happened; only the record
  // is left to finish, so the log shows one install.
  CS_TRY(auto logged, log_.outcome_logged(ev::kInstallComplete, proposal));
  if (logged) return finish_logged(a.record, *logged);
  CS_TRY(StateDirs d, open_state(config_));
  CS_TRY(std::string snap, ensure_snapshot(a.record, d));
  crash_point("install-snapshot");

  json done = {{"proposal", proposal}, {"manifest", hash_json(mhex)}, {"path", target}, {"snapshot", snap}};
  CS_TRY(auto existing, stat_at(d.models.get(), mhex, target));
  if (existing) {
    // Nothing is trusted by its name: an existing copy is sealed and re-hashed like a staged one.
    TreeCheck check(m, target, env_.hash_threads);
    auto checked = check.run(d.models.get(), mhex);
    if (checked.ok()) {
      done["already_installed"] = true;
      done["files"] = m.files().size();
      done["bytes"] = check.bytes();
    } else {
      const std::string trash = ".trash-" + mhex;
      CS_TRY_VOID(remove_tree_at(d.models.get(), trash, config_.models_dir() + "/" + trash));
      CS_TRY_VOID(
          rename_noreplace(d.models.get(), mhex, d.models.get(), trash, config_.models_dir() + "/" + trash));
      CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
      CS_TRY_VOID(remove_tree_at(d.models.get(), trash, config_.models_dir() + "/" + trash));
      CS_TRY_VOID(state_.remove_installed(mhex));
      CS_TRY_VOID(log_.append(ev::kModelDamaged, {{"proposal", proposal},
                                                  {"manifest", hash_json(mhex)},
                                                  {"reason", checked.error().message},
                                                  {"action", "removed; installing from staging"}}));
      existing.reset();
    }
  }
  const auto check_started = std::chrono::steady_clock::now();
  if (!existing) {
    CS_TRY(json counts, install_from(d, a.record, m));
    done.update(counts);
  }
  crash_point("install-moved");
  const double check_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - check_started).count();
  CS_TRY_VOID(state_.save_installed(
      mhex,
      {{"manifest", m.to_json()}, {"proposal", proposal}, {"installed", format_rfc3339(env_.clock())}}));
  done["verified"] = "every file re-hashed by countersign-system";
  CS_TRY_VOID(log_.append(ev::kInstallComplete, done));
  crash_point("install-logged");
  CS_TRY_VOID(finish(a.record, ProposalState::kDone, done, std::nullopt));
  CS_TRY_VOID(state_.remove_sealed(a.record.id));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  // For the caller only (the install benchmark reports it), not for the log: how long the
  // seal, the re-hash and the rename of a staged tree took.
  done["check_seconds"] = std::floor(check_seconds * 1000) / 1000;
  return done;
}

// Order: the snapshot, the rename to <models>/.trash-HEX (the model is gone in one step),
// model-removed logged, then the trash deleted and the record finished. Run again after a
// crash it resumes: a .trash-HEX left behind is the removal under way (logged next), a
// model-removed already logged only needs the cleanup; the log shows one removal.
Result<json> Helper::model_remove(const std::string& hex) {
  CS_TRY(Actionable a, actionable("model remove", hex, Action::kRemoveModel));
  const std::string mhex = hex_encode(a.bundle.manifest()->hash());
  const std::string proposal = digest_to_string(a.record.id);
  const std::string trash = ".trash-" + mhex;
  const std::string trash_shown = config_.models_dir() + "/" + trash;
  CS_TRY(StateDirs d, open_state(config_));
  auto clean_up = [&]() -> Result<void> {
    CS_TRY_VOID(remove_tree_at(d.models.get(), trash, trash_shown));
    CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
    return state_.remove_installed(mhex);
  };
  CS_TRY(auto logged, log_.outcome_logged(ev::kModelRemoved, proposal));
  if (logged) {
    CS_TRY_VOID(clean_up());
    return finish_logged(a.record, *logged);
  }
  CS_TRY(auto installed, stat_at(d.models.get(), mhex, config_.models_dir() + "/" + mhex));
  CS_TRY(auto trashed, stat_at(d.models.get(), trash, trash_shown));
  const bool resuming = !installed && trashed && a.record.snapshot.has_value();
  if (!installed && !resuming) {
    return refuse("model remove", a.record.id,
                  Error(Errc::kNotFound, "model sha256:" + mhex + " is not installed"));
  }
  CS_TRY(std::string snap, ensure_snapshot(a.record, d));
  crash_point("remove-snapshot");
  if (installed) {
    CS_TRY_VOID(remove_tree_at(d.models.get(), trash, trash_shown));
    CS_TRY_VOID(rename_noreplace(d.models.get(), mhex, d.models.get(), trash, trash_shown));
    CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
  }
  crash_point("remove-trashed");
  json done = {{"proposal", proposal}, {"manifest", hash_json(mhex)}, {"removed", true}, {"snapshot", snap}};
  CS_TRY_VOID(log_.append(ev::kModelRemoved, done));
  crash_point("remove-logged");
  CS_TRY_VOID(clean_up());
  CS_TRY_VOID(finish(a.record, ProposalState::kDone, done, std::nullopt));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return done;
}

Result<BoxPackages> Helper::read_system_packages() {
  return query_box_packages(env_.run, config_.system_admindir(), config_.box_id, env_.clock());
}

Result<std::string> Helper::ensure_system_snapshot(ProposalRecord& record, const SystemRootDirs& root) {
  if (record.snapshot) return *record.snapshot;
  const std::string proposal = digest_to_string(record.id);
  if (config_.system_snapshot.kind == SnapshotSpec::Kind::kNone) {
    CS_TRY_VOID(log_.append(ev::kSnapshotSkipped, {{"proposal", proposal},
                                                   {"root", config_.system_root},
                                                   {"reason", "no system snapshot backend configured"}}));
    record.snapshot = "none";
  } else {
    SystemSnapshotContext context{&config_,   root.root.get(), root.parent.get(),
                                  env_.clock, env_.random,     env_.run};
    auto taken = [&]() -> Result<std::optional<SnapshotInfo>> {
      CS_TRY(auto backend, make_system_snapshot_backend(context));
      return backend->take();
    }();
    if (!taken.ok() || !*taken) {
      const std::string why = taken.ok() ? "the backend took no snapshot" : taken.error().message;
      CS_TRY_VOID(log_.append(ev::kSnapshotFailed,
                              {{"proposal", proposal}, {"root", config_.system_root}, {"reason", why}}));
      return Error(Errc::kIo, "snapshot of the system root failed: " + why);
    }
    record.snapshot = (*taken)->id;
    CS_TRY_VOID(log_.append(ev::kSnapshotTaken, {{"proposal", proposal},
                                                 {"snapshot", *record.snapshot},
                                                 {"root", config_.system_root},
                                                 {"backend", config_.system_snapshot.to_string()}}));
  }
  CS_TRY_VOID(state_.save(record));
  return *record.snapshot;
}

// <staging>/HEX (the daemon's fetch) is renamed to <models>/.packages-HEX, root's, and
// checked with the same TreeCheck a model install uses: sealed (root-owned, read-only, not
// open elsewhere) and every .deb re-hashed against the manifest. An interrupted run finds
// the work directory already there and checks it again.
Result<void> Helper::seal_packages(const StateDirs& d, ProposalRecord& record, const Manifest& m) {
  const std::string hex = hex_encode(m.hash());
  const std::string work = ".packages-" + hex;
  const std::string work_shown = config_.models_dir() + "/" + work;
  const std::string shown = config_.staging_dir() + "/" + hex;
  CS_TRY(auto staged, d.staging.valid() ? stat_at(d.staging.get(), hex, shown)
                                        : Result<std::optional<struct stat>>(std::optional<struct stat>{}));
  CS_TRY(auto interrupted, stat_at(d.models.get(), work, work_shown));
  if (staged) {
    if (interrupted) CS_TRY_VOID(remove_tree_at(d.models.get(), work, work_shown));
    CS_TRY_VOID(rename_noreplace(d.staging.get(), hex, d.models.get(), work, work_shown));
    CS_TRY_VOID(sync_fd(d.staging.get(), config_.staging_dir()));
    CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
  } else if (!interrupted) {
    return refuse("packages install", record.id,
                  Error(Errc::kNotFound, "there is no staging directory " + shown));
  }
  TreeCheck check(m, work_shown, env_.hash_threads, TreeCheck::Mode::kInstall, nullptr);
  return check.run(d.models.get(), work);
}

Result<void> Helper::remove_packages_work(const StateDirs& d, const std::string& mhex) {
  const std::string work = ".packages-" + mhex;
  CS_TRY_VOID(remove_tree_at(d.models.get(), work, config_.models_dir() + "/" + work));
  return sync_fd(d.models.get(), config_.models_dir());
}

// After the snapshot: logs packages-failed, restores the snapshot (packages-rolled-back),
// finishes the record as failed and returns the error the caller reports.
Error Helper::packages_failed(const StateDirs& d, const SystemRootDirs& root, ProposalRecord& record,
                              const Manifest& m, const std::string& stage, const std::string& reason) {
  const std::string proposal = digest_to_string(record.id);
  const std::string snap = record.snapshot.value_or("none");
  auto logged = log_.append(ev::kPackagesFailed, {{"proposal", proposal},
                                                  {"stage", stage},
                                                  {"reason", reason},
                                                  {"root", config_.system_root},
                                                  {"packages", package_changes_json(m)}});
  if (!logged.ok()) return logged.error().with_context("packages failed (" + reason + "), and cannot log it");
  std::string outcome;
  if (snap == "none") {
    outcome = "no system snapshot is configured: " + config_.system_root + " is left as dpkg left it";
  } else {
    SystemSnapshotContext context{&config_,   root.root.get(), root.parent.get(),
                                  env_.clock, env_.random,     env_.run};
    auto restored = [&]() -> Result<std::vector<std::string>> {
      CS_TRY(auto backend, make_system_snapshot_backend(context));
      return backend->restore(snap);
    }();
    if (!restored.ok()) {
      (void)log_.append(ev::kSnapshotFailed, {{"proposal", proposal},
                                              {"snapshot", snap},
                                              {"root", config_.system_root},
                                              {"reason", restored.error().message}});
      outcome = "and restoring snapshot " + snap + " failed: " + restored.error().message;
    } else {
      json done = {{"proposal", proposal}, {"snapshot", snap}, {"root", config_.system_root}};
      if (!restored->empty()) done["warnings"] = *restored;
      auto rolled = log_.append(ev::kPackagesRolledBack, done);
      if (!rolled.ok()) return rolled.error().with_context("rolled back, and cannot log it");
      outcome = config_.system_root + " was restored to snapshot " + snap;
    }
  }
  (void)finish(record, ProposalState::kFailed, nullptr, reason);
  (void)remove_packages_work(d, hex_encode(m.hash()));
  (void)log_.checkpoint_if_grown();
  return Error(Errc::kRejected, "packages not installed (" + stage + "): " + reason + "; " + outcome);
}

// packages install PROPOSAL (docs/daemon.md "Debian packages"). In order: the plan must
// apply to the dpkg database as it is now (plan_problem: refused before anything changes);
// the staged .debs are sealed and re-hashed (TreeCheck) and their control fields checked
// with dpkg-deb; the system root's snapshot; "dpkg-started" saved in the record; dpkg
// --install of exactly the staged files and dpkg --remove of the removals; the database
// read again must equal the plan (result_problem); packages-installed logged. Any failure
// after the snapshot restores it. A rerun after a crash never runs a step twice: with
// packages-installed logged it only finishes the record; with dpkg started and nothing
// logged it judges the database as dpkg left it (the plan: logged as installed; anything
// else: restored).
Result<json> Helper::packages_install(const std::string& hex) {
  CS_TRY(Actionable a, actionable("packages install", hex, Action::kInstallPackages));
  const Manifest& m = *a.bundle.manifest();
  const std::string mhex = hex_encode(m.hash());
  const std::string proposal = digest_to_string(a.record.id);
  CS_TRY(StateDirs d, open_state(config_));
  CS_TRY(auto logged, log_.outcome_logged(ev::kPackagesInstalled, proposal));
  if (logged) {
    CS_TRY_VOID(remove_packages_work(d, mhex));
    return finish_logged(a.record, *logged);
  }
  CS_TRY(SystemRootDirs root, open_system_root(config_));
  const bool dpkg_started =
      a.record.result.is_object() && a.record.result.value("packages", "") == "dpkg-started";
  std::optional<BoxPackages> before;
  if (!dpkg_started) {
    CS_TRY(before, read_system_packages());
    if (auto why = plan_problem(m, *before)) {
      return refuse("packages install", a.record.id,
                    Error(Errc::kRejected, "the plan does not apply: " + *why));
    }
    if (auto sealed = seal_packages(d, a.record, m); !sealed.ok()) {
      if (sealed.error().code == Errc::kNotFound) return sealed.error();
      CS_TRY_VOID(remove_packages_work(d, mhex));
      CS_TRY_VOID(log_.append(ev::kPackagesFailed, {{"proposal", proposal},
                                                    {"stage", "verify"},
                                                    {"reason", sealed.error().message},
                                                    {"root", config_.system_root}}));
      return Error(sealed.error().code,
                   "the staged packages were refused and deleted: " + sealed.error().message);
    }
    const std::string work = config_.models_dir() + "/.packages-" + mhex;
    for (const auto& c : m.packages()) {
      if (c.remove) continue;
      const auto argv = dpkg_deb_fields_command(work + "/" + c.file);
      CS_TRY(CommandOutput out, env_.run(argv, {}));
      std::optional<std::string> why;
      if (out.status != 0) {
        why = describe_command(argv) + " failed: " + printable(first_line(out.err));
      } else {
        why = deb_fields_problem(out.out, c);
      }
      if (why) {
        CS_TRY_VOID(remove_packages_work(d, mhex));
        CS_TRY_VOID(log_.append(
            ev::kPackagesFailed,
            {{"proposal", proposal}, {"stage", "verify"}, {"reason", *why}, {"root", config_.system_root}}));
        return Error(Errc::kRejected, "the staged packages were refused and deleted: " + *why);
      }
    }
    CS_TRY_VOID(ensure_system_snapshot(a.record, root));
    crash_point("packages-snapshot");
    a.record.result = json{{"packages", "dpkg-started"}};
    CS_TRY_VOID(state_.save(a.record));
    std::vector<std::string> debs, removals;
    for (const auto& c : m.packages()) {
      if (c.remove) {
        removals.push_back(c.qualified_name());
      } else {
        debs.push_back(work + "/" + c.file);
      }
    }
    auto run_dpkg = [&](const std::vector<std::string>& argv) -> std::optional<std::string> {
      auto out = env_.run(argv, {});
      if (!out.ok()) return out.error().message;
      if (out->status == 0) return std::nullopt;
      // dpkg's last lines say what failed ("Errors were encountered while processing: ...").
      std::string text = out->err.empty() ? out->out : out->err;
      if (text.size() > 600) text = text.substr(text.size() - 600);
      return "dpkg exited with status " + std::to_string(out->status) + ": " + printable(text);
    };
    std::optional<std::string> failed;
    if (!debs.empty()) failed = run_dpkg(dpkg_install_command(config_.system_root, debs));
    if (!failed && !removals.empty()) failed = run_dpkg(dpkg_remove_command(config_.system_root, removals));
    crash_point("packages-dpkg");
    if (failed) return packages_failed(d, root, a.record, m, "dpkg", *failed);
  }
  auto after = read_system_packages();
  if (!after.ok()) return packages_failed(d, root, a.record, m, "result", after.error().message);
  if (auto why = result_problem(m, *after, before ? &*before : nullptr)) {
    return packages_failed(d, root, a.record, m, "result", "the installed result is not the plan: " + *why);
  }
  json done = {{"proposal", proposal},
               {"manifest", hash_json(mhex)},
               {"root", config_.system_root},
               {"snapshot", a.record.snapshot.value_or("none")},
               {"packages", package_changes_json(m)},
               {"verified", "every .deb re-hashed by countersign-system; the dpkg database equals the plan"}};
  if (dpkg_started) done["interrupted"] = true;
  CS_TRY_VOID(log_.append(ev::kPackagesInstalled, done));
  crash_point("packages-logged");
  CS_TRY_VOID(remove_packages_work(d, mhex));
  CS_TRY_VOID(finish(a.record, ProposalState::kDone, done, std::nullopt));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return done;
}

Result<json> Helper::snapshot_restore(const std::string& hex) {
  CS_TRY(Actionable a, actionable("snapshot restore", hex, Action::kRestoreSnapshot));
  const auto& s = a.bundle.snapshot()->fields();
  const std::string proposal = digest_to_string(a.record.id);
  if (auto why = box_refusal(a.bundle, config_)) {
    return refuse("snapshot restore", a.record.id, Error(Errc::kRejected, *why));
  }
  CS_TRY(StateDirs d, open_state(config_));
  std::string safety;
  Result<std::vector<std::string>> restored = std::vector<std::string>{};
  if (a.bundle.snapshot()->of_system()) {
    // Rolling a packages upgrade back: the system root, under its own backend; the state
    // it is in now is kept first as the safety snapshot, as for the models directory.
    if (config_.system_snapshot.kind == SnapshotSpec::Kind::kNone) {
      return refuse("snapshot restore", a.record.id,
                    Error(Errc::kRejected,
                          "the bundle restores a snapshot of the system root, and this box "
                          "has no system_snapshot backend configured"));
    }
    CS_TRY(SystemRootDirs root, open_system_root(config_));
    CS_TRY(safety, ensure_system_snapshot(a.record, root));
    SystemSnapshotContext context{&config_,   root.root.get(), root.parent.get(),
                                  env_.clock, env_.random,     env_.run};
    restored = [&]() -> Result<std::vector<std::string>> {
      CS_TRY(auto backend, make_system_snapshot_backend(context));
      return backend->restore(s.id);
    }();
  } else {
    CS_TRY(safety, ensure_snapshot(a.record, d));
    SnapshotContext context{&config_,    d.state.get(), d.models.get(),     env_.clock,
                            env_.random, env_.run,      env_.read_mountinfo};
    restored = [&]() -> Result<std::vector<std::string>> {
      CS_TRY(auto backend, make_snapshot_backend(context));
      return backend->restore(s.id);
    }();
  }
  if (!restored.ok()) {
    json failed = {{"proposal", proposal}, {"snapshot", s.id}, {"reason", restored.error().message}};
    if (a.bundle.snapshot()->of_system()) failed["root"] = config_.system_root;
    CS_TRY_VOID(log_.append(ev::kSnapshotFailed, failed));
    return Error(restored.error().code, "restore failed: " + restored.error().message);
  }
  json done = {{"proposal", proposal}, {"snapshot", s.id}, {"safety_snapshot", safety}, {"restored", true}};
  if (a.bundle.snapshot()->of_system()) done["root"] = config_.system_root;
  if (!restored->empty()) done["warnings"] = *restored;
  CS_TRY_VOID(log_.append(ev::kSnapshotRestored, done));
  CS_TRY_VOID(finish(a.record, ProposalState::kDone, done, std::nullopt));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return done;
}

Result<json> Helper::policy_rotate(const std::string& hex) {
  CS_TRY(Actionable a, actionable("policy rotate", hex, Action::kRotatePolicy));
  const std::uint64_t from = state_.policy().version();
  if (auto added = state_.add_rotation(a.bundle); !added.ok())
    return refuse("policy rotate", a.record.id, added.error());
  const Policy& next = state_.policy();
  json done = {{"proposal", digest_to_string(a.record.id)},
               {"from_version", from},
               {"to_version", next.version()},
               {"policy", digest_to_string(next.hash())}};
  CS_TRY_VOID(log_.append(ev::kPolicyRotated, done));
  CS_TRY_VOID(finish(a.record, ProposalState::kDone, done, std::nullopt));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return done;
}

Result<json> Helper::abandon(const std::string& hex, const std::string& reason_input) {
  Digest id{};
  decode_lower_hex(hex, id);
  std::string reason = reason_input;
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
  if (reason.empty()) reason = "no reason given";
  CS_TRY(auto record, state_.load(id));
  if (!record || !state_.executed(id) || record->state != ProposalState::kAccepted) {
    return refuse("proposal abandon", id,
                  Error(Errc::kRejected,
                        "no accepted proposal " + digest_to_string(id) + " waits for its privileged step"));
  }
  auto bundle = Bundle::parse(record->bundle);
  const bool install = bundle.ok() && bundle->proposal().action() == Action::kInstallModel;
  json fields = {{"proposal", digest_to_string(id)}, {"reason", reason}};
  if (install) fields["manifest"] = digest_to_string(bundle->manifest()->hash());
  CS_TRY_VOID(log_.append_limited(install ? ev::kInstallAborted : ev::kProposalAbandoned, fields, true));
  CS_TRY_VOID(finish(*record, ProposalState::kFailed, nullptr,
                     bound_reported_fields({{"r", reason}}).value("r", std::string("(reason cut)"))));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return json{{"proposal", digest_to_string(id)}, {"state", "failed"}};
}

// <staging>/HEX and <staging>/HEX.parts (the daemon's), a legacy <staging>/HEX.manifest.json
// and an interrupted install's <models>/.install-HEX; missing ones are fine.
Result<json> Helper::staging_remove(const std::string& hex) {
  CS_TRY(StateDirs d, open_state(config_));
  if (d.staging.valid()) {
    for (const std::string& name : {hex, hex + ".parts", hex + ".manifest.json"}) {
      CS_TRY_VOID(remove_tree_at(d.staging.get(), name, config_.staging_dir() + "/" + name));
    }
    CS_TRY_VOID(sync_fd(d.staging.get(), config_.staging_dir()));
  }
  for (const std::string& work : {".install-" + hex, ".packages-" + hex}) {
    CS_TRY_VOID(remove_tree_at(d.models.get(), work, config_.models_dir() + "/" + work));
  }
  CS_TRY_VOID(sync_fd(d.models.get(), config_.models_dir()));
  return json{{"hash", hash_json(hex)}, {"removed", true}};
}

// veto: {"proposal": <proposal document>, "veto": <veto file>}. The proposal id is computed
// here; the veto is judged as verify_approval judges it (a veto of this proposal, a key of
// the policy in force with its algorithm, an approver the rule allows, attested where the
// rule says so, one vote per approver), together with the vetoes kept for it. Only counted
// vetoes are kept. Refused once the proposal's privileged step is done ("too late").
Result<json> Helper::veto(const std::string& text) {
  auto input = two_members(text, "veto", "proposal", "veto");
  if (!input.ok()) return refuse("veto", std::nullopt, input.error());
  auto proposal = Proposal::parse(input->first);
  if (!proposal.ok())
    return refuse("veto", std::nullopt, proposal.error().with_context("veto: the proposal"));
  const Digest id = proposal->id();
  const std::string shown = digest_to_string(id);
  auto refused = [&](Errc code, const std::string& why) { return refuse("veto", id, Error(code, why)); };
  auto sig = SignatureFile::parse(input->second);
  if (!sig.ok()) return refused(sig.error().code, "veto: " + sig.error().message);
  if (auto kind = sig->expect(Statement::kVeto); !kind.ok())
    return refused(Errc::kInvalidArgument, kind.error().message);
  if (sig->proposal() != id) {
    return refused(Errc::kRejected,
                   "the veto is of proposal " + digest_to_string(sig->proposal()) + ", not " + shown);
  }
  const Rule* rule = state_.policy().rule_for(proposal->action());
  if (rule == nullptr || !rule->veto) {
    return refused(Errc::kRejected, "policy version " + std::to_string(state_.policy().version()) +
                                        " takes no vetoes for " +
                                        std::string(action_name(proposal->action())));
  }
  CS_TRY(auto record, state_.load(id));
  if (record && record->state == ProposalState::kDone) {
    return refused(Errc::kRejected, "too late: proposal " + shown + " was executed at " +
                                        format_rfc3339(record->finished.value_or(record->accepted)));
  }
  CS_TRY(auto kept, state_.load_vetoes(id));
  VetoRecord vetoes = kept ? std::move(*kept) : VetoRecord{id, {}, {}, std::nullopt};
  auto answer = [&](const std::string& approver, bool counted) {
    json out = {{"proposal", shown},
                {"key", sig->key()},
                {"counted", counted},
                {"vetoes", vetoes.vetoed_by.size()},
                {"veto", *rule->veto},
                {"vetoed_by", vetoes.vetoed_by},
                {"vetoed", vetoes.dead.has_value()}};
    if (!approver.empty()) out["approver"] = approver;
    return out;
  };
  const json as_json = sig->to_json();
  for (std::size_t i = 0; i < vetoes.vetoes.size(); ++i) {
    if (vetoes.vetoes[i].to_json() == as_json)
      return answer(vetoes.vetoed_by[i], true);  // the same file again
  }
  if (record && record->state == ProposalState::kFailed && !vetoes.dead) {
    return refused(Errc::kRejected, "proposal " + shown + " was given up at " +
                                        format_rfc3339(record->finished.value_or(record->accepted)) + " (" +
                                        record->error.value_or("no reason") + "): nothing is left to veto");
  }
  VerifyOptions options = verify_options(env_.clock(), [](const Digest&) { return false; });
  options.vetoes = vetoes.vetoes;
  options.vetoes.push_back(*sig);
  const VerifyReport report = verify_approval(*proposal, nullptr, {}, state_.policy(), options);
  const SignatureVerdict& verdict = report.vetoes.back();
  if (verdict.status != SignatureVerdict::Status::kCounted) {
    return refused(Errc::kRejected, "veto not counted: " + std::string(verdict_name(verdict.status)) +
                                        (verdict.reason.empty() ? "" : ": " + verdict.reason));
  }
  if (vetoes.dead) return answer(verdict.approver_id, false);  // dead already: nothing more to count
  vetoes.vetoes.push_back(*sig);
  vetoes.vetoed_by.push_back(verdict.approver_id);
  if (report.vetoed) vetoes.dead = env_.clock();
  // On disk before the log says so: a crash after the save and before the entries leaves a
  // veto that counts (the proposal refused) without its entry, never the reverse.
  CS_TRY_VOID(state_.save_vetoes(vetoes));
  CS_TRY_VOID(log_.append(ev::kVetoReceived, {{"proposal", shown},
                                              {"approver", verdict.approver_id},
                                              {"key", sig->key()},
                                              {"policy_version", state_.policy().version()}}));
  if (vetoes.dead) {
    CS_TRY_VOID(log_.append(ev::kProposalVetoed, {{"proposal", shown},
                                                  {"action", std::string(action_name(proposal->action()))},
                                                  {"vetoed_by", vetoes.vetoed_by},
                                                  {"veto", *rule->veto}}));
    if (record && record->state == ProposalState::kAccepted) {
      CS_TRY_VOID(
          finish(*record, ProposalState::kFailed, nullptr, "vetoed by " + join_ids(vetoes.vetoed_by)));
      CS_TRY_VOID(state_.remove_sealed(id));
    }
  }
  CS_TRY_VOID(log_.checkpoint_if_grown());
  return answer(verdict.approver_id, true);
}

// prove: {"challenge": <challenge document>, "proof": <liveness file>}, judged by
// verify_liveness against the policy in force, this box, the helper's clock and
// challenge_lifetime; a valid proof is logged as approver-proved.
Result<json> Helper::prove(const std::string& text) {
  auto input = two_members(text, "prove", "challenge", "proof");
  if (!input.ok()) return refuse("prove", std::nullopt, input.error());
  auto challenge = Challenge::parse(input->first);
  if (!challenge.ok())
    return refuse("prove", std::nullopt, challenge.error().with_context("prove: the challenge"));
  auto sig = SignatureFile::parse(input->second);
  if (!sig.ok()) return refuse("prove", std::nullopt, sig.error().with_context("prove: the proof"));
  if (auto kind = sig->expect(Statement::kLiveness); !kind.ok())
    return refuse("prove", std::nullopt, kind.error());
  LivenessCheck check;
  check.now = env_.clock();
  check.box_id = config_.box_id;
  check.max_age_seconds = config_.challenge_lifetime_seconds;
  check.skew_seconds = config_.skew_seconds;
  auto proof = verify_liveness(*sig, *challenge, state_.policy(), check);
  if (!proof.ok()) return refuse("prove", std::nullopt, proof.error());
  json fields = {{"approver", proof->approver_id},
                 {"key", proof->key_id},
                 {"challenge", digest_to_string(proof->challenge)},
                 {"issued", format_rfc3339(proof->issued)}};
  CS_TRY(std::uint64_t seq, log_.append(ev::kApproverProved, fields));
  CS_TRY_VOID(log_.checkpoint_if_grown());
  fields["recorded"] = format_rfc3339(check.now);
  fields["seq"] = seq;
  return fields;
}

Result<json> log_append(LogWriter& log, const std::string& text) {
  auto doc = jcs::parse(text);
  if (!doc.ok()) return Error(Errc::kMalformed, "log append: " + doc.error().message);
  if (!doc->is_object() || !doc->contains("event") || !(*doc)["event"].is_string()) {
    return Error(Errc::kInvalidDocument, "log append: expected {\"event\": NAME, ...}");
  }
  const std::string event = (*doc)["event"].get<std::string>();
  if (!daemon_may_report(event)) {
    // The events of privileged actions are the helper's to write; an attempt is itself worth a line.
    CS_TRY_VOID(log.append_limited(
        ev::kActionRefused,
        {{"subcommand", "log append"}, {"reason", "the daemon may not report \"" + event + "\""}}, false));
    return Error(Errc::kRejected, "log append: the daemon may not report \"" + printable(event) + "\"");
  }
  json fields = *doc;
  fields.erase("event");
  for (const char* reserved : {"seq", "time", "reported_by"}) fields.erase(reserved);
  if (fields.contains("proposal") &&
      !(fields["proposal"].is_string() && digest_from_string(fields["proposal"].get<std::string>()).ok())) {
    return Error(Errc::kInvalidDocument, "log append: \"proposal\" must be sha256:<64 hex>");
  }
  CS_TRY(auto seq, log.append_limited(event, std::move(fields), true));
  return seq ? json{{"seq", *seq}} : json{{"suppressed", true}};
}

}  // namespace

bool is_manifest_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool takes_input(SystemAction action) {
  return action == SystemAction::kAccept || action == SystemAction::kProposalAbandon ||
         action == SystemAction::kLogAppend || action == SystemAction::kVeto ||
         action == SystemAction::kProve || action == SystemAction::kAttest;
}

std::uint64_t max_input(SystemAction action) {
  switch (action) {
    case SystemAction::kAccept:
      return kMaxBundleInput;
    case SystemAction::kProposalAbandon:
      return kMaxReasonInput;
    case SystemAction::kLogAppend:
      return kMaxReportInput;
    case SystemAction::kVeto:
      return kMaxVetoInput;
    case SystemAction::kProve:
      return kMaxProofInput;
    case SystemAction::kAttest:
      return kMaxAttestInput;
    default:
      return 0;
  }
}

Result<SystemInvocation> parse_system_args(const std::vector<std::string>& args) {
  if (args.empty()) return usage_error("no subcommand given");
  const std::string& group = args[0];
  if (args.size() == 1 && (group == "--help" || group == "-h" || group == "help")) {
    return SystemInvocation{SystemAction::kHelp, "", ""};
  }
  const std::string verb = args.size() >= 2 ? args[1] : "";
  const std::string form = group + (verb.empty() ? "" : " " + verb);
  auto none = [&](SystemAction action, std::size_t words) -> Result<SystemInvocation> {
    if (args.size() != words) return usage_error((words == 1 ? group : form) + " takes no arguments");
    return SystemInvocation{action, "", ""};
  };
  auto hex_argument = [&](SystemAction action, const char* what) -> Result<SystemInvocation> {
    if (args.size() != 3) return usage_error(form + " takes exactly one " + what);
    if (!is_manifest_hex(args[2])) {
      return usage_error("\"" + printable(args[2]) + "\" is not a " + what +
                         " (64 lowercase hex digits, no sha256: prefix)");
    }
    return SystemInvocation{action, args[2], ""};
  };
  if (group == "accept") return none(SystemAction::kAccept, 1);
  if (group == "snapshot") {
    if (verb == "list") return none(SystemAction::kSnapshotList, 2);
    if (verb == "take") return hex_argument(SystemAction::kSnapshotTake, "proposal id");
    if (verb == "restore") return hex_argument(SystemAction::kSnapshotRestore, "proposal id");
    return usage_error("snapshot takes list, take PROPOSAL or restore PROPOSAL");
  }
  if (group == "model") {
    if (verb == "seal") return hex_argument(SystemAction::kModelSeal, "proposal id");
    if (verb == "install") return hex_argument(SystemAction::kModelInstall, "proposal id");
    if (verb == "remove") return hex_argument(SystemAction::kModelRemove, "proposal id");
    return usage_error("model takes seal PROPOSAL, install PROPOSAL or remove PROPOSAL");
  }
  if (group == "packages") {
    if (verb == "install") return hex_argument(SystemAction::kPackagesInstall, "proposal id");
    return usage_error("packages takes install PROPOSAL");
  }
  if (group == "policy") {
    if (verb == "rotate") return hex_argument(SystemAction::kPolicyRotate, "proposal id");
    return usage_error("policy takes rotate PROPOSAL");
  }
  if (group == "proposal") {
    if (verb == "abandon") return hex_argument(SystemAction::kProposalAbandon, "proposal id");
    return usage_error("proposal takes abandon PROPOSAL");
  }
  if (group == "staging") {
    if (verb == "remove") return hex_argument(SystemAction::kStagingRemove, "manifest hash");
    return usage_error("staging takes remove MANIFEST");
  }
  if (group == "check") return none(SystemAction::kCheck, 1);
  if (group == "veto") return none(SystemAction::kVeto, 1);
  if (group == "prove") return none(SystemAction::kProve, 1);
  if (group == "attest") return none(SystemAction::kAttest, 1);
  if (group == "log") {
    if (verb == "append") return none(SystemAction::kLogAppend, 2);
    if (verb == "checkpoint") return none(SystemAction::kLogCheckpoint, 2);
    return usage_error("log takes append or checkpoint");
  }
  return usage_error("unknown subcommand \"" + printable(group) + "\"");
}

std::string system_usage() {
  return "usage: countersign-system SUBCOMMAND\n"
         "The System component of a Countersign box: the one program that acts as root. countersignd\n"
         "runs it through sudo; it verifies every approval itself and writes the audit log. Paths\n"
         "come from /etc/countersign/countersignd.conf; output is one JSON document.\n"
         "\n"
         "  accept                    verify the bundle on stdin against the policy chain, the box id,\n"
         "                            the clock and the executed set; record it and log bundle-verified\n"
         "  snapshot list             our snapshots, oldest first\n"
         "  snapshot take PROPOSAL    the snapshot before an accepted proposal's privileged step\n"
         "  snapshot restore PROPOSAL restore the snapshot an accepted restore-snapshot names\n"
         "  model seal PROPOSAL       while the daemon fetches: seal and hash the complete files staged\n"
         "                            so far, so the install reads only what arrived since\n"
         "  model install PROPOSAL    seal models/.staging/<manifest>, re-hash every file against the\n"
         "                            accepted manifest, move it to models/<manifest>, read-only\n"
         "  model remove PROPOSAL     remove the model an accepted remove-model names\n"
         "  packages install PROPOSAL check an accepted install-packages against the dpkg database,\n"
         "                            seal and re-hash the staged .debs, snapshot the system root,\n"
         "                            dpkg --install/--remove exactly the plan; restore on failure\n"
         "  policy rotate PROPOSAL    put the policy of an accepted rotate-policy in force\n"
         "  proposal abandon PROPOSAL give an accepted proposal up (reason on stdin, one line)\n"
         "  staging remove MANIFEST   remove the daemon's staging of a manifest\n"
         "  log append                an entry the daemon reports (stdin: {\"event\": NAME, ...})\n"
         "  log checkpoint            sign a checkpoint of the audit log if it grew\n"
         "  veto                      verify a veto (stdin: {\"proposal\", \"veto\"}) and keep it; at the\n"
         "                            rule's count the proposal is dead (proposal-vetoed)\n"
         "  prove                     verify a liveness proof (stdin: {\"challenge\", \"proof\"}) and log\n"
         "                            approver-proved\n"
         "  attest                    the box's attestation document from its Nitro Secure Module\n"
         "                            (nsm_device), binding box_id, the log key and the TLS key\n"
         "                            (stdin: {\"nonce\": HEX} or {})\n"
         "  check                     read-only: configuration, log key, policy chain, state\n"
         "                            directories and snapshot backend; a JSON report, exit 0\n"
         "                            only when every check passes\n"
         "\n"
         "PROPOSAL is a proposal id, MANIFEST a manifest hash: 64 lowercase hex digits. Every\n"
         "privileged subcommand re-verifies the accepted bundle under the policy in force and acts\n"
         "at most once per proposal.\n"
         "Exit status: 0 done, 1 refused or failed (one line on stderr), 2 bad usage.\n";
}

std::string system_config_path(const std::function<const char*(const char*)>& getenv, bool elevated) {
  const char* path = getenv(kSystemConfigEnv);
  const bool via_sudo = getenv("SUDO_USER") != nullptr || getenv("SUDO_UID") != nullptr;
  if (path != nullptr && *path != '\0' && !via_sudo && !elevated) return path;
  return kSystemConfigPath;
}

std::string system_crash_step(const std::function<const char*(const char*)>& getenv, bool elevated) {
  const char* step = getenv(kSystemCrashEnv);
  const bool via_sudo = getenv("SUDO_USER") != nullptr || getenv("SUDO_UID") != nullptr;
  if (step == nullptr || via_sudo || elevated) return "";
  return step;
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

json system_check(const Config& config, const SystemEnv& env) {
  json checks = json::array();
  auto add = [&](const std::string& check, const std::string& path, const Result<void>& r) {
    json c = {{"check", check}, {"path", path}, {"ok", r.ok()}};
    if (!r.ok()) c["detail"] = r.error().message;
    checks.push_back(std::move(c));
    return r.ok();
  };
  add("log key readable by root only", config.log_key, [&]() -> Result<void> {
    if (running_as_root()) {
      struct stat st {};
      if (::stat(config.log_key.c_str(), &st) != 0)
        return Error(Errc::kIo, "cannot read " + config.log_key + ": " + std::strerror(errno));
      if (st.st_uid != 0) return Error(Errc::kRejected, config.log_key + " is not owned by root");
    }
    CS_TRY(SecretBytes key, read_private_secret_file(config.log_key));
    CS_TRY_VOID(note::Signer::parse(key));
    return {};
  }());
  add("policy chain replays", config.policy, [&]() -> Result<void> {
    CS_TRY(auto roots, attestation::Roots::pinned_plus(config.attestation_roots));
    CS_TRY(auto chain, read_policy_chain(config, [&roots](const PolicyKey& k) {
             return attestation::check(k, roots).verified;
           }));
    (void)chain;
    return {};
  }());
  auto root_dir = [&](const std::string& path) -> Result<void> {
    CS_TRY(UniqueFd fd, open_directory(path));
    if (running_as_root()) CS_TRY_VOID(check_root_only(fd.get(), path));
    return {};
  };
  const bool dirs_ok = add("state directory", config.state_dir, root_dir(config.state_dir)) &&
                       add("models directory", config.models_dir(), root_dir(config.models_dir()));
  add("staging directory", config.staging_dir(), [&]() -> Result<void> {
    CS_TRY(UniqueFd fd, open_directory(config.staging_dir()));
    return {};
  }());
  add("log directory", config.state_dir + "/log", root_dir(config.state_dir + "/log"));
  add("system directory", config.state_dir + "/system", root_dir(config.state_dir + "/system"));
  if (dirs_ok) {
    add("snapshot backend " + config.snapshot.to_string(), config.models_dir(), [&]() -> Result<void> {
      CS_TRY(StateDirs d, open_state(config));
      SnapshotContext context{&config,    d.state.get(), d.models.get(),    env.clock,
                              env.random, env.run,       env.read_mountinfo};
      CS_TRY(auto backend, make_snapshot_backend(context));
      (void)backend;
      return {};
    }());
  }
  // install-packages: the root dpkg installs into, its database, and its snapshot backend.
  const bool root_ok =
      add("system root " + config.system_root, config.system_admindir(), [&]() -> Result<void> {
        CS_TRY(SystemRootDirs root, open_system_root(config));
        CS_TRY(UniqueFd admin, open_directory(config.system_admindir()));
        CS_TRY(auto status, stat_at(admin.get(), "status", config.system_admindir() + "/status"));
        if (!status || !S_ISREG(status->st_mode)) {
          return Error(Errc::kNotFound, config.system_admindir() + "/status: no dpkg database here");
        }
        return {};
      }());
  if (root_ok) {
    add("system snapshot backend " + config.system_snapshot.to_string(), config.system_root,
        [&]() -> Result<void> {
          CS_TRY(SystemRootDirs root, open_system_root(config));
          SystemSnapshotContext context{&config,   root.root.get(), root.parent.get(),
                                        env.clock, env.random,      env.run};
          CS_TRY(auto backend, make_system_snapshot_backend(context));
          (void)backend;
          return {};
        }());
  }
  json report = {{"ok", true}, {"checks", checks}};
  for (const auto& c : checks) {
    if (!c["ok"].get<bool>()) {
      report["ok"] = false;
      report["error"] = errc_name(Errc::kRejected);
      report["reason"] = c["check"].get<std::string>() + ": " + c["detail"].get<std::string>();
      break;
    }
  }
  return report;
}

Result<SystemOutcome> run_system(const SystemInvocation& inv, const Config& config, const SystemEnv& env) {
  SystemOutcome outcome;
  if (inv.action == SystemAction::kHelp) return Error(Errc::kInvalidArgument, "--help has no JSON output");
  if (inv.action == SystemAction::kCheck) {
    outcome.output = system_check(config, env);
    outcome.failed = !outcome.output["ok"].get<bool>();
    return outcome;
  }
  if (inv.action == SystemAction::kAttest) {
    // Reads the log key and asks the device; no state, no log entry (the daemon's endpoint
    // may be asked often, and an attestation changes nothing).
    CS_TRY(outcome.output, attest(config, inv.input));
    return outcome;
  }
  // The state directory and models/ must be root's before anything else is looked at.
  CS_TRY(StateDirs dirs, open_state(config));
  if (inv.action == SystemAction::kSnapshotList) {
    SnapshotContext context{&config,    dirs.state.get(), dirs.models.get(), env.clock,
                            env.random, env.run,          env.read_mountinfo};
    outcome.output = json::array();
    if (config.snapshot.kind != SnapshotSpec::Kind::kNone) {
      CS_TRY(auto backend, make_snapshot_backend(context));
      CS_TRY(auto all, backend->list());
      for (const auto& s : all) outcome.output.push_back(s.to_json());
    }
    if (config.system_snapshot.kind != SnapshotSpec::Kind::kNone) {
      CS_TRY(SystemRootDirs root, open_system_root(config));
      SystemSnapshotContext system_context{&config,   root.root.get(), root.parent.get(),
                                           env.clock, env.random,      env.run};
      CS_TRY(auto backend, make_system_snapshot_backend(system_context));
      CS_TRY(auto all, backend->list());
      for (const auto& s : all) {
        json j = s.to_json();
        j["scope"] = "system";
        outcome.output.push_back(std::move(j));
      }
    }
    return outcome;
  }
  if (inv.action == SystemAction::kLogAppend || inv.action == SystemAction::kLogCheckpoint) {
    // The log alone (its own writer lock): reports do not wait for an install's re-hash.
    CS_TRY(LogWriter log, LogWriter::open(config, env.clock));
    if (inv.action == SystemAction::kLogAppend) {
      CS_TRY(outcome.output, log_append(log, inv.input));
    } else {
      CS_TRY(std::uint64_t size, log.checkpoint_if_grown());
      outcome.output = json{{"size", size}};
    }
    return outcome;
  }
  CS_TRY(auto roots, attestation::Roots::pinned_plus(config.attestation_roots));
  auto attested = [&roots](const PolicyKey& k) { return attestation::check(k, roots).verified; };
  CS_TRY(SystemState state, SystemState::open(config, attested));
  CS_TRY(LogWriter log, LogWriter::open(config, env.clock));
  Helper helper(config, env, std::move(state), std::move(log), std::move(roots));
  auto run = [&]() -> Result<json> {
    switch (inv.action) {
      case SystemAction::kAccept:
        return helper.accept(inv.input);
      case SystemAction::kSnapshotTake:
        return helper.snapshot_take(inv.argument);
      case SystemAction::kSnapshotRestore:
        return helper.snapshot_restore(inv.argument);
      case SystemAction::kModelSeal:
        return helper.model_seal(inv.argument);
      case SystemAction::kModelInstall:
        return helper.model_install(inv.argument);
      case SystemAction::kModelRemove:
        return helper.model_remove(inv.argument);
      case SystemAction::kPackagesInstall:
        return helper.packages_install(inv.argument);
      case SystemAction::kPolicyRotate:
        return helper.policy_rotate(inv.argument);
      case SystemAction::kProposalAbandon:
        return helper.abandon(inv.argument, inv.input);
      case SystemAction::kStagingRemove:
        return helper.staging_remove(inv.argument);
      case SystemAction::kVeto:
        return helper.veto(inv.input);
      case SystemAction::kProve:
        return helper.prove(inv.input);
      case SystemAction::kHelp:
      case SystemAction::kCheck:
      case SystemAction::kAttest:
      case SystemAction::kSnapshotList:
      case SystemAction::kLogAppend:
      case SystemAction::kLogCheckpoint:
        break;
    }
    return Error(Errc::kInternal, "unhandled subcommand");
  };
  CS_TRY(outcome.output, run());
  return outcome;
}

}  // namespace countersign::daemon
