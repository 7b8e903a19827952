// The audit log's immutable copy (docs/audit-log.md "S3 Object Lock"): countersignd uploads,
// in order, sealed segments of the log and every signed checkpoint to a bucket created with
// Object Lock, each version locked in COMPLIANCE mode for s3_archive_retention, so that no
// one (not the box, not the bucket's owner, not AWS support) can delete or alter it before
// then.
//
// Keys (PREFIX is the path after the bucket in s3_archive, absent when there is none; the
// numbers are decimal, zero-padded to 12 digits so that a listing sorts in log order):
//   PREFIX/BOX/segments/FIRST-LAST.jsonl   entries FIRST..LAST (inclusive), one line each in
//                                          the `countersign log export` format
//   PREFIX/BOX/checkpoints/SIZE.note       the signed checkpoint of the first SIZE entries
// A segment is sealed when it holds s3_archive_segment_entries entries (or 1 MiB), or when
// its first entry has waited s3_archive_segment_time, or when the daemon stops. A checkpoint
// is uploaded once every entry it covers is. The bytes under a key are a function of the log
// alone, so a retry uploads the same bytes; before a PUT the key is looked up (HEAD) and an
// object already there is accepted only if its ETag is the MD5 of those bytes: a segment is
// never uploaded twice, and never with other bytes under the same key.
//
// The cursor of entries is the shipper's (daemon/ship/s3.json); the number of checkpoints
// uploaded is daemon/ship/s3.checkpoints.json.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "daemon/config.h"
#include "daemon/log_shipper.h"

namespace countersign::daemon {

// "PREFIX/BOX/segments/000000000000-000000000255.jsonl" and ".../checkpoints/000000000256.note".
std::string s3_segment_key(const std::string& prefix, const std::string& box_id, std::uint64_t first,
                           std::uint64_t last);
std::string s3_checkpoint_key(const std::string& prefix, const std::string& box_id, std::uint64_t size);

// The destination config.s3_archive names. Errors: the URL (parse_s3_url), a credentials
// file others may read or that is not two lines (naming the file, never its contents).
Result<std::unique_ptr<LogDestination>> s3_archive_destination(const Config& config);

}  // namespace countersign::daemon
