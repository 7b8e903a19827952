// core/review.h: the plain-words proposal summary shared by the CLI and the app.
#include "core/review.h"

#include <gtest/gtest.h>

#include "tests/core/document_test_util.h"

namespace countersign {
namespace {

using testing::Contains;
using testing::must;

Proposal sample() {
  Proposal::Fields f;
  f.domain = "acme-prod";
  f.action = Action::kInstallModel;
  f.manifest = sha256(std::string_view("manifest"));
  f.boxes = std::vector<std::string>{"box-7f3a", "box-91c2"};
  f.nonce = Bytes(16, 7);
  f.created = must(parse_rfc3339("2026-11-22T10:00:00Z"), "created");
  f.expires = must(parse_rfc3339("2026-11-29T10:00:00Z"), "expires");
  f.note = "Upgrade the support bot";
  return must(Proposal::create(f), "proposal");
}

TEST(Review, ExpiryTextSaysTimeLeftOrExpired) {
  const UnixTime expires = must(parse_rfc3339("2026-11-29T10:00:00Z"), "t");
  EXPECT_EQ(expiry_text(expires, expires - 3600), "2026-11-29T10:00:00Z (in 1h 0m)");
  EXPECT_EQ(expiry_text(expires, expires + 120), "2026-11-29T10:00:00Z (EXPIRED 2m ago)");
}

TEST(Review, DescribeProposalNamesEverythingASignerChecks) {
  const Proposal p = sample();
  const std::string text = describe_proposal(p, p.created());
  EXPECT_TRUE(Contains(text, "install-model"));
  EXPECT_TRUE(Contains(text, "acme-prod"));
  EXPECT_TRUE(Contains(text, "box-7f3a, box-91c2"));
  EXPECT_TRUE(Contains(text, "Upgrade the support bot"));
  EXPECT_TRUE(Contains(text, "(in 7d 0h)"));
  EXPECT_TRUE(Contains(text, grouped_hex(p.id()).substr(0, 9)));
}

TEST(Review, GroupedHexIsTheIdInFours) {
  Digest d{};
  d[0] = 0x1a;
  d[1] = 0x2b;
  d[2] = 0x3c;
  EXPECT_EQ(grouped_hex(d).substr(0, 10), "1a2b 3c00 ");
}

}  // namespace
}  // namespace countersign
