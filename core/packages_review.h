// Review material of a packages manifest (docs/packages.md, `--review`): what each upgraded
// package's Debian changelog says between the version the box has and the version the plan
// installs, read by the planner from the downloaded .deb files, so an approver sees
// "cs-hello 1.0-1 -> 1.1-1: New upstream release: ..." rather than a hash.
//
//   {"schema": "countersign/packages-review/v1", "manifest": "sha256:<hex of the manifest>",
//    "packages": [{"name": "cs-hello", "architecture": "amd64", "old": "1.0-1", "new": "1.1-1",
//                  "changelog": [{"version": "1.1-1", "distribution": "bookworm; urgency=medium",
//                                 "text": "  * New upstream release: ...\n\n -- A <a@b>  Mon, ..."}]}]}
//
// Not signed: it travels beside the manifest and says nothing the box relies on; it is bound
// to one manifest by its hash, and a tool shows it only with the manifest it names. Every text
// in it came from a .deb and is shown through escape_untrusted. Sizes are bounded (below) so
// a hostile changelog cannot make the review unreadable or huge.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"

namespace countersign {

inline constexpr std::string_view kPackagesReviewSchema = "countersign/packages-review/v1";
// Entries kept per package, bytes of text kept per entry, packages per review.
inline constexpr std::size_t kMaxChangelogEntries = 100;
inline constexpr std::size_t kMaxChangelogEntryText = 16 * 1024;
inline constexpr std::size_t kMaxReviewPackages = 10'000;

// One entry of a Debian changelog (Debian Policy 4.4):
//   package (version) distribution(s); urgency=urgency
//     * change details
//    -- maintainer name <email address>  date
struct ChangelogEntry {
  std::string version;
  std::string distribution;  // what follows "(version) " on the first line
  std::string text;          // the lines after it, the trailer line included

  bool operator==(const ChangelogEntry&) const = default;
};

struct PackageReview {
  std::string name;
  std::string architecture;
  std::optional<std::string> old_version;  // "old": what the box has (absent: a new package)
  std::string new_version;                 // "new"
  std::vector<ChangelogEntry> changelog;   // newest first
  // Why the changelog is missing or cut, in words ("the package has no changelog.Debian.gz").
  std::optional<std::string> note;
};

class PackagesReview {
 public:
  struct Fields {
    Digest manifest{};
    std::vector<PackageReview> packages;  // create() sorts by name, then architecture
  };

  // Validates a parsed document: schema, members, Debian names and versions, sizes.
  static Result<PackagesReview> parse(const nlohmann::json& doc);
  static Result<PackagesReview> parse_text(std::string_view text);
  static Result<PackagesReview> create(Fields fields);

  const Digest& manifest() const { return f_.manifest; }
  const std::vector<PackageReview>& packages() const { return f_.packages; }
  // The review of `name` (of `architecture`), or nullptr.
  const PackageReview* find(std::string_view name, std::string_view architecture) const;
  nlohmann::json to_json() const;

 private:
  PackagesReview() = default;
  Fields f_;
};

// The entries of a Debian changelog, newest first, as the file lists them. Parsing stops at
// the first line in column 0 that is not an entry's first line (the free-form tail of old
// changelogs: "Local variables:", "Old Changelog:"), and after `max_entries` entries. Text is
// made valid UTF-8 (each invalid byte becomes U+FFFD) and each entry's text is cut at
// kMaxChangelogEntryText bytes. kMalformed when the first entry's line is not one.
Result<std::vector<ChangelogEntry>> parse_debian_changelog(std::string_view text,
                                                           std::size_t max_entries = 1000);

// Compares two Debian versions (Policy 5.6.12): <0, 0, >0. The CLI passes dpkg's own.
using DebianVersionCompare = std::function<Result<int>(const std::string& a, const std::string& b)>;

// The entries with old < version <= new (all up to new when old is absent), in file order,
// at most kMaxChangelogEntries. Entries are compared with `compare`; an entry whose version is
// not a Debian version is skipped.
Result<std::vector<ChangelogEntry>> changelog_between(const std::vector<ChangelogEntry>& entries,
                                                      const std::optional<std::string>& old_version,
                                                      const std::string& new_version,
                                                      const DebianVersionCompare& compare);

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

}  // namespace countersign
