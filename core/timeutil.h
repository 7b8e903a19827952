// RFC 3339 UTC times with seconds ("2026-12-31T23:59:59Z"), the only time form in our
// documents (DESIGN.md "Identifiers and encodings"), and the durations the CLI accepts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace countersign {

// Seconds since the Unix epoch.
using UnixTime = std::int64_t;

// Strict: exactly YYYY-MM-DDTHH:MM:SSZ, a real calendar date, hour < 24, minute < 60,
// second < 60 (no leap second, no fraction, no offset other than Z).
Result<UnixTime> parse_rfc3339(std::string_view text);
std::string format_rfc3339(UnixTime t);

// "30s", "15m", "12h", "7d", "2w", or combinations like "1d12h". Positive only.
Result<std::int64_t> parse_duration(std::string_view text);
// "6d 23h", "45m", "12s": a compact human form of a non-negative span.
std::string format_duration(std::int64_t seconds);
// How far `t` lies before `now`, in words: "12m ago", or "in the future by 5m".
std::string format_age(UnixTime t, UnixTime now);

// Injected clock (STYLE.md: inject the clock so commands are testable).
using Clock = std::function<UnixTime()>;
UnixTime system_now();

}  // namespace countersign
