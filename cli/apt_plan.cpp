#include "cli/apt_plan.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/untrusted_text.h"
#include "system/command.h"
#include "system/fs_at.h"

namespace countersign::cli {

namespace {

using daemon::CommandOptions;
using daemon::CommandOutput;

// apt-get update fetches over the network; a simulation and apt-cache are local.
constexpr int kUpdateTimeoutSeconds = 600;
constexpr int kLocalTimeoutSeconds = 120;
constexpr int kDownloadTimeoutSeconds = 3600;
// apt's output for a plan of a whole distribution upgrade stays far below this.
constexpr std::size_t kMaxAptOutput = std::size_t{16} << 20;
// More lines than any apt output we read has; a bound on the loops over them.
constexpr std::size_t kMaxLines = 1'000'000;

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty() && lines.size() < kMaxLines) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Error line_error(std::string_view line, const std::string& why) {
  return make_error(Errc::kMalformed, "apt-get --simulate: \"" + escape_untrusted(line, 200) + "\": " + why);
}

// apt.conf string values are in double quotes with no escape mechanism: a path holding a
// quote or a newline cannot be written, so it is refused.
Result<std::string> conf_string(const std::string& value) {
  if (value.find_first_of("\"\n\r{};") != std::string::npos) {
    return make_error(Errc::kInvalidArgument,
                      "\"" + escape_untrusted(value, 200) + "\" cannot be written into an apt.conf");
  }
  return "\"" + value + "\"";
}

}  // namespace

std::string AptRepository::describe() const {
  std::string out = url + " " + suite + " (";
  for (std::size_t i = 0; i < components.size(); ++i) out += (i ? " " : "") + components[i];
  return escape_untrusted(out + ")", 400);
}

Result<void> check_request(const AptRequest& r) {
  if (r.kind == AptRequest::Kind::kUpgrade) {
    if (!r.packages.empty()) return make_error(Errc::kInvalidArgument, "an upgrade names no packages");
    return {};
  }
  if (r.packages.empty()) return make_error(Errc::kInvalidArgument, "name at least one package");
  for (const auto& arg : r.packages) {
    std::string_view rest = arg;
    std::string_view version;
    if (auto eq = rest.find('='); eq != std::string_view::npos) {
      if (r.kind == AptRequest::Kind::kRemove) {
        return make_error(Errc::kInvalidArgument,
                          "--remove " + escape_untrusted(arg, 200) + ": a removal names no version");
      }
      version = rest.substr(eq + 1);
      rest = rest.substr(0, eq);
    }
    std::string_view arch;
    if (auto colon = rest.find(':'); colon != std::string_view::npos) {
      arch = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
    }
    const std::string what = (r.kind == AptRequest::Kind::kRemove ? "--remove " : "--install ");
    if (auto p = debian_problem(DebianField::kPackageName, rest))
      return make_error(Errc::kInvalidArgument, what + escape_untrusted(arg, 200) + ": " + *p);
    if (arg.find(':') != std::string::npos) {
      if (auto p = debian_problem(DebianField::kArchitecture, arch))
        return make_error(Errc::kInvalidArgument, what + escape_untrusted(arg, 200) + ": " + *p);
    }
    if (arg.find('=') != std::string::npos) {
      if (auto p = debian_problem(DebianField::kVersion, version))
        return make_error(Errc::kInvalidArgument, what + escape_untrusted(arg, 200) + ": " + *p);
    }
  }
  return {};
}

