// The audit log leaving the box as the System component appends to it (DESIGN.md "Audit
// log"; docs/audit-log.md "Leaving the box"). countersignd only reads the log (its user may
// read state_dir/log, never write it): the log on disk is the queue, and each destination
// keeps a cursor, the index of the next entry to deliver, in state_dir/daemon/ship/<name>.json.
// A destination that is down is tried again every ship_retry from its cursor; nothing is
// dropped to keep up, and one destination being down never holds up another.
//
//   syslog   RFC 5424 messages over TLS (RFC 5425, octet-counting framing) to a collector:
//              <110>1 TIME BOX countersign - EVENT [countersign@32473 seq="N" event="EVENT"
//              proposal="sha256:..."] ENTRY
//            facility 13 (log audit), severity 6 (informational); TIME is the entry's time,
//            BOX the box id; ENTRY is the entry's bytes exactly as logged (JCS), so the
//            received messages verify against the box's checkpoints. 32473 is the private
//            enterprise number RFC 5612 reserves for documentation: the SD-ID is ours, not a
//            registered one. An entry counts as delivered once TCP has acknowledged every byte
//            of it (the socket's send queue is empty) with the connection still up; the
//            framing has no application-level acknowledgement, so entries in flight when a
//            connection breaks are sent again after it: a collector may receive an entry
//            twice (same seq), never lose one or receive them out of order.
//   journal  one line per entry on standard output in the `countersign log export` format
//            ({"entry": ..., "index": N, "leaf_hash": ...}); delivered once written.
//   s3       sealed segments of entries and every signed checkpoint, PUT with Object Lock
//            (daemon/s3_archive.h); delivered once the server answered 200.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_log.h"
#include "core/result.h"
#include "daemon/config.h"

namespace countersign::daemon {

// The RFC 5424 message of one entry (its bytes as logged), without framing. Fields that do
// not fit RFC 5424's character rules (a box id or event name outside printable ASCII, longer
// than 255 / 32) are sent as "-"; SD-PARAM values are escaped as RFC 5424 section 6.3.3 says.
std::string syslog_message(std::string_view entry_bytes, std::string_view box_id);
// RFC 6587 / RFC 5425 octet counting: "LEN SP MSG".
std::string octet_counted(std::string_view message);

// Where entries go. deliver() is given entries in log order, starting at the destination's
// cursor, and returns once all of them are delivered (as the destination defines it), or
// an error saying what failed; the cursor then stays where it was and the same entries are
// offered again after ship_retry.
class LogDestination {
 public:
  virtual ~LogDestination() = default;
  // The cursor file's name ("syslog", "journal").
  virtual std::string name() const = 0;
  // For messages: "syslog siem.example.com:6514 (TLS)".
  virtual std::string describe() const = 0;
  virtual Result<void> deliver(std::uint64_t first_index, const std::vector<std::string>& entries) = 0;

  // At most this many entries per deliver() (the shipper also stops a batch at 1 MiB).
  virtual std::size_t batch_limit() const { return 256; }
  // Whether to deliver now, `available` entries (at most batch_limit()) waiting from
  // `first_index`; false holds them back (a destination sealing segments waits for a full
  // one, or for its time). `flushing`: the daemon is stopping, deliver what there is.
  virtual bool ready(std::uint64_t /*first_index*/, std::size_t /*available*/, bool /*flushing*/) {
    return true;
  }
  // Called each round, with the log open, once the entries [0, delivered) are delivered:
  // for what follows entries (the S3 archive's signed checkpoints). An error is reported
  // and retried like deliver()'s.
  virtual Result<void> after(const audit::AuditLog& /*log*/, std::uint64_t /*delivered*/) { return {}; }
};

// The destinations `config` asks for (syslog, journal, s3_archive), in that order. Errors: a client key
// others may read, a CA file that does not load (naming the file).
Result<std::vector<std::unique_ptr<LogDestination>>> log_destinations(const Config& config);
// One JSON line per entry written to `fd` (standard output in countersignd).
std::unique_ptr<LogDestination> journal_destination(int fd);

// What GET /v1/status says of a destination.
struct ShipStatus {
  std::string destination;           // describe()
  std::uint64_t delivered = 0;       // its cursor: entries [0, delivered) are delivered
  std::optional<std::string> error;  // the last attempt's failure, while it lasts
};

// One thread per destination, reading the log in state_dir/log from its cursor.
class LogShipper {
 public:
  // Loads each cursor (kIo / kInvalidDocument naming the file when one cannot be read;
  // absent: 0, the log is sent from its start).
  static Result<std::unique_ptr<LogShipper>> open(const Config& config,
                                                  std::vector<std::unique_ptr<LogDestination>> destinations);
  ~LogShipper();  // stop()
  LogShipper(const LogShipper&) = delete;
  LogShipper& operator=(const LogShipper&) = delete;

  // Starts one thread per destination; each looks at the log every 250 ms.
  void start();
  // Waits, at most `max`, until every destination delivered the first `size` entries or is
  // failing; for a stop, so that its last entries leave too when they can.
  void drain(std::uint64_t size, std::chrono::milliseconds max);
  // Stops the threads after their current attempt (bounded by its timeouts). Idempotent.
  void stop();
  std::vector<ShipStatus> status() const;

 private:
  struct Impl;
  explicit LogShipper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace countersign::daemon
