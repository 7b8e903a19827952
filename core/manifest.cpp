#include "core/manifest.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/jcs.h"
#include "core/json_reader.h"
#include "core/untrusted_text.h"

namespace countersign {

using nlohmann::json;

namespace {

constexpr std::string_view kDoc = "manifest";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string percent_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : path) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

std::string join(std::string_view base, std::string_view rest) {
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  out += rest;
  return out;
}

// At most 80 bytes of a field, escaped (core/untrusted_text.h), for messages.
std::string printable_field(std::string_view s) { return escape_untrusted(s, 80); }

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

Result<Source> parse_source(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  CS_TRY(std::string type, r.string("type"));
  Source s;
  if (type == "huggingface") {
    s.type = Source::Type::kHuggingFace;
    CS_TRY(s.repo, r.name("repo"));
    CS_TRY(s.revision, r.string("revision"));
    auto slash = s.repo.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.repo.size() ||
        s.repo.find('/', slash + 1) != std::string::npos || check_manifest_path(s.repo).has_value()) {
      return r.error("repo", "\"" + s.repo + "\" is not an \"organisation/name\" repository");
    }
    if (!is_lower_hex(s.revision, 40)) {
      return r.error("revision", "must be a full 40-hex-digit commit, so the source cannot move");
    }
  } else if (type == "s3") {
    s.type = Source::Type::kS3;
    CS_TRY(s.bucket, r.name("bucket"));
    CS_TRY(auto prefix, r.optional_name("prefix"));
    CS_TRY(auto region, r.optional_name("region"));
    s.prefix = prefix.value_or("");
    s.region = region.value_or("");
    // Both become part of the host name (location_of): checked here, so that a URL is only
    // ever built from validated pieces.
    if (auto why = s3_bucket_problem(s.bucket)) {
      return r.error("bucket", "\"" + printable_field(s.bucket) + "\" is not an S3 bucket name: " + *why);
    }
    if (region && !is_s3_region(s.region)) {
      return r.error("region", "\"" + printable_field(s.region) +
                                   "\" is not an AWS region (1 to 32 lowercase letters, digits and hyphens, "
                                   "like us-east-1)");
    }
  } else if (type == "https") {
    s.type = Source::Type::kHttps;
    CS_TRY(s.base, r.name("base"));
    // Plain http is accepted: integrity comes from the manifest's hashes, not from TLS.
    if (!(starts_with(s.base, "https://") || starts_with(s.base, "http://")) ||
        s.base.find_first_of(" \t\r\n") != std::string::npos) {
      return r.error("base", "\"" + s.base + "\" is not an http(s) URL");
    }
  } else if (type == "file") {
    s.type = Source::Type::kFile;
    CS_TRY(s.base, r.name("base"));
    if (s.base.front() != '/' || s.base.find(std::string_view("\0", 1)) != std::string::npos) {
      return r.error("base", "\"" + s.base + "\" is not an absolute path");
    }
  } else {
    return r.error("type", "unknown source type \"" + type + "\" (expected huggingface, s3, https or file)");
  }
  CS_TRY_VOID(r.finish());
  return s;
}

bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// One entry of `packages`. Cross-checks against `files` are done by the caller.
Result<PackageChange> parse_package(const json& v, const std::string& pointer) {
  CS_TRY(auto r, ObjectReader::open(v, kDoc, pointer));
  PackageChange p;
  CS_TRY(p.name, r.name("name"));
  if (auto why = debian_problem(DebianField::kPackageName, p.name)) return r.error("name", *why);
  CS_TRY(auto remove, r.optional_bool("remove"));
  p.remove = remove.value_or(false);
  if (remove && !*remove) return r.error("remove", "is either true or absent");
  CS_TRY(auto arch, r.optional_name("architecture"));
  CS_TRY(auto version, r.optional_name("version"));
  CS_TRY(auto file, r.optional_name("file"));
  CS_TRY(p.replaces, r.optional_name("replaces"));
  CS_TRY_VOID(r.finish());
  if (arch) {
    if (auto why = debian_problem(DebianField::kArchitecture, *arch)) return r.error("architecture", *why);
    p.architecture = *arch;
  }
  if (p.replaces) {
    if (auto why = debian_problem(DebianField::kVersion, *p.replaces)) return r.error("replaces", *why);
  }
  if (p.remove) {
    if (version) return r.error("version", "a removal installs no version");
    if (file) return r.error("file", "a removal installs no file");
    if (!p.replaces) return r.error("replaces", "a removal names the version installed now");
    return p;
  }
  if (!arch) return r.error("architecture", "is required for a package that is installed");
  if (!version) return r.error("version", "is required for a package that is installed");
  if (!file) return r.error("file", "is required for a package that is installed");
  if (auto why = debian_problem(DebianField::kVersion, *version)) return r.error("version", *why);
  p.version = *version;
  p.file = *file;
  return p;
}

