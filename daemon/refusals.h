// Refusals of what anyone who reaches the API can send (a bundle that does not parse or is not
// approved, a signature that does not count, a proposal that cannot be kept pending) reach
// the audit log bounded and aggregated, so that a flood can neither fill the log nor drown
// what matters in it:
//
// - An entry holds the reason code (a stable name: the first failed check, "malformed",
//   "too-many-signatures", ...), at most kMaxReasons reasons cut at kMaxReasonBytes each,
//   the peer (daemon/peer.h) and the caller's bounded fields (proposal id, the SHA-256 and size
//   of the request body): never the input itself.
// - Per peer and code, the first refusal in an interval is reported at once; the others of
//   that interval are counted, and reported as one entry when the interval ends (or at stop):
//   {"code", "peer", "repeated": N, "interval_seconds": S} under the same event name. At most
//   kMaxKeys peers and codes are counted apart; beyond that, refusals are counted under the
//   peer "other".
//
// Thread-safe. A background thread reports the counts as intervals end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/audit_reporter.h"
#include "daemon/peer.h"

namespace countersign::daemon {

class Refusals {
 public:
  static constexpr std::size_t kMaxReasons = 4;
  static constexpr std::size_t kMaxReasonBytes = 300;
  static constexpr std::size_t kMaxKeys = 1024;

  // `audit` must outlive this. An interval of 0 reports every refusal (no aggregation).
  Refusals(AuditReporter& audit, std::chrono::seconds interval);
  ~Refusals();  // stop()
  Refusals(const Refusals&) = delete;
  Refusals& operator=(const Refusals&) = delete;

  // One refusal: `event` (bundle-rejected, signature-rejected, ...), its `code`, who sent it,
  // why (`reasons`, bounded here) and `fields` (small: ids, hashes, sizes).
  void report(std::string_view event, const std::string& code, const Peer& peer,
              const std::vector<std::string>& reasons, nlohmann::json fields = nlohmann::json::object());

  // Reports every count still open and stops the thread. Idempotent.
  void stop();

  // The reasons as an entry carries them: the first kMaxReasons, each cut at kMaxReasonBytes
  // (on a UTF-8 boundary), and "…and N more" when there were more.
  static nlohmann::json bounded_reasons(const std::vector<std::string>& reasons);

 private:
  struct Count {
    std::string event;
    nlohmann::json peer;
    std::chrono::steady_clock::time_point opened;
    std::uint64_t repeated = 0;  // refusals after the first in this interval
  };
  void loop();
  // Reports (and forgets) the counts whose interval ended by `now`, or all with `all`.
  // Called without mu_ held; takes it to collect.
  void flush(std::chrono::steady_clock::time_point now, bool all);

  AuditReporter& audit_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::string, std::string>, Count> counts_;  // (peer key, code)
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace countersign::daemon