Result<std::vector<AptAction>> parse_simulation(std::string_view output) {
  std::vector<AptAction> actions;
  for (std::string_view line : split_lines(output)) {
    const bool inst = starts_with(line, "Inst ");
    const bool remv = starts_with(line, "Remv ") || starts_with(line, "Purg ");
    if (!inst && !remv) continue;
    AptAction a;
    a.remove = remv;
    std::string_view rest = line.substr(5);
    auto sp = rest.find(' ');
    std::string_view name = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    if (auto colon = name.find(':'); colon != std::string_view::npos) {
      a.architecture = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    a.name = name;
    if (auto p = debian_problem(DebianField::kPackageName, a.name)) return line_error(line, *p);
    if (starts_with(rest, "[")) {
      auto close = rest.find(']');
      if (close == std::string_view::npos) return line_error(line, "no ']' after the installed version");
      a.old_version = std::string(rest.substr(1, close - 1));
      if (auto p = debian_problem(DebianField::kVersion, *a.old_version)) return line_error(line, *p);
      rest = rest.substr(close + 1);
      if (starts_with(rest, " ")) rest.remove_prefix(1);
    }
    if (inst) {
      // "(NEW RELEASE... [ARCH])", possibly followed by " []" (broken dependencies).
      if (!starts_with(rest, "(")) return line_error(line, "no '(' before the new version");
      auto close = rest.find(')');
      if (close == std::string_view::npos) return line_error(line, "no ')' after the new version");
      std::string_view inside = rest.substr(1, close - 1);
      auto vsp = inside.find(' ');
      a.version = inside.substr(0, vsp);
      if (auto p = debian_problem(DebianField::kVersion, a.version)) return line_error(line, *p);
      auto open_arch = inside.rfind('[');
      if (open_arch == std::string_view::npos || inside.back() != ']')
        return line_error(line, "no \"[ARCH]\" in the parentheses");
      std::string_view arch = inside.substr(open_arch + 1, inside.size() - open_arch - 2);
      if (a.architecture.empty()) a.architecture = arch;
      if (auto p = debian_problem(DebianField::kArchitecture, a.architecture)) return line_error(line, *p);
    } else {
      if (!a.old_version) return line_error(line, "a removal without the installed version");
      if (!a.architecture.empty()) {
        if (auto p = debian_problem(DebianField::kArchitecture, a.architecture)) return line_error(line, *p);
      }
    }
    actions.push_back(std::move(a));
  }
  return actions;
}

Result<std::vector<IndexRecord>> parse_index_records(std::string_view output) {
  std::vector<IndexRecord> records;
  std::map<std::string, std::string, std::less<>> fields;
  std::size_t line_no = 0;
  const auto finish = [&]() -> Result<void> {
    if (fields.empty()) return {};
    if (!fields.count("Filename")) {  // the status file's record of an installed version
      fields.clear();
      return {};
    }
    IndexRecord rec;
    const auto need = [&](const char* key) -> Result<std::string> {
      auto it = fields.find(key);
      if (it == fields.end() || it->second.empty()) {
        return make_error(Errc::kMalformed, "apt-cache show: a record before line " +
                                                std::to_string(line_no) + " has no " + key);
      }
      return it->second;
    };
    CS_TRY(rec.package, need("Package"));
    CS_TRY(rec.version, need("Version"));
    CS_TRY(rec.architecture, need("Architecture"));
    CS_TRY(rec.filename, need("Filename"));
    CS_TRY(auto size, need("Size"));
    CS_TRY(auto hash, need("SHA256"));
    if (size.size() > 15 || size.find_first_not_of("0123456789") != std::string::npos) {
      return make_error(Errc::kMalformed, "apt-cache show: " + escape_untrusted(rec.package, 100) +
                                              ": Size \"" + escape_untrusted(size, 40) +
                                              "\" is not a byte count");
    }
    rec.size = std::stoull(size);
    auto digest = digest_from_string("sha256:" + hash);
    if (!digest.ok()) {
      return make_error(Errc::kMalformed, "apt-cache show: " + escape_untrusted(rec.package, 100) +
                                              ": SHA256 \"" + escape_untrusted(hash, 80) +
                                              "\" is not 64 lowercase hex digits");
    }
    rec.sha256 = *digest;
    records.push_back(std::move(rec));
    fields.clear();
    return {};
  };
  for (std::string_view line : split_lines(output)) {
    ++line_no;
    if (line.empty()) {
      CS_TRY_VOID(finish());
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') continue;  // continuation (Description)
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return make_error(Errc::kMalformed, "apt-cache show: line " + std::to_string(line_no) +
                                              " is not \"Field: value\": \"" + escape_untrusted(line, 100) +
                                              "\"");
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    fields[std::string(line.substr(0, colon))] = std::string(value);
  }
  CS_TRY_VOID(finish());
  return records;
}

std::string apt_errors(std::string_view err) {
  std::string errors, warnings;
  for (std::string_view line : split_lines(err)) {
    if (starts_with(line, "E: "))
      errors += (errors.empty() ? "" : "; ") + escape_untrusted(line.substr(3), 400);
    if (starts_with(line, "W: "))
      warnings += (warnings.empty() ? "" : "; ") + escape_untrusted(line.substr(3), 400);
  }
  if (!errors.empty()) return errors;
  if (!warnings.empty()) return warnings;
  return escape_untrusted(daemon::first_line(std::string(err)), 400);
}

Result<int> dpkg_compare_versions(const std::string& a, const std::string& b) {
  for (const auto& v : {a, b}) {
    if (auto p = debian_problem(DebianField::kVersion, v)) return make_error(Errc::kInvalidArgument, *p);
  }
  CommandOptions opts;
  opts.timeout_seconds = 30;
  for (const char* op : {"lt", "eq"}) {
    CS_TRY(auto out, daemon::run_command({"dpkg", "--compare-versions", a, op, b}, opts));
    // dpkg exits 0 when the relation holds, 1 when not, anything else on error.
    if (out.status > 1) {
      return make_error(Errc::kIo, "dpkg --compare-versions " + escape_untrusted(a, 100) + " " + op + " " +
                                       escape_untrusted(b, 100) + ": " + escape_untrusted(out.err, 200));
    }
    if (out.status == 0) return std::string_view(op) == "lt" ? -1 : 0;
  }
  return 1;
}

AptSandbox::AptSandbox(AptSandbox&& other) noexcept
    : dir_(std::move(other.dir_)), arch_(std::move(other.arch_)), repo_(std::move(other.repo_)) {
  other.dir_.clear();
}

AptSandbox::~AptSandbox() {
  if (dir_.empty()) return;
  // Extracted packages may hold read-only directories: remove_tree_at makes them writable.
  const std::filesystem::path p(dir_);
  auto parent = daemon::open_directory(p.parent_path().string());
  if (parent.ok()) (void)daemon::remove_tree_at(parent->get(), p.filename().string(), dir_);
}

Result<AptSandbox> AptSandbox::create(const BoxPackages& box, const AptRepository& repo) {
  AptSandbox s;
  s.repo_ = repo.describe();
  std::set<std::string> foreign;
  for (const auto& p : box.packages()) {
    if (p.name == "dpkg" && p.installed()) s.arch_ = p.architecture;
  }
  if (s.arch_.empty()) {
    return make_error(Errc::kInvalidDocument,
                      "the box's package list has no installed dpkg, whose architecture is the box's own");
  }
  for (const auto& p : box.packages()) {
    if (p.architecture != "all" && p.architecture != s.arch_) foreign.insert(p.architecture);
  }
  for (const auto& c : repo.components) {
    if (c.empty() || c.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_./") != std::string::npos ||
        c.front() == '/' || c.find("..") != std::string::npos) {
      return make_error(Errc::kInvalidArgument,
                        "component \"" + escape_untrusted(c, 100) + "\" is not a name");
    }
  }
  if (repo.suite.empty() ||
      repo.suite.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./+~") !=
          std::string::npos ||
      repo.suite.find("..") != std::string::npos) {
    return make_error(Errc::kInvalidArgument,
                      "suite \"" + escape_untrusted(repo.suite, 100) + "\" is not a name");
  }
  if (repo.url.find_first_of(" \t\n\r[]\"") != std::string::npos ||
      !(starts_with(repo.url, "http://") || starts_with(repo.url, "https://") ||
        starts_with(repo.url, "file:/"))) {
    return make_error(Errc::kInvalidArgument, "--repo " + escape_untrusted(repo.url, 200) +
                                                  ": expected an http://, https:// or file:/ URL");
  }
  std::error_code ec;
  const std::string keyring = std::filesystem::absolute(repo.keyring, ec).string();
  if (ec || !std::filesystem::is_regular_file(keyring, ec)) {
    return make_error(Errc::kNotFound, "--keyring " + escape_untrusted(repo.keyring, 200) + ": no such file");
  }

  std::string tmpl = (std::filesystem::temp_directory_path(ec) / "countersign-plan-XXXXXX").string();
  if (ec) tmpl = "/tmp/countersign-plan-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return make_error(Errc::kIo, "cannot make a temp directory " + tmpl);
  }
  s.dir_ = tmpl;
  // apt, as root, fetches as user _apt: let it reach its partial directories.
  ::chmod(s.dir_.c_str(), 0755);
  const std::string d = s.dir_;
  for (const char* sub :
       {"etc", "etc/sources.list.d", "etc/trusted.gpg.d", "etc/preferences.d", "state", "state/lists",
        "state/lists/partial", "cache", "cache/archives", "cache/archives/partial", "log", "extract"}) {
    std::filesystem::create_directories(d + "/" + sub, ec);
    if (ec) return make_error(Errc::kIo, "cannot make " + d + "/" + sub + ": " + ec.message());
  }
  CS_TRY_VOID(write_file_atomic(d + "/status", box.to_dpkg_status(), 0644));
  std::string comps;
  for (const auto& c : repo.components) comps += " " + c;
  CS_TRY_VOID(write_file_atomic(
      d + "/etc/sources.list",
      "deb [signed-by=" + keyring + "] " + repo.url + " " + repo.suite + comps + "\n", 0644));
  std::string conf;
  const auto set = [&conf](const std::string& key, const std::string& value) -> Result<void> {
    CS_TRY(auto v, conf_string(value));
    conf += key + " " + v + ";\n";
    return {};
  };
  // No configuration of this machine: APT_CONFIG is read first, then Dir::Etc::parts and
  // Dir::Etc::main, which are /dev/null here (apt.conf(5), apt-pkg/init.cc pkgInitConfig).
  CS_TRY_VOID(set("Dir", "/"));
  CS_TRY_VOID(set("Dir::Etc", d + "/etc/"));
  CS_TRY_VOID(set("Dir::Etc::main", "/dev/null"));
  CS_TRY_VOID(set("Dir::Etc::parts", "/dev/null"));
  CS_TRY_VOID(set("Dir::Etc::sourcelist", d + "/etc/sources.list"));
  CS_TRY_VOID(set("Dir::Etc::sourceparts", d + "/etc/sources.list.d"));
  // No key of this machine is trusted: the sources line names the planner's keyring.
  CS_TRY_VOID(set("Dir::Etc::trusted", d + "/etc/trusted.gpg"));
  CS_TRY_VOID(set("Dir::Etc::trustedparts", d + "/etc/trusted.gpg.d"));
  CS_TRY_VOID(set("Dir::Etc::preferences", d + "/etc/preferences"));
  CS_TRY_VOID(set("Dir::Etc::preferencesparts", d + "/etc/preferences.d"));
  CS_TRY_VOID(set("Dir::State", d + "/state/"));
  CS_TRY_VOID(set("Dir::State::lists", d + "/state/lists/"));
  CS_TRY_VOID(set("Dir::State::status", d + "/status"));
  CS_TRY_VOID(set("Dir::State::extended_states", d + "/state/extended_states"));
  CS_TRY_VOID(set("Dir::Cache", d + "/cache/"));
  CS_TRY_VOID(set("Dir::Cache::archives", d + "/cache/archives/"));
  CS_TRY_VOID(set("Dir::Log", d + "/log/"));
  CS_TRY_VOID(set("Debug::NoLocking", "1"));
  CS_TRY_VOID(set("APT::Architecture", s.arch_));
  conf += "APT::Architectures { \"" + s.arch_ + "\";";
  for (const auto& a : foreign) conf += " \"" + a + "\";";  // checked by BoxPackages
  conf += " };\n";
  CS_TRY_VOID(set("Acquire::Languages", "none"));
  // Only what apt itself installs counts: no recommends or suggests pulled in behind the plan.
  CS_TRY_VOID(set("APT::Install-Recommends", "false"));
  CS_TRY_VOID(set("APT::Install-Suggests", "false"));
  CS_TRY_VOID(write_file_atomic(d + "/apt.conf", conf, 0644));
  return s;
}

Result<CommandOutput> AptSandbox::apt(const std::vector<std::string>& args, int timeout_seconds) {
  CommandOptions opts;
  opts.environment = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
                                              "APT_CONFIG=" + dir_ + "/apt.conf"};
  opts.timeout_seconds = timeout_seconds;
  opts.max_output = kMaxAptOutput;
  auto out = daemon::run_command(args, opts);
  if (!out.ok()) return out.error().with_context(args.front());
  return out;
}

