// packaging/: the sudoers file (visudo accepts it; each rule admits exactly the helper's
// argument forms), the systemd unit (systemd-analyze accepts it; nothing in it takes sudo
// away), the tmpfiles layout (what it creates satisfies the helper's ownership checks) and
// the default configuration (parses, documents every key, demands a box id).
#include <gtest/gtest.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/bundle.h"
#include "core/bytes.h"
#include "daemon/config.h"
#include "system/command.h"
#include "system/system.h"
#include "tests/daemon/box_fixture.h"
#include "tests/daemon/integration.h"
#include "tests/daemon/system_test_util.h"
#include "tests/test_util.h"

namespace countersign::daemon {
namespace {

namespace fs = std::filesystem;
using test::Files;
using test_util::contains;

const fs::path kPackaging = COUNTERSIGN_PACKAGING_DIR;
const std::string kHelperPath = "/usr/libexec/countersign/countersign-system";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// ---- sudoers -------------------------------------------------------------------------------

TEST(Sudoers, VisudoAcceptsIt) {
  auto visudo = find_program("visudo");
  CS_REQUIRE_OR_SKIP(visudo.ok(), "visudo is not installed (package sudo)");
  auto r = run_command({*visudo, "-cf", (kPackaging / "sudoers" / "countersign").string()});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 0) << r->out << r->err;
  EXPECT_TRUE(contains(r->out, "parsed OK")) << r->out;
}

// The argument part of each rule for the helper, as sudo reads it: continuation lines
// joined, rules separated by commas.
std::vector<std::string> helper_rules(const std::string& sudoers) {
  std::string joined;
  for (auto line : lines_of(sudoers)) {
    if (!line.empty() && line.front() == '#') continue;
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
    } else {
      line += '\n';
    }
    joined += line;
  }
  std::vector<std::string> rules;
  const std::string prefix = kHelperPath + " ";
  for (auto pos = joined.find(prefix); pos != std::string::npos; pos = joined.find(prefix, pos + 1)) {
    auto end = joined.find_first_of(",\n", pos);
    std::string rule = joined.substr(pos + prefix.size(), end - pos - prefix.size());
    while (!rule.empty() && rule.back() == ' ') rule.pop_back();
    rules.push_back(rule);
  }
  return rules;
}

