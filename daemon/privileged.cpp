#include "daemon/privileged.h"

#include "core/jcs.h"
#include "system/command.h"

namespace countersign::daemon {
namespace {

// The helper's stderr ends with its one line; anything before it (sudo's) is not the reason.
std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Errc errc_from_name(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Errc::kInternal); ++i) {
    if (errc_name(static_cast<Errc>(i)) == name) return static_cast<Errc>(i);
  }
  return Errc::kIo;
}

}  // namespace

Result<nlohmann::json> Privileged::run(const std::vector<std::string>& args, std::string_view input,
                                       int timeout_seconds) const {
  std::vector<std::string> argv = command_;
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string what = "countersign-system " + describe_command(args);
  CommandOptions options;
  options.input = std::string(input);
  options.inherit_environment = true;  // sudo (or, in tests, the helper's own rules) decides
  options.timeout_seconds = timeout_seconds;
  options.max_output = std::size_t{8} << 20;
  auto ran = run_command(argv, options);
  if (!ran.ok()) {
    if (ran.error().code == Errc::kTimeout)
      return Error(Errc::kTimeout, what + ": no answer within " + std::to_string(timeout_seconds) + " s");
    return Error(Errc::kIo, "cannot run " + command_.front() + ": " + ran.error().message);
  }
  if (ran->status != 0) {
    std::string msg = last_line(ran->err);
    // The helper names itself ("countersign-system: ..."); `what` already does, with the command.
    if (constexpr std::string_view self = "countersign-system: "; msg.starts_with(self))
      msg.erase(0, self.size());
    if (msg.empty()) {
      msg = ran->signal != 0 ? "killed by signal " + std::to_string(ran->signal)
                             : "exit status " + std::to_string(ran->status);
    }
    Errc code = Errc::kIo;
    if (auto j = jcs::parse(ran->out);
        j.ok() && j->is_object() && j->contains("error") && (*j)["error"].is_string()) {
      code = errc_from_name((*j)["error"].get<std::string>());
    }
    return Error(code, what + ": " + msg);
  }
  auto j = jcs::parse(ran->out);
  if (!j.ok()) return Error(Errc::kInternal, what + ": output is not JSON: " + j.error().message);
  return std::move(*j);
}

}  // namespace countersign::daemon
