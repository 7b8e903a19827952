// countersign shamir split / combine / check, and key backup / restore: SLIP-0039 shares
// (shamir/slip39.h) of a secret or of a software signing key.
//
// Secrets never come from argv: the secret from --secret-file (hex) or --generate, the
// SLIP-39 passphrase from --passphrase-file or a no-echo prompt (--ask-passphrase), shares
// from standard input. Without either passphrase option the SLIP-39 passphrase is empty,
// as in Trezor's default.
//
// key backup encoding: the SLIP-39 secret is the key's raw 32-byte private key material
// (the Ed25519 seed, or the P-256 private scalar, big-endian), exactly what
// SoftwareKey::secret() holds and what other SLIP-39 tools will show. The algorithm is not
// in the shares (a prefix byte would make 264 bits, over SLIP-39's 256-bit limit for us):
// `key backup` prints the `key restore --alg ...` to use, `key restore` takes --alg
// (default ed25519) and prints the key id, and --expect-key-id makes the restore fail
// unless the key id is the one expected (which also catches a mistyped passphrase).
#include <charconv>
#include <cstring>
#include <sstream>

#include "cli/cli.h"
#include "core/fileio.h"
#include "core/policy.h"
#include "core/secret.h"
#include "core/software_key.h"
#include "shamir/slip39.h"

