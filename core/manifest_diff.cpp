#include "core/manifest_diff.h"
#include "core/untrusted_text.h"

#include <algorithm>
#include <sstream>

namespace countersign {

using nlohmann::json;

namespace {

bool same_source(const Source& a, const Source& b) { return a.to_json() == b.to_json(); }

json file_json(const ManifestFile& f) {
  return json{{"path", f.path}, {"size", f.size}, {"sha256", hex_encode(f.sha256)}};
}

json license_json(const License& l) {
  json j{{"spdx", l.spdx}};
  if (l.url) j["url"] = *l.url;
  return j;
}

json package_json(const PackageChange& c) {
  json j{{"name", c.name}};
  if (!c.architecture.empty()) j["architecture"] = c.architecture;
  if (c.remove) j["remove"] = true;
  if (!c.version.empty()) j["version"] = c.version;
  if (!c.file.empty()) j["file"] = c.file;
  if (c.replaces) j["replaces"] = *c.replaces;
  return j;
}

// "upgrade 1.0-1 -> 1.1-1", "install 1.0-1 (new)", "remove 1.0-1", escaped.
std::string change_words(const PackageChange& c) {
  if (c.remove) return "remove " + escape_untrusted(c.replaces.value_or(""));
  if (c.replaces) return "upgrade " + escape_untrusted(*c.replaces) + " -> " + escape_untrusted(c.version);
  return "install " + escape_untrusted(c.version) + " (new)";
}

std::string license_text(const License& l) {
  return escape_untrusted(l.spdx) + (l.url ? " <" + escape_untrusted(*l.url) + ">" : "");
}

}  // namespace

bool ManifestDiff::empty() const {
  return added.empty() && removed.empty() && changed.empty() && sources_added.empty() &&
         sources_removed.empty() && !sources_reordered && !license_changed && !name_changed &&
         !version_changed && packages.empty();
}

ManifestDiff diff_manifests(const Manifest& before, const Manifest& after) {
  ManifestDiff d;
  const auto& a = before.files();
  const auto& b = after.files();
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      d.removed.push_back(a[i++]);
    } else if (i == a.size() || b[j].path < a[i].path) {
      d.added.push_back(b[j++]);
    } else {
      if (a[i].size != b[j].size || a[i].sha256 != b[j].sha256) {
        d.changed.push_back({a[i], b[j]});
      } else {
        ++d.unchanged;
      }
      ++i;
      ++j;
    }
  }
  for (const auto& s : after.sources()) {
    if (std::none_of(before.sources().begin(), before.sources().end(),
                     [&](const Source& o) { return same_source(s, o); })) {
      d.sources_added.push_back(s);
    }
  }
  for (const auto& s : before.sources()) {
    if (std::none_of(after.sources().begin(), after.sources().end(),
                     [&](const Source& o) { return same_source(s, o); })) {
      d.sources_removed.push_back(s);
    }
  }
  if (d.sources_added.empty() && d.sources_removed.empty()) {
    // Same set of sources; a repeated source dropped or added changes the list's length.
    if (before.sources().size() != after.sources().size()) d.sources_reordered = true;
    for (std::size_t k = 0; k < std::min(before.sources().size(), after.sources().size()); ++k) {
      if (!same_source(before.sources()[k], after.sources()[k])) d.sources_reordered = true;
    }
  }
  if (before.license().spdx != after.license().spdx || before.license().url != after.license().url) {
    d.license_changed = std::make_pair(before.license(), after.license());
  }
  {
    const auto key = [](const PackageChange& c) { return std::make_pair(c.name, c.architecture); };
    const auto same = [](const PackageChange& x, const PackageChange& y) {
      return x.version == y.version && x.remove == y.remove && x.replaces == y.replaces && x.file == y.file;
    };
    const auto& pa = before.packages();
    const auto& pb = after.packages();
    std::size_t k = 0, l = 0;
    while (k < pa.size() || l < pb.size()) {
      if (l == pb.size() || (k < pa.size() && key(pa[k]) < key(pb[l]))) {
        d.packages.push_back({pa[k++], std::nullopt});
      } else if (k == pa.size() || key(pb[l]) < key(pa[k])) {
        d.packages.push_back({std::nullopt, pb[l++]});
      } else {
        if (!same(pa[k], pb[l])) d.packages.push_back({pa[k], pb[l]});
        ++k;
        ++l;
      }
    }
  }
  if (before.name() != after.name()) d.name_changed = std::make_pair(before.name(), after.name());
  if (before.version() != after.version())
    d.version_changed = std::make_pair(before.version(), after.version());
  return d;
}

