// A fuzz pass of escape_untrusted() against a terminal emulator: random free text
// with escape sequences, controls, bidi, zero-width and combining characters in a manifest's
// description, shown by the real `countersign manifest show` inside a detached tmux; the
// screen tmux ends up with must be exactly the text `manifest show` printed, which holds the
// description as escape_untrusted() made it. So the terminal interpreted nothing: no cursor
// moved, no line was erased, no title was set, nothing was hidden. Skipped without tmux,
// unless COUNTERSIGN_REQUIRE_INTEGRATION=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/untrusted_text.h"
#include "tests/cli/cli_test_util.h"
#include "tests/test_util.h"

namespace countersign::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test_util::CliRun;
using test_util::contains;

const UnixTime kNow = 1795341600;  // 2026-11-22T10:00:00Z

std::string manifest_described(const std::string& description) {
  return test_util::manifest_text("a.bin", description);
}

void append_utf8(std::string& out, char32_t cp) {
  const auto byte = [&out](char32_t v) { out.push_back(static_cast<char>(static_cast<unsigned char>(v))); };
  if (cp < 0x80) {
    byte(cp);
  } else if (cp < 0x800) {
    byte(0xC0 | (cp >> 6));
    byte(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    byte(0xE0 | (cp >> 12));
    byte(0x80 | ((cp >> 6) & 0x3F));
    byte(0x80 | (cp & 0x3F));
  } else {
    byte(0xF0 | (cp >> 18));
    byte(0x80 | ((cp >> 12) & 0x3F));
    byte(0x80 | ((cp >> 6) & 0x3F));
    byte(0x80 | (cp & 0x3F));
  }
}

// Free text that tries to make a terminal do something: escape sequences (CSI, OSC, DCS,
// reset, the alternate screen), C0 and C1 controls, CR/LF/tab/backspace, bidi and
// zero-width characters, combining marks, wide characters, line separators, our own escape
// syntax; and plain text between them. Valid UTF-8 (documents refuse anything else).
std::string hostile_text(std::mt19937& rng) {
  const auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  const auto in = [&rng](char32_t lo, char32_t hi) {
    return std::uniform_int_distribution<char32_t>(lo, hi)(rng);
  };
  // clang-format off
  static const std::vector<std::string> kSequences = {
      "\x1b[2K", "\x1b[1A", "\x1b[H\x1b[2J", "\x1b]0;pwned\x07", "\x1b]2;title\x1b\\", "\x1b[31;1m",
      "\x1b" "c", "\x1b[?1049h", "\x1b" "7", "\x1b" "8", "\x1bP+q544e\x1b\\", "\x1b[6n", "\x1b[8m",
      "\x1b[?25l", "\x1b]8;;http://x\x1b\\link", "\x1b[3J", "\x1b(0lqk", "\x1b#8", "\x1b[10;10H",
      "\x1b[5S", "\xc2\x9b" "2K", "\xc2\x9d" "0;t\xc2\x9c"};
  static constexpr char32_t kBidiAndSeparators[] = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D,
                                                    0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029};
  static constexpr char32_t kInvisible[] = {0x00AD, 0x034F, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062,
                                            0x2063, 0x2064, 0xFEFF, 0x115F, 0x3164, 0xFFA0, 0xFFF9, 0xE0001, 0xE0041};
  // clang-format on
  static constexpr char kPlain[] = "abcdefghijklmnopqrstuvwxyz ABC-_.,;:!?0123456789 ";
  std::string out;
  for (std::size_t pieces = 1 + pick(24); pieces > 0; --pieces) {
    const std::size_t kind = pick(12);
    if (kind == 0) {
      out += kSequences[pick(kSequences.size())];
    } else if (kind == 1) {
      append_utf8(out, in(0x00, 0x1F));  // C0, NUL included
    } else if (kind == 2) {
      out += "\r\n\t\b\x7f"[pick(5)];
    } else if (kind == 3) {
      append_utf8(out, in(0x80, 0x9F));  // C1
    } else if (kind == 4) {
      append_utf8(out, kBidiAndSeparators[pick(std::size(kBidiAndSeparators))]);
    } else if (kind == 5) {
      append_utf8(out, kInvisible[pick(std::size(kInvisible))]);
    } else if (kind == 6) {
      append_utf8(out, pick(2) ? in(0x0300, 0x036F) : in(0x20D0, 0x20F0));  // combining marks
    } else if (kind == 7) {
      append_utf8(out, pick(2) ? in(0x4E00, 0x9FFF) : in(0x1F600, 0x1F64F));  // wide characters
    } else if (kind == 8) {
      out += pick(2) ? "\\x1b" : "<U+202E>";  // what an escape looks like
    } else if (kind == 9) {
      append_utf8(out, in(0x00A0, 0x052F));  // Latin-1 to Cyrillic, a few unassigned among them
    } else if (kind == 10) {
      char32_t cp = in(0xA0, 0x10FFFF - 0x800);  // any character or none, but no surrogate
      append_utf8(out, cp >= 0xD800 ? cp + 0x800 : cp);
    } else {
      for (std::size_t n = 1 + pick(8); n > 0; --n) out += kPlain[pick(sizeof kPlain - 1)];
    }
  }
  return out;
}

