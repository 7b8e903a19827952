// countersign key generate / public: software signing keys for CI and air-gapped laptops.
// countersign key list / enroll --fido2: FIDO2 security keys (smartcard/fido2_device.h).
#include "cli/cli.h"
#include "cli/fido2_cli.h"
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

struct ListArgs {
  std::string device;
  bool json = false;
};

int list_keys(Io& io, const ListArgs& a) {
  std::vector<std::string> paths;
  if (!a.device.empty()) {
    paths.push_back(a.device);
  } else {
    auto found = fido2::list_devices();
    if (!found.ok()) return report_error(io, found.error(), a.json);
    for (const auto& d : *found) paths.push_back(d.path);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& path : paths) {
    nlohmann::json entry{{"type", "fido2"}, {"path", path}};
    auto dev = open_fido2(path);
    auto info = dev.ok() ? dev->info() : Result<fido2::AuthenticatorInfo>(dev.error());
    if (!info.ok()) {
      entry["error"] = info.error().message;
    } else {
      entry["aaguid"] = hex_encode(info->aaguid);
      entry["versions"] = info->versions;
      nlohmann::json algs = nlohmann::json::array();
      for (int cose : info->algorithms)
        algs.push_back(cose == -7 ? "es256" : cose == -8 ? "eddsa" : std::to_string(cose));
      entry["algorithms"] = algs;
      entry["pin_set"] = info->pin_set;
      if (info->pin_retries >= 0) entry["pin_retries"] = info->pin_retries;
      if (info->firmware_version != 0) entry["firmware"] = info->firmware_version;
    }
    out.push_back(entry);
  }
  if (a.json) {
    print_json(io, out);
    return kExitOk;
  }
  if (out.empty()) {
    io.out << "No security keys found (no FIDO2 authenticator is connected).\n";
    return kExitOk;
  }
  for (const auto& e : out) {
    io.out << "FIDO2 " << e["path"].get<std::string>() << "\n";
    if (e.contains("error")) {
      io.out << "  error: " << e["error"].get<std::string>() << "\n";
      continue;
    }
    io.out << "  aaguid:     " << e["aaguid"].get<std::string>() << "\n";
    io.out << "  versions:  ";
    for (const auto& v : e["versions"]) io.out << " " << v.get<std::string>();
    io.out << "\n  algorithms:";
    for (const auto& v : e["algorithms"]) io.out << " " << v.get<std::string>();
    io.out << "\n  PIN:        "
           << (e["pin_set"].get<bool>() ? "set, " + std::to_string(e.value("pin_retries", -1)) + " tries left"
                                        : std::string("not set"))
           << "\n";
  }
  return kExitOk;
}

struct EnrollArgs {
  std::string device, alg = "es256", name, pin_file, out;
  bool fido2 = false, uv = false, resident = false, json = false;
};

int enroll(Io& io, const EnrollArgs& a) {
  if (!a.fido2)
    return report_error(io, Error(Errc::kInvalidArgument, "say which kind of key to enroll: --fido2"), a.json);
  auto dev = open_fido2(a.device);
  if (!dev.ok()) return report_error(io, dev.error(), a.json);
  auto info = dev->info();
  if (!info.ok()) return report_error(io, info.error(), a.json);
  std::optional<SecretBytes> pin;
  if (info->pin_set) {
    auto p = obtain_pin(a.pin_file);
    if (!p.ok()) return report_error(io, p.error(), a.json);
    pin = std::move(*p);
  } else if (a.uv) {
    io.err << "note: this security key has no PIN; --uv needs built-in user verification (set a PIN with\n"
              "      your vendor's tool, e.g. `ykman fido access change-pin`, if enrolment fails)\n";
  }
  fido2::MakeCredentialRequest req;
  req.alg = a.alg == "eddsa" ? Alg::kFido2EdDsa : Alg::kFido2Es256;
  req.uv = a.uv;
  req.resident = a.resident;
  req.user_name = a.name;
  io.err << "Touch your security key.\n";
  auto key = dev->make_credential(req, pin ? &*pin : nullptr);
  if (pin) pin->clear();
  if (!key.ok()) return report_error(io, key.error(), a.json);
  auto written = write_output(io, a.out, to_pretty_json(policy_key_to_json(*key)), true);
  if (!written.ok()) return report_error(io, written.error(), a.json);
  io.err << "enrolled " << a.name << ": " << alg_name(key->key.alg()) << " key id " << key->key.id() << "\n";
  return kExitOk;
}

}  // namespace

void add_key_commands(Registry& r) {
  auto* key = r.app.add_subcommand("key", "Software signing keys and FIDO2 security keys");
  key->require_subcommand(1);

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

  auto l = std::make_shared<ListArgs>();
  auto* list = key->add_subcommand("list", "List connected FIDO2 security keys");
  list->footer("Shows each authenticator's path, AAGUID, CTAP versions, algorithms and PIN state. With none\n"
               "connected it says so and exits 0. --device unix:PATH reaches an authenticator on a Unix socket\n"
               "(a virtual one, tests/tools/virtual-fido2).");
  list->add_option("--device", l->device, "Only this authenticator (hidraw path or unix:PATH)");
  list->add_flag("--json", l->json, "Print the list as JSON");
  list->callback([&io = r.io, &rc = r.rc, l] { rc = list_keys(io, *l); });

  auto e = std::make_shared<EnrollArgs>();
  auto* en = key->add_subcommand("enroll", "Make a signing credential on a FIDO2 security key");
  en->footer(std::string(
      "Makes a credential for the relying party \"countersign\" (non-resident unless --resident) and prints\n"
      "the policy key entry: alg, public_key (SPKI), credential_id, uv and the packed attestation. The PIN\n"
      "is asked when the key has one (or --pin-file FILE, or the environment variable ") + kPinEnv + ").\n"
      "--uv makes the entry demand user verification (the PIN) for every signature.");
  en->add_flag("--fido2", e->fido2, "Enroll a FIDO2 security key")->required();
  en->add_option("--device", e->device, "hidraw path or unix:PATH (default: the only one connected)");
  en->add_option("--alg", e->alg, "es256 (default) or eddsa")->check(CLI::IsMember({"es256", "eddsa"}));
  en->add_flag("--uv", e->uv, "Signatures must carry user verification (PIN)");
  en->add_flag("--resident", e->resident, "Store the credential on the key (discoverable)");
  en->add_option("--name", e->name, "Your approver id or name, stored with the credential")->required();
  en->add_option("--pin-file", e->pin_file, "Read the PIN from this file");
  en->add_option("-o,--out", e->out, "Write the key entry here instead of standard output");
  en->add_flag("--json", e->json, "Errors as JSON too");
  en->callback([&io = r.io, &rc = r.rc, e] { rc = enroll(io, *e); });
}

}  // namespace countersign::cli