bool package_order(const PackageChange& a, const PackageChange& b) {
  return a.name != b.name ? a.name < b.name : a.architecture < b.architecture;
}

}  // namespace

std::string PackageChange::qualified_name() const {
  return architecture.empty() ? name : name + ":" + architecture;
}

bool is_debian_package_name(std::string_view name) {
  if (name.size() < 2 || name.size() > 128 || !is_lower_alnum(name.front())) return false;
  for (char c : name) {
    if (!is_lower_alnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

bool is_debian_version(std::string_view version) {
  if (version.empty() || version.size() > 256) return false;
  std::string_view rest = version;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    std::string_view epoch = rest.substr(0, colon);
    if (epoch.empty() || epoch.size() > 9) return false;
    for (char c : epoch) {
      if (c < '0' || c > '9') return false;
    }
    rest = rest.substr(colon + 1);
  }
  std::string_view upstream = rest;
  if (auto dash = rest.rfind('-'); dash != std::string_view::npos) {
    upstream = rest.substr(0, dash);
    std::string_view revision = rest.substr(dash + 1);
    if (revision.empty()) return false;
    for (char c : revision) {
      if (!is_alnum(c) && c != '+' && c != '.' && c != '~') return false;
    }
  }
  if (upstream.empty() || upstream.front() < '0' || upstream.front() > '9') return false;
  for (char c : upstream) {
    if (!is_alnum(c) && c != '+' && c != '.' && c != '~' && c != '-') return false;
  }
  return true;
}

bool is_debian_architecture(std::string_view arch) {
  if (arch.empty() || arch.size() > 32 || !is_lower_alnum(arch.front())) return false;
  for (char c : arch) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

std::optional<std::string> debian_problem(DebianField field, std::string_view value) {
  switch (field) {
    case DebianField::kPackageName:
      if (is_debian_package_name(value)) return std::nullopt;
      return "\"" + printable_field(value) +
             "\" is not a Debian package name (lowercase letters, digits, '+', '-', '.', at least two, "
             "starting "
             "with a letter or digit)";
    case DebianField::kVersion:
      if (is_debian_version(value)) return std::nullopt;
      return "\"" + printable_field(value) + "\" is not a Debian version";
    case DebianField::kArchitecture:
      if (is_debian_architecture(value)) return std::nullopt;
      return "\"" + printable_field(value) + "\" is not a Debian architecture";
  }
  return std::nullopt;
}

// AWS "Bucket naming rules" for virtual-hosted-style URLs: 3 to 63 characters; lowercase letters, digits,
// hyphens and dots; each dot-separated label starts and ends with a letter or digit; not formatted like an
// IPv4 address).
std::optional<std::string> s3_bucket_problem(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return "it must be 3 to 63 characters long";
  bool all_digits_and_dots = true;
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= bucket.size()) {
    std::size_t end = bucket.find('.', start);
    if (end == std::string_view::npos) end = bucket.size();
    std::string_view label = bucket.substr(start, end - start);
    if (label.empty()) return "it has an empty label (a leading, trailing or double dot)";
    if (!is_lower_alnum(label.front()) || !is_lower_alnum(label.back()))
      return "each dot-separated label must start and end with a lowercase letter or digit";
    for (char c : label) {
      if (!is_lower_alnum(c) && c != '-')
        return "only lowercase letters, digits, hyphens and dots are allowed";
      if (!(c >= '0' && c <= '9')) all_digits_and_dots = false;
    }
    ++labels;
    start = end + 1;
  }
  if (all_digits_and_dots && labels == 4) return "it must not be formatted as an IP address";
  return std::nullopt;
}

// An AWS region as it appears in a host name ("us-east-1"): 1 to 32 lowercase letters,
// digits and hyphens, starting and ending with a letter or digit.
bool is_s3_region(std::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  if (!is_lower_alnum(region.front()) || !is_lower_alnum(region.back())) return false;
  for (char c : region) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

std::optional<std::string> check_manifest_path(std::string_view path) {
  if (path.empty()) return "path is empty";
  if (path.front() == '/') return "path must be relative, not start with '/'";
  for (char c : path) {
    if (c == '\\') return "path contains a backslash";
    if (c == '\0') return "path contains a NUL byte";
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) return "path has an empty segment";
    if (seg == ".") return "path has a \".\" segment";
    if (seg == "..") return "path has a \"..\" segment";
    start = end + 1;
  }
  return std::nullopt;
}

Result<Source> Source::from_spec(std::string_view spec) {
  auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalidArgument, "source \"" + std::string(spec) + "\": " + why);
  };
  Source s;
  if (starts_with(spec, "hf:")) {
    auto rest = spec.substr(3);
    auto at = rest.rfind('@');
    if (at == std::string_view::npos) return bad("expected hf:ORG/REPO@COMMIT");
    s.type = Type::kHuggingFace;
    s.repo = std::string(rest.substr(0, at));
    s.revision = std::string(rest.substr(at + 1));
  } else if (starts_with(spec, "s3://")) {
    auto rest = spec.substr(5);
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    auto slash = rest.find('/');
    s.type = Type::kS3;
    s.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) s.prefix = std::string(rest.substr(slash + 1));
    if (!query.empty()) {
      if (!starts_with(query, "region=")) return bad("the only query parameter is region=");
      s.region = std::string(query.substr(7));
    }
  } else if (starts_with(spec, "https://") || starts_with(spec, "http://")) {
    s.type = Type::kHttps;
    s.base = join(spec, "");
  } else if (starts_with(spec, "file://")) {
    s.type = Type::kFile;
    s.base = join(spec.substr(7), "");
  } else {
    return bad("expected hf:ORG/REPO@COMMIT, https://..., s3://BUCKET/PREFIX?region=R or file:///PATH");
  }
  // Validate through the same code that reads documents.
  auto parsed = parse_source(s.to_json(), "/sources/0");
  if (!parsed.ok()) return bad(parsed.error().message);
  return s;
}

