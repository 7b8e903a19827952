#include "core/timeutil.h"

#include <gtest/gtest.h>

#include <string>

namespace countersign {
namespace {

TEST(Rfc3339, ParsesKnownInstants) {
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339("2026-11-22T10:00:00Z"), 1795341600);
  EXPECT_EQ(*parse_rfc3339("2000-03-01T00:00:00Z"), 951868800);
  EXPECT_EQ(*parse_rfc3339("2038-01-19T03:14:08Z"), 2147483648);  // past the 32-bit limit
  EXPECT_EQ(*parse_rfc3339("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(*parse_rfc3339("9999-12-31T23:59:59Z"), 253402300799);
}

TEST(Rfc3339, FormatsAndRoundTrips) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1795341600), "2026-11-22T10:00:00Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(-86400), "1969-12-31T00:00:00Z");
  for (UnixTime t : {UnixTime{0}, UnixTime{1}, UnixTime{86399}, UnixTime{951782400}, UnixTime{1709164800},
                     UnixTime{1795341600}, UnixTime{4102444799}, UnixTime{-1}, UnixTime{-86401}}) {
    auto back = parse_rfc3339(format_rfc3339(t));
    ASSERT_TRUE(back.ok()) << format_rfc3339(t);
    EXPECT_EQ(*back, t) << format_rfc3339(t);
  }
}

TEST(Rfc3339, LeapYears) {
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z").ok());
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2026-02-29T00:00:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2100-02-29T00:00:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2026-04-31T00:00:00Z").ok());
}

TEST(Rfc3339, RejectsEverythingElse) {
  for (const char* bad : {"",
                          "2026-11-22",
                          "2026-11-22T10:00Z",
                          "2026-11-22T10:00:00",
                          "2026-11-22t10:00:00Z",
                          "2026-11-22T10:00:00z",
                          "2026-11-22 10:00:00Z",
                          "2026-11-22T10:00:00+00:00",
                          "2026-11-22T10:00:00.000Z",
                          "2026-11-22T10:00:60Z",
                          "2026-11-22T10:60:00Z",
                          "2026-11-22T24:00:00Z",
                          "2026-00-10T10:00:00Z",
                          "2026-13-10T10:00:00Z",
                          "2026-11-00T10:00:00Z",
                          "2026-11-32T10:00:00Z",
                          "+026-11-22T10:00:00Z",
                          "2026-1-22T10:00:00Z ",
                          " 2026-11-22T10:00:00Z",
                          "2026-11-22T10:00:00Z ",
                          "２026-11-22T10:00:00Z",
                          "2026/11/22T10:00:00Z",
                          "2026-11-22T1a:00:00Z"}) {
    auto r = parse_rfc3339(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("RFC 3339"), std::string::npos) << r.error().message;
    }
  }
}

TEST(Duration, Parses) {
  EXPECT_EQ(*parse_duration("30s"), 30);
  EXPECT_EQ(*parse_duration("15m"), 900);
  EXPECT_EQ(*parse_duration("12h"), 43200);
  EXPECT_EQ(*parse_duration("7d"), 604800);
  EXPECT_EQ(*parse_duration("2w"), 1209600);
  EXPECT_EQ(*parse_duration("1d12h"), 129600);
  EXPECT_EQ(*parse_duration("1h30m15s"), 5415);
}

TEST(Duration, Rejects) {
  for (const char* bad :
       {"", "7", "d", "7x", "0s", "0d0h", "-1d", "1.5h", "h7", "7 d", "7D", "1d 2h", "99999999999999d"}) {
    auto r = parse_duration(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\" as " << (r.ok() ? *r : 0);
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

TEST(Duration, Formats) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(12), "12s");
  EXPECT_EQ(format_duration(45 * 60), "45m");
  EXPECT_EQ(format_duration(3661), "1h 1m");
  EXPECT_EQ(format_duration(6 * 86400 + 23 * 3600 + 59), "6d 23h");
  EXPECT_EQ(format_duration(-5), "0s");
}

TEST(SystemNow, IsPlausible) {
  UnixTime now = system_now();
  EXPECT_GT(now, *parse_rfc3339("2024-01-01T00:00:00Z"));
  EXPECT_LT(now, *parse_rfc3339("2100-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace countersign
