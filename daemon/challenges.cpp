#include "daemon/challenges.h"

namespace countersign::daemon {

void ChallengeBook::expire(UnixTime now) const {
  while (!issued_.empty() &&
         (issued_.size() > kMaxChallenges || issued_.front().issued() + lifetime_ < now)) {
    issued_.pop_front();
  }
}

Result<Challenge> ChallengeBook::issue(const std::string& domain, const std::string& box, UnixTime now) {
  CS_TRY(Challenge c, Challenge::create({domain, box, {}, now}));
  std::lock_guard lock(mu_);
  issued_.push_back(c);
  expire(now);
  return c;
}

std::optional<Challenge> ChallengeBook::find(const Digest& hash, UnixTime now) const {
  std::lock_guard lock(mu_);
  expire(now);
  for (const auto& c : issued_) {
    if (c.hash() == hash) return c;
  }
  return std::nullopt;
}

}  // namespace countersign::daemon
