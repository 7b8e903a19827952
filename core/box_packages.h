// The box's installed Debian packages, as the planner reads them (the Debian
// packages gate; DESIGN.md gives no format, so this is ours, see docs/packages.md):
//
//   {"schema": "countersign/box-packages/v1", "box": "box-7f3a", "time": "2026-12-02T10:00:00Z",
//    "packages": [{"name": "xz-utils", "architecture": "amd64", "version": "5.4.1-0.2",
//                  "status": "install ok installed", "depends": "libc6 (>= 2.34), liblzma5 (>= 5.4.1)"}]}
//
// Each entry is what dpkg's database says of one package (dpkg-query, never a hand-written
// parser of /var/lib/dpkg/status), including the relation fields apt's solver needs to plan
// against a copy of the box: `packages plan` writes them back as a dpkg status file for apt.
// Not signed: it is planning input; what the box checks is each manifest entry's `replaces`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/timeutil.h"

namespace countersign {

inline constexpr std::string_view kBoxPackagesSchema = "countersign/box-packages/v1";

struct InstalledPackage {
  std::string name;
  std::string architecture;
  std::string version;
  std::string status;  // dpkg's "want eflag status", e.g. "install ok installed"
  bool essential = false;
  std::string multi_arch;  // "same", "foreign", "allowed" or empty
  // Relation fields as dpkg writes them (one line each), empty when absent.
  std::string depends, pre_depends, provides, conflicts, breaks, replaces;

  // Status "… installed": what `replaces` in a manifest refers to.
  bool installed() const;
};

class BoxPackages {
 public:
  struct Fields {
    std::string box;
    UnixTime time = 0;
    std::vector<InstalledPackage> packages;  // create() sorts by name, then architecture
  };

  static Result<BoxPackages> parse(const nlohmann::json& doc);
  static Result<BoxPackages> parse_text(std::string_view text);
  static Result<BoxPackages> create(Fields fields);
  // Reads the output of `dpkg-query` run with dpkg_query_args().
  static Result<BoxPackages> from_dpkg_query(std::string_view output, std::string box, UnixTime time);

  const Fields& fields() const { return f_; }
  const std::vector<InstalledPackage>& packages() const { return f_.packages; }
  // The installed (status "… installed") package `name`, of `architecture` when that is not
  // empty; nullptr when there is none. For the unqualified name of a package installed for
  // several architectures, the first.
  const InstalledPackage* installed(std::string_view name, std::string_view architecture) const;
  nlohmann::json to_json() const;
  // The packages as a dpkg status file (deb822 stanzas), for apt's Dir::State::status.
  std::string to_dpkg_status() const;

 private:
  BoxPackages() = default;
  Fields f_;
};

// The arguments (after "dpkg-query") that list every package of the database in `admindir`
// in the form from_dpkg_query reads.
std::vector<std::string> dpkg_query_args(const std::string& admindir);

}  // namespace countersign
