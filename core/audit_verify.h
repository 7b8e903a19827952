// Offline verification of an audit log (DESIGN.md "Audit log"): what an auditor runs on a
// copy of the log directory or of a JSON-lines export, trusting nothing but the log's
// verifier key.
//
// Checks, in order, stopping at the first failure with a message naming what is wrong:
//  1. every checkpoint (in the directory's `checkpoints`, plus those handed in) is a C2SP
//     signed note with a verifying signature by `key`, its origin is the key's name, and
//     checkpoints in the file never shrink;
//  2. every entry: record checksum, JCS form, "seq" equal to its index, "time", "event"
//     (and, for a directory, that its leaf hash equals the one in tree-00);
//  3. the RFC 9162 tree recomputed from the entries has, at each checkpoint's size, that
//     checkpoint's root hash; a mismatch names the range of entries between the last
//     checkpoint that matched and the first that did not;
//  4. every handed-in checkpoint is consistent with the newest one: a consistency proof
//     (RFC 9162 section 2.1.4) is generated from the recomputed tree and verified.
// A torn final record (crash during an append) is reported, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/audit_log.h"
#include "core/checkpoint.h"
#include "core/result.h"
#include "core/signed_note.h"

namespace countersign::audit {

struct VerifyReport {
  std::uint64_t entries = 0;
  Digest root{};
  std::uint64_t checkpoints_checked = 0;
  Checkpoint newest;                   // the newest signed checkpoint
  std::uint64_t unsigned_entries = 0;  // entries after the newest checkpoint
  std::vector<Checkpoint> consistent;  // handed-in checkpoints proven consistent
  std::optional<TornTail> torn;
};

// `extra_checkpoints`: signed notes the auditor holds (saved earlier, or shipped with an
// export). Errors: kCrypto for signatures, kHashMismatch for entries or roots that do not
// match, kInvalidDocument for malformed or out-of-order entries, kRejected when no
// checkpoint covers the log at all.
Result<VerifyReport> verify_log_dir(const std::string& dir, const note::Verifier& key,
                                    const std::vector<std::string>& extra_checkpoints);
Result<VerifyReport> verify_export(const std::string& jsonl_path, const note::Verifier& key,
                                   const std::vector<std::string>& extra_checkpoints);

// A copy of the box's S3 archive (daemon/s3_archive.h; docs/audit-log.md), as an auditor
// downloads it: DIR/segments/FIRST-LAST.jsonl (export lines of entries FIRST..LAST) and
// DIR/checkpoints/SIZE.note. Segments may overlap (a retry after a lost answer can seal a
// longer one); where they do, their entries must be the same. Checked as above, with the
// checkpoints found in DIR/checkpoints and those handed in. Entries no segment holds (a gap
// between segments, or a tail a checkpoint covers) are an error (kHashMismatch) naming every
// missing range.
struct BucketCopyReport {
  VerifyReport log;
  std::uint64_t segments = 0;
};
Result<BucketCopyReport> verify_bucket_copy(const std::string& dir, const note::Verifier& key,
                                            const std::vector<std::string>& extra_checkpoints);

// A SIEM's copy of what the box streamed over syslog (docs/audit-log.md "To a SIEM"): one
// RFC 5424 message per line, as a collector writes the raw message (rsyslog's %rawmsg%),
// whose MSG part, after the structured data, is the entry's bytes. Delivery is at least
// once: after a reconnect the box sends again the entries whose delivery it could not
// confirm, so a line may repeat an entry; it must carry exactly the bytes seen before under
// that seq (counted in `duplicates`). Otherwise the lines continue the log in order from
// entry 0: an entry missing is an error (kHashMismatch) naming the range and the line.
// Then checked as above, with the checkpoints handed in.
struct SyslogCopyReport {
  VerifyReport log;
  std::uint64_t lines = 0;
  std::uint64_t duplicates = 0;
};
Result<SyslogCopyReport> verify_syslog_copy(const std::string& path, const note::Verifier& key,
                                            const std::vector<std::string>& extra_checkpoints);

// True when `first_line` is a syslog message (starts with "<PRI>"), not an export line.
bool looks_like_syslog(std::string_view first_line);

// Parses a signed checkpoint note and verifies it with `key` (signature, origin == name).
Result<Checkpoint> open_checkpoint(std::string_view note_text, const note::Verifier& key);

}  // namespace countersign::audit
