// Planning a change of a box's Debian packages with apt's own solver (docs/packages.md):
// apt-get runs against a private copy of the box's state, never this machine's. Everything
// apt reads and writes is redirected into a temp directory by a generated apt.conf passed as
// APT_CONFIG: the sources list (one line, `signed-by=` the keyring the planner passed, so
// no other key is trusted), the lists, the cache, the dpkg status (written from the box's
// box-packages document) and the architecture; Dir::Etc::main and Dir::Etc::parts are
// /dev/null so /etc/apt/apt.conf{,.d} of this machine are never read (apt-pkg's
// pkgInitConfig reads APT_CONFIG first, then those two).
//
// apt decides; Countersign records. `apt-get update` verifies the repository's InRelease
// against the keyring; `apt-get --simulate` says what would be installed and removed (its
// Inst/Remv lines); each installed .deb's pool path, size and SHA-256 come from the verified
// index through `apt-cache show NAME:ARCH=VERSION` (the index's own Filename/Size/SHA256
// fields, which is what a packages manifest records; `--print-uris` would give URLs, from
// which the pool path would have to be cut again). No dependency logic of our own.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/box_packages.h"
#include "core/manifest.h"
#include "core/result.h"
#include "core/sha256.h"

namespace countersign::daemon {
struct CommandOutput;
}

namespace countersign::cli {

// The repository the plan is made against.
struct AptRepository {
  std::string url;               // "http://deb.debian.org/debian/" or file:///…
  std::string suite = "stable";  // dists/<suite>/
  std::vector<std::string> components{"main"};
  std::string keyring;  // OpenPGP keyring (binary or armored) that signs InRelease
  // "http://host/debian/ bookworm (main)": how errors name the repository.
  std::string describe() const;
};

// What the planner asks for.
struct AptRequest {
  enum class Kind { kUpgrade, kInstall, kRemove };
  Kind kind = Kind::kUpgrade;
  // kInstall: "name", "name=version", "name:arch", "name:arch=version"; kRemove: "name" or
  // "name:arch". Checked by check_request() before apt sees them.
  std::vector<std::string> packages;
};

// Each package argument of `r` is a Debian name (with optional :arch and, for installs,
// =version) checked with debian_problem: nothing apt would read as an option, a pattern or a
// release selector. kInvalidArgument naming the argument.
Result<void> check_request(const AptRequest& r);

// One line of `apt-get --simulate`: "Inst NAME[:ARCH] [OLD] (NEW RELEASE... [ARCH])" or
// "Remv NAME[:ARCH] [OLD]" (apt-pkg/algorithms.cc, pkgSimulate). "Purg" is a removal too;
// "Conf" lines and everything else are not actions.
struct AptAction {
  bool remove = false;
  std::string name;
  std::string architecture;                // from ":ARCH" or the trailing "[ARCH]"; may be empty for Remv
  std::string version;                     // the version installed (empty for Remv)
  std::optional<std::string> old_version;  // "[OLD]": installed now
};

// The Inst/Remv lines of simulate output, in order. kMalformed naming the line when one does
// not have the shape above or a name or version fails debian_problem.
Result<std::vector<AptAction>> parse_simulation(std::string_view output);

// One record of a Packages index, as `apt-cache show` prints it (deb822).
struct IndexRecord {
  std::string package, version, architecture, filename;
  std::uint64_t size = 0;
  Digest sha256{};
};

// The records of `apt-cache show` output, each with Package, Version, Architecture,
// Filename, Size and SHA256 (kMalformed naming the field otherwise). Records without a
// Filename (the status file's own entry of an installed version) are skipped.
Result<std::vector<IndexRecord>> parse_index_records(std::string_view output);

// The "E:" (and, when there is none, "W:") lines apt printed, escaped, joined by "; "; or the
// first line of `err` when there are none of those.
std::string apt_errors(std::string_view err);

// The computed plan: what goes into a packages manifest.
struct AptPlan {
  std::vector<PackageChange> changes;  // sorted as Manifest::create sorts them
  std::vector<ManifestFile> files;
};

// Compares two Debian versions (Policy 5.6.12) as dpkg does: <0, 0, >0.
using VersionCompare = std::function<Result<int>(const std::string& a, const std::string& b)>;

// `dpkg --compare-versions A lt B` / `eq B` through run_command: dpkg's own ordering.
Result<int> dpkg_compare_versions(const std::string& a, const std::string& b);

// A private apt: a temp directory holding apt.conf, sources.list, the box's status file,
// lists and cache. The directory and everything in it is removed on destruction.
class AptSandbox {
 public:
  // Writes the configuration for `box` and `repo`. APT::Architecture is the architecture of
  // the box's dpkg package (dpkg is built for the native architecture); every other
  // architecture of an installed package is a foreign one (APT::Architectures).
  static Result<AptSandbox> create(const BoxPackages& box, const AptRepository& repo);
  AptSandbox(AptSandbox&& other) noexcept;
  AptSandbox& operator=(AptSandbox&&) = delete;
  AptSandbox(const AptSandbox&) = delete;
  AptSandbox& operator=(const AptSandbox&) = delete;
  ~AptSandbox();

  // `apt-get update`: fetches and verifies InRelease and the Packages indexes. kCrypto naming
  // the repository when apt refuses the signature (wrong key, tampered Release, unsigned),
  // kIo for other failures.
  Result<void> update();
  // `apt-get --simulate` for the request; kRejected with apt's errors when it cannot plan.
  Result<std::vector<AptAction>> simulate(const AptRequest& r);
  // The index record of an installed action, from `apt-cache show NAME:ARCH=VERSION`.
  Result<IndexRecord> index_record(const AptAction& a);
  // `apt-get --download-only` of the request into the private cache; returns the directory
  // the .deb files are in (apt has checked them against the index). kHashMismatch when a file
  // does not match the index, kIo for other failures.
  Result<std::string> download(const AptRequest& r);

  const std::string& directory() const { return dir_; }
  const std::string& native_architecture() const { return arch_; }

 private:
  AptSandbox() = default;
  Result<daemon::CommandOutput> apt(const std::vector<std::string>& args, int timeout_seconds);
  std::vector<std::string> request_args(const AptRequest& r) const;
  std::string dir_;
  std::string arch_;
  std::string repo_;  // describe() of the repository, for errors
};

// The whole planning: sandbox, update, simulate, index records. Removals of Essential
// packages (the box's document says "essential") are refused (kRejected naming them);
// `replaces` is the version the box's document has installed, and apt's idea of it must
// agree (kInternal otherwise).
Result<AptPlan> plan_with_apt(AptSandbox& apt, const BoxPackages& box, const AptRequest& r);

}  // namespace countersign::cli
