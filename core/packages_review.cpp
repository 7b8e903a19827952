#include "core/packages_review.h"

#include <algorithm>

#include "core/json_reader.h"
#include "core/manifest.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "packages review";
// The "distribution; urgency=..." part of an entry's first line.
constexpr std::size_t kMaxDistribution = 512;

bool order(const PackageReview& a, const PackageReview& b) {
  return a.name != b.name ? a.name < b.name : a.architecture < b.architecture;
}

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

// `text` cut to at most `max` bytes on a character boundary (text is valid UTF-8).
std::string cut_utf8(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

std::string_view trim_blank_lines(std::string_view s) {
  while (!s.empty() && (s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "package (version) distribution; urgency=..." (Policy 4.4): the version and what follows.
std::optional<std::pair<std::string, std::string>> entry_header(std::string_view line) {
  auto open = line.find(" (");
  if (open == std::string_view::npos || open == 0) return std::nullopt;
  if (!is_debian_package_name(line.substr(0, open))) return std::nullopt;
  auto close = line.find(')', open);
  if (close == std::string_view::npos) return std::nullopt;
  std::string version(line.substr(open + 2, close - open - 2));
  std::string_view rest = line.substr(close + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
  if (rest.find(';') == std::string_view::npos) return std::nullopt;
  return std::make_pair(std::move(version), std::string(rest));
}

Result<ChangelogEntry> parse_entry(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  ChangelogEntry e;
  CS_TRY(e.version, r.name("version"));
  if (auto why = debian_problem(DebianField::kVersion, e.version)) return r.error("version", *why);
  CS_TRY(e.distribution, r.string("distribution"));
  if (e.distribution.size() > kMaxDistribution)
    return r.error("distribution", "is longer than " + std::to_string(kMaxDistribution) + " bytes");
  CS_TRY(e.text, r.string("text"));
  if (e.text.size() > kMaxChangelogEntryText)
    return r.error("text", "is longer than " + std::to_string(kMaxChangelogEntryText) + " bytes");
  CS_TRY_VOID(r.finish());
  return e;
}

Result<PackageReview> parse_package(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  PackageReview p;
  CS_TRY(p.name, r.name("name"));
  if (auto why = debian_problem(DebianField::kPackageName, p.name)) return r.error("name", *why);
  CS_TRY(p.architecture, r.name("architecture"));
  if (auto why = debian_problem(DebianField::kArchitecture, p.architecture))
    return r.error("architecture", *why);
  CS_TRY(p.old_version, r.optional_name("old"));
  if (p.old_version) {
    if (auto why = debian_problem(DebianField::kVersion, *p.old_version)) return r.error("old", *why);
  }
  CS_TRY(p.new_version, r.name("new"));
  if (auto why = debian_problem(DebianField::kVersion, p.new_version)) return r.error("new", *why);
  CS_TRY(const json::array_t* list, r.array("changelog"));
  if (list->size() > kMaxChangelogEntries)
    return r.error("changelog", "has more than " + std::to_string(kMaxChangelogEntries) + " entries");
  for (std::size_t i = 0; i < list->size(); ++i) {
    CS_TRY(auto e, parse_entry((*list)[i], pointer_append(r.child("changelog"), i)));
    p.changelog.push_back(std::move(e));
  }
  CS_TRY(p.note, r.optional_string("note"));
  if (p.note && p.note->size() > kMaxDistribution)
    return r.error("note", "is longer than " + std::to_string(kMaxDistribution) + " bytes");
  CS_TRY_VOID(r.finish());
  return p;
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      n = 1;
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(n);
  }
  return out;
}

Result<std::vector<ChangelogEntry>> parse_debian_changelog(std::string_view text, std::size_t max_entries) {
  const std::string valid = to_valid_utf8(text);
  std::string_view rest = valid;
  std::vector<ChangelogEntry> entries;
  std::optional<ChangelogEntry> current;
  std::size_t body_start = 0, body_end = 0;  // offsets of the current entry's body in `valid`
  const auto close_entry = [&] {
    if (!current) return;
    std::string_view body =
        trim_blank_lines(std::string_view(valid).substr(body_start, body_end - body_start));
    current->text = cut_utf8(std::string(body), kMaxChangelogEntryText);
    entries.push_back(std::move(*current));
    current.reset();
  };
  std::size_t offset = 0;
  bool first = true;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    const std::size_t next = nl == std::string_view::npos ? valid.size() : offset + nl + 1;
    if (!line.empty() && line.front() != ' ' && line.front() != '\t') {
      auto header = entry_header(line);
      if (!header) {
        if (first) {
          return make_error(Errc::kMalformed,
                            "changelog: the first line is not \"package (version) "
                            "distribution; urgency=...\"");
        }
        break;  // the free-form tail of an old changelog
      }
      close_entry();
      if (entries.size() >= max_entries) break;
      current = ChangelogEntry{header->first, cut_utf8(header->second, kMaxDistribution), ""};
      body_start = body_end = next;
      first = false;
    } else if (current) {
      body_end = next;
    } else if (!line.empty() && first) {
      return make_error(Errc::kMalformed, "changelog: text before the first entry");
    }
    offset = next;
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  close_entry();
  if (entries.size() > max_entries) entries.resize(max_entries);
  return entries;
}

Result<std::vector<ChangelogEntry>> changelog_between(const std::vector<ChangelogEntry>& entries,
                                                      const std::optional<std::string>& old_version,
                                                      const std::string& new_version,
                                                      const DebianVersionCompare& compare) {
  std::vector<ChangelogEntry> out;
  for (const auto& e : entries) {
    if (out.size() >= kMaxChangelogEntries) break;
    if (!is_debian_version(e.version)) continue;
    CS_TRY(int vs_new, compare(e.version, new_version));
    if (vs_new > 0) continue;  // newer than what is installed: not part of this change
    if (old_version) {
      CS_TRY(int vs_old, compare(e.version, *old_version));
      // Changelogs are newest first: at the installed version, the rest is older.
      if (vs_old <= 0) break;
    }
    out.push_back(e);
  }
  return out;
}

Result<PackagesReview> PackagesReview::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kPackagesReviewSchema));
  PackagesReview p;
  CS_TRY(p.f_.manifest, r.digest("manifest"));
  CS_TRY(const json::array_t* list, r.array("packages"));
  if (list->size() > kMaxReviewPackages)
    return r.error("packages", "has more than " + std::to_string(kMaxReviewPackages) + " packages");
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string ptr = pointer_append("/packages", i);
    CS_TRY(auto e, parse_package((*list)[i], ptr));
    if (!p.f_.packages.empty() && !order(p.f_.packages.back(), e)) {
      return document_error(kDoc, ptr,
                            "\"" + e.name + ":" + e.architecture +
                                "\" is out of order or listed twice (sorted by name, then architecture)");
    }
    p.f_.packages.push_back(std::move(e));
  }
  CS_TRY_VOID(r.finish());
  return p;
}

