#include "system/packages.h"

#include <map>
#include <set>
#include <utility>

#include "core/untrusted_text.h"

namespace countersign::daemon {
namespace {

using nlohmann::json;

// Package names and versions of a verified manifest are checked (core/manifest.h), dpkg's
// output is not: every shown value goes through the one escaping rule.
std::string shown(std::string_view s) { return escape_untrusted(s, 128); }

std::string label(const PackageChange& c) {
  return shown(c.architecture.empty() ? c.name : c.name + ":" + c.architecture);
}

}  // namespace

std::optional<std::string> plan_problem(const Manifest& manifest, const BoxPackages& now) {
  for (const auto& c : manifest.packages()) {
    const InstalledPackage* have = now.installed(c.name, c.architecture);
    if (c.replaces) {
      if (have == nullptr) {
        return label(c) + ": the plan replaces " + shown(*c.replaces) +
               ", but it is not installed on the box (the box changed since planning)";
      }
      if (have->version != *c.replaces) {
        return label(c) + ": the plan replaces " + shown(*c.replaces) + ", the box has " +
               shown(have->version) + " installed (the box changed since planning)";
      }
    } else if (have != nullptr) {
      return label(c) + ": the plan installs it new, but " + shown(have->version) +
             " is installed on the box (the box changed since planning)";
    }
    if (c.remove && have != nullptr && have->essential) {
      return label(c) + ": is an Essential package (dpkg Essential: yes); a plan may not remove it";
    }
  }
  return std::nullopt;
}

std::optional<std::string> result_problem(const Manifest& manifest, const BoxPackages& after,
                                          const BoxPackages* before) {
  std::set<std::pair<std::string, std::string>> named;  // (name, architecture) of the plan
  std::set<std::string> removed_names;                  // removals without an architecture
  for (const auto& c : manifest.packages()) {
    const InstalledPackage* have = after.installed(c.name, c.architecture);
    if (c.remove) {
      if (have != nullptr)
        return label(c) + ": still installed (" + shown(have->version) + "); the plan removes it";
      if (c.architecture.empty()) removed_names.insert(c.name);
      named.insert({c.name, c.architecture});
      continue;
    }
    named.insert({c.name, c.architecture});
    if (have == nullptr)
      return label(c) + ": not installed after dpkg; the plan installs " + shown(c.version);
    if (have->version != c.version) {
      return label(c) + ": " + shown(have->version) + " is installed after dpkg; the plan approved " +
             shown(c.version);
    }
    if (have->status != "install ok installed") {
      return label(c) + ": its status is \"" + shown(have->status) + "\", not \"install ok installed\"";
    }
  }
  if (before == nullptr) return std::nullopt;
  auto key = [](const InstalledPackage& p) { return p.name + ":" + p.architecture; };
  auto planned = [&](const InstalledPackage& p) {
    return named.count({p.name, p.architecture}) != 0 || removed_names.count(p.name) != 0;
  };
  std::map<std::string, const InstalledPackage*> was, is;
  for (const auto& p : before->packages()) {
    if (!planned(p)) was[key(p)] = &p;
  }
  for (const auto& p : after.packages()) {
    if (!planned(p)) is[key(p)] = &p;
  }
  for (const auto& [k, p] : was) {
    auto it = is.find(k);
    if (it == is.end())
      return shown(k) + ": was " + shown(p->version) + " and is gone; the plan does not name it";
    if (it->second->version != p->version || it->second->status != p->status) {
      return shown(k) + ": changed from " + shown(p->version) + " (" + shown(p->status) + ") to " +
             shown(it->second->version) + " (" + shown(it->second->status) + "); the plan does not name it";
    }
  }
  for (const auto& [k, p] : is) {
    if (!was.count(k)) {
      return shown(k) + ": appeared (" + shown(p->version) + ", " + shown(p->status) +
             "); the plan does not name it";
    }
  }
  return std::nullopt;
}

json package_changes_json(const Manifest& manifest) {
  json out = json::array();
  for (const auto& c : manifest.packages()) {
    out.push_back({{"name", c.name},
                   {"architecture", c.architecture.empty() ? json(nullptr) : json(c.architecture)},
                   {"old", c.replaces ? json(*c.replaces) : json(nullptr)},
                   {"new", c.remove ? json(nullptr) : json(c.version)}});
  }
  return out;
}

std::vector<std::string> dpkg_deb_fields_command(const std::string& deb) {
  return {"dpkg-deb", "--field", deb, "Package", "Version", "Architecture"};
}

std::optional<std::string> deb_fields_problem(std::string_view output, const PackageChange& change) {
  std::map<std::string, std::string> fields;
  while (!output.empty()) {
    auto nl = output.find('\n');
    std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    fields[std::string(line.substr(0, colon))] = std::string(value);
  }
  const std::pair<const char*, const std::string*> expected[] = {
      {"Package", &change.name}, {"Version", &change.version}, {"Architecture", &change.architecture}};
  for (const auto& [field, want] : expected) {
    auto it = fields.find(field);
    if (it == fields.end()) return shown(change.file) + " has no " + field + " field";
    if (it->second != *want) {
      return shown(change.file) + " is " + field + " " + shown(it->second) + ", the manifest says " +
             shown(*want);
    }
  }
  return std::nullopt;
}

std::vector<std::string> dpkg_install_command(const std::string& root, const std::vector<std::string>& debs) {
  std::vector<std::string> argv = {"dpkg",
                                   "--root=" + root,
                                   "--log=" + root + "/var/log/dpkg.log",
                                   "--force-confdef",
                                   "--force-confold",
                                   "--install"};
  argv.insert(argv.end(), debs.begin(), debs.end());
  return argv;
}

std::vector<std::string> dpkg_remove_command(const std::string& root, const std::vector<std::string>& names) {
  std::vector<std::string> argv = {"dpkg", "--root=" + root, "--log=" + root + "/var/log/dpkg.log",
                                   "--remove"};
  argv.insert(argv.end(), names.begin(), names.end());
  return argv;
}

}  // namespace countersign::daemon
