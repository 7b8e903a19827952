// countersign canon / hash: recompute canonical bytes and document hashes independently.
#include "cli/cli.h"
#include "core/fileio.h"
#include "core/jcs.h"

namespace countersign::cli {

namespace {

std::string source_name(const std::string& path) { return path == "-" ? "standard input" : path; }

Result<std::string> canonical(Io& io, const std::string& path) {
  CS_TRY(std::string text, read_file_or_stdin(path, io.in));
  auto c = jcs::canonicalize(text);
  if (!c.ok()) return c.error().with_context(source_name(path));
  return c;
}

Result<Digest> canonical_hash(Io& io, const std::string& path) {
  CS_TRY(std::string text, read_file_or_stdin(path, io.in));
  auto h = jcs::hash_text(text);
  if (!h.ok()) return h.error().with_context(source_name(path));
  return h;
}

}  // namespace

void add_canon_commands(Registry& r) {
  auto file = std::make_shared<std::string>("-");
  auto* canon = r.app.add_subcommand("canon", "Print the RFC 8785 canonical form (JCS) of a JSON document");
  canon->footer(
      "Reads FILE (or standard input for -) strictly: duplicate keys, invalid UTF-8, lone surrogates, "
      "numbers\n"
      "outside double range and trailing data are refused with the line and column. Prints the canonical\n"
      "bytes with no trailing newline. Document hashes are SHA-256 over exactly these bytes.");
  canon->add_option("FILE", *file, "JSON file, or - for standard input")->capture_default_str();
  canon->callback([&io = r.io, &rc = r.rc, file] {
    auto c = canonical(io, *file);
    if (!c.ok()) {
      rc = report_error(io, c.error(), false);
      return;
    }
    io.out << *c;
    io.out.flush();
  });

  auto hash_file = std::make_shared<std::string>("-");
  auto* hash = r.app.add_subcommand("hash", "Print sha256:<hex> of a JSON document's canonical form");
  hash->footer(
      "The document hash of DESIGN.md: a proposal's id, a manifest's install directory name, a policy's\n"
      "hash. Compare it with what a colleague or the box shows, over a second channel.");
  hash->add_option("FILE", *hash_file, "JSON file, or - for standard input")->capture_default_str();
  hash->callback([&io = r.io, &rc = r.rc, hash_file] {
    auto h = canonical_hash(io, *hash_file);
    if (!h.ok()) {
      rc = report_error(io, h.error(), false);
      return;
    }
    io.out << digest_to_string(*h) << "\n";
  });
}

}  // namespace countersign::cli