Result<void> AptSandbox::update() {
  CS_TRY(auto out, apt({"apt-get", "-q", "update"}, kUpdateTimeoutSeconds));
  // apt-get update exits 0 on some failures (an index it could not fetch is a warning):
  // a signature problem is never accepted, whatever the exit status.
  const bool signature = out.err.find("NO_PUBKEY") != std::string::npos ||
                         out.err.find("is not signed") != std::string::npos ||
                         out.err.find("GPG error") != std::string::npos ||
                         out.err.find("signatures were invalid") != std::string::npos ||
                         out.err.find("Hash Sum mismatch") != std::string::npos ||
                         out.err.find("File has unexpected size") != std::string::npos;
  if (signature) {
    return make_error(
        Errc::kCrypto,
        "the repository " + repo_ + " could not be verified with the keyring given: " + apt_errors(out.err));
  }
  if (out.status != 0 || out.err.find("E: ") != std::string::npos ||
      out.err.find("W: Failed to fetch") != std::string::npos) {
    return make_error(Errc::kIo,
                      "apt-get update of the repository " + repo_ + " failed: " + apt_errors(out.err));
  }
  return {};
}

std::vector<std::string> AptSandbox::request_args(const AptRequest& r) const {
  std::vector<std::string> args;
  switch (r.kind) {
    case AptRequest::Kind::kUpgrade:
      args.push_back("dist-upgrade");
      break;
    case AptRequest::Kind::kInstall:
      args.push_back("install");
      break;
    case AptRequest::Kind::kRemove:
      args.push_back("remove");
      break;
  }
  args.push_back("--");
  args.insert(args.end(), r.packages.begin(), r.packages.end());
  return args;
}