std::string Source::location_of(std::string_view path) const {
  switch (type) {
    case Type::kHuggingFace:
      return "https://huggingface.co/" + repo + "/resolve/" + revision + "/" + percent_encode_path(path);
    case Type::kS3: {
      // Never a host name from unchecked pieces (a Source built by hand skips parse_source).
      if (s3_bucket_problem(bucket) || (!region.empty() && !is_s3_region(region))) return {};
      std::string host =
          region.empty() ? bucket + ".s3.amazonaws.com" : bucket + ".s3." + region + ".amazonaws.com";
      return "https://" + host + "/" + percent_encode_path(prefix) + percent_encode_path(path);
    }
    case Type::kHttps:
      return join(base, percent_encode_path(path));
    case Type::kFile:
      return join(base, path);
  }
  return {};
}

std::string_view Source::type_name() const {
  switch (type) {
    case Type::kHuggingFace:
      return "huggingface";
    case Type::kS3:
      return "s3";
    case Type::kHttps:
      return "https";
    case Type::kFile:
      return "file";
  }
  return "";
}

std::string Source::describe() const {
  switch (type) {
    case Type::kHuggingFace:
      return "huggingface " + repo + " @ " + revision;
    case Type::kS3:
      return "s3 " + bucket + "/" + prefix + (region.empty() ? "" : " (" + region + ")");
    case Type::kHttps:
      return base;  // the URL says http or https
    case Type::kFile:
      return "file " + base;
  }
  return {};
}

