// Loading documents from files for commands, with the file name in every error.
#pragma once

#include <string>

#include "cli/cli.h"
#include "core/fileio.h"

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

}  // namespace countersign::cli
