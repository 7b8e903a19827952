// Review material of packages manifests (core/packages_review.h): Debian changelogs read into
// entries, the entries between two versions, and the document bound to a manifest.
#include "core/packages_review.h"

#include <gtest/gtest.h>

#include <string>

#include "core/jcs.h"
#include "core/manifest.h"
#include "core/review.h"

namespace countersign {
namespace {

constexpr const char* kChangelog = R"(cs-hello (1.2-1) bookworm; urgency=medium

  * New upstream release: greets in German.

 -- Countersign Tests <tests@countersign.invalid>  Tue, 21 Nov 2025 10:00:00 +0000

cs-hello (1.1-1) bookworm; urgency=high

  * New upstream release: greets in French as well.
  * Second change.

 -- Countersign Tests <tests@countersign.invalid>  Mon, 20 Nov 2025 10:00:00 +0000

cs-hello (1.0-1) bookworm; urgency=low

  * Initial release.

 -- Countersign Tests <tests@countersign.invalid>  Sun, 19 Nov 2025 10:00:00 +0000

Local variables:
mode: debian-changelog
End:
)";

// A stand-in for dpkg's ordering, good for the versions these tests use (N.N-N): compares
// the digit runs as numbers. The CLI passes `dpkg --compare-versions`.
Result<int> simple_compare(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    unsigned long x = 0, y = 0;
    while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])))
      x = x * 10 + static_cast<unsigned long>(a[i++] - '0');
    while (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j])))
      y = y * 10 + static_cast<unsigned long>(b[j++] - '0');
    if (x != y) return x < y ? -1 : 1;
    if (i < a.size()) ++i;
    if (j < b.size()) ++j;
  }
  return 0;
}

TEST(PackagesReviewTest, ChangelogEntriesNewestFirstWithTheirText) {
  auto entries = parse_debian_changelog(kChangelog);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);  // the "Local variables:" tail is not an entry
  EXPECT_EQ((*entries)[0].version, "1.2-1");
  EXPECT_EQ((*entries)[1].version, "1.1-1");
  EXPECT_EQ((*entries)[1].distribution, "bookworm; urgency=high");
  EXPECT_EQ((*entries)[1].text,
            "  * New upstream release: greets in French as well.\n  * Second change.\n\n"
            " -- Countersign Tests <tests@countersign.invalid>  Mon, 20 Nov 2025 10:00:00 +0000");
  EXPECT_EQ((*entries)[2].version, "1.0-1");
}

TEST(PackagesReviewTest, EntriesBetweenTheInstalledAndTheNewVersion) {
  auto entries = parse_debian_changelog(kChangelog);
  ASSERT_TRUE(entries.ok());
  // 1.0-1 installed, 1.1-1 planned: only 1.1-1 (1.2-1 is newer than the plan).
  auto between = changelog_between(*entries, std::string("1.0-1"), "1.1-1", simple_compare);
  ASSERT_TRUE(between.ok());
  ASSERT_EQ(between->size(), 1u);
  EXPECT_EQ(between->front().version, "1.1-1");
  between = changelog_between(*entries, std::string("1.0-1"), "1.2-1", simple_compare);
  ASSERT_TRUE(between.ok());
  ASSERT_EQ(between->size(), 2u);
  EXPECT_EQ((*between)[0].version, "1.2-1");
  // A new package: everything up to the new version.
  between = changelog_between(*entries, std::nullopt, "1.1-1", simple_compare);
  ASSERT_TRUE(between.ok());
  EXPECT_EQ(between->size(), 2u);
  // Same version: nothing.
  between = changelog_between(*entries, std::string("1.1-1"), "1.1-1", simple_compare);
  ASSERT_TRUE(between.ok());
  EXPECT_TRUE(between->empty());
}

TEST(PackagesReviewTest, CompareErrorsAreErrors) {
  auto entries = parse_debian_changelog(kChangelog);
  ASSERT_TRUE(entries.ok());
  auto failing = [](const std::string&, const std::string&) -> Result<int> {
    return make_error(Errc::kIo, "dpkg is missing");
  };
  auto r = changelog_between(*entries, std::string("1.0-1"), "1.1-1", failing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "dpkg is missing");
}

TEST(PackagesReviewTest, NotAChangelogIsRefusedAndLimitsHold) {
  EXPECT_FALSE(parse_debian_changelog("this is not a changelog\n").ok());
  EXPECT_FALSE(parse_debian_changelog("  * body before any entry\n").ok());
  auto empty = parse_debian_changelog("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // A huge entry is cut; many entries are cut at max_entries.
  std::string big = "p1 (1.0-1) x; urgency=low\n\n  * " + std::string(100'000, 'a') + "\n";
  auto r = parse_debian_changelog(big);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().text.size(), kMaxChangelogEntryText);
  std::string many;
  for (int i = 2000; i > 0; --i) many += "p1 (" + std::to_string(i) + ".0-1) x; urgency=low\n  * c\n\n";
  r = parse_debian_changelog(many, 50);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 50u);
  EXPECT_EQ(r->front().version, "2000.0-1");
}