Result<std::vector<AptAction>> AptSandbox::simulate(const AptRequest& r) {
  CS_TRY_VOID(check_request(r));
  // --allow-remove-essential: apt would refuse in its own words; plan_with_apt refuses every
  // Essential removal in ours, naming the package, from the box's list.
  std::vector<std::string> args{"apt-get", "-q", "--simulate", "-y", "--allow-remove-essential"};
  for (auto& a : request_args(r)) args.push_back(std::move(a));
  CS_TRY(auto out, apt(args, kLocalTimeoutSeconds));
  if (out.status != 0) {
    return make_error(Errc::kRejected,
                      "apt cannot make this plan against " + repo_ + ": " + apt_errors(out.err));
  }
  return parse_simulation(out.out);
}

Result<IndexRecord> AptSandbox::index_record(const AptAction& a) {
  const std::string spec = a.name + ":" + a.architecture + "=" + a.version;
  CS_TRY(auto out, apt({"apt-cache", "show", "--", spec}, kLocalTimeoutSeconds));
  if (out.status != 0) {
    return make_error(Errc::kNotFound,
                      "apt-cache show " + escape_untrusted(spec, 200) + ": " + apt_errors(out.err));
  }
  CS_TRY(auto records, parse_index_records(out.out));
  std::optional<IndexRecord> found;
  for (auto& rec : records) {
    if (rec.package != a.name || rec.version != a.version || rec.architecture != a.architecture) continue;
    if (found &&
        (found->sha256 != rec.sha256 || found->size != rec.size || found->filename != rec.filename)) {
      return make_error(Errc::kRejected, escape_untrusted(spec, 200) +
                                             " is in the repository twice with different files (" +
                                             escape_untrusted(found->filename, 200) + ", " +
                                             escape_untrusted(rec.filename, 200) + ")");
    }
    found = std::move(rec);
  }
  if (!found) {
    return make_error(Errc::kNotFound,
                      "the index of " + repo_ + " has no record of " + escape_untrusted(spec, 200));
  }
  if (auto p = check_manifest_path(found->filename)) {
    return make_error(Errc::kMalformed, escape_untrusted(spec, 200) + ": Filename \"" +
                                            escape_untrusted(found->filename, 200) + "\": " + *p);
  }
  return *found;
}

