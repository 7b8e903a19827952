// Refusals (daemon/refusals.h): what a flood leaves in the log. The first refusal of a peer
// for a reason in an interval is logged as it is; the rest are one entry with their count.
#include "daemon/refusals.h"

#include <gtest/gtest.h>

#include "core/audit_entry.h"
#include "tests/daemon/fakes.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;
using test::FakeSystemClient;

Peer unix_peer(uid_t uid) {
  Peer p;
  p.transport = Peer::Transport::kUnix;
  p.uid = uid;
  return p;
}

TEST(RefusalsTest, AFloodOfOnePeerIsOneEntryAndACount) {
  FakeSystemClient system;
  AuditReporter audit(system);
  {
    Refusals refusals(audit, std::chrono::hours(1));
    for (int i = 0; i < 500; ++i)
      refusals.report(audit::event::kBundleRejected, "malformed", unix_peer(1000), {"malformed bundle: x"});
    refusals.report(audit::event::kBundleRejected, "threshold", unix_peer(1000), {"threshold: 1 of 3"});
    refusals.report(audit::event::kBundleRejected, "malformed", unix_peer(1001), {"malformed bundle: y"});
    // Three entries so far: one per peer and code.
    EXPECT_EQ(system.reports_of(audit::event::kBundleRejected).size(), 3u);
  }  // stop: the counts of the open intervals are logged
  auto entries = system.reports_of(audit::event::kBundleRejected);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].fields["code"], "malformed");
  EXPECT_EQ(entries[0].fields["peer"]["uid"], 1000);
  EXPECT_EQ(entries[0].fields["reasons"], json({"malformed bundle: x"}));
  const json& count = entries[3].fields;
  EXPECT_EQ(count["code"], "malformed");
  EXPECT_EQ(count["peer"]["uid"], 1000);
  EXPECT_EQ(count["repeated"], 499);
  EXPECT_EQ(count["interval_seconds"], 3600);
}

TEST(RefusalsTest, AnIntervalThatEndsLogsItsCountWithoutWaitingForTheStop) {
  FakeSystemClient system;
  AuditReporter audit(system);
  Refusals refusals(audit, std::chrono::seconds(1));
  for (int i = 0; i < 10; ++i)
    refusals.report(audit::event::kSignatureRejected, "invalid", unix_peer(7), {"invalid: bad signature"});
  // The background thread logs the count once the interval ended (bounded wait).
  std::vector<FakeSystemClient::Report> entries;
  for (int i = 0; i < 100 && entries.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    entries = system.reports_of(audit::event::kSignatureRejected);
  }
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].fields["repeated"], 9);
  // A refusal after the interval is logged in full again.
  refusals.report(audit::event::kSignatureRejected, "invalid", unix_peer(7), {"invalid: again"});
  entries = system.reports_of(audit::event::kSignatureRejected);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].fields["reasons"], json({"invalid: again"}));
}

TEST(RefusalsTest, ReasonsAreCutAndCounted) {
  std::vector<std::string> reasons(10, std::string(1000, 'r'));
  json shown = Refusals::bounded_reasons(reasons);
  ASSERT_EQ(shown.size(), Refusals::kMaxReasons + 1);
  for (std::size_t i = 0; i < Refusals::kMaxReasons; ++i) {
    EXPECT_LT(shown[i].get<std::string>().size(), Refusals::kMaxReasonBytes + 32);
    EXPECT_TRUE(shown[i].get<std::string>().ends_with("…(1000 bytes)"));
  }
  EXPECT_EQ(shown.back(), "…and 6 more");
}

TEST(RefusalsTest, ManyPeersAreCountedTogetherPastTheLimit) {
  FakeSystemClient system;
  AuditReporter audit(system);
  Refusals refusals(audit, std::chrono::hours(1));
  for (uid_t uid = 0; uid < Refusals::kMaxKeys + 500; ++uid)
    refusals.report(audit::event::kBundleRejected, "malformed", unix_peer(uid), {"malformed"});
  // One entry per peer up to the limit, then one for "other"; the rest only counted.
  EXPECT_EQ(system.reports_of(audit::event::kBundleRejected).size(), Refusals::kMaxKeys + 1);
  refusals.stop();
  auto entries = system.reports_of(audit::event::kBundleRejected);
  EXPECT_EQ(entries.back().fields["peer"]["transport"], "other");
  EXPECT_EQ(entries.back().fields["repeated"], 499);
}

}  // namespace
}  // namespace countersign::daemon
