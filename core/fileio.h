// File input and output shared by the CLI, the app and the daemon: whole-file reads with a
// size cap, atomic writes (temp file in the same directory, fsync, rename, fsync of the
// directory), and the pretty JSON form we write for people.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <istream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace countersign {

// Reads a whole file, or standard input for "-" (from `in`). Fails with kIo naming the path;
// kInvalidArgument when larger than `max_size`.
Result<std::string> read_file(const std::string& path, std::uint64_t max_size = std::uint64_t{1} << 30);
Result<std::string> read_file_or_stdin(const std::string& path, std::istream& in,
                                       std::uint64_t max_size = std::uint64_t{1} << 30);

// Writes `data` to `path` so that readers see the old file or the whole new one, never a
// part: a temp file in the same directory, fsync, rename over `path`, fsync the directory.
// With `exclusive`, fails if `path` already exists.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                               bool exclusive = false);

// Where a person's command writes its output (-o, --checkpoint-out): like write_file_atomic
// for a new or regular file, but what is already at `path` is respected, never replaced:
// a device or FIFO (`-o /dev/null`, `-o /dev/stdout` on a terminal or pipe) is opened and
// written as it is; a symlink to a regular file replaces that file (atomically), the link
// stays; a link to nothing, a directory or a socket is an error naming `path`.
Result<void> write_output_file(const std::string& path, std::string_view data, mode_t mode = 0644);

// Fails ("PATH already exists; refusing to overwrite it") when anything, even a dangling
// symlink, is at `path`: for commands that would otherwise do work (a touch, a key made on
// a card) before an exclusive write refuses.
Result<void> refuse_existing(const std::string& path);

// JSON for people and files: two-space indent, UTF-8, members in sorted order, integral
// numbers without a fraction ("size": 42, not 42.0). Ends with a newline.
std::string to_pretty_json(const nlohmann::json& value);

}  // namespace countersign
