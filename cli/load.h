// Loading documents from files for commands, with the file name in every error.
#pragma once

#include <string>

#include "cli/cli.h"
#include "core/fileio.h"
#include "core/signed_note.h"

namespace countersign::cli {

// T::parse_text over a file (or stdin for "-"), errors prefixed with the file name.
template <typename T>
Result<T> load_document(Io& io, const std::string& path) {
  auto text = read_file_or_stdin(path, io.in);
  if (!text.ok()) return text.error();
  auto doc = T::parse_text(*text);
  if (!doc.ok()) return doc.error().with_context(path == "-" ? "standard input" : path);
  return doc;
}

// A note verifier key (--key, --log-key, --witness): a file holding a vkey, or the vkey
// text itself. Errors name the file.
Result<note::Verifier> load_verifier(const std::string& arg);

// A note signer key from its file, read into guarded memory. With `private_only`, a file
// readable or writable by group or others is refused (read_private_secret_file).
Result<note::Signer> load_signer(const std::string& path, bool private_only = false);

}  // namespace countersign::cli
