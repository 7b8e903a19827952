// Manifest: what is to be installed (DESIGN.md "Manifest"). A Manifest value is always
// valid: schema, fields, file path rules, sort order and sources have been checked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/sha256.h"

namespace countersign {

class ObjectReader;

inline constexpr std::string_view kManifestSchema = "countersign/manifest/v1";

struct ManifestFile {
  std::string path;  // relative, '/'-separated, validated
  std::uint64_t size = 0;
  Digest sha256{};
};

// One download source. Fields used depend on the type:
//   huggingface: repo, revision (40 hex)   s3: bucket, prefix?, region?
//   https: base (http:// or https:// URL)   file: base (absolute path)
struct Source {
  enum class Type { kHuggingFace, kS3, kHttps, kFile };
  Type type = Type::kHttps;
  std::string repo, revision, bucket, prefix, region, base;

  // Parses a CLI source spec: "hf:org/repo@<40 hex>", "https://host/dir/", "http://...",
  // "s3://bucket/prefix?region=eu-west-1", "file:///mnt/usb/dir/".
  static Result<Source> from_spec(std::string_view spec);
  // The URL (or, for file sources, the absolute path) of one file: base joined with path,
  // each path segment percent-encoded (RFC 3986) for URLs.
  std::string location_of(std::string_view path) const;
  // "huggingface google/gemma @ abc123…", "https://mirror/…", "file /mnt/usb/…": for people.
  std::string describe() const;
  std::string_view type_name() const;
  nlohmann::json to_json() const;
};

// S3 names as they go into a host name (virtual-hosted-style URLs, SigV4 scope); checked
// whenever a source is parsed. Why `bucket` breaks the AWS bucket naming rules (3..63
// lowercase letters, digits, hyphens, dots between labels, not an IP address), or nullopt.
std::optional<std::string> s3_bucket_problem(std::string_view bucket);
// "us-east-1": 1..32 lowercase letters, digits and hyphens.
bool is_s3_region(std::string_view region);

struct License {
  std::string spdx;
  std::optional<std::string> url;
};

// One entry of a packages manifest's `packages` (DESIGN.md "Packages manifests"): a package
// installed from one of the manifest's files, or removed. `replaces` is the version the box
// must have installed now (absent: not installed); a removal always has one.
struct PackageChange {
  std::string name;          // Debian package name (Policy 5.6.1)
  std::string architecture;  // "amd64", "all"; may be empty for a removal
  std::string version;       // Debian version (Policy 5.6.12); empty for a removal
  std::string file;          // a path of the manifest's files; empty for a removal
  bool remove = false;
  std::optional<std::string> replaces;

  // "name" or "name:arch" (as dpkg and apt write a package with its architecture).
  std::string qualified_name() const;
};

// Debian's own rules, checked wherever a packages manifest or a box's package list is read.
// Package names: at least two characters, lowercase letters, digits, '+', '-', '.',
// starting with a letter or digit (Debian Policy 5.6.1).
bool is_debian_package_name(std::string_view name);
// Versions: [epoch:]upstream[-revision] (Policy 5.6.12): the epoch digits, upstream starts
// with a digit and holds letters, digits, ".+~-:" as the rules allow.
bool is_debian_version(std::string_view version);
// Architectures: lowercase letters, digits and '-' ("amd64", "all", "arm64", "musl-linux-any").
bool is_debian_architecture(std::string_view arch);
enum class DebianField { kPackageName, kVersion, kArchitecture };
// nullopt when `value` passes the check above for `field`; else the message documents give,
// with the value escaped and bounded: "\"five\" is not a Debian version".
std::optional<std::string> debian_problem(DebianField field, std::string_view value);

// Checks one manifest path against DESIGN's rules; returns the reason it is not allowed.
std::optional<std::string> check_manifest_path(std::string_view path);

class Manifest {
 public:
  struct Fields {
    std::string kind = "model";
    std::string name;
    std::string version;
    std::optional<std::string> description;
    License license;
    std::vector<ManifestFile> files;  // any order; create() sorts them
    std::vector<Source> sources;
    // kind "packages" only: sorted by name then architecture (create() sorts them).
    std::vector<PackageChange> packages;
  };

  // Validates a parsed JSON document.
  static Result<Manifest> parse(const nlohmann::json& doc);
  // jcs::parse + parse.
  static Result<Manifest> parse_text(std::string_view text);
  // Builds a manifest from fields (sorting files by path) and validates it.
  static Result<Manifest> create(Fields fields);

  const std::string& kind() const { return f_.kind; }
  const std::string& name() const { return f_.name; }
  const std::string& version() const { return f_.version; }
  const std::optional<std::string>& description() const { return f_.description; }
  const License& license() const { return f_.license; }
  const std::vector<ManifestFile>& files() const { return f_.files; }
  const std::vector<Source>& sources() const { return f_.sources; }
  bool is_packages() const { return f_.kind == "packages"; }
  // Kind "packages": what changes, in document order (sorted); empty for models.
  const std::vector<PackageChange>& packages() const { return f_.packages; }
  std::uint64_t total_size() const;
  // Document hash: SHA-256 of the JCS form; names the install directory models/<hex>/
  // (models only: a packages manifest installs nothing into models/).
  const Digest& hash() const { return hash_; }

  nlohmann::json to_json() const;

 private:
  Manifest() = default;
  Result<void> parse_packages(ObjectReader& r);
  Fields f_;
  Digest hash_{};
};

}  // namespace countersign
