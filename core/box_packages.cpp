#include "core/box_packages.h"

#include <algorithm>
#include <array>

#include "core/json_reader.h"
#include "core/manifest.h"
#include "core/untrusted_text.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "box packages";

// The optional one-line fields, in document (and dpkg-query) order, with dpkg's names.
struct TextField {
  const char* key;   // in the document
  const char* dpkg;  // in dpkg's database and in the status file for apt
  std::string InstalledPackage::*member;
};
constexpr std::array<TextField, 7> kTextFields = {{
    {"multi_arch", "Multi-Arch", &InstalledPackage::multi_arch},
    {"depends", "Depends", &InstalledPackage::depends},
    {"pre_depends", "Pre-Depends", &InstalledPackage::pre_depends},
    {"provides", "Provides", &InstalledPackage::provides},
    {"conflicts", "Conflicts", &InstalledPackage::conflicts},
    {"breaks", "Breaks", &InstalledPackage::breaks},
    {"replaces", "Replaces", &InstalledPackage::replaces},
}};

bool order(const InstalledPackage& a, const InstalledPackage& b) {
  return a.name != b.name ? a.name < b.name : a.architecture < b.architecture;
}

// dpkg's Status: three lowercase words ("install ok installed", "deinstall ok config-files").
bool is_dpkg_status(std::string_view s) {
  int words = 0;
  bool in_word = false;
  for (char c : s) {
    if (c == ' ') {
      if (!in_word) return false;
      in_word = false;
    } else if ((c >= 'a' && c <= 'z') || c == '-') {
      if (!in_word) ++words;
      in_word = true;
    } else {
      return false;
    }
  }
  return in_word && words == 3;
}

Result<InstalledPackage> parse_entry(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  InstalledPackage p;
  CS_TRY(p.name, r.name("name"));
  if (auto why = debian_problem(DebianField::kPackageName, p.name)) return r.error("name", *why);
  CS_TRY(p.architecture, r.name("architecture"));
  if (auto why = debian_problem(DebianField::kArchitecture, p.architecture))
    return r.error("architecture", *why);
  CS_TRY(p.version, r.name("version"));
  if (auto why = debian_problem(DebianField::kVersion, p.version)) return r.error("version", *why);
  CS_TRY(p.status, r.name("status"));
  if (!is_dpkg_status(p.status)) {
    return r.error("status", "\"" + escape_untrusted(p.status, 80) + "\" is not a dpkg status (three words)");
  }
  CS_TRY(auto essential, r.optional_bool("essential"));
  p.essential = essential.value_or(false);
  // Names: no control characters, so no field can start another stanza line in the status file.
  for (const auto& f : kTextFields) {
    CS_TRY(auto text, r.optional_name(f.key));
    if (text) p.*f.member = *text;
  }
  CS_TRY_VOID(r.finish());
  return p;
}

}  // namespace

bool InstalledPackage::installed() const {
  constexpr std::string_view kInstalled = " installed";
  return status.size() > kInstalled.size() && status.ends_with(kInstalled);
}

Result<BoxPackages> BoxPackages::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kBoxPackagesSchema));
  BoxPackages b;
  CS_TRY(b.f_.box, r.name("box"));
  CS_TRY(b.f_.time, r.time("time"));
  CS_TRY(const json::array_t* list, r.array("packages"));
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string p = pointer_append("/packages", i);
    CS_TRY(InstalledPackage e, parse_entry((*list)[i], p));
    if (!b.f_.packages.empty()) {
      const auto& prev = b.f_.packages.back();
      if (!order(prev, e)) {
        return document_error(kDoc, p,
                              "\"" + e.name + ":" + e.architecture +
                                  "\" is out of order or listed twice (sorted by name, then architecture)");
      }
    }
    b.f_.packages.push_back(std::move(e));
  }
  CS_TRY_VOID(r.finish());
  return b;
}