json Source::to_json() const {
  json j;
  j["type"] = type_name();
  switch (type) {
    case Type::kHuggingFace:
      j["repo"] = repo;
      j["revision"] = revision;
      break;
    case Type::kS3:
      j["bucket"] = bucket;
      if (!prefix.empty()) j["prefix"] = prefix;
      if (!region.empty()) j["region"] = region;
      break;
    case Type::kHttps:
    case Type::kFile:
      j["base"] = base;
      break;
  }
  return j;
}

Result<Manifest> Manifest::parse(const json& doc) {
  CS_TRY(auto r, ObjectReader::open(doc, kDoc, ""));
  CS_TRY_VOID(r.expect_schema(kManifestSchema));
  Manifest m;
  CS_TRY(m.f_.kind, r.string("kind"));
  if (m.f_.kind != "model" && m.f_.kind != "packages") {
    return r.error(
        "kind", "unknown kind \"" + printable_field(m.f_.kind) + "\" (expected \"model\" or \"packages\")");
  }
  const bool packages = m.is_packages();
  CS_TRY(m.f_.name, r.name("name"));
  CS_TRY(m.f_.version, r.name("version"));
  CS_TRY(m.f_.description, r.optional_string("description"));

  // A model says under which license it comes; for packages each .deb says it (optional).
  const json* lic = nullptr;
  if (!packages || r.has("license")) {
    CS_TRY(lic, r.object("license"));
  }
  if (lic != nullptr) {
    CS_TRY(auto lr, ObjectReader::open(*lic, kDoc, "/license"));
    CS_TRY(m.f_.license.spdx, lr.name("spdx"));
    CS_TRY(m.f_.license.url, lr.optional_name("url"));
    CS_TRY_VOID(lr.finish());
  }

  CS_TRY(const json::array_t* files, r.array("files"));
  // A packages manifest that only removes has no files; its `packages` is checked below.
  if (files->empty() && !packages) return r.error("files", "must list at least one file");
  m.f_.files.reserve(files->size());
  std::unordered_set<std::string_view> paths;
  paths.reserve(files->size());
  for (std::size_t i = 0; i < files->size(); ++i) {
    std::string p = pointer_append("/files", i);
    CS_TRY(auto fr, ObjectReader::open((*files)[i], kDoc, p));
    ManifestFile f;
    CS_TRY(f.path, fr.name("path"));
    if (auto why = check_manifest_path(f.path)) return fr.error("path", "\"" + f.path + "\": " + *why);
    CS_TRY(f.size, fr.integer("size"));
    CS_TRY(std::string_view hex, fr.string_view("sha256"));
    if (!decode_lower_hex(hex, f.sha256)) return fr.error("sha256", "must be 64 lowercase hex digits");
    CS_TRY_VOID(fr.finish());
    if (!m.f_.files.empty()) {
      const std::string& prev = m.f_.files.back().path;
      if (prev == f.path) return fr.error("path", "\"" + f.path + "\" is listed twice");
      if (prev > f.path) {
        return fr.error("path", "\"" + f.path + "\" comes after \"" + prev +
                                    "\": files must be sorted by path in byte order");
      }
    }
    m.f_.files.push_back(std::move(f));
  }
  for (const auto& f : m.f_.files) paths.insert(f.path);
  for (std::size_t i = 0; i < m.f_.files.size(); ++i) {
    std::string_view path = m.f_.files[i].path;
    for (std::size_t pos = path.find('/'); pos != std::string_view::npos; pos = path.find('/', pos + 1)) {
      if (paths.contains(path.substr(0, pos))) {
        return document_error(kDoc, pointer_append(pointer_append("/files", i), "path"),
                              "\"" + std::string(path) + "\" is inside \"" +
                                  std::string(path.substr(0, pos)) + "\", which is listed as a file");
      }
    }
  }

  CS_TRY(const json::array_t* sources, r.array("sources"));
  for (std::size_t i = 0; i < sources->size(); ++i) {
    CS_TRY(Source s, parse_source((*sources)[i], pointer_append("/sources", i)));
    for (const auto& earlier : m.f_.sources) {
      if (earlier.to_json() == s.to_json()) {
        return document_error(kDoc, pointer_append("/sources", i), "the same source is listed twice");
      }
    }
    m.f_.sources.push_back(std::move(s));
  }
  if (packages) {
    CS_TRY_VOID(m.parse_packages(r));
  }
  CS_TRY_VOID(r.finish());
  CS_TRY(m.hash_, jcs::hash(doc));
  return m;
}