namespace countersign::cli {

namespace {

constexpr const char* kPassphraseHelp =
    "The SLIP-39 passphrase is optional (empty by default). It must be printable ASCII.\n"
    "A WRONG PASSPHRASE CANNOT BE DETECTED: by design every passphrase recovers some secret, so a\n"
    "mistyped one silently gives a different secret. Keep a way to recognise the right one (for keys,\n"
    "the key id).";

struct SplitOptions {
  unsigned group_threshold = 1;
  std::vector<std::string> groups;
  std::string passphrase_file;
  bool ask_passphrase = false;
  bool extendable = false;
  unsigned iteration_exponent = 1;
  bool json = false;
};

void add_split_options(CLI::App* cmd, SplitOptions& o) {
  cmd->add_option("--group-threshold", o.group_threshold, "Number of groups needed to recover")
      ->required()
      ->check(CLI::Range(1, 16));
  cmd->add_option("--group", o.groups,
                  "A group as T/N: T of its N shares are needed (repeat per group, up to 16)")
      ->required();
  cmd->add_flag("--extendable", o.extendable, "Set the SLIP-39 extendable backup flag");
  cmd->add_option("--iteration-exponent", o.iteration_exponent,
                  "PBKDF2 work factor e: 10000 * 2^e iterations (0-15, default 1)")
      ->check(CLI::Range(0, 15));
  cmd->add_flag("--json", o.json, "Print the shares as JSON for scripts");
}

Result<shamir::SplitParams> split_params(const SplitOptions& o) {
  shamir::SplitParams p;
  p.group_threshold = o.group_threshold;
  p.extendable = o.extendable;
  p.iteration_exponent = static_cast<std::uint8_t>(o.iteration_exponent);
  for (const std::string& g : o.groups) {
    const auto slash = g.find('/');
    unsigned t = 0, n = 0;
    const char* end = g.data() + g.size();
    if (slash == std::string::npos ||
        std::from_chars(g.data(), g.data() + slash, t).ptr != g.data() + slash ||
        std::from_chars(g.data() + slash + 1, end, n).ptr != end || slash == 0 || slash + 1 == g.size()) {
      return make_error(Errc::kInvalidArgument, "--group " + g + ": expected T/N, e.g. 2/3");
    }
    p.groups.push_back({t, n});
  }
  return p;
}

// The SLIP-39 passphrase: from a file, a prompt, or empty.
Result<SecretBytes> slip39_passphrase(const std::string& file, bool ask, bool confirm) {
  if (file.empty() && !ask) return SecretBytes();
  return obtain_passphrase(file, nullptr, "SLIP-39 passphrase: ", confirm);
}

// Hex digits (case-insensitive; surrounding whitespace ignored) to bytes, in guarded memory.
Result<SecretBytes> secret_from_hex(const SecretBytes& text) {
  std::size_t begin = 0, end = text.size();
  auto space = [](std::uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (begin < end && space(text.data()[begin])) ++begin;
  while (end > begin && space(text.data()[end - 1])) --end;
  if ((end - begin) % 2 != 0)
    return make_error(Errc::kMalformed, "the secret file must hold hex digits (an even number)");
  SecretBytes out((end - begin) / 2);
  auto value = [](std::uint8_t c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = value(text.data()[begin + 2 * i]);
    const int lo = value(text.data()[begin + 2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(Errc::kMalformed, "the secret file must hold only hex digits");
    out.data()[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

SecretBytes hex_of(const SecretBytes& secret) {
  static constexpr char kDigits[] = "0123456789abcdef";
  SecretBytes out(secret.size() * 2 + 1);
  for (std::size_t i = 0; i < secret.size(); ++i) {
    out.data()[2 * i] = static_cast<std::uint8_t>(kDigits[secret.data()[i] >> 4]);
    out.data()[2 * i + 1] = static_cast<std::uint8_t>(kDigits[secret.data()[i] & 0xF]);
  }
  out.data()[secret.size() * 2] = '\n';
  return out;
}

std::string_view text_of(const SecretBytes& s) { return as_chars(s.view()); }

void print_shares(Io& io, const shamir::ShareSet& set, std::size_t secret_bits, bool json) {
  if (json) {
    nlohmann::json groups = nlohmann::json::array();
    for (std::size_t g = 0; g < set.groups.size(); ++g) {
      nlohmann::json mnemonics = nlohmann::json::array();
      for (const SecretBytes& m : set.mnemonics[g]) mnemonics.push_back(std::string(text_of(m)));
      groups.push_back({{"threshold", set.groups[g].threshold},
                        {"count", set.groups[g].count},
                        {"mnemonics", std::move(mnemonics)}});
    }
    print_json(io, {{"identifier", set.identifier},
                    {"extendable", set.extendable},
                    {"iteration_exponent", set.iteration_exponent},
                    {"group_threshold", set.group_threshold},
                    {"secret_bits", secret_bits},
                    {"groups", std::move(groups)}});
    return;
  }
  io.out << "SLIP-39 shares of a " << secret_bits << "-bit secret (identifier " << set.identifier
         << ", iteration exponent " << unsigned{set.iteration_exponent}
         << (set.extendable ? ", extendable" : "") << "). Any " << set.group_threshold << " of the "
         << set.groups.size() << " groups recover it.\n";
  for (std::size_t g = 0; g < set.groups.size(); ++g) {
    io.out << "\nGroup " << g + 1 << " of " << set.groups.size() << " (" << set.groups[g].threshold << " of "
           << set.groups[g].count << " shares needed)\n";
    for (std::size_t m = 0; m < set.mnemonics[g].size(); ++m) {
      io.out << "  " << m + 1 << ". " << text_of(set.mnemonics[g][m]) << "\n";
    }
  }
  io.out.flush();
}

// Mnemonics from standard input: one a line, blank lines ignored, line numbers kept.
Result<std::vector<shamir::MnemonicInput>> read_mnemonics(Io& io) {
  std::vector<shamir::MnemonicInput> out;
  std::size_t line = 0;
  while (io.in.peek() != std::char_traits<char>::eof()) {
    ++line;
    CS_TRY(SecretBytes text, read_secret_line(io.in, 1024));
    // Accept lines as `split` prints them ("  2. word word ..."): drop the numbering.
    std::size_t i = 0;
    while (i < text.size() && (text.data()[i] == ' ' || text.data()[i] == '\t')) ++i;
    std::size_t digits = i;
    while (digits < text.size() && text.data()[digits] >= '0' && text.data()[digits] <= '9') ++digits;
    if (digits > i && digits + 1 < text.size() && text.data()[digits] == '.' &&
        text.data()[digits + 1] == ' ') {
      std::memmove(text.data(), text.data() + digits + 2, text.size() - digits - 2);
      text.truncate(text.size() - digits - 2);
    }
    bool blank = true;
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (text.data()[k] != ' ' && text.data()[k] != '\t') blank = false;
    }
    if (!blank) out.push_back({line, std::move(text)});
    if (out.size() > 256) return make_error(Errc::kInvalidArgument, "more than 256 shares on standard input");
  }
  if (out.empty()) {
    return make_error(Errc::kInvalidArgument, "no shares on standard input (one mnemonic a line)");
  }
  return out;
}

int split(Io& io, const SplitOptions& o, const std::string& secret_file, unsigned generate_bits) {
  auto params = split_params(o);
  if (!params.ok()) return report_error(io, params.error(), o.json);
  SecretBytes secret;
  if (!secret_file.empty()) {
    auto text = read_secret_file(secret_file, 1024);
    if (!text.ok()) return report_error(io, text.error(), o.json);
    auto bytes = secret_from_hex(*text);
    if (!bytes.ok()) return report_error(io, bytes.error().with_context(secret_file), o.json);
    secret = std::move(*bytes);
  } else {
    auto fresh = shamir::generate_master_secret(generate_bits);
    if (!fresh.ok()) return report_error(io, fresh.error().with_context("--generate"), o.json);
    secret = std::move(*fresh);
  }
  auto pass = slip39_passphrase(o.passphrase_file, o.ask_passphrase, true);
  if (!pass.ok()) return report_error(io, pass.error(), o.json);
  auto set = shamir::generate_mnemonics(secret, *pass, *params);
  if (!set.ok()) return report_error(io, set.error(), o.json);
  print_shares(io, *set, secret.size() * 8, o.json);
  io.err << "Give each share to its custodian; no single place should hold enough of them.\n";
  return kExitOk;
}

struct CombineOptions {
  std::string passphrase_file, out;
  bool ask_passphrase = false;
  bool json = false;
};

int combine(Io& io, const CombineOptions& o) {
  auto shares = read_mnemonics(io);
  if (!shares.ok()) return report_error(io, shares.error(), o.json);
  auto pass = slip39_passphrase(o.passphrase_file, o.ask_passphrase, false);
  if (!pass.ok()) return report_error(io, pass.error(), o.json);
  auto secret = shamir::combine_mnemonics(*shares, *pass);
  if (!secret.ok()) return report_error(io, secret.error(), o.json);
  const SecretBytes hex = hex_of(*secret);
  if (!o.out.empty() && o.out != "-") {
    // write_file_atomic takes a string_view; the bytes stay in guarded memory.
    auto written = write_file_atomic(o.out, text_of(hex), 0600, true);
    if (!written.ok()) return report_error(io, written.error(), o.json);
    io.err << "wrote the " << secret->size() * 8 << "-bit secret as hex to " << o.out << " (mode 0600)\n";
  } else {
    io.out << text_of(hex);
    io.out.flush();
  }
  return kExitOk;
}

int check(Io& io, bool json) {
  auto shares = read_mnemonics(io);
  if (!shares.ok()) return report_error(io, shares.error(), json);
  auto report = shamir::check_mnemonics(*shares);
  if (!report.ok()) return report_error(io, report.error(), json);
  const shamir::CheckReport& r = *report;
  if (json) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : r.groups) {
      groups.push_back({{"group", g.number}, {"threshold", g.threshold}, {"shares", g.shares_present}});
    }
    print_json(io, {{"ok", r.problems.empty()},
                    {"identifier", r.identifier},
                    {"extendable", r.extendable},
                    {"iteration_exponent", r.iteration_exponent},
                    {"group_threshold", r.group_threshold},
                    {"group_count", r.group_count},
                    {"secret_bits", r.secret_bits},
                    {"groups", std::move(groups)},
                    {"problems", r.problems},
                    {"subsets_recovered", r.subsets_recovered},
                    {"subsets_total", r.subsets_total},
                    {"capped", r.capped}});
  } else {
    io.out << "SLIP-39 set: identifier " << r.identifier << ", " << r.secret_bits
           << "-bit secret, iteration exponent " << unsigned{r.iteration_exponent}
           << (r.extendable ? ", extendable" : "") << "; " << r.group_threshold << " of " << r.group_count
           << " groups needed\n";
    for (const auto& g : r.groups) {
      io.out << "  group " << g.number << ": " << g.shares_present << " share"
             << (g.shares_present == 1 ? "" : "s");
      if (g.threshold > 0) io.out << ", " << g.threshold << " needed";
      io.out << "\n";
    }
    io.out << "Every share has a valid checksum. Recovered " << r.subsets_recovered
           << " threshold subsets (members within each group, then groups) with valid digests";
    if (r.capped) io.out << " (capped: not every subset was recovered one by one)";
    io.out
        << "; all " << r.subsets_total
        << " threshold subsets of the whole set agree, since every share lies on its group's polynomial.\n";
    for (const auto& p : r.problems) io.out << "PROBLEM: " << p << "\n";
    io.out << (r.problems.empty() ? "OK" : "FAILED")
           << " (the passphrase is not checked: a wrong one cannot be detected)\n";
  }
  if (!r.problems.empty()) {
    io.err << "countersign: error: the set of shares has " << r.problems.size() << " problem"
           << (r.problems.size() == 1 ? "" : "s") << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

struct BackupOptions {
  std::string key_file, key_passphrase_file;
  SplitOptions split;
};

int key_backup(Io& io, const BackupOptions& o) {
  auto params = split_params(o.split);
  if (!params.ok()) return report_error(io, params.error(), o.split.json);
  auto key_pass =
      obtain_passphrase(o.key_passphrase_file, kPassphraseEnv, "Passphrase of " + o.key_file + ": ", false);
  if (!key_pass.ok()) return report_error(io, key_pass.error(), o.split.json);
  auto key = SoftwareKey::load(o.key_file, *key_pass);
  if (!key.ok()) return report_error(io, key.error().with_context(o.key_file), o.split.json);
  auto pass = slip39_passphrase(o.split.passphrase_file, o.split.ask_passphrase, true);
  if (!pass.ok()) return report_error(io, pass.error(), o.split.json);
  auto set = shamir::generate_mnemonics(key->secret(), *pass, *params);
  if (!set.ok()) return report_error(io, set.error(), o.split.json);
  const std::string alg(alg_name(key->public_key().alg()));
  if (o.split.json) {
    // The share document plus what restore needs to know.
    std::ostringstream shares_out;
    Io inner{io.in, shares_out, io.err, io.now, io.err_is_tty, io.getenv};
    print_shares(inner, *set, key->secret().size() * 8, true);
    nlohmann::json doc = nlohmann::json::parse(shares_out.str());
    doc["alg"] = alg;
    doc["key_id"] = key->public_key().id();
    print_json(io, doc);
  } else {
    print_shares(io, *set, key->secret().size() * 8, false);
    io.out << "\nKey: " << alg << ", key id " << key->public_key().id() << "\n"
           << "Restore with: countersign key restore --alg " << alg << " --expect-key-id "
           << key->public_key().id() << " --out KEYFILE < shares.txt\n";
  }
  return kExitOk;
}

struct RestoreOptions {
  std::string out, alg = "ed25519", key_passphrase_file, slip39_passphrase_file, expect_key_id;
  bool ask_passphrase = false;
  bool json = false;
};

int key_restore(Io& io, const RestoreOptions& o) {
  auto alg = alg_from_name(o.alg);
  if (!alg.ok()) return report_error(io, alg.error(), o.json);
  auto shares = read_mnemonics(io);
  if (!shares.ok()) return report_error(io, shares.error(), o.json);
  auto pass = slip39_passphrase(o.slip39_passphrase_file, o.ask_passphrase, false);
  if (!pass.ok()) return report_error(io, pass.error(), o.json);
  auto secret = shamir::combine_mnemonics(*shares, *pass);
  if (!secret.ok()) return report_error(io, secret.error(), o.json);
  if (secret->size() != 32) {
    return report_error(
        io,
        Error(Errc::kInvalidArgument, "these shares hold a " + std::to_string(secret->size() * 8) +
                                          "-bit secret; a software key backup holds 256 bits"),
        o.json);
  }
  auto key = SoftwareKey::from_secret(*alg, *secret);
  if (!key.ok()) return report_error(io, key.error(), o.json);
  if (!o.expect_key_id.empty() && key->public_key().id() != o.expect_key_id) {
    return report_error(io,
                        Error(Errc::kRejected, "the restored key has key id " + key->public_key().id() +
                                                   ", not " + o.expect_key_id +
                                                   ": wrong SLIP-39 passphrase, wrong --alg or shares of "
                                                   "another key; nothing was written"),
                        o.json);
  }
  auto key_pass =
      obtain_passphrase(o.key_passphrase_file, kPassphraseEnv, "Passphrase for the restored key: ", true);
  if (!key_pass.ok()) return report_error(io, key_pass.error(), o.json);
  auto saved = key->save(o.out, *key_pass, false);
  if (!saved.ok()) return report_error(io, saved.error(), o.json);
  print_json(io, policy_key_to_json(PolicyKey{key->public_key(), {}, false, std::nullopt}));
  io.err << "wrote " << o.out << " (mode 0600); " << o.alg << " key id " << key->public_key().id() << "\n"
         << "Compare the key id with the policy: a wrong SLIP-39 passphrase gives another valid key.\n";
  return kExitOk;
}

}  // namespace

void add_shamir_commands(Registry& r) {
  auto* shamir_cmd =
      r.app.add_subcommand("shamir", "Split a secret into SLIP-39 (Trezor-compatible) shares and recover it");
  shamir_cmd->require_subcommand(1);
  shamir_cmd->footer(
      std::string(
          "Shares are SLIP-0039 mnemonics (20 words for 128 bits, 33 for 256), compatible with Trezor and\n"
          "python-shamir-mnemonic. Groups: --group-threshold G of the groups, each --group T/N needing T of\n"
          "its N shares.\n\n") +
      kPassphraseHelp);

  auto so = std::make_shared<SplitOptions>();
  auto secret_file = std::make_shared<std::string>();
  auto generate_bits = std::make_shared<unsigned>(0);
  auto* sp = shamir_cmd->add_subcommand("split", "Split a secret into SLIP-39 shares, grouped and numbered");
  add_split_options(sp, *so);
  auto* sf =
      sp->add_option("--secret-file", *secret_file,
                     "File holding the secret as hex digits (16 to 32 bytes, even; one trailing newline ok)");
  auto* gen =
      sp->add_option("--generate", *generate_bits, "Make a fresh random secret of this many bits (128-256)");
  sf->excludes(gen);
  sp->add_option("--passphrase-file", so->passphrase_file, "Read the SLIP-39 passphrase from this file");
  sp->add_flag("--ask-passphrase", so->ask_passphrase,
               "Ask for the SLIP-39 passphrase on the terminal (twice)");
  sp->footer(
      std::string(
          "Exactly one of --secret-file or --generate. The secret is never taken from the command "
          "line.\nWith --generate the secret exists only in the shares: recover it with combine.\n\n") +
      kPassphraseHelp);
  sp->callback([&io = r.io, &rc = r.rc, so, secret_file, generate_bits, sf, gen] {
    if (sf->count() == 0 && gen->count() == 0) {
      rc = report_error(io, Error(Errc::kInvalidArgument, "give --secret-file FILE or --generate BITS"),
                        so->json);
      return;
    }
    rc = split(io, *so, *secret_file, *generate_bits);
  });

  auto co = std::make_shared<CombineOptions>();
  auto* cb = shamir_cmd->add_subcommand("combine", "Recover a secret from SLIP-39 shares on standard input");
  cb->add_option("--passphrase-file", co->passphrase_file, "Read the SLIP-39 passphrase from this file");
  cb->add_flag("--ask-passphrase", co->ask_passphrase, "Ask for the SLIP-39 passphrase on the terminal");
  cb->add_option("-o,--out", co->out,
                 "Write the secret (hex) to this new file, mode 0600, instead of stdout");
  cb->add_flag("--json", co->json, "Errors as JSON too");
  cb->footer(
      std::string("Reads one mnemonic a line, in any order; blank lines are ignored and extra shares are\n"
                  "allowed (they must agree with the others). Errors name the line of the share.\n\n") +
      kPassphraseHelp);
  cb->callback([&io = r.io, &rc = r.rc, co] { rc = combine(io, *co); });

  auto check_json = std::make_shared<bool>(false);
  auto* ck =
      shamir_cmd->add_subcommand("check", "Validate a full set of SLIP-39 shares without showing the secret");
  ck->add_flag("--json", *check_json, "Report as JSON");
  ck->footer(
      "Reads every share of a set on standard input and checks each checksum, that every group can be\n"
      "reached, and that every threshold subset recovers the same secret. No passphrase is asked:\n"
      "a wrong passphrase cannot be detected by design. Exit 0 when the set is good, 1 otherwise.");
  ck->callback([&io = r.io, &rc = r.rc, check_json] { rc = check(io, *check_json); });

  // key backup / restore live under `key`.
  CLI::App* key = r.app.get_subcommand("key");
  auto bo = std::make_shared<BackupOptions>();
  auto* bk = key->add_subcommand("backup", "Split a software signing key into SLIP-39 shares");
  bk->add_option("KEYFILE", bo->key_file, "Key file to back up")->required();
  add_split_options(bk, bo->split);
  bk->add_option("--passphrase-file", bo->key_passphrase_file,
                 "Read the key file's passphrase from this file");
  bk->add_option("--slip39-passphrase-file", bo->split.passphrase_file,
                 "Read a SLIP-39 passphrase from this file");
  bk->add_flag("--ask-slip39-passphrase", bo->split.ask_passphrase,
               "Ask for a SLIP-39 passphrase on the terminal");
  bk->footer(
      std::string(
          "The shares hold the key's 32 bytes of private key material (Ed25519 seed or P-256 scalar).\n"
          "The algorithm is not in the shares: the output says which `key restore --alg` to use.\n\n") +
      kPassphraseHelp);
  bk->callback([&io = r.io, &rc = r.rc, bo] { rc = key_backup(io, *bo); });

  auto ro = std::make_shared<RestoreOptions>();
  auto* rs =
      key->add_subcommand("restore", "Rebuild a software signing key file from SLIP-39 shares on stdin");
  rs->add_option("-o,--out", ro->out, "Key file to create")->required();
  rs->add_option("--alg", ro->alg, "ed25519 (default) or ecdsa-p256, as printed by key backup")
      ->check(CLI::IsMember({"ed25519", "ecdsa-p256"}));
  rs->add_option("--expect-key-id", ro->expect_key_id, "Fail unless the restored key has this key id");
  rs->add_option("--passphrase-file", ro->key_passphrase_file,
                 "Read the new key file's passphrase from this file");
  rs->add_option("--slip39-passphrase-file", ro->slip39_passphrase_file,
                 "Read the SLIP-39 passphrase from this file");
  rs->add_flag("--ask-slip39-passphrase", ro->ask_passphrase,
               "Ask for the SLIP-39 passphrase on the terminal");
  rs->add_flag("--json", ro->json, "Errors as JSON too");
  rs->footer(std::string("Shares are read one a line from standard input. Prints the policy key entry.\n\n") +
             kPassphraseHelp);
  rs->callback([&io = r.io, &rc = r.rc, ro] { rc = key_restore(io, *ro); });
}

}  // namespace countersign::cli
