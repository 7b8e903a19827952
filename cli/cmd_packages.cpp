// countersign packages plan: a packages manifest (DESIGN.md "Packages manifests") computed by
// apt's own solver against a copy of the box's package list (cli/apt_plan.h), and, with
// --review, the changelog entries of each package between the installed and the new version
// (core/packages_review.h), read from the downloaded .deb files.
#include <filesystem>
#include <map>
#include <set>

#include "cli/apt_plan.h"
#include "cli/cli.h"
#include "cli/load.h"
#include "core/box_packages.h"
#include "core/fileio.h"
#include "core/human_size.h"
#include "core/manifest.h"
#include "core/packages_review.h"
#include "core/untrusted_text.h"
#include "system/command.h"
#include "system/fs_at.h"

namespace countersign::cli {

namespace {

// A changelog.Debian.gz larger than this is not read (Debian's largest are a few hundred KiB
// compressed); its decompressed text is read up to kMaxChangelogText.
constexpr std::uint64_t kMaxChangelogGz = std::uint64_t{8} << 20;
constexpr std::size_t kMaxChangelogText = std::size_t{16} << 20;
constexpr int kDebToolTimeoutSeconds = 300;
// .deb files in the private cache: at most one per planned package, and apt's lock file.
constexpr std::size_t kMaxCacheEntries = 100'000;

struct PlanArgs {
  std::string box_status, repo, keyring, suite = "stable", out, review, name, version;
  std::vector<std::string> components;
  bool upgrade = false;
  std::vector<std::string> install, remove;
  bool json = false;
};

// The changelog of `package` from the extracted tree at `root`: usr/share/doc/PKG/
// changelog.Debian.gz (changelog.gz for a native package), each directory opened without
// following a symbolic link, so a link in a hostile .deb never makes us read a file of this
// machine. nullopt with `note` set when the package has none.
Result<std::optional<std::string>> read_changelog(const std::string& root, const std::string& package,
                                                  const std::string& version, const std::string& scratch,
                                                  std::string& note) {
  CS_TRY(auto dir, daemon::open_directory(root));
  std::string shown = "usr/share/doc/" + package;
  UniqueFd fd = std::move(dir);
  for (const std::string& part : {std::string("usr"), std::string("share"), std::string("doc"), package}) {
    auto next = daemon::open_directory_at(fd.get(), part, shown);
    if (!next.ok()) {
      note = next.error().code == Errc::kNotFound ? "the package has no " + shown + "/"
                                                  : "no changelog read: " + next.error().message;
      return std::optional<std::string>{};
    }
    fd = std::move(next).value();
  }
  std::vector<std::string> names{"changelog.Debian.gz"};
  if (version.find('-') == std::string::npos) names.push_back("changelog.gz");  // a native package
  for (const auto& name : names) {
    auto st = daemon::stat_at(fd.get(), name, shown + "/" + name);
    if (!st.ok() || !st->has_value()) continue;
    auto gz = daemon::read_regular_file_at(fd.get(), name, kMaxChangelogGz, shown + "/" + name);
    if (!gz.ok()) {
      note = "no changelog read: " + gz.error().message;
      return std::optional<std::string>{};
    }
    // Decompressed by gzip from a copy of our own (its stdin), bounded in time and output.
    CS_TRY_VOID(write_file_atomic(scratch, *gz, 0600));
    daemon::CommandOptions opts;
    opts.stdin_file = scratch;
    opts.timeout_seconds = kDebToolTimeoutSeconds;
    opts.max_output = kMaxChangelogText;
    CS_TRY(auto out, daemon::run_command({"gzip", "-dc"}, opts));
    std::filesystem::remove(scratch);
    if (out.status != 0) {
      note = "no changelog read: " + shown + "/" + name +
             " does not decompress: " + escape_untrusted(daemon::first_line(out.err), 200);
      return std::optional<std::string>{};
    }
    return std::optional<std::string>(std::move(out.out));
  }
  note = "the package has no " + shown + "/changelog.Debian.gz";
  return std::optional<std::string>{};
}

// The review of one installed package, from its .deb at `deb`.
Result<PackageReview> review_package(const PackageChange& c, const std::string& deb,
                                     const std::string& work) {
  PackageReview r;
  r.name = c.name;
  r.architecture = c.architecture;
  r.old_version = c.replaces;
  r.new_version = c.version;
  const std::string root = work + "/extract";
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return make_error(Errc::kIo, "cannot make " + root + ": " + ec.message());
  // Only we enter it: run as root, dpkg-deb keeps the package's owners and modes, and a
  // setuid file of a hostile package must not be reachable by other users while it is there.
  std::filesystem::permissions(root, std::filesystem::perms::owner_all, ec);
  if (ec) return make_error(Errc::kIo, "cannot restrict " + root + ": " + ec.message());
  daemon::CommandOptions opts;
  opts.timeout_seconds = kDebToolTimeoutSeconds;
  CS_TRY(auto x, daemon::run_command({"dpkg-deb", "--extract", deb, root}, opts));
  if (x.status != 0) {
    return make_error(Errc::kMalformed, "dpkg-deb --extract " + c.file + ": " +
                                            escape_untrusted(daemon::first_line(x.err), 200));
  }
  std::string note;
  auto text = read_changelog(root, c.name, c.version, work + "/changelog.gz", note);
  {
    auto parent = daemon::open_directory(work);
    if (parent.ok()) (void)daemon::remove_tree_at(parent->get(), "extract", root);
  }
  if (!text.ok()) return text.error();
  if (!text->has_value()) {
    r.note = note;
    return r;
  }
  auto entries = parse_debian_changelog(**text);
  if (!entries.ok()) {
    r.note = "the changelog does not read as a Debian changelog: " + entries.error().message;
    return r;
  }
  auto between = changelog_between(*entries, c.replaces, c.version, dpkg_compare_versions);
  if (!between.ok()) return between.error().with_context(c.qualified_name());
  r.changelog = std::move(between).value();
  if (r.changelog.size() >= kMaxChangelogEntries)
    r.note = "only the newest " + std::to_string(kMaxChangelogEntries) + " entries are shown";
  if (r.changelog.empty() && !r.note)
    r.note =
        "the changelog has no entry newer than " + c.replaces.value_or("nothing") + " up to " + c.version;
  return r;
}

// Downloads the planned .deb files and reads their changelogs. Each file is checked against
// the manifest's size and SHA-256 (apt checked them against the index; we check them against
// what is signed).
Result<PackagesReview> make_review(AptSandbox& apt, const AptRequest& request, const Manifest& m) {
  CS_TRY(std::string cache, apt.download(request));
  std::map<Digest, std::string> by_hash;
  {
    CS_TRY(auto dir, daemon::open_directory(cache));
    CS_TRY(auto names, daemon::list_directory(dir.get(), kMaxCacheEntries, cache));
    for (const auto& n : names) {
      if (n.size() < 4 || n.substr(n.size() - 4) != ".deb") continue;
      auto st = daemon::stat_at(dir.get(), n, cache + "/" + n);
      if (!st.ok() || !st->has_value() || !S_ISREG((*st)->st_mode)) continue;
      CS_TRY(auto d, sha256_file(cache + "/" + n));
      by_hash.emplace(d, cache + "/" + n);
    }
  }
  PackagesReview::Fields f;
  f.manifest = m.hash();
  for (const auto& c : m.packages()) {
    if (c.remove) continue;
    const ManifestFile* file = nullptr;
    for (const auto& mf : m.files()) {
      if (mf.path == c.file) file = &mf;
    }
    auto it = file ? by_hash.find(file->sha256) : by_hash.end();
    // apt's file: method uses a local repository's .debs where they are, without a copy in
    // the cache: take it from there, by the same hash.
    for (const auto& src : m.sources()) {
      if (!file || it != by_hash.end() || src.type != Source::Type::kFile) continue;
      const std::string local = src.location_of(file->path);
      auto d = sha256_file(local);
      if (d.ok() && *d == file->sha256) it = by_hash.emplace(*d, local).first;
    }
    if (!file || it == by_hash.end()) {
      return make_error(Errc::kHashMismatch,
                        "no downloaded file of " + escape_untrusted(c.qualified_name(), 100) +
                            " has the SHA-256 of " + escape_untrusted(c.file, 200) + " in the manifest");
    }
    std::error_code ec;
    if (std::filesystem::file_size(it->second, ec) != file->size || ec) {
      return make_error(Errc::kHashMismatch, it->second + " is not " + std::to_string(file->size) + " bytes");
    }
    CS_TRY(auto review, review_package(c, it->second, apt.directory()));
    f.packages.push_back(std::move(review));
  }
  return PackagesReview::create(std::move(f));
}

std::string change_text(const PackageChange& c) {
  const auto e = [](std::string_view t) { return escape_untrusted(t); };
  if (c.remove) return "remove " + e(c.qualified_name()) + " " + e(c.replaces.value_or(""));
  if (c.replaces) return "upgrade " + e(c.qualified_name()) + " " + e(*c.replaces) + " -> " + e(c.version);
  return "install " + e(c.qualified_name()) + " " + e(c.version) + " (new)";
}

int plan(Io& io, const PlanArgs& a) {
  const int modes = (a.upgrade ? 1 : 0) + (a.install.empty() ? 0 : 1) + (a.remove.empty() ? 0 : 1);
  if (modes != 1) {
    return report_error(
        io, Error(Errc::kInvalidArgument, "give exactly one of --upgrade, --install or --remove"), a.json);
  }
  if (a.json && (a.out == "-" || a.review == "-")) {
    return report_error(
        io, Error(Errc::kInvalidArgument, "--json prints to standard output: give -o and --review files"),
        a.json);
  }
  AptRequest request;
  request.kind = a.upgrade ? AptRequest::Kind::kUpgrade
                           : (a.install.empty() ? AptRequest::Kind::kRemove : AptRequest::Kind::kInstall);
  request.packages = a.upgrade ? std::vector<std::string>{} : (a.install.empty() ? a.remove : a.install);
  if (auto ok = check_request(request); !ok.ok()) return report_error(io, ok.error(), a.json);

  auto box = load_document<BoxPackages>(io, a.box_status);
  if (!box.ok()) return report_error(io, box.error(), a.json);
  AptRepository repo;
  repo.url = a.repo;
  repo.suite = a.suite;
  if (!a.components.empty()) repo.components = a.components;
  repo.keyring = a.keyring;
  if (a.repo.empty())
    return report_error(io, Error(Errc::kInvalidArgument, "--repo: give the repository's URL"), a.json);
  // The manifest's source: the base the pool paths are joined to (a directory, so with '/').
  auto source = Source::from_spec(a.repo.back() == '/' ? a.repo : a.repo + "/");
  if (!source.ok()) return report_error(io, source.error().with_context("--repo"), a.json);

  auto apt = AptSandbox::create(*box, repo);
  if (!apt.ok()) return report_error(io, apt.error(), a.json);
  auto planned = plan_with_apt(*apt, *box, request);
  if (!planned.ok()) return report_error(io, planned.error(), a.json);

  Manifest::Fields f;
  f.kind = "packages";
  f.name = a.name.empty() ? box->fields().box + "-packages" : a.name;
  f.version = a.version.empty() ? format_rfc3339(io.now()) : a.version;
  f.files = planned->files;
  f.sources = {*source};
  f.packages = planned->changes;
  auto m = Manifest::create(std::move(f));
  if (!m.ok()) return report_error(io, m.error(), a.json);

  std::optional<PackagesReview> review;
  if (!a.review.empty()) {
    auto r = make_review(*apt, request, *m);
    if (!r.ok()) return report_error(io, r.error().with_context("review"), a.json);
    review = std::move(r).value();
  }
  // The manifest is written only once everything it needs succeeded: a refused plan leaves
  // no manifest (and an existing -o file as it was).
  auto written = write_output(io, a.out, to_pretty_json(m->to_json()));
  if (!written.ok()) return report_error(io, written.error(), a.json);
  if (review) {
    auto w = write_output(io, a.review, to_pretty_json(review->to_json()));
    if (!w.ok()) return report_error(io, w.error(), a.json);
  }

  std::size_t upgraded = 0, added = 0, removed = 0;
  for (const auto& c : m->packages()) {
    if (c.remove) {
      ++removed;
    } else if (c.replaces) {
      ++upgraded;
    } else {
      ++added;
    }
  }
  if (a.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : m->packages()) {
      nlohmann::json j{{"name", c.name}, {"remove", c.remove}};
      if (!c.architecture.empty()) j["architecture"] = c.architecture;
      if (!c.remove) j["new"] = c.version;
      j["old"] = c.replaces ? nlohmann::json(*c.replaces) : nlohmann::json(nullptr);
      if (review) {
        if (const auto* pr = review->find(c.name, c.architecture))
          j["changelog_entries"] = pr->changelog.size();
      }
      list.push_back(std::move(j));
    }
    print_json(io, {{"hash", digest_to_string(m->hash())},
                    {"manifest", a.out},
                    {"review", a.review.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.review)},
                    {"summary", {{"upgraded", upgraded}, {"new", added}, {"removed", removed}}},
                    {"files", m->files().size()},
                    {"size", m->total_size()},
                    {"packages", list}});
    return kExitOk;
  }
  io.err << "manifest " << digest_to_string(m->hash()) << ": " << upgraded << " upgraded, " << added
         << " new, " << removed << " removed; " << m->files().size() << " files, "
         << human_size(m->total_size()) << "\n";
  for (const auto& c : m->packages()) io.err << "  " << change_text(c) << "\n";
  if (review) io.err << "review for " << digest_to_string(review->manifest()) << " written\n";
  return kExitOk;
}

}  // namespace

