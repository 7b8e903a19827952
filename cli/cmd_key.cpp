// countersign key generate / public: software signing keys for CI and air-gapped laptops.
// countersign key list / enroll: FIDO2 security keys (smartcard/fido2_device.h) and PIV cards
// (cli/cmd_piv.h).
#include "cli/cli.h"
#include "cli/cmd_piv.h"
#include "cli/fido2_cli.h"
#include "core/fileio.h"
#include "core/policy.h"
#include "core/software_key.h"
#include "smartcard/attestation.h"

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
  bool json = false, fido2 = false, piv = false;
};

int list_fido2(Io& io, const ListArgs& a, nlohmann::json& all);

// Both kinds unless --fido2 / --piv (or --device, a FIDO2 path) narrows it. Without a filter a
// missing PC/SC service is a note, not an error: a laptop with only a security key has no pcscd.
int list_keys(Io& io, const ListArgs& a) {
  const bool fido2 = a.fido2 || !a.device.empty() || !a.piv;
  const bool piv = a.piv || (!a.fido2 && a.device.empty());
  nlohmann::json all = nlohmann::json::array();
  if (fido2) {
    int rc = list_fido2(io, a, all);
    if (rc != kExitOk) return rc;
  }
  if (piv) {
    auto cards = list_piv(io, !a.json);
    if (!cards.ok()) {
      if (a.piv) return report_error(io, cards.error(), a.json);
      if (!a.json) io.out << "Smartcards: not available (" << cards.error().message << ")\n";
    } else {
      for (auto& c : *cards) all.push_back(std::move(c));
    }
  }
  if (a.json) print_json(io, all);
  return kExitOk;
}

