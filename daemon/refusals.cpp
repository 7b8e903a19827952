#include "daemon/refusals.h"

#include "core/bytes.h"

namespace countersign::daemon {

using nlohmann::json;

Refusals::Refusals(AuditReporter& audit, std::chrono::seconds interval) : audit_(audit), interval_(interval) {
  if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
}

Refusals::~Refusals() { stop(); }

json Refusals::bounded_reasons(const std::vector<std::string>& reasons) {
  json out = json::array();
  for (std::size_t i = 0; i < reasons.size() && i < kMaxReasons; ++i)
    out.push_back(cut_text(reasons[i], kMaxReasonBytes));
  if (reasons.size() > kMaxReasons)
    out.push_back("…and " + std::to_string(reasons.size() - kMaxReasons) + " more");
  return out;
}

void Refusals::report(std::string_view event, const std::string& code, const Peer& peer,
                      const std::vector<std::string>& reasons, json fields) {
  const auto now = std::chrono::steady_clock::now();
  if (interval_.count() > 0) {
    std::lock_guard lock(mu_);
    auto key = std::make_pair(peer.key(), code);
    if (counts_.size() >= kMaxKeys && !counts_.count(key)) key.first = "other";
    auto it = counts_.find(key);
    if (it != counts_.end() && now - it->second.opened < interval_) {
      ++it->second.repeated;  // the first of this interval is in the log already
      return;
    }
    // The first refusal of an interval: reported now, the rest counted.
    json shown_peer = key.first == "other" ? json{{"transport", "other"}} : peer.to_json();
    counts_[key] = Count{std::string(event), shown_peer, now, 0};
  }
  fields["code"] = code;
  fields["peer"] = peer.to_json();
  fields["reasons"] = bounded_reasons(reasons);
  audit_.report(event, std::move(fields));
}

void Refusals::flush(std::chrono::steady_clock::time_point now, bool all) {
  std::vector<json> entries;
  std::vector<std::string> events;
  {
    std::lock_guard lock(mu_);
    for (auto it = counts_.begin(); it != counts_.end();) {
      if (!all && now - it->second.opened < interval_) {
        ++it;
        continue;
      }
      if (it->second.repeated > 0) {
        events.push_back(it->second.event);
        entries.push_back({{"code", it->first.second},
                           {"peer", it->second.peer},
                           {"repeated", it->second.repeated},
                           {"interval_seconds", interval_.count()}});
      }
      it = counts_.erase(it);
    }
  }
  for (std::size_t i = 0; i < entries.size(); ++i) audit_.report(events[i], std::move(entries[i]));
}

void Refusals::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Wake at least twice an interval (at most once a second) to close ended intervals.
    const auto tick = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), interval_ / 2);
    cv_.wait_for(lock, tick, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    flush(std::chrono::steady_clock::now(), false);
    lock.lock();
  }
}

void Refusals::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush(std::chrono::steady_clock::now(), true);
}

}  // namespace countersign::daemon
