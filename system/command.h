// Running an external program (btrfs, zfs) from the privileged helper: posix_spawn of an
// argv vector, never a shell, so no argument is ever parsed as shell syntax; the program is
// looked up only in the fixed system directories, never in $PATH (the helper runs as root
// with whatever environment reached it); its environment is a fixed minimal one; its output
// is captured up to a cap and the wait is bounded.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace countersign::daemon {

struct CommandOptions {
  // Descriptors handed to the child as 3, 4, … (so it can be given "/proc/self/fd/3/name"
  // paths that resolve through a directory the caller opened and checked, not by name).
  std::vector<int> inherit_fds;
  // The child's whole environment. Default: PATH=/usr/sbin:/usr/bin:/sbin:/bin and LC_ALL=C.
  std::optional<std::vector<std::string>> environment;
  // A file the child reads as its stdin (default: /dev/null).
  std::optional<std::string> stdin_file;
  // Or these bytes, written to the child's stdin through a pipe as it reads them, in the same
  // bounded loop as its output (a child that never reads cannot hang the caller past the
  // timeout; one that exits early ends the write: SIGPIPE is then ignored in this process).
  std::optional<std::string> input;
  // The child gets this process's environment instead of `environment` (the daemon's helper
  // command: sudo decides what reaches the helper).
  bool inherit_environment = false;
  int timeout_seconds = 300;
  std::size_t max_output = std::size_t{1} << 20;  // per stream; the rest is read and dropped
};

struct CommandOutput {
  int status = 0;  // exit status, or 128 + signal number when killed by a signal
  int signal = 0;  // the signal that killed it; 0 when it exited
  std::string out;
  std::string err;
};

// Runs argv[0] with argv (stdin is /dev/null unless options.stdin_file names a file). A bare argv[0] is
// looked up with find_program. Errors: kNotFound (no such program), kTimeout (killed after timeout_seconds),
// kIo (spawn or pipe failures). A non-zero exit is not an error here: callers read `status`.
Result<CommandOutput> run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

// The absolute path of `name` in /usr/sbin, /usr/bin, /sbin or /bin (an absolute `name` is
// returned as it is when executable). kNotFound otherwise.
Result<std::string> find_program(const std::string& name);

// The first line of `text` without trailing whitespace ("" when empty): for error messages.
std::string first_line(const std::string& text);

// "btrfs subvolume delete /x": argv joined with spaces, for messages.
std::string describe_command(const std::vector<std::string>& argv);

// How the snapshot backends run commands; tests substitute a fake.
using CommandRunner = std::function<Result<CommandOutput>(const std::vector<std::string>& argv,
                                                          const std::vector<int>& inherit_fds)>;

// run_command with the default environment and `timeout_seconds`.
CommandRunner system_command_runner(int timeout_seconds);

}  // namespace countersign::daemon