// `packages`: each entry valid, sorted by name then architecture, unique; every install names
// a file of `files`, every file is named by exactly one install, none is removed twice or
// both installed and removed.
Result<void> Manifest::parse_packages(ObjectReader& r) {
  CS_TRY(const json::array_t* list, r.array("packages"));
  if (list->empty()) return r.error("packages", "must list at least one package to install or remove");
  std::unordered_map<std::string_view, std::size_t> file_users;  // path -> index in packages
  for (const auto& f : f_.files) file_users.emplace(f.path, list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string p = pointer_append("/packages", i);
    CS_TRY(PackageChange c, parse_package((*list)[i], p));
    if (!f_.packages.empty()) {
      const PackageChange& prev = f_.packages.back();
      if (prev.name == c.name && (prev.architecture == c.architecture || prev.remove || c.remove)) {
        return document_error(kDoc, p, "package \"" + c.qualified_name() + "\" is listed twice");
      }
      if (package_order(c, prev)) {
        return document_error(kDoc, p,
                              "\"" + c.qualified_name() + "\" comes after \"" + prev.qualified_name() +
                                  "\": packages must be sorted by name, then architecture");
      }
    }
    if (!c.remove) {
      auto it = file_users.find(c.file);
      if (it == file_users.end()) {
        return document_error(kDoc, pointer_append(p, "file"),
                              "\"" + printable_field(c.file) + "\" is not one of the manifest's files");
      }
      if (it->second != list->size()) {
        return document_error(kDoc, pointer_append(p, "file"),
                              "\"" + printable_field(c.file) + "\" is already the file of \"" +
                                  f_.packages[it->second].qualified_name() + "\"");
      }
      it->second = i;
    }
    f_.packages.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < f_.files.size(); ++i) {
    if (file_users.at(f_.files[i].path) == list->size()) {
      return document_error(kDoc, pointer_append(pointer_append("/files", i), "path"),
                            "\"" + printable_field(f_.files[i].path) + "\" is not the file of any package");
    }
  }
  return {};
}

Result<Manifest> Manifest::parse_text(std::string_view text) {
  return parse_document_text<Manifest>(text, "manifest");
}

Result<Manifest> Manifest::create(Fields fields) {
  std::sort(fields.files.begin(), fields.files.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.path < b.path; });
  std::sort(fields.packages.begin(), fields.packages.end(), package_order);
  Manifest m;
  m.f_ = std::move(fields);
  return parse(m.to_json());
}

std::uint64_t Manifest::total_size() const {
  std::uint64_t n = 0;
  for (const auto& f : f_.files) n += f.size;
  return n;
}

json Manifest::to_json() const {
  json j;
  j["schema"] = kManifestSchema;
  j["kind"] = f_.kind;
  j["name"] = f_.name;
  j["version"] = f_.version;
  if (f_.description) j["description"] = *f_.description;
  if (!is_packages() || !f_.license.spdx.empty()) {
    json lic;
    lic["spdx"] = f_.license.spdx;
    if (f_.license.url) lic["url"] = *f_.license.url;
    j["license"] = std::move(lic);
  }
  json files = json::array();
  for (const auto& f : f_.files) {
    files.push_back(json{{"path", f.path}, {"size", f.size}, {"sha256", hex_encode(f.sha256)}});
  }
  j["files"] = std::move(files);
  json sources = json::array();
  for (const auto& s : f_.sources) sources.push_back(s.to_json());
  j["sources"] = std::move(sources);
  if (is_packages()) {
    json list = json::array();
    for (const auto& p : f_.packages) {
      json e = {{"name", p.name}};
      if (!p.architecture.empty()) e["architecture"] = p.architecture;
      if (p.remove) {
        e["remove"] = true;
      } else {
        e["version"] = p.version;
        e["file"] = p.file;
      }
      if (p.replaces) e["replaces"] = *p.replaces;
      list.push_back(std::move(e));
    }
    j["packages"] = std::move(list);
  }
  return j;
}

}  // namespace countersign