TEST(PackagesReviewTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(to_valid_utf8("caf\xe9 ok \xc3\xa9"), "caf\xEF\xBF\xBD ok \xc3\xa9");
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  auto r = parse_debian_changelog("p1 (1.0-1) x; urgency=low\n\n  * Latin-1 caf\xe9\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->front().text, "  * Latin-1 caf\xEF\xBF\xBD");
}

PackagesReview::Fields sample() {
  PackagesReview::Fields f;
  f.manifest = sha256(std::string_view("manifest"));
  PackageReview hello{
      "cs-hello",  "amd64", "1.0-1", "1.1-1", {{"1.1-1", "bookworm; urgency=medium", "  * New."}},
      std::nullopt};
  PackageReview fresh{"cs-new", "all", std::nullopt, "1.0-1", {}, "the package has no changelog.Debian.gz"};
  f.packages = {fresh, hello};
  return f;
}

TEST(PackagesReviewTest, DocumentRoundTripsSortedAndBoundToItsManifest) {
  auto r = PackagesReview::create(sample());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->packages().front().name, "cs-hello");
  EXPECT_EQ(r->manifest(), sha256(std::string_view("manifest")));
  auto text = jcs::serialize(r->to_json());
  ASSERT_TRUE(text.ok());
  auto again = PackagesReview::parse_text(*text);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->to_json(), r->to_json());
  ASSERT_NE(again->find("cs-new", "all"), nullptr);
  EXPECT_EQ(again->find("cs-new", "all")->note.value_or(""), "the package has no changelog.Debian.gz");
  EXPECT_EQ(again->find("cs-new", "amd64"), nullptr);
}

TEST(PackagesReviewTest, BadDocumentsAreRefusedNamingWhere) {
  auto good = PackagesReview::create(sample());
  ASSERT_TRUE(good.ok());
  const auto refused = [](nlohmann::json j, const std::string& where) {
    auto r = PackagesReview::parse(j);
    ASSERT_FALSE(r.ok()) << j.dump();
    EXPECT_NE(r.error().message.find(where), std::string::npos) << r.error().message;
  };
  auto j = good->to_json();
  j["schema"] = "countersign/packages-review/v2";
  refused(j, "schema");
  j = good->to_json();
  j["extra"] = 1;
  refused(j, "extra");
  j = good->to_json();
  j["packages"][0]["new"] = "five";
  refused(j, "/packages/0/new");
  j = good->to_json();
  j["packages"][0]["name"] = "cs\x1bhello";
  refused(j, "/packages/0/name");
  j = good->to_json();
  j["packages"][0]["changelog"][0]["text"] = std::string(kMaxChangelogEntryText + 1, 'a');
  refused(j, "/packages/0/changelog/0/text");
  j = good->to_json();
  std::swap(j["packages"][0], j["packages"][1]);
  refused(j, "/packages/1");
  j = good->to_json();
  j["manifest"] = "sha256:00";
  refused(j, "/manifest");
}

Manifest packages_manifest(const std::string& new_hello_version) {
  Manifest::Fields f;
  f.kind = "packages";
  f.name = "box-7f3a-packages";
  f.version = "1";
  const std::string file = "pool/main/c/cs-hello/cs-hello_" + new_hello_version + "_amd64.deb";
  f.files = {{file, 1084, sha256(std::string_view("deb"))}};
  f.sources = {*Source::from_spec("http://127.0.0.1/repo/")};
  f.packages = {{"cs-hello", "amd64", new_hello_version, file, false, "1.0-1"},
                {"cs-old", "", "", "", true, "1.0-1"}};
  auto m = Manifest::create(std::move(f));
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

TEST(PackagesReviewTest, ChangesAreDescribedWithTheirEntriesEscaped) {
  const Manifest m = packages_manifest("1.1-1");
  auto fields = sample();
  fields.manifest = m.hash();
  fields.packages[1].changelog[0].text = "  * New.\n\x1b[2J  * Hidden?\u202e";
  auto review = PackagesReview::create(fields);
  ASSERT_TRUE(review.ok()) << review.error().message;
  const std::string text = describe_package_changes(m, &*review);
  EXPECT_EQ(text,
            "  1 upgraded, 0 new, 1 removed\n"
            "  upgrade  cs-hello:amd64  1.0-1 -> 1.1-1\n"
            "           1.1-1  bookworm; urgency=medium\n"
            "               * New.\n"
            "             \\x1b[2J  * Hidden?<U+202E>\n"
            "  remove   cs-old  1.0-1\n");
  // Without the review: the changes alone.
  EXPECT_EQ(
      describe_package_changes(m, nullptr, ""),
      "1 upgraded, 0 new, 1 removed\nupgrade  cs-hello:amd64  1.0-1 -> 1.1-1\nremove   cs-old  1.0-1\n");
}

TEST(PackagesReviewTest, AReviewOfAnotherChangeIsFlaggedNotShown) {
  const Manifest m = packages_manifest("1.2-1");
  auto fields = sample();  // describes cs-hello 1.0-1 -> 1.1-1
  fields.manifest = m.hash();
  auto review = PackagesReview::create(fields);
  ASSERT_TRUE(review.ok());
  const std::string text = describe_package_changes(m, &*review);
  EXPECT_NE(text.find("! the review describes 1.0-1 -> 1.1-1, not this change"), std::string::npos) << text;
  EXPECT_EQ(text.find("bookworm; urgency"), std::string::npos) << text;
}

}  // namespace
}  // namespace countersign