// sudoers(5): arguments between ^ and $ are a POSIX extended regular expression matched
// against the arguments joined by spaces; anything else here must match literally (the file
// uses no wildcards, which would also match spaces).
bool sudo_allows(const std::vector<std::string>& rules, const std::string& args) {
  for (const auto& rule : rules) {
    if (rule.front() == '^') {
      regex_t re;
      if (::regcomp(&re, rule.c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
        ADD_FAILURE() << "sudoers regex does not compile: " << rule;
        continue;
      }
      const bool match = ::regexec(&re, args.c_str(), 0, nullptr, 0) == 0;
      ::regfree(&re);
      if (match) return true;
    } else if (rule == args) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST(Sudoers, AllowsExactlyTheHelpersForms) {
  const std::string text = test_util::slurp(kPackaging / "sudoers" / "countersign");
  const auto rules = helper_rules(text);
  ASSERT_EQ(rules.size(), 17u) << text;
  for (const auto& r : rules) {
    EXPECT_EQ(r.find_first_of("*?"), std::string::npos) << "no wildcards: " << r;
    EXPECT_NE(r, "\"\"");
  }
  const std::string hex(64, 'c');
  for (const std::string& ok :
       std::vector<std::string>{"accept", "snapshot list", "snapshot take " + hex, "snapshot restore " + hex,
                                "model install " + hex, "model remove " + hex, "packages install " + hex,
                                "policy rotate " + hex, "proposal abandon " + hex, "staging remove " + hex,
                                "log append", "log checkpoint", "check", "veto", "prove", "attest"}) {
    EXPECT_TRUE(sudo_allows(rules, ok)) << ok;
    EXPECT_TRUE(parse_system_args(words(ok)).ok()) << ok;  // and the helper agrees
  }
  for (const std::string& bad : std::vector<std::string>{"",
                                                         "--help",
                                                         "accept " + hex,
                                                         "accept -",
                                                         "snapshot take",
                                                         "snapshot take now",
                                                         "snapshot list -a",
                                                         "snapshot restore",
                                                         "snapshot restore cs-20260601T123456Z-0123abcd",
                                                         "model install " + hex + " x",
                                                         "model install " + hex.substr(1),
                                                         "model install " + hex + "c",
                                                         "model install " + std::string(64, 'C'),
                                                         "model install  " + hex,
                                                         "model install sha256:" + hex.substr(7),
                                                         "model install ../../../etc/shadow",
                                                         "model install " + hex + "\n",
                                                         "packages install",
                                                         "packages install " + hex + " " + hex,
                                                         "packages remove " + hex,
                                                         "model remove",
                                                         "policy rotate",
                                                         "proposal abandon " + hex + " reason",
                                                         "staging remove " + hex + "/",
                                                         "staging list",
                                                         "log append install-complete",
                                                         "log checkpoint now",
                                                         "log truncate",
                                                         "check " + hex,
                                                         "check --all",
                                                         "veto " + hex,
                                                         "prove -",
                                                         "attest " + hex,
                                                         "model install " + hex.substr(0, 63) + "-",
                                                         "snapshot delete " + hex}) {
    EXPECT_FALSE(sudo_allows(rules, bad)) << "sudoers allows: " << bad;
  }
  EXPECT_TRUE(contains(text, "Defaults!COUNTERSIGN_SYSTEM env_reset"));
  EXPECT_TRUE(contains(text, "countersign ALL = (root) NOPASSWD: COUNTERSIGN_SYSTEM"));
  // The daemon's default helper command is the one sudoers allows.
  EXPECT_EQ(Config{}.helper, (std::vector<std::string>{"sudo", "-n", kHelperPath}));
}

// ---- systemd unit --------------------------------------------------------------------------

TEST(SystemdUnit, SystemdAnalyzeAcceptsIt) {
  auto analyze = find_program("systemd-analyze");
  if (!analyze.ok()) GTEST_SKIP() << "systemd-analyze is not installed";
  // verify also checks that ExecStart= exists; countersignd is not installed here, so a copy
  // names /bin/true with the same arguments. Everything else is checked as shipped.
  test_util::TempDir tmp("unit");
  const std::string unit = test_util::slurp(kPackaging / "systemd" / "countersignd.service");
  const std::string exec = "ExecStart=/usr/bin/countersignd ";
  ASSERT_TRUE(contains(unit, exec + "--config /etc/countersign/countersignd.conf\n"));
  std::string copy = unit;
  copy.replace(copy.find(exec), exec.size(), "ExecStart=/bin/true ");
  const fs::path file = tmp.path() / "countersignd.service";
  test_util::spit(file, copy);
  auto r = run_command({*analyze, "verify", "--man=no", file.string()});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 0) << r->out << r->err;
  // Unknown keys and bad values are only warnings ("…, ignoring"): none may be printed.
  EXPECT_FALSE(contains(r->out + r->err, "countersignd.service:")) << r->out << r->err;
}

TEST(SystemdUnit, KeepsSudoWorking) {
  const std::string unit = test_util::slurp(kPackaging / "systemd" / "countersignd.service");
  // systemd.exec(5): with User=, each of these implies NoNewPrivileges=yes, under which the
  // set-uid sudo cannot become root and the daemon cannot run its helper.
  const std::vector<std::string> implies_nnp = {
      "NoNewPrivileges",      "DynamicUser",           "LockPersonality",         "MemoryDenyWriteExecute",
      "PrivateDevices",       "ProtectClock",          "ProtectHostname",         "ProtectKernelLogs",
      "ProtectKernelModules", "ProtectKernelTunables", "RestrictAddressFamilies", "RestrictNamespaces",
      "RestrictRealtime",     "RestrictSUIDSGID",      "SystemCallArchitectures", "SystemCallFilter",
      "SystemCallLog",        "StateDirectory"};
  std::string bounding;
  bool user = false;
  for (const auto& line : lines_of(unit)) {
    if (line.empty() || line.front() == '#') continue;
    auto eq = line.find('=');
    const std::string key = line.substr(0, eq);
    for (const auto& k : implies_nnp) EXPECT_NE(key, k) << line;
    if (key == "CapabilityBoundingSet") bounding = line.substr(eq + 1);
    if (line == "User=countersign") user = true;
  }
  EXPECT_TRUE(user);
  // What sudo and the helper need as root (the comment in the unit says why each).
  for (const char* cap : {"CAP_SETUID", "CAP_SETGID", "CAP_AUDIT_WRITE", "CAP_DAC_OVERRIDE",
                          "CAP_DAC_READ_SEARCH", "CAP_CHOWN", "CAP_FOWNER", "CAP_SYS_ADMIN"}) {
    EXPECT_TRUE(contains(" " + bounding + " ", std::string(" ") + cap + " ")) << cap;
  }
  EXPECT_TRUE(contains(unit, "\nReadWritePaths=/var/lib/countersign\n"));
  EXPECT_TRUE(contains(unit, "\nProtectSystem=strict\n"));
}

// ---- tmpfiles ------------------------------------------------------------------------------

TEST(Tmpfiles, LayoutSatisfiesTheHelper) {
  auto tmpfiles = find_program("systemd-tmpfiles");
  if (!tmpfiles.ok()) GTEST_SKIP() << "systemd-tmpfiles is not installed";
  if (::geteuid() != 0) GTEST_SKIP() << "creating the layout with its owners needs root";
  test_util::TempDir root("tmpfiles");
  fs::create_directories(root.path() / "etc");
  test_util::spit(
      root.path() / "etc" / "passwd",
      "root:x:0:0:root:/root:/bin/sh\ncountersign:x:64123:64123::/var/lib/countersign:/usr/sbin/nologin\n");
  test_util::spit(root.path() / "etc" / "group", "root:x:0:\ncountersign:x:64123:\n");
  auto r = run_command({*tmpfiles, "--create", "--root=" + root.path().string(),
                        (kPackaging / "tmpfiles" / "countersign.conf").string()});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 0) << r->out << r->err;
  const fs::path state = root.path() / "var" / "lib" / "countersign";
  struct Expect {
    std::string path;
    mode_t mode;
    uid_t owner;
  };
  for (const auto& e : std::vector<Expect>{{"", 0755, 0},
                                           {"models", 0755, 0},
                                           {"models/.staging", 0750, 64123},
                                           {"snapshots", 0700, 0},
                                           {"log", 0755, 0},
                                           {"system", 0755, 0},
                                           {"daemon", 0750, 64123}}) {
    const fs::path p = e.path.empty() ? state : state / e.path;
    EXPECT_EQ(test::mode_of(p), e.mode) << p;
    EXPECT_EQ(test::owner_of(p), e.owner) << p;
  }
  // The helper works in this layout: it accepts a bundle, and installs a model the daemon's
  // user staged, owned by root.
  test_util::TempDir etc("tmpfiles-etc");
  test_util::BoxFixture box(etc.path());
  box.config().state_dir = state.string();
  box.write_config();
  const Files model = {{"m.bin", "model"}};
  const Manifest m = test::manifest_for(model);
  const auto bundle =
      box.bundle(test_util::BoxFixture::make_proposal(m.hash()), m.to_json(), {"alice", "bob", "carol"});
  auto accepted = test::run_helper(box.config_file(), {"accept"}, {}, bundle.dump());
  ASSERT_EQ(accepted.status, 0) << accepted.err;
  const std::string hex = test::stage(state / "models" / ".staging", model);
  for (const auto& e : fs::recursive_directory_iterator(state / "models" / ".staging")) {
    ASSERT_EQ(::lchown(e.path().c_str(), 64123, 64123), 0) << e.path();
  }
  auto run = test::run_helper(box.config_file(),
                              {"model", "install", hex_encode(Bundle::parse(bundle)->proposal().id())});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(test::owner_of(state / "models" / hex / "m.bin"), 0u);
  EXPECT_EQ(test::owner_of(state / "log" / "entries"), 0u);
  EXPECT_EQ(test::mode_of(state / "log" / "entries"), 0644u);
}

// ---- default configuration -----------------------------------------------------------------

TEST(DefaultConfig, ParsesDocumentsEveryKeyAndNeedsABoxId) {
  const std::string text = test_util::slurp(kPackaging / "countersignd.conf");
  auto c = parse_config(text, "countersignd.conf");
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto valid = c->validate();
  ASSERT_FALSE(valid.ok());
  EXPECT_EQ(valid.error().message, "missing required setting(s): box_id");
  for (const auto& key : config_keys()) {
    const std::string k(key.name);
    EXPECT_TRUE(contains(text, "\n" + k + " = ") || contains(text, "\n#" + k + " = ")) << k;
  }
  // Uncommenting every example line gives a valid configuration matching the defaults.
  std::string all;
  for (const auto& line : lines_of(text)) {
    bool example = line.size() > 1 && line[0] == '#' && line[1] != ' ' && contains(line, " = ");
    all += (example ? line.substr(1) : line) + "\n";
  }
  auto full = parse_config(all, "uncommented");
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_TRUE(full->validate().ok());
  const Config defaults;
  EXPECT_EQ(full->socket, defaults.socket);
  EXPECT_EQ(full->helper, defaults.helper);
  EXPECT_EQ(full->parallel, defaults.parallel);
  EXPECT_EQ(full->skew_seconds, defaults.skew_seconds);
  EXPECT_EQ(full->max_body, defaults.max_body);
  EXPECT_EQ(full->stall_timeout_seconds, defaults.stall_timeout_seconds);
  EXPECT_EQ(full->connect_timeout_seconds, defaults.connect_timeout_seconds);
  EXPECT_EQ(full->state_dir, "/var/lib/countersign");
}

// ---- who may talk to the box ---------------------------------------------------------------

// The group sysusers creates for API users is not the daemon's own, and the daemon's user is
// not a member of it (the unit gives the daemon the group with SupplementaryGroups=).
TEST(ApiGroup, SysusersCreatesItApartFromTheDaemonsGroup) {
  auto sysusers = find_program("systemd-sysusers");
  if (!sysusers.ok()) GTEST_SKIP() << "systemd-sysusers is not installed";
  if (::geteuid() != 0) GTEST_SKIP() << "systemd-sysusers --root needs root";
  test_util::TempDir root("sysusers");
  fs::create_directories(root.path() / "etc");
  auto r = run_command(
      {*sysusers, "--root=" + root.path().string(), (kPackaging / "sysusers" / "countersign.conf").string()});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->status, 0) << r->out << r->err;
  std::string api_gid, daemon_gid, api_members = "?";
  for (const auto& line : lines_of(test_util::slurp(root.path() / "etc" / "group"))) {
    auto f = [&](int n) {  // field n of name:x:gid:members
      std::size_t b = 0;
      for (int i = 0; i < n; ++i) b = line.find(':', b) + 1;
      return line.substr(b, line.find(':', b) - b);
    };
    if (line.starts_with("countersign-api:")) {
      api_gid = f(2);
      api_members = f(3);
    }
    if (line.starts_with("countersign:")) daemon_gid = f(2);
  }
  ASSERT_FALSE(api_gid.empty()) << test_util::slurp(root.path() / "etc" / "group");
  ASSERT_FALSE(daemon_gid.empty());
  EXPECT_NE(api_gid, daemon_gid);
  EXPECT_EQ(api_members, "") << "nobody is a member by default, the daemon's user neither";
  const std::string passwd = test_util::slurp(root.path() / "etc" / "passwd");
  EXPECT_TRUE(contains(passwd, ":" + daemon_gid + ":Countersign box daemon:")) << passwd;
}

