#include "system/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "system/fs_at.h"

extern char** environ;

namespace countersign::daemon {
namespace {

constexpr const char* kSystemDirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};

// Kills and reaps the child if run_command returns early.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  void release() { pid_ = -1; }

 private:
  pid_t pid_;
};

// posix_spawn's C structures, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  bool actions_ok = false, attr_ok = false;
  ~SpawnSetup() {
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
    if (attr_ok) posix_spawnattr_destroy(&attr);
  }
};

Error spawn_error(const std::string& what, int e) { return Error(Errc::kIo, what + ": " + std::strerror(e)); }

}  // namespace

Result<std::string> find_program(const std::string& name) {
  if (name.empty()) return Error(Errc::kInvalidArgument, "empty program name");
  if (name.front() == '/') {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return Error(Errc::kNotFound, name + " is not an executable program");
  }
  if (name.find('/') != std::string::npos) {
    return Error(Errc::kInvalidArgument, "\"" + name + "\" must be a bare program name or an absolute path");
  }
  for (const char* dir : kSystemDirs) {
    std::string candidate = std::string(dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return Error(Errc::kNotFound, name + " is not installed (looked in /usr/sbin, /usr/bin, /sbin, /bin)");
}

std::string first_line(const std::string& text) {
  auto end = text.find('\n');
  std::string line = text.substr(0, end);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
  return line;
}

std::string describe_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

Result<CommandOutput> run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
  if (argv.empty()) return Error(Errc::kInvalidArgument, "run_command: empty argv");
  CS_TRY(std::string program, find_program(argv.front()));

  std::vector<std::string> env = options.environment.value_or(
      std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"});
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);
  char** child_env = options.inherit_environment ? environ : c_env.data();

  UniqueFd in_read, in_write;
  if (options.input) {
    int in_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return spawn_error("cannot create a pipe", errno);
    in_read = UniqueFd(in_pipe[0]);
    in_write = UniqueFd(in_pipe[1]);
    static const bool sigpipe_ignored = [] {
      ::signal(SIGPIPE, SIG_IGN);
      return true;
    }();
    (void)sigpipe_ignored;
  }

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return spawn_error("cannot create a pipe", errno);
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return spawn_error("cannot create a pipe", errno);
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  // The inherited descriptors are first copied above 64 so that dup2 onto 3, 4, … in the
  // child can never overwrite a source that is still to be copied.
  std::vector<UniqueFd> high;
  for (int fd : options.inherit_fds) {
    int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 64);
    if (h < 0) return spawn_error("cannot duplicate a descriptor for " + argv.front(), errno);
    high.emplace_back(h);
  }

  SpawnSetup setup;
  if (int e = posix_spawn_file_actions_init(&setup.actions); e != 0) return spawn_error("posix_spawn", e);
  setup.actions_ok = true;
  if (int e = posix_spawnattr_init(&setup.attr); e != 0) return spawn_error("posix_spawn", e);
  setup.attr_ok = true;
  const std::string stdin_path = options.stdin_file.value_or("/dev/null");
  int e = in_read.valid()
              ? posix_spawn_file_actions_adddup2(&setup.actions, in_read.get(), 0)
              : posix_spawn_file_actions_addopen(&setup.actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  if (e == 0) e = posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), 1);
  if (e == 0) e = posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), 2);
  for (std::size_t i = 0; e == 0 && i < high.size(); ++i) {
    e = posix_spawn_file_actions_adddup2(&setup.actions, high[i].get(), static_cast<int>(3 + i));
  }
  // Default signal handling and an empty mask in the child, whatever the helper inherited.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (e == 0) e = posix_spawnattr_setsigmask(&setup.attr, &none);
  if (e == 0) e = posix_spawnattr_setsigdefault(&setup.attr, &all);
  if (e == 0) e = posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (e != 0) return spawn_error("posix_spawn setup", e);

  pid_t pid = -1;
  e = posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, c_argv.data(), child_env);
  if (e != 0) return spawn_error("cannot run " + program, e);
  ChildGuard guard(pid);
  out_write.reset();
  err_write.reset();
  in_read.reset();
  high.clear();
  const std::string_view input = options.input ? std::string_view(*options.input) : std::string_view();
  std::size_t written = 0;
  if (in_write.valid() && input.empty()) in_write.reset();
  if (in_write.valid()) ::fcntl(in_write.get(), F_SETFL, ::fcntl(in_write.get(), F_GETFL) | O_NONBLOCK);

  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(options.timeout_seconds);
  auto timed_out = [&] {
    return Error(Errc::kTimeout, describe_command(argv) + " did not finish within " +
                                     std::to_string(options.timeout_seconds) + " s; killed it");
  };
  CommandOutput result;
  UniqueFd* fds[2] = {&out_read, &err_read};
  std::string* sinks[2] = {&result.out, &result.err};
  char buf[65536];
  while (out_read.valid() || err_read.valid()) {
    // (The input pipe alone does not keep the loop going: a child that closed its output is
    // exiting.)
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return timed_out();
    pollfd pfds[3];
    nfds_t n = 0;
    int which[3];
    for (int i = 0; i < 2; ++i) {
      if (!fds[i]->valid()) continue;
      pfds[n] = {fds[i]->get(), POLLIN, 0};
      which[n++] = i;
    }
    if (in_write.valid()) {
      pfds[n] = {in_write.get(), POLLOUT, 0};
      which[n++] = 2;
    }
    const int ready = ::poll(pfds, n, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return spawn_error("poll", errno);
    }
    for (nfds_t k = 0; k < n; ++k) {
      if (pfds[k].revents == 0) continue;
      const int i = which[k];
      if (i == 2) {
        const ssize_t w = ::write(in_write.get(), input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        // All written, or the child stopped reading (EPIPE): its stdin ends here.
        if (written == input.size() || (w < 0 && errno != EINTR && errno != EAGAIN)) in_write.reset();
        continue;
      }
      const ssize_t got = ::read(fds[i]->get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i]->reset();
        continue;
      }
      const std::size_t room = options.max_output - std::min(options.max_output, sinks[i]->size());
      sinks[i]->append(buf, std::min(room, static_cast<std::size_t>(got)));
    }
  }
  // Both pipes closed; the child is exiting (or left a grandchild holding nothing of ours).
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return spawn_error("waitpid", errno);
    if (r == pid) {
      guard.release();
      result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      return result;
    }
    if (SteadyClock::now() >= deadline) return timed_out();
    ::usleep(10 * 1000);
  }
}

CommandRunner system_command_runner(int timeout_seconds) {
  return [timeout_seconds](const std::vector<std::string>& argv, const std::vector<int>& inherit_fds) {
    CommandOptions options;
    options.inherit_fds = inherit_fds;
    options.timeout_seconds = timeout_seconds;
    return run_command(argv, options);
  };
}

}  // namespace countersign::daemon