json ManifestDiff::to_json() const {
  json j;
  j["summary"] = {{"added", added.size()},
                  {"removed", removed.size()},
                  {"changed", changed.size()},
                  {"unchanged", unchanged}};
  json ja = json::array(), jr = json::array(), jc = json::array();
  for (const auto& f : added) ja.push_back(file_json(f));
  for (const auto& f : removed) jr.push_back(file_json(f));
  for (const auto& c : changed) {
    jc.push_back({{"path", c.after.path},
                  {"before", file_json(c.before)},
                  {"after", file_json(c.after)},
                  {"size_changed", c.size_changed()},
                  {"hash_changed", c.hash_changed()}});
  }
  j["added"] = std::move(ja);
  j["removed"] = std::move(jr);
  j["changed"] = std::move(jc);
  json sa = json::array(), sr = json::array();
  for (const auto& s : sources_added) sa.push_back(s.to_json());
  for (const auto& s : sources_removed) sr.push_back(s.to_json());
  j["sources"] = {{"added", std::move(sa)}, {"removed", std::move(sr)}, {"reordered", sources_reordered}};
  j["license"] = license_changed ? json{{"before", license_json(license_changed->first)},
                                        {"after", license_json(license_changed->second)}}
                                 : json(nullptr);
  json jp = json::array();
  for (const auto& p : packages) {
    const PackageChange& any = p.after ? *p.after : *p.before;
    jp.push_back({{"name", any.name},
                  {"architecture", any.architecture},
                  {"before", p.before ? package_json(*p.before) : json(nullptr)},
                  {"after", p.after ? package_json(*p.after) : json(nullptr)}});
  }
  j["packages"] = std::move(jp);
  j["name"] =
      name_changed ? json{{"before", name_changed->first}, {"after", name_changed->second}} : json(nullptr);
  j["version"] = version_changed
                     ? json{{"before", version_changed->first}, {"after", version_changed->second}}
                     : json(nullptr);
  return j;
}

std::string ManifestDiff::to_text() const {
  std::ostringstream o;
  o << added.size() << " added, " << removed.size() << " removed, " << changed.size() << " changed, "
    << unchanged << " unchanged\n";
  if (name_changed)
    o << "name:    " << escape_untrusted(name_changed->first) << " -> "
      << escape_untrusted(name_changed->second) << "\n";
  if (version_changed)
    o << "version: " << escape_untrusted(version_changed->first) << " -> "
      << escape_untrusted(version_changed->second) << "\n";
  if (license_changed) {
    o << "LICENSE CHANGED: " << license_text(license_changed->first) << " -> "
      << license_text(license_changed->second) << "\n";
  }
  for (const auto& f : added)
    o << "+ added    " << escape_untrusted(f.path) << "  " << human_size(f.size) << "\n";
  for (const auto& f : removed)
    o << "- removed  " << escape_untrusted(f.path) << "  " << human_size(f.size) << "\n";
  for (const auto& c : changed) {
    o << "~ changed  " << escape_untrusted(c.after.path);
    if (c.size_changed()) o << "  size " << human_size(c.before.size) << " -> " << human_size(c.after.size);
    if (c.hash_changed())
      o << "  sha256 " << hex_encode(c.before.sha256).substr(0, 12) << "... -> "
        << hex_encode(c.after.sha256).substr(0, 12) << "...";
    o << "\n";
  }
  for (const auto& s : sources_added) o << "+ source   " << escape_untrusted(s.describe()) << "\n";
  for (const auto& s : sources_removed) o << "- source   " << escape_untrusted(s.describe()) << "\n";
  if (sources_reordered) o << "~ sources  same sources, new order\n";
  return o.str();
}

std::string ManifestDiff::packages_text() const {
  std::ostringstream o;
  o << packages.size() << (packages.size() == 1 ? " package entry differs\n" : " package entries differ\n");
  for (const auto& p : packages) {
    const PackageChange& any = p.after ? *p.after : *p.before;
    const std::string name = escape_untrusted(any.qualified_name());
    if (!p.before) {
      o << "+ " << name << "  " << change_words(*p.after) << "\n";
    } else if (!p.after) {
      o << "- " << name << "  " << change_words(*p.before) << "  (no longer in the plan)\n";
    } else {
      o << "~ " << name << "  " << change_words(*p.before) << "  =>  " << change_words(*p.after) << "\n";
    }
  }
  for (const auto& s : sources_added) o << "+ source   " << escape_untrusted(s.describe()) << "\n";
  for (const auto& s : sources_removed) o << "- source   " << escape_untrusted(s.describe()) << "\n";
  if (sources_reordered) o << "~ sources  same sources, new order\n";
  return o.str();
}

}  // namespace countersign
