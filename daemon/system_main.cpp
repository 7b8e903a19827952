// countersign-system: the privileged helper of countersignd (daemon/privileged.h has the
// contract, daemon/system.h the code). Output: one JSON document on stdout; errors: one line
// on stderr and exit status 1; bad usage: exit status 2.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/system.h"

namespace {

// One line, whatever a message or a tool's output contained.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "countersign-system: %s\n", one_line(message).c_str());
  return status;
}

// Descriptors 0-2 closed by the caller would be reused by the first files opened here.
void ensure_standard_fds() {
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
      int null = ::open("/dev/null", O_RDWR);
      if (null < 0) std::_Exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace countersign::daemon;
  ensure_standard_fds();
  ::umask(022);

  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto invocation = parse_system_args(args);
  if (!invocation.ok()) return fail(2, invocation.error().message);
  if (invocation->action == SystemAction::kHelp) {
    std::cout << system_usage();
    return std::cout.flush() ? 0 : 1;
  }

  const bool elevated = ::getuid() != ::geteuid() || ::getgid() != ::getegid();
  const std::string path = system_config_path([](const char* name) { return std::getenv(name); }, elevated);
  auto config = load_system_config(path);
  if (!config.ok()) return fail(1, config.error().message);

  auto outcome = run_system(*invocation, *config, SystemEnv::real());
  if (!outcome.ok()) return fail(1, outcome.error().message);
  for (const auto& w : outcome->warnings) fail(0, "warning: " + w);
  std::cout << outcome->output.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  return std::cout.flush() ? 0 : 1;
}
