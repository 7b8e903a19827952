// The box's append-only audit log on disk: entries (audit_entry.h) as leaves of an RFC 9162
// Merkle tree, and signed C2SP checkpoints over it (checkpoint.h, signed_note.h).
//
// Directory layout (all integers big-endian; docs/audit-log.md has the rationale):
//
//   entries       16-byte header "cs-audit-log v1\n", then one record per entry:
//                   u32 length L (1..kMaxEntrySize) || L entry bytes || 32-byte leaf hash
//                 The leaf hash SHA-256(0x00 || entry) (RFC 9162 section 2.1.1) doubles as
//                 the record checksum. Entry i is leaf i; its "seq" is i.
//   checkpoints   16-byte header "cs-chkpoints v1\n", then records of the same form whose
//                 payload is a signed checkpoint note and whose trailer is SHA-256(0x00 ||
//                 note) (a checksum only).
//   offsets       u64 byte offset of record i in `entries`, 8 bytes per entry.
//   tree-00       leaf hash i at 32 * i (level 0 of the tree).
//   tree-NN       level NN >= 1: hash of the perfect subtree over leaves
//                 [j * 2^NN, (j+1) * 2^NN) at 32 * j, written when the subtree completes.
//
// `entries` and `checkpoints` are the record: append-only, never rewritten. The other files
// are derived from `entries` and can be rebuilt from it. Each append writes the record and
// the derived data; the record is fdatasync'd before append() returns. The derived files
// are fdatasync'd before each checkpoint is signed and on close (after a crash they are
// checked against `entries` and rebuilt where behind, so syncing them per append would
// buy nothing; this relies on the file system not exposing unwritten blocks as data after
// a power cut, as ext4 data=ordered and xfs guarantee). Appends do O(1)
// amortized writes and O(log n) work (the frontier is kept in memory); proofs take O(log n)
// reads of tree-NN; opening takes O(log n) reads plus a scan of any records not yet in the
// derived files.
//
// Torn writes: a crash can leave at most the last record of `entries` or `checkpoints`
// incomplete (an append never starts before the previous one was synced). Opening for
// writing cuts such a tail off, which is at most one record long and holds no complete
// record, and then appends a "log-repaired" entry saying what was cut. A bad record with
// complete records after it is not a torn write: open fails (kHashMismatch) and changes
// nothing. Derived files that are behind or disagree with `entries` are truncated and
// rebuilt from `entries`.
//
// One writer at a time (the daemon); a writer holds an exclusive flock on `entries`.
// Readers (the CLI) open read-only and change nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/merkle.h"
#include "core/result.h"
#include "core/signed_note.h"
#include "core/timeutil.h"

namespace countersign::audit {

inline constexpr std::string_view kEntriesHeader = "cs-audit-log v1\n";
inline constexpr std::string_view kCheckpointsHeader = "cs-chkpoints v1\n";
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kRecordOverhead = 4 + 32;

// A torn final record found on open.
struct TornTail {
  std::string file;          // "entries" or "checkpoints"
  std::uint64_t offset = 0;  // where the good data ends
  std::uint64_t bytes = 0;   // how many bytes follow it
};

// One record read from a record file.
struct Record {
  std::uint64_t offset = 0;
  std::string payload;
  Digest checksum{};
};

// Parses the record at `data[pos...]` (data is a whole record file). Returns the record and
// sets `next`; kMalformed when incomplete (torn), kHashMismatch when the checksum is wrong.
Result<Record> parse_record(std::string_view data, std::uint64_t pos, std::size_t max_payload,
                            std::uint64_t& next);

// Reads a whole record file sequentially, streaming: calls `on_record` for every complete
// record in order and returns the torn tail if there is one. Fails like open() on a bad
// record that is not the tail (kHashMismatch naming the record), and with on_record's error.
Result<std::optional<TornTail>> scan_record_file(const std::string& path, std::string_view header,
                                                 std::size_t max_payload, const std::string& name,
                                                 const std::function<Result<void>(const Record&)>& on_record);

class AuditLog {
 public:
  enum class Mode { kReadOnly, kWrite };

  // Opens the log in `dir`. kWrite creates the directory and files when missing, takes the
  // writer lock (kInvalidArgument "in use" if held), repairs a torn tail and rebuilds derived
  // files; kReadOnly changes nothing, leaves a torn tail out of size() and reports it in
  // torn_tail(), and fails (kInvalidDocument) if the derived files are behind the entries.
  // `clock` stamps the entries this object appends.
  //
  // kSyncEachAppend (the default, and what the daemon uses) fdatasyncs each entry record
  // before append() returns. kNoSync leaves syncing to the OS: only for benchmarks and
  // bulk tests; a crash may then lose recent entries (never corrupt earlier ones).
  enum class Durability { kSyncEachAppend, kNoSync };
  static Result<AuditLog> open(const std::string& dir, Mode mode, Clock clock = system_now,
                               Durability durability = Durability::kSyncEachAppend);

  ~AuditLog();
  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;

  // Appends one entry (audit_entry.h make_entry with the next seq and the clock's time),
  // durable when this returns. Returns its seq.
  Result<std::uint64_t> append(std::string_view event_name, const nlohmann::json& fields = nullptr);

  // Signs a checkpoint of the current tree with `signer`, whose name becomes the origin,
  // appends it durably to `checkpoints` and returns the signed note.
  Result<std::string> sign_checkpoint(const note::Signer& signer);

  std::uint64_t size() const;
  Digest root() const;
  const std::string& dir() const;
  // What open() repaired (kWrite) or found torn (kReadOnly); empty if nothing.
  const std::vector<TornTail>& torn_tail() const;

  // Entry bytes of leaf `index` (one read via `offsets`).
  Result<std::string> entry(std::uint64_t index) const;
  Result<Digest> leaf_hash(std::uint64_t index) const;
  // MTH of the first `size` leaves, O(log n) reads.
  Result<Digest> root_at(std::uint64_t size) const;
  Result<std::vector<Digest>> inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const;
  Result<std::vector<Digest>> consistency_proof(std::uint64_t size1, std::uint64_t size2) const;

  // Every signed checkpoint note in `checkpoints`, oldest first.
  Result<std::vector<std::string>> checkpoints() const;

 private:
  struct State;
  explicit AuditLog(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace countersign::audit
