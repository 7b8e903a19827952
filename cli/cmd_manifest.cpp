// countersign manifest create / show / diff.
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/load.h"
#include "core/manifest.h"
#include "core/manifest_diff.h"
#include "core/packages_review.h"
#include "core/review.h"
#include "core/tree_hash.h"
#include "core/untrusted_text.h"

namespace countersign::cli {

namespace {

struct CreateArgs {
  std::string name, version, license, license_url, description, dir, out;
  std::vector<std::string> sources;
  unsigned threads = 0;
};

void draw_progress(Io& io, const TreeHashProgress& p, bool final_line) {
  std::uint64_t done = p.bytes_done.load();
  draw_progress_bar(io, "hashing", done, p.bytes_total,
                    std::to_string(p.files_done.load()) + "/" + std::to_string(p.files_total) + " files  " +
                        human_size(done) + " / " + human_size(p.bytes_total),
                    final_line);
}

int create(Io& io, const CreateArgs& a) {
  Manifest::Fields f;
  f.name = a.name;
  f.version = a.version;
  f.license.spdx = a.license;
  if (!a.license_url.empty()) f.license.url = a.license_url;
  if (!a.description.empty()) f.description = a.description;
  for (const auto& spec : a.sources) {
    auto s = Source::from_spec(spec);
    if (!s.ok()) return report_error(io, s.error(), false);
    f.sources.push_back(std::move(s).value());
  }
  TreeHashProgress progress;
  Result<std::vector<ManifestFile>> files = Error();
  {
    std::atomic<bool> finished{false};
    std::thread bar;
    if (io.err_is_tty) {
      bar = std::thread([&] {
        while (!finished.load()) {
          if (progress.files_total > 0) draw_progress(io, progress, false);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      });
    }
    files = hash_tree(a.dir, a.threads, &progress);
    finished = true;
    if (bar.joinable()) {
      bar.join();
      if (files.ok()) draw_progress(io, progress, true);
    }
  }
  if (!files.ok()) return report_error(io, files.error(), false);
  f.files = std::move(files).value();
  auto m = Manifest::create(std::move(f));
  if (!m.ok()) return report_error(io, m.error(), false);
  auto written = write_output(io, a.out, to_pretty_json(m->to_json()));
  if (!written.ok()) return report_error(io, written.error(), false);
  io.err << "manifest " << digest_to_string(m->hash()) << ": " << m->files().size() << " files, "
         << human_size(m->total_size()) << "\n";
  return kExitOk;
}

// The review material of `m` (core/packages_review.h) from `path`, refused unless it is bound
// to this manifest's hash and `m` is a packages manifest.
Result<std::optional<PackagesReview>> load_review(Io& io, const std::string& path, const Manifest& m,
                                                  const std::string& manifest_path) {
  if (path.empty()) return std::optional<PackagesReview>{};
  if (!m.is_packages()) {
    return make_error(Errc::kInvalidArgument, "--review: " + manifest_path + " is a " +
                                                  escape_untrusted(m.kind()) +
                                                  " manifest; review material is for packages manifests");
  }
  CS_TRY(auto review, load_document<PackagesReview>(io, path));
  if (review.manifest() != m.hash()) {
    return make_error(Errc::kInvalidArgument,
                      path + " is the review of manifest " + digest_to_string(review.manifest()) +
                          ", not of " + manifest_path + " (" + digest_to_string(m.hash()) + "): refused");
  }
  return std::optional<PackagesReview>(std::move(review));
}

int show(Io& io, const std::string& path, const std::string& review_path, bool json) {
  auto m = load_document<Manifest>(io, path);
  if (!m.ok()) return report_error(io, m.error(), json);
  auto review = load_review(io, review_path, *m, path);
  if (!review.ok()) return report_error(io, review.error(), json);
  // Names that mix scripts may imitate others (core/untrusted_text.h, script_warning): flagged,
  // not refused.
  const std::vector<NameWarning> warnings = manifest_name_warnings(*m);
  if (json) {
    // Beside "manifest", not in it: "manifest" stays the document, which has no such field.
    nlohmann::json jw = nlohmann::json::array();
    for (const auto& w : warnings)
      jw.push_back({{"pointer", w.pointer}, {"name", w.name}, {"warning", w.warning}});
    nlohmann::json j{{"hash", digest_to_string(m->hash())}, {"manifest", m->to_json()}, {"warnings", jw}};
    if (*review) j["review"] = (*review)->to_json();
    print_json(io, j);
    return kExitOk;
  }
  const auto warning_for = [&warnings](const std::string& pointer) -> const NameWarning* {
    for (const auto& w : warnings) {
      if (w.pointer == pointer) return &w;
    }
    return nullptr;
  };
  std::ostringstream o;
  // Everything from the document is shown escaped (core/untrusted_text.h): a name or a
  // description cannot move the cursor, erase a line or reorder what follows it.
  const auto e = [](std::string_view t) { return escape_untrusted(t); };
  o << "Manifest  " << digest_to_string(m->hash()) << "\n";
  if (m->is_packages()) {
    o << "Installs  Debian packages on the box (nothing into models/)\n";
    o << "Packages  " << e(m->name()) << " " << e(m->version()) << " (" << e(m->kind()) << ")\n";
  } else {
    o << "Installs  models/" << hex_encode(m->hash()) << "/\n";
    o << "Model     " << e(m->name()) << " " << e(m->version()) << " (" << e(m->kind()) << ")\n";
  }
  if (const auto* w = warning_for("/name")) o << "  ! the name " << w->warning << "\n";
  if (const auto* w = warning_for("/version")) o << "  ! the version " << w->warning << "\n";
  if (m->description()) o << "About     " << e(*m->description()) << "\n";
  if (!m->is_packages() || !m->license().spdx.empty())
    o << "License   " << e(m->license().spdx) << (m->license().url ? "  " + e(*m->license().url) : "")
      << "\n";
  o << "Size      " << human_size(m->total_size()) << " (" << m->total_size() << " bytes) in "
    << m->files().size() << " files\n";
  if (!warnings.empty()) {
    o << "Check     " << warnings.size()
      << (warnings.size() == 1 ? " name may imitate another" : " names may imitate others")
      << ": see the lines marked ! below\n";
  }
  o << "Sources   (tried in this order)\n";
  if (m->sources().empty()) o << "  none: the box must have a mirror of its own\n";
  for (std::size_t i = 0; i < m->sources().size(); ++i) {
    const auto& s = m->sources()[i];
    o << "  " << i + 1 << ". " << e(s.describe()) << "\n";
    if (!m->files().empty()) o << "     e.g. " << e(s.location_of(m->files().front().path)) << "\n";
  }
  if (m->is_packages()) {
    o << "Changes   ("
      << (*review ? "with the changelog entries of " + review_path : "no review material given") << ")\n";
    o << describe_package_changes(*m, *review ? &**review : nullptr);
  }
  o << "Files\n";
  for (std::size_t i = 0; i < m->files().size(); ++i) {
    const auto& f = m->files()[i];
    o << "  " << hex_encode(f.sha256) << "  " << std::setw(10) << human_size(f.size) << "  " << std::setw(14)
      << f.size << "  " << e(f.path) << "\n";
    if (const auto* w = warning_for("/files/" + std::to_string(i) + "/path"))
      o << "  ! this name " << w->warning << "\n";
  }
  io.out << o.str();
  return kExitOk;
}

int diff(Io& io, const std::string& old_path, const std::string& new_path, const std::string& review_path,
         bool json) {
  auto a = load_document<Manifest>(io, old_path);
  if (!a.ok()) return report_error(io, a.error(), json);
  auto b = load_document<Manifest>(io, new_path);
  if (!b.ok()) return report_error(io, b.error(), json);
  auto review = load_review(io, review_path, *b, new_path);
  if (!review.ok()) return report_error(io, review.error(), json);
  ManifestDiff d = diff_manifests(*a, *b);
  if (json) {
    auto j = d.to_json();
    j["old"] = digest_to_string(a->hash());
    j["new"] = digest_to_string(b->hash());
    if (*review) j["review"] = (*review)->to_json();
    print_json(io, j);
  } else if (a->is_packages() || b->is_packages()) {
    // Packages: what the box would change, in Debian's words, rather than pool paths.
    io.out << "old " << digest_to_string(a->hash()) << "  " << escape_untrusted(a->name()) << " "
           << escape_untrusted(a->version()) << " (" << escape_untrusted(a->kind()) << ")\n"
           << "new " << digest_to_string(b->hash()) << "  " << escape_untrusted(b->name()) << " "
           << escape_untrusted(b->version()) << " (" << escape_untrusted(b->kind()) << ")\n"
           << d.packages_text();
    if (b->is_packages()) {
      io.out << "The new manifest changes on the box:\n"
             << describe_package_changes(*b, *review ? &**review : nullptr);
    }
  } else {
    io.out << "old " << digest_to_string(a->hash()) << "  " << escape_untrusted(a->name()) << " "
           << escape_untrusted(a->version()) << "\n"
           << "new " << digest_to_string(b->hash()) << "  " << escape_untrusted(b->name()) << " "
           << escape_untrusted(b->version()) << "\n"
           << d.to_text();
  }
  return kExitOk;
}

}  // namespace

void add_manifest_commands(Registry& r) {
  auto* manifest =
      r.app.add_subcommand("manifest", "Create, inspect and compare model and packages manifests");
  manifest->require_subcommand(1);

  auto c = std::make_shared<CreateArgs>();
  auto* create_cmd =
      manifest->add_subcommand("create", "Hash every file of a model directory into a manifest");
  create_cmd->footer(
      "Walks DIR, hashes every file with SHA-256 in parallel (a progress bar on a terminal) and prints the\n"
      "manifest with files sorted by path. Symbolic links and special files are refused.\n\n"
      "Source specs, tried by the box in the order given:\n"
      "  hf:ORG/REPO@COMMIT                 Hugging Face, pinned to a 40-hex commit\n"
      "  https://mirror.example/models/x/   any HTTP(S) base URL; file URL = base + path\n"
      "  s3://BUCKET/PREFIX?region=REGION   S3 bucket\n"
      "  file:///mnt/usb/x/                 a directory on the box (USB stick)\n\n"
      "Example:\n"
      "  countersign manifest create --name gemma-4-12b-it --version 2026-06-01 --license Apache-2.0 \\\n"
      "      --source hf:google/gemma-4-12b-it@0123...cdef ./gemma -o manifest.json");
  create_cmd->add_option("--name", c->name, "Model name, e.g. gemma-4-12b-it")->required();
  create_cmd->add_option("--version", c->version, "Model version, e.g. 2026-06-01")->required();
  create_cmd->add_option("--license", c->license, "SPDX license id, e.g. Apache-2.0")->required();
  create_cmd->add_option("--license-url", c->license_url, "URL of the license text");
  create_cmd->add_option("--description", c->description, "Free text shown to reviewers");
  create_cmd->add_option("--source", c->sources, "Download source (repeatable, in order); see below")
      ->allow_extra_args(false);
  create_cmd->add_option("--threads", c->threads, "Hashing threads (default: one per core)");
  create_cmd->add_option("-o,--out", c->out, "Write the manifest here instead of standard output");
  create_cmd->add_option("DIR", c->dir, "Model directory")->required();
  create_cmd->callback([&io = r.io, &rc = r.rc, c] { rc = create(io, *c); });

  auto show_path = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  auto* show_cmd = manifest->add_subcommand("show", "Validate a manifest and show it for review");
  show_cmd->footer(
      "A malformed manifest is refused with what is wrong and where (exit 2). A name that mixes scripts\n"
      "(a Cyrillic \"а\" among Latin letters) may imitate another: it is shown with a \"!\" line under it.\n"
      "A packages manifest is shown as its changes: each package old -> new, new packages, removals; with\n"
      "--review FILE the changelog entries between the versions under each package (a review of another\n"
      "manifest is refused, exit 2).");
  show_cmd->add_option("FILE", *show_path, "Manifest file, or - for standard input")->required();
  auto show_review = std::make_shared<std::string>();
  show_cmd->add_option("--review", *show_review,
                       "Packages manifests: review material from `packages plan --review` (must be bound "
                       "to this manifest's hash); shows each package's changelog entries");
  show_cmd->add_flag(
      "--json", *show_json,
      "Print {\"hash\", \"manifest\", \"warnings\"} as JSON (warnings: names that mix scripts)");
  show_cmd->callback([&io = r.io, &rc = r.rc, show_path, show_review, show_json] {
    rc = show(io, *show_path, *show_review, *show_json);
  });

  auto old_path = std::make_shared<std::string>();
  auto new_path = std::make_shared<std::string>();
  auto diff_json = std::make_shared<bool>(false);
  auto* diff_cmd = manifest->add_subcommand("diff", "Show what changes from one manifest to another");
  diff_cmd->footer(
      "Lists files added, removed and changed in size or hash, source changes and license changes, with the\n"
      "counts first. For packages manifests: the packages added to, dropped from or changed in the plan,\n"
      "then what NEW changes on the box (with --review, the changelog entries). Exit 0 whenever both\n"
      "manifests are valid, whether or not they differ.");
  diff_cmd->add_option("OLD", *old_path, "The installed (previous) manifest")->required();
  diff_cmd->add_option("NEW", *new_path, "The proposed manifest")->required();
  diff_cmd->add_flag("--json", *diff_json, "Machine-readable output");
  auto diff_review = std::make_shared<std::string>();
  diff_cmd->add_option("--review", *diff_review,
                       "Packages manifests: review material of NEW (bound to its hash); shows the "
                       "changelog entries under each package");
  diff_cmd->callback([&io = r.io, &rc = r.rc, old_path, new_path, diff_review, diff_json] {
    rc = diff(io, *old_path, *new_path, *diff_review, *diff_json);
  });
}

}  // namespace countersign::cli