int list_fido2(Io& io, const ListArgs& a, nlohmann::json& all) {
  std::vector<std::pair<std::string, std::string>> paths;  // path, "manufacturer product"
  if (!a.device.empty()) {
    paths.emplace_back(a.device, "");
  } else {
    auto found = fido2::list_devices();
    if (!found.ok()) return report_error(io, found.error(), a.json);
    for (const auto& d : *found) {
      std::string product = d.manufacturer;
      if (!d.product.empty()) product += (product.empty() ? "" : " ") + d.product;
      paths.emplace_back(d.path, product);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [path, product] : paths) {
    nlohmann::json entry{{"type", "fido2"}, {"path", path}};
    if (!product.empty()) entry["product"] = product;
    auto dev = open_fido2(path);
    auto info = dev.ok() ? dev->info() : Result<fido2::AuthenticatorInfo>(dev.error());
    if (!info.ok()) {
      entry["error"] = info.error().message;
    } else {
      entry["aaguid"] = hex_encode(info->aaguid);
      if (auto model = attestation::fido2_model(info->aaguid); !model.empty()) entry["model"] = model;
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
  for (const auto& e : out) all.push_back(e);
  if (a.json) return kExitOk;
  if (out.empty()) {
    io.out << "No security keys found (no FIDO2 authenticator is connected).\n";
    return kExitOk;
  }
  for (const auto& e : out) {
    io.out << "FIDO2 " << e["path"].get<std::string>();
    if (e.contains("product")) io.out << ": " << e["product"].get<std::string>();
    io.out << "\n";
    if (e.contains("error")) {
      io.out << "  error: " << e["error"].get<std::string>() << "\n";
      continue;
    }
    io.out << "  aaguid:     " << e["aaguid"].get<std::string>();
    if (e.contains("model")) io.out << " (" << e["model"].get<std::string>() << ")";
    io.out << "\n";
    io.out << "  versions:  ";
    for (const auto& v : e["versions"]) io.out << " " << v.get<std::string>();
    io.out << "\n  algorithms:";
    for (const auto& v : e["algorithms"]) io.out << " " << v.get<std::string>();
    if (e.contains("firmware")) {
      // CTAP firmwareVersion; YubiKeys encode major.minor.patch as bytes (5.4.3 = 0x050403).
      const auto fw = e["firmware"].get<std::uint64_t>();
      io.out << "\n  firmware:   ";
      if (fw > 0xFFFF && fw <= 0xFFFFFF)
        io.out << (fw >> 16) << "." << ((fw >> 8) & 0xFF) << "." << (fw & 0xFF);
      else
        io.out << fw;
    }
    io.out << "\n  PIN:        "
           << (e["pin_set"].get<bool>() ? "set, " + std::to_string(e.value("pin_retries", -1)) + " tries left"
                                        : std::string("not set"))
           << "\n";
  }
  return kExitOk;
}

struct EnrollArgs {
  std::string device, alg, name, pin_file, out;  // alg: empty means es256
  bool fido2 = false, uv = false, resident = false, json = false, piv = false;
  PivEnrollArgs piv_args;
};

int enroll(Io& io, const EnrollArgs& a) {
  if (a.fido2 == a.piv) {
    return report_error(
        io, Error(Errc::kInvalidArgument, "say which kind of key to enroll: --fido2 or --piv"), a.json);
  }
  // Before any touch, PIN or key generation: -o never overwrites, so say so first.
  if (!a.out.empty() && a.out != "-") {
    auto absent = refuse_existing(a.out);
    if (!absent.ok()) return report_error(io, absent.error().with_context("-o"), a.json);
  }
  if (a.piv) {
    if (!a.device.empty() || a.uv || a.resident) {
      return report_error(io, Error(Errc::kInvalidArgument, "--device, --uv and --resident are for --fido2"),
                          a.json);
    }
    PivEnrollArgs p = a.piv_args;
    if (!p.generate && (!a.alg.empty() || !a.pin_file.empty())) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument,
                "--alg and --pin-file go with --generate: an existing slot's key is read from its "
                "certificate (no PIN needed)"),
          a.json);
    }
    if (!a.alg.empty()) {
      if (a.alg != "ecdsa-p256" && a.alg != "ecdsa-p384") {
        return report_error(
            io, Error(Errc::kInvalidArgument, "--piv --generate makes ecdsa-p256 or ecdsa-p384 keys"),
            a.json);
      }
      p.alg = a.alg;
    }
    p.name = a.name;
    p.out = a.out;
    p.json = a.json;
    p.pin_file = a.pin_file;
    return enroll_piv(io, p);
  }
  if (!a.alg.empty() && a.alg != "es256" && a.alg != "eddsa") {
    return report_error(io, Error(Errc::kInvalidArgument, "--fido2 makes es256 or eddsa credentials"),
                        a.json);
  }
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
  auto* key = r.app.add_subcommand("key", "Signing keys: software keys, FIDO2 security keys, PIV smartcards");
  key->require_subcommand(1);

  auto g = std::make_shared<GenerateArgs>();
  auto* gen = key->add_subcommand("generate", "Generate a passphrase-protected software signing key");
  gen->footer(std::string("The key file is encrypted with the passphrase (Argon2id + XChaCha20-Poly1305) and "
                          "written with mode\n"
                          "0600; an existing file is never overwritten. Prints the policy key entry (alg, "
                          "public_key) to paste\n"
                          "into a policy's approver.\n\n"
                          "The passphrase is asked twice on the terminal without echo. For CI use "
                          "--passphrase-file FILE (one\n"
                          "trailing newline is ignored) or the environment variable ") +
              kPassphraseEnv + ". Never on the command line.");
  gen->add_option("-o,--out", g->out, "Key file to create")->required();
  gen->add_option("--alg", g->alg, "ed25519 (default) or ecdsa-p256")
      ->check(CLI::IsMember({"ed25519", "ecdsa-p256"}));
  gen->add_option("--passphrase-file", g->passphrase_file, "Read the passphrase from this file");
  gen->add_flag("--json", g->json, "Errors as JSON too");
  gen->callback([&io = r.io, &rc = r.rc, g] { rc = generate(io, *g); });

  auto path = std::make_shared<std::string>();
  auto* pub =
      key->add_subcommand("public", "Print the policy key entry of a key file (no passphrase needed)");
  pub->add_option("FILE", *path, "Key file")->required();
  pub->callback([&io = r.io, &rc = r.rc, path] { rc = show_public(io, *path); });

  auto l = std::make_shared<ListArgs>();
  auto* list =
      key->add_subcommand("list", "List connected FIDO2 security keys and smartcard readers with PIV cards");
  list->footer(
      "Shows each authenticator's path, AAGUID, CTAP versions, algorithms and PIN state, then every PC/SC\n"
      "reader and its card (PIV or YubiKey PIV: firmware, serial, slots with their keys, PIN tries).\n"
      "With none connected it says so and exits 0. --device unix:PATH reaches an authenticator on a\n"
      "Unix socket (a virtual one, tests/tools/virtual-fido2).");
  list->add_flag("--fido2", l->fido2, "Only FIDO2 security keys");
  list->add_flag("--piv", l->piv, "Only smartcard readers and PIV cards");
  list->add_option("--device", l->device, "Only this authenticator (hidraw path or unix:PATH)");
  list->add_flag("--json", l->json, "Print the list as JSON");
  list->callback([&io = r.io, &rc = r.rc, l] { rc = list_keys(io, *l); });

  auto e = std::make_shared<EnrollArgs>();
  auto* en =
      key->add_subcommand("enroll", "Print the policy key entry of a FIDO2 security key or a PIV card slot");
  en->footer(
      std::string("Makes a credential for the relying party \"countersign\" (non-resident unless "
                  "--resident) and prints\n"
                  "the policy key entry: alg, public_key (SPKI), credential_id, uv and the packed "
                  "attestation. The PIN\n"
                  "is asked when the key has one (or --pin-file FILE, or the environment variable ") +
      kPinEnv +
      ").\n"
      "--uv makes the entry demand user verification (the PIN) for every signature.\n\n"
      "--piv reads the slot's certificate (no PIN needed) and prints the entry (alg ecdsa-p256 or\n"
      "ecdsa-p384, public_key); on a YubiKey it adds the attestation (format yubikey-piv: the slot's\n"
      "attestation certificate and the attestation key's certificate).\n\n"
      "--piv --generate makes a new key inside the card first: it authenticates with the card management\n"
      "key (--management-key-file FILE holding it in hex, or the environment variable " +
      std::string(kManagementKeyEnv) +
      ";\n"
      "otherwise the factory default, with a warning), generates the key (--alg ecdsa-p256 or ecdsa-p384,\n"
      "--pin-policy and --touch-policy on a YubiKey), then asks the PIN (or --pin-file) so the card can "
      "sign\n"
      "a self-signed certificate for the key, stored in the slot. A slot that holds a key is refused\n"
      "unless --overwrite. The attestation then proves the key was made in the YubiKey.\n\n"
      "Examples:\n"
      "  countersign key enroll --fido2 --uv --name alice -o alice.json\n"
      "  countersign key enroll --piv --slot 9c --name bob -o bob.json\n"
      "  countersign key enroll --piv --generate --pin-policy always --touch-policy always --name carol");
  auto* en_fido2 = en->add_flag("--fido2", e->fido2, "Enroll a FIDO2 security key (makes a credential)");
  auto* en_piv = en->add_flag("--piv", e->piv, "Enroll the key in a PIV smartcard or YubiKey PIV slot");
  en_fido2->excludes(en_piv);
  en->add_option("--reader", e->piv_args.reader,
                 "PIV: PC/SC reader name (default: the only reader with a card)")
      ->needs(en_piv);
  en->add_option("--slot", e->piv_args.slot, "PIV: slot 9a, 9c (default), 9d or 9e")->needs(en_piv);
  en->add_option("--device", e->device, "hidraw path or unix:PATH (default: the only one connected)");
  en->add_option("--alg", e->alg,
                 "FIDO2: es256 (default) or eddsa; PIV --generate: ecdsa-p256 (default) or ecdsa-p384")
      ->check(CLI::IsMember({"es256", "eddsa", "ecdsa-p256", "ecdsa-p384"}));
  auto* en_gen =
      en->add_flag("--generate", e->piv_args.generate, "PIV: make a new key in the card (see below)")
          ->needs(en_piv);
  en->add_flag("--overwrite", e->piv_args.overwrite, "PIV --generate: replace a key the slot holds")
      ->needs(en_gen);
  en->add_option("--pin-policy", e->piv_args.pin_policy, "YubiKey --generate: default, never, once or always")
      ->check(CLI::IsMember({"default", "never", "once", "always"}))
      ->needs(en_gen);
  en->add_option("--touch-policy", e->piv_args.touch_policy,
                 "YubiKey --generate: default, never, always or cached")
      ->check(CLI::IsMember({"default", "never", "always", "cached"}))
      ->needs(en_gen);
  en->add_option("--management-key-file", e->piv_args.management_key_file,
                 "PIV --generate: file with the card management key in hex")
      ->needs(en_gen);
  en->add_option(
        "--management-key-alg", e->piv_args.management_key_alg,
        "PIV --generate: 3des, aes128, aes192 or aes256 (default: aes192 on YubiKey 5.7+, else 3des)")
      ->check(CLI::IsMember({"3des", "aes128", "aes192", "aes256"}))
      ->needs(en_gen);
  en->add_flag("--uv", e->uv, "Signatures must carry user verification (PIN)");
  en->add_flag("--resident", e->resident, "Store the credential on the key (discoverable)");
  en->add_option("--name", e->name, "Your approver id (FIDO2: stored with the credential)")->required();
  en->add_option("--pin-file", e->pin_file, "Read the PIN from this file");
  en->add_option("-o,--out", e->out, "Write the key entry here instead of standard output");
  en->add_flag("--json", e->json, "Errors as JSON too");
  en->callback([&io = r.io, &rc = r.rc, e] { rc = enroll(io, *e); });
}

}  // namespace countersign::cli
