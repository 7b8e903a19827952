// Plain-words summaries of documents for people about to sign or check them, shared by the
// CLI (`proposal show`, `sign`) and the app (Review view).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bundle.h"
#include "core/manifest.h"
#include "core/packages_review.h"
#include "core/proposal.h"
#include "core/timeutil.h"

namespace countersign {

// Multi-line description of a proposal: action, domain, boxes, manifest, times (with time
// left), note, and the proposal id grouped for reading aloud.
std::string describe_proposal(const Proposal& p, UnixTime now);

// One change of a packages manifest with what its review material says of it: the rows of
// `manifest show` and of the app's Review and Diff views. Texts are as the documents hold
// them (unescaped): whoever shows them escapes them.
struct PackageChangeRow {
  enum class Change { kUpgrade, kInstall, kRemove };
  Change change = Change::kInstall;
  std::string package;    // qualified_name(): "cs-hello:amd64"
  std::string installed;  // the version the box had when planned (`replaces`); empty for a new package
  std::string approved;   // the version installed; empty for a removal
  std::string file;       // the .deb's pool path; empty for a removal
  // With review material, for an installed package: its changelog entries (newest first),
  // or why there are none: "the review has no entry for this package", "the review
  // describes 1.0-1 -> 1.2-1, not this change", or the review's own note.
  std::vector<ChangelogEntry> changelog;
  std::optional<std::string> review_problem;
  bool review_mismatch = false;  // the problem is a review of another change (shown with "!")
  std::optional<std::string> review_note;
};
// "upgrade", "install", "remove".
std::string_view change_name(PackageChangeRow::Change c);
// The changes of `m` in its order, with `review` (nullptr: none; its manifest hash checked by
// the caller).
std::vector<PackageChangeRow> package_changes(const Manifest& m, const PackagesReview* review);

// What a packages manifest changes on the box, for a terminal review: the counts, then one
// line a package ("upgrade cs-hello:amd64  1.0-1 -> 1.1-1", "install cs-new:all  1.0-1 (new)",
// "remove cs-old  1.0-1"). With `review` (its manifest hash checked by the caller), the
// changelog entries of each installed package under it, or the review's note on why there
// are none. Every name, version and changelog text escaped; `indent` starts every line.
//   2 upgraded, 1 new, 1 removed
//   upgrade  cs-hello:amd64  1.0-1 -> 1.1-1
//            1.1-1  bookworm; urgency=medium
//              * New upstream release: greets in French as well.
std::string describe_package_changes(const Manifest& m, const PackagesReview* review,
                                     const std::string& indent = "  ");

// "2 upgraded, 1 new, 1 removed": the counts of a packages manifest's changes.
std::string package_change_counts(const Manifest& m);

// What a bundle approves, in the words of its documents, for the end of a verification
// report (`bundle verify`, the app's Verify view): the proposer, the note, the manifest's
// name, version, file count and description, and the names that may imitate others
// (describe_name_warnings). Untrusted text, all of it shown escaped.
std::string describe_bundle_subject(const Bundle& b);

// "2026-11-29T10:00:00Z (in 6d 23h)" or "... (EXPIRED 2h ago)": the expiry with time left.
std::string expiry_text(UnixTime expires, UnixTime now);

// The id in groups of four hex digits ("1a2b 3c4d ..."), easier to compare by voice.
std::string grouped_hex(const Digest& d);

// A name in a manifest that may imitate another (script_warning(), core/untrusted_text.h).
struct NameWarning {
  std::string pointer;  // where it is in the document: "/name", "/version", "/files/3/path"
  std::string name;     // the name as the document has it: escape it to show it
  std::string warning;  // "mixes scripts: Latin and Cyrillic (U+0430 at byte 7)"
};

// The names of `m` that script_warning() flags (its name, version and file paths), in
// document order; empty when there are none.
std::vector<NameWarning> manifest_name_warnings(const Manifest& m);

// "" when no name of `m` is flagged; else one block for a terminal review, each flagged name
// escaped and followed by its warning:
//   Names to check  1 name may imitate another
//     /files/0/path  model.sаfetensors
//     ! this name mixes scripts: Latin and Cyrillic (U+0430 at byte 7)
std::string describe_name_warnings(const Manifest& m);

}  // namespace countersign