void add_packages_commands(Registry& r) {
  auto* packages = r.app.add_subcommand("packages", "Plan changes of a box's Debian packages");
  packages->require_subcommand(1);
  auto a = std::make_shared<PlanArgs>();
  auto* plan_cmd = packages->add_subcommand(
      "plan", "Compute a packages manifest with apt's own solver against a copy of the box's packages");
  plan_cmd->footer(
      "apt decides, Countersign records. apt-get runs in a private temp directory: its configuration,\n"
      "sources, lists, cache and dpkg status are all there (the status written from --box-status), and\n"
      "nothing of this machine's /etc/apt or /var/lib/dpkg is read or written. `apt-get update` verifies\n"
      "the repository's signed InRelease against --keyring alone; `apt-get --simulate` says what would be\n"
      "installed and removed (--upgrade is a dist-upgrade; no recommends are pulled in); each .deb's pool\n"
      "path, size and SHA-256 come from the verified index. Removing an Essential package is refused.\n\n"
      "With --review FILE, the planned .deb files are downloaded (into the private cache, checked against\n"
      "the manifest's SHA-256), and the debian/changelog entries between the box's version and the new\n"
      "one are written as countersign/packages-review/v1, bound to the manifest's hash: unsigned review\n"
      "material for `countersign manifest show --review FILE`.\n\n"
      "Exit codes: 0 manifest written; 1 refused (the repository's signature does not verify with the\n"
      "keyring, apt cannot plan the request (a package that does not exist), an Essential package would\n"
      "be removed, nothing to do); 2 usage error, unreadable or invalid input, repository not reachable.\n\n"
      "Example:\n"
      "  countersign box packages -o box-packages.json            (on the box, or from its operator)\n"
      "  countersign packages plan --box-status box-packages.json --repo http://deb.debian.org/debian/ \\\n"
      "      --keyring /usr/share/keyrings/debian-archive-keyring.gpg --suite bookworm --component main \\\n"
      "      --upgrade -o manifest.json --review review.json\n"
      "  countersign manifest show --review review.json manifest.json");
  plan_cmd->add_option("--box-status", a->box_status, "The box's package list (countersign/box-packages/v1)")
      ->required();
  plan_cmd
      ->add_option("--repo", a->repo,
                   "Repository base URL (http://, https:// or file:/), also the manifest's source")
      ->required();
  plan_cmd->add_option("--keyring", a->keyring, "OpenPGP keyring that signs the repository's InRelease")
      ->required();
  plan_cmd->add_option("--suite", a->suite, "Suite or codename (dists/SUITE/), default stable");
  plan_cmd->add_option("--component", a->components, "Component (repeatable), default main")
      ->allow_extra_args(false);
  plan_cmd->add_flag("--upgrade", a->upgrade,
                     "Upgrade every package that has a newer version (dist-upgrade)");
  plan_cmd->add_option("--install", a->install, "Install or upgrade PKG[:ARCH][=VERSION] (repeatable)")
      ->allow_extra_args(false);
  plan_cmd->add_option("--remove", a->remove, "Remove PKG[:ARCH] (repeatable)")->allow_extra_args(false);
  plan_cmd->add_option("-o,--out", a->out, "Write the manifest here (- for standard output)")->required();
  plan_cmd->add_option("--review", a->review,
                       "Also download the .debs and write their changelog review here");
  plan_cmd->add_option("--name", a->name, "Manifest name (default: BOX-packages)");
  plan_cmd->add_option("--version", a->version, "Manifest version (default: the time of the plan)");
  plan_cmd->add_flag("--json", a->json, "Print what was planned as JSON on standard output");
  plan_cmd->callback([&io = r.io, &rc = r.rc, a] { rc = plan(io, *a); });
}

}  // namespace countersign::cli
