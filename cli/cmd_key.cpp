// countersign key generate / public: software signing keys for CI and air-gapped laptops.
// (key list / enroll, for smartcards, are in cmd_piv.cpp.)
#include "cli/cli.h"
#include "cli/cmd_piv.h"
#include "core/fileio.h"
#include "core/policy.h"
#include "core/software_key.h"

namespace countersign::cli {

namespace {

nlohmann::json key_entry(const PublicKey& pk) {
  return policy_key_to_json(PolicyKey{pk, {}, false, std::nullopt});
}

struct GenerateArgs {
  std::string out, alg = "ed25519", passphrase_file;
  bool json = false;
};

int generate(Io& io, const GenerateArgs& a) {
  auto alg = alg_from_name(a.alg);
  if (!alg.ok()) return report_error(io, alg.error(), a.json);
  if (*alg != Alg::kEd25519 && *alg != Alg::kEcdsaP256) {
    return report_error(io, Error(Errc::kInvalidArgument, "software keys are ed25519 or ecdsa-p256"), a.json);
  }
  auto pass = obtain_passphrase(a.passphrase_file, kPassphraseEnv, "Passphrase for the new key: ", true);
  if (!pass.ok()) return report_error(io, pass.error(), a.json);
  auto key = SoftwareKey::generate(*alg);
  if (!key.ok()) return report_error(io, key.error(), a.json);
  auto saved = key->save(a.out, *pass, false);
  if (!saved.ok()) return report_error(io, saved.error(), a.json);
  print_json(io, key_entry(key->public_key()));
  io.err << "wrote " << a.out << " (mode 0600); key id " << key->public_key().id() << "\n";
  return kExitOk;
}

int show_public(Io& io, const std::string& path) {
  auto pk = SoftwareKey::read_public(path);
  if (!pk.ok()) return report_error(io, pk.error().with_context(path), false);
  print_json(io, key_entry(*pk));
  io.err << "key id " << pk->id() << "\n";
  return kExitOk;
}

}  // namespace

void add_key_commands(Registry& r) {
  auto* key = r.app.add_subcommand("key", "Generate and inspect signing keys: software keys and smartcards");
  key->require_subcommand(1);
  add_piv_key_commands(key, r);

  auto g = std::make_shared<GenerateArgs>();
  auto* gen = key->add_subcommand("generate", "Generate a passphrase-protected software signing key");
  gen->footer(std::string(
      "The key file is encrypted with the passphrase (Argon2id + XChaCha20-Poly1305) and written with mode\n"
      "0600; an existing file is never overwritten. Prints the policy key entry (alg, public_key) to paste\n"
      "into a policy's approver.\n\n"
      "The passphrase is asked twice on the terminal without echo. For CI use --passphrase-file FILE (one\n"
      "trailing newline is ignored) or the environment variable ") + kPassphraseEnv + ". Never on the command line.");
  gen->add_option("-o,--out", g->out, "Key file to create")->required();
  gen->add_option("--alg", g->alg, "ed25519 (default) or ecdsa-p256")->check(CLI::IsMember({"ed25519", "ecdsa-p256"}));
  gen->add_option("--passphrase-file", g->passphrase_file, "Read the passphrase from this file");
  gen->add_flag("--json", g->json, "Errors as JSON too");
  gen->callback([&io = r.io, &rc = r.rc, g] { rc = generate(io, *g); });

  auto path = std::make_shared<std::string>();
  auto* pub = key->add_subcommand("public", "Print the policy key entry of a key file (no passphrase needed)");
  pub->add_option("FILE", *path, "Key file")->required();
  pub->callback([&io = r.io, &rc = r.rc, path] { rc = show_public(io, *path); });
}

}  // namespace countersign::cli
