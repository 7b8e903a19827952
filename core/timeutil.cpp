#include "core/timeutil.h"

#include <chrono>
#include <cstdio>

namespace countersign {

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

Result<UnixTime> parse_rfc3339(std::string_view s) {
  auto bad = [&] {
    return make_error(Errc::kInvalidDocument,
                      "\"" + std::string(s) + "\" is not an RFC 3339 UTC time like 2026-12-31T23:59:59Z");
  };
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z') {
    return bad();
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d) || !digits(s, 11, 2, h) ||
      !digits(s, 14, 2, mi) || !digits(s, 17, 2, sec)) {
    return bad();
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return bad();
  auto days = sys_days(ymd).time_since_epoch().count();
  return static_cast<UnixTime>(days) * 86400 + h * 3600 + mi * 60 + sec;
}

std::string format_rfc3339(UnixTime t) {
  using namespace std::chrono;
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t rem = t - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60), static_cast<int>(rem % 60));
  return buf;
}

Result<std::int64_t> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::kInvalidArgument,
                      "\"" + std::string(text) + "\" is not a duration like 30m, 12h, 7d or 1d12h");
  };
  if (text.empty()) return bad();
  std::int64_t total = 0;
  std::int64_t n = 0;
  bool have_digits = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      n = n * 10 + (c - '0');
      if (n > 100L * 365 * 86400) return bad();
      have_digits = true;
      continue;
    }
    if (!have_digits) return bad();
    std::int64_t unit = 0;
    switch (c) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      default:
        return bad();
    }
    total += n * unit;
    n = 0;
    have_digits = false;
  }
  if (have_digits || total <= 0) return bad();
  return total;
}

std::string format_age(UnixTime t, UnixTime now) {
  if (t > now) return "in the future by " + format_duration(t - now);
  return format_duration(now - t) + " ago";
}

std::string format_duration(std::int64_t s) {
  if (s < 0) s = 0;
  std::int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m";
  return std::to_string(sec) + "s";
}

UnixTime system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace countersign
