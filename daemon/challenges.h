// The liveness challenges countersignd has issued (POST /v1/challenges; core/liveness.h), so
// that a proof (POST /v1/proofs) names its challenge by hash alone. Held in memory only: a
// restart forgets them and an approver asks for a new one. At most kMaxChallenges are kept
// (the oldest dropped first), each for Config::challenge_lifetime after it was issued.
//
// Nothing here is trusted by the helper: it re-checks each proof against the challenge, the
// policy, its box id and its own clock (system/system.h `prove`). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "core/liveness.h"
#include "core/result.h"
#include "core/sha256.h"
#include "core/timeutil.h"

namespace countersign::daemon {

class ChallengeBook {
 public:
  static constexpr std::size_t kMaxChallenges = 256;

  explicit ChallengeBook(std::int64_t lifetime_seconds) : lifetime_(lifetime_seconds) {}

  // A fresh challenge (a new random nonce) for `domain` and `box`, issued at `now`.
  Result<Challenge> issue(const std::string& domain, const std::string& box, UnixTime now);
  // The challenge with this hash, while it is kept and not older than the lifetime.
  std::optional<Challenge> find(const Digest& hash, UnixTime now) const;

 private:
  void expire(UnixTime now) const;  // caller holds mu_
  std::int64_t lifetime_;
  mutable std::mutex mu_;
  mutable std::deque<Challenge> issued_;  // oldest first
};

}  // namespace countersign::daemon