TEST(ApiGroup, TheUnitAndTheConfigurationGiveTheSocketToIt) {
  const std::string unit = test_util::slurp(kPackaging / "systemd" / "countersignd.service");
  EXPECT_TRUE(contains(unit, "\nSupplementaryGroups=countersign-api\n"));
  EXPECT_TRUE(contains(unit, "\nGroup=countersign\n"));
  // Members of the group must reach the socket inside the runtime directory.
  EXPECT_TRUE(contains(unit, "\nRuntimeDirectoryMode=0755\n"));
  const std::string conf = test_util::slurp(kPackaging / "countersignd.conf");
  EXPECT_TRUE(contains(conf, "\nsocket_group = countersign-api\n"));
  // Every secret is documented as readable by its reader alone, never by a group.
  for (const char* key : {"log_key", "hf_token_file", "s3_credentials_file"}) {
    auto at = conf.find(std::string("\n") + key + " = ");
    if (at == std::string::npos) at = conf.find(std::string("\n#") + key + " = ");
    ASSERT_NE(at, std::string::npos) << key;
    const std::string comment = conf.substr(conf.rfind("\n\n", at), at - conf.rfind("\n\n", at));
    EXPECT_TRUE(contains(comment, "0600")) << key << ":" << comment;
    EXPECT_FALSE(contains(comment, "0640")) << key << ":" << comment;
  }
}

}  // namespace
}  // namespace countersign::daemon