// Runs `command` with sh; its exit status.
int sh(const std::string& command) { return std::system(command.c_str()); }

std::string sh_output(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A tmux server of the test's own, on a socket in its scratch directory (never the user's
// server), killed when the test ends however it ends.
class Tmux {
 public:
  explicit Tmux(const fs::path& dir)
      : socket_((dir / "tmux.sock").string()), conf_((dir / "tmux.conf").string()) {
    test_util::spit(conf_, "set -g history-limit 100000\nset -g status off\n");
  }
  ~Tmux() { sh(tmux() + " kill-server >/dev/null 2>&1"); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  // "tmux" on our socket and configuration, in a UTF-8 locale, the client declared UTF-8.
  // (Not nested in a tmux the tests may run in.)
  std::string tmux() const {
    return "env -u TMUX LC_ALL=C.UTF-8 tmux -u -S '" + socket_ + "' -f '" + conf_ + "'";
  }

 private:
  std::string socket_, conf_;
};

TEST(TerminalView, ManifestShowIsShownNotInterpreted) {
  const char* require = std::getenv("COUNTERSIGN_REQUIRE_INTEGRATION");
  if (sh("command -v tmux >/dev/null 2>&1") != 0) {
    if (require != nullptr && std::string(require) == "1") FAIL() << "tmux is not installed";
    GTEST_SKIP() << "tmux is not installed (apt-get install tmux)";
  }
  const std::string binary = COUNTERSIGN_BINARY_DIR "/cli/countersign";
  ASSERT_TRUE(fs::exists(binary)) << binary;
  test_util::TempDir dir("cs-tmux");

  // 200 hostile descriptions, one manifest each; what `manifest show` prints for each, run in
  // process, is what the terminal must end up showing.
  constexpr int kCount = 200;
  // A fixed seed, so a failure repeats; COUNTERSIGN_FUZZ_SEED=N explores others.
  const char* seed = std::getenv("COUNTERSIGN_FUZZ_SEED");
  std::mt19937 rng(seed != nullptr ? static_cast<std::mt19937::result_type>(std::strtoul(seed, nullptr, 10))
                                   : 20260619u);
  std::vector<std::string> descriptions;
  std::string expected;
  std::string script = "#!/bin/sh\n";
  for (int i = 0; i < kCount; ++i) {
    descriptions.push_back(hostile_text(rng));
    const std::string file = dir.file("m" + std::to_string(i) + ".json");
    test_util::spit(file, manifest_described(descriptions.back()));
    CliRun r = test_util::run_cli({"manifest", "show", file}, [] { return kNow; });
    ASSERT_EQ(r.rc, 0) << "description " << i << ": " << escape_untrusted(descriptions.back()) << "\n" << r;
    ASSERT_TRUE(contains(r.out, "About     " + escape_untrusted(descriptions.back()) + "\n")) << r;
    expected += r.out;
    script += "'" + binary + "' manifest show '" + file + "'\n";
  }
  script += "touch '" + dir.file("done") + "'\nexec sleep 600\n";
  test_util::spit(dir.file("show.sh"), script);

  Tmux tmux(dir.path());
  ASSERT_EQ(sh(tmux.tmux() + " new-session -d -s fuzz -x 250 -y 50 \"sh '" + dir.file("show.sh") + "'\""), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir.file("done")) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir.file("done"))) << "manifest show did not finish in tmux";
  // The whole history, wrapped lines joined: the text as the terminal holds it, once tmux has
  // read all of it (the last line is there, or a few seconds have passed).
  const std::vector<std::string> want = lines_of(expected);
  std::vector<std::string> got;
  for (int tries = 0; tries < 100; ++tries) {
    got = lines_of(sh_output(tmux.tmux() + " capture-pane -p -J -S - -E - -t fuzz"));
    while (!got.empty() && got.back().empty()) got.pop_back();  // the rows below the output
    if (got.size() >= want.size() && !got.empty() && got.back() == want.back()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::size_t shown = 0;  // how many outputs of manifest show began by line i
  for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    const std::string w = i < want.size() ? want[i] : "<nothing>";
    const std::string g = i < got.size() ? got[i] : "<nothing>";
    if (w.rfind("Manifest  ", 0) == 0) ++shown;
    if (g != w) {
      const std::size_t d = shown == 0 ? 0 : shown - 1;
      FAIL() << "line " << i << " of the screen is not what manifest show printed\n  printed  " << w
             << "\n  screen   " << escape_untrusted(g) << " (escaped)\n  in the output for description " << d;
    }
  }
}

}  // namespace
}  // namespace countersign::cli