Result<BoxPackages> BoxPackages::parse_text(std::string_view text) {
  return parse_document_text<BoxPackages>(text, "box packages");
}

Result<BoxPackages> BoxPackages::create(Fields fields) {
  std::sort(fields.packages.begin(), fields.packages.end(), order);
  BoxPackages b;
  b.f_ = std::move(fields);
  return parse(b.to_json());
}

std::vector<std::string> dpkg_query_args(const std::string& admindir) {
  std::string format = "${Package}\\t${Architecture}\\t${Version}\\t${Status}\\t${Essential}";
  for (const auto& f : kTextFields) format += std::string("\\t${") + f.dpkg + "}";
  format += "\\n";
  return {"--admindir=" + admindir, "--show", "--showformat=" + format};
}

Result<BoxPackages> BoxPackages::from_dpkg_query(std::string_view output, std::string box, UnixTime time) {
  Fields f{std::move(box), time, {}};
  std::size_t line_no = 0;
  while (!output.empty()) {
    ++line_no;
    auto nl = output.find('\n');
    if (nl == std::string_view::npos) {
      return make_error(Errc::kInvalidDocument,
                        "dpkg-query output: line " + std::to_string(line_no) + " is not ended");
    }
    std::string_view line = output.substr(0, nl);
    output.remove_prefix(nl + 1);
    std::vector<std::string_view> cols;
    for (std::size_t start = 0;;) {
      auto tab = line.find('\t', start);
      cols.push_back(
          line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    if (cols.size() != 5 + kTextFields.size()) {
      return make_error(Errc::kInvalidDocument, "dpkg-query output: line " + std::to_string(line_no) +
                                                    " has " + std::to_string(cols.size()) +
                                                    " fields, expected " +
                                                    std::to_string(5 + kTextFields.size()));
    }
    // A package known only by name (purged, "unknown ok not-installed") has no version: skip.
    if (cols[2].empty()) continue;
    InstalledPackage p;
    p.name = cols[0];
    p.architecture = cols[1];
    p.version = cols[2];
    p.status = cols[3];
    p.essential = cols[4] == "yes";
    for (std::size_t i = 0; i < kTextFields.size(); ++i) p.*kTextFields[i].member = cols[5 + i];
    f.packages.push_back(std::move(p));
  }
  return create(std::move(f));
}

const InstalledPackage* BoxPackages::installed(std::string_view name, std::string_view architecture) const {
  auto it = std::lower_bound(f_.packages.begin(), f_.packages.end(), name,
                             [](const InstalledPackage& p, std::string_view n) { return p.name < n; });
  for (; it != f_.packages.end() && it->name == name; ++it) {
    if ((architecture.empty() || it->architecture == architecture) && it->installed()) return &*it;
  }
  return nullptr;
}

json BoxPackages::to_json() const {
  json list = json::array();
  for (const auto& p : f_.packages) {
    json e = {
        {"name", p.name}, {"architecture", p.architecture}, {"version", p.version}, {"status", p.status}};
    if (p.essential) e["essential"] = true;
    for (const auto& f : kTextFields) {
      if (!(p.*f.member).empty()) e[f.key] = p.*f.member;
    }
    list.push_back(std::move(e));
  }
  return json{
      {"schema", kBoxPackagesSchema}, {"box", f_.box}, {"time", format_rfc3339(f_.time)}, {"packages", list}};
}

std::string BoxPackages::to_dpkg_status() const {
  std::string out;
  for (const auto& p : f_.packages) {
    out += "Package: " + p.name + "\nStatus: " + p.status + "\n";
    if (p.essential) out += "Essential: yes\n";
    out += "Architecture: " + p.architecture + "\n";
    for (const auto& f : kTextFields) {
      if (!(p.*f.member).empty()) out += std::string(f.dpkg) + ": " + p.*f.member + "\n";
    }
    out += "Version: " + p.version + "\n\n";
  }
  return out;
}

}  // namespace countersign