Result<std::string> AptSandbox::download(const AptRequest& r) {
  CS_TRY_VOID(check_request(r));
  std::vector<std::string> args{"apt-get", "-q", "--download-only", "-y"};
  for (auto& a : request_args(r)) args.push_back(std::move(a));
  CS_TRY(auto out, apt(args, kDownloadTimeoutSeconds));
  // A file that does not match the verified index: the mirror serves other bytes (exit 1).
  if (out.err.find("Hash Sum mismatch") != std::string::npos ||
      out.err.find("File has unexpected size") != std::string::npos) {
    return make_error(Errc::kHashMismatch,
                      "a .deb from " + repo_ + " does not match the signed index: " + apt_errors(out.err));
  }
  if (out.status != 0) {
    return make_error(Errc::kIo, "apt-get --download-only from " + repo_ + " failed: " + apt_errors(out.err));
  }
  return dir_ + "/cache/archives";
}

Result<AptPlan> plan_with_apt(AptSandbox& apt, const BoxPackages& box, const AptRequest& r) {
  CS_TRY_VOID(check_request(r));
  CS_TRY_VOID(apt.update());
  CS_TRY(auto actions, apt.simulate(r));
  if (actions.empty()) {
    return make_error(Errc::kRejected,
                      "nothing to do: apt plans no change for this request (the box has it already)");
  }
  AptPlan plan;
  std::vector<std::string> essential;
  for (const auto& a : actions) {
    // The box's entry of this package: of its architecture; an "all" package may replace one
    // of the native architecture and the other way round.
    const InstalledPackage* now = box.installed(a.name, a.architecture);
    if (!now) now = box.installed(a.name, a.remove || a.architecture == "all" ? "" : "all");
    if (a.old_version.has_value() != (now != nullptr) || (now && *a.old_version != now->version)) {
      return make_error(Errc::kInternal,
                        "apt and the box's package list disagree on " + escape_untrusted(a.name, 100) +
                            ": apt has " + escape_untrusted(a.old_version.value_or("none"), 100) +
                            ", the list " + (now ? escape_untrusted(now->version, 100) : "none"));
    }
    PackageChange c;
    c.name = a.name;
    if (now) c.replaces = now->version;
    if (a.remove) {
      c.remove = true;
      if (now->essential) essential.push_back(a.name);
    } else {
      CS_TRY(auto rec, apt.index_record(a));
      c.version = a.version;
      c.architecture = a.architecture;
      c.file = rec.filename;
      if (std::none_of(plan.files.begin(), plan.files.end(),
                       [&](const ManifestFile& f) { return f.path == rec.filename; })) {
        plan.files.push_back({rec.filename, rec.size, rec.sha256});
      }
    }
    plan.changes.push_back(std::move(c));
  }
  if (!essential.empty()) {
    std::string names;
    for (const auto& n : essential) names += (names.empty() ? "" : ", ") + escape_untrusted(n, 100);
    return make_error(Errc::kRejected, "the plan would remove the Essential package" +
                                           std::string(essential.size() == 1 ? " " : "s ") + names +
                                           ": refused (a box without it cannot install or roll back)");
  }
  return plan;
}

}  // namespace countersign::cli