Result<PackagesReview> PackagesReview::parse_text(std::string_view text) {
  return parse_document_text<PackagesReview>(text, "packages review");
}

Result<PackagesReview> PackagesReview::create(Fields fields) {
  std::sort(fields.packages.begin(), fields.packages.end(), order);
  for (auto& p : fields.packages) {
    for (auto& e : p.changelog) {
      e.distribution = cut_utf8(to_valid_utf8(e.distribution), kMaxDistribution);
      e.text = cut_utf8(to_valid_utf8(e.text), kMaxChangelogEntryText);
    }
    if (p.changelog.size() > kMaxChangelogEntries) p.changelog.resize(kMaxChangelogEntries);
  }
  PackagesReview p;
  p.f_ = std::move(fields);
  return parse(p.to_json());
}

const PackageReview* PackagesReview::find(std::string_view name, std::string_view architecture) const {
  for (const auto& p : f_.packages) {
    if (p.name == name && p.architecture == architecture) return &p;
  }
  return nullptr;
}

json PackagesReview::to_json() const {
  json list = json::array();
  for (const auto& p : f_.packages) {
    json entries = json::array();
    for (const auto& e : p.changelog)
      entries.push_back({{"version", e.version}, {"distribution", e.distribution}, {"text", e.text}});
    json j{
        {"name", p.name}, {"architecture", p.architecture}, {"new", p.new_version}, {"changelog", entries}};
    if (p.old_version) j["old"] = *p.old_version;
    if (p.note) j["note"] = *p.note;
    list.push_back(std::move(j));
  }
  return json{
      {"schema", kPackagesReviewSchema}, {"manifest", digest_to_string(f_.manifest)}, {"packages", list}};
}

}  // namespace countersign
