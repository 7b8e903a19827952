// countersign-system: the System component of a box (system/system.h has the contract).
// Output: one JSON document on stdout; errors: one line on stderr, exit status 1 and
// {"error": code, "reason": line} on stdout; bad usage: exit status 2.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "system/system.h"

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

// A refusal or failure, also as JSON on stdout so the daemon can tell the kind apart.
int refuse(const countersign::Error& e) {
  nlohmann::json j = {{"error", countersign::errc_name(e.code)}, {"reason", one_line(e.message)}};
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  std::cout.flush();
  return fail(1, e.message);
}

// Reads all of stdin, at most `max` bytes (more is a usage error, not a silent cut).
countersign::Result<std::string> read_input(std::uint64_t max) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return countersign::Error(countersign::Errc::kIo,
                                std::string("cannot read stdin: ") + std::strerror(errno));
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > max) {
      return countersign::Error(countersign::Errc::kInvalidArgument,
                                "stdin is larger than " + std::to_string(max) + " bytes");
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
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
  if (!config.ok()) return refuse(config.error());

  SystemInvocation inv = std::move(*invocation);
  if (takes_input(inv.action)) {
    auto input = read_input(max_input(inv.action));
    if (!input.ok()) return fail(2, input.error().message);
    inv.input = std::move(*input);
  }
  SystemEnv env = SystemEnv::real();
  env.crash_at = system_crash_step([](const char* name) { return std::getenv(name); }, elevated);
  auto outcome = run_system(inv, *config, env);
  if (!outcome.ok()) return refuse(outcome.error());
  for (const auto& w : outcome->warnings) fail(0, "warning: " + w);
  std::cout << outcome->output.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  if (!std::cout.flush()) return 1;
  if (outcome->failed) return fail(1, outcome->output.value("reason", std::string("a check failed")));
  return 0;
}
