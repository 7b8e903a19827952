// countersign sign: one approver's vote on a proposal, with a software key (--key), a PIV
// card (--piv) or a FIDO2 security key (--fido2).
#include "cli/cli.h"
#include "cli/cmd_piv.h"
#include "cli/fido2_cli.h"
#include "cli/load.h"
#include "core/review.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "core/software_key.h"
#include "smartcard/fido2_signer.h"

namespace countersign::cli {

namespace {

struct SignArgs {
  std::string key, proposal, out, passphrase_file, signer, device, policy, pin_file;
  bool json = false, fido2 = false, piv = false;
  PivOptions piv_options;
};

// The signer for --fido2: the policy key whose credential the connected authenticator holds.
Result<fido2::Fido2Signer> fido2_signer(Io& io, const SignArgs& a, const Proposal& p) {
  if (a.policy.empty()) return make_error(Errc::kInvalidArgument, "--fido2 needs --policy POLICY (it names the credentials)");
  CS_TRY(Policy policy, load_document<Policy>(io, a.policy));
  if (policy.domain() != p.domain())
    return make_error(Errc::kRejected, "the proposal is for domain \"" + p.domain() + "\" but the policy is for \"" +
                                           policy.domain() + "\"");
  CS_TRY(fido2::Device dev, open_fido2(a.device));
  for (const auto& approver : policy.approvers()) {
    for (const auto& key : approver.keys) {
      if (!is_fido2(key.key.alg()) || key.credential_id.empty()) continue;
      CS_TRY(bool held, dev.has_credential(key.credential_id));
      if (!held) continue;
      io.err << "security key holds the credential of " << approver.id << " (key " << key.key.id().substr(0, 16)
             << ")\n";
      const std::string pin_file = a.pin_file;
      return fido2::Fido2Signer::create(std::move(dev), key, [&io, pin_file]() -> Result<SecretBytes> {
        auto pin = obtain_pin(pin_file);
        if (pin.ok()) io.err << "Touch your security key.\n";
        return pin;
      });
    }
  }
  return make_error(Errc::kNotFound, "this security key holds none of the policy's FIDO2 credentials");
}

int sign(Io& io, const SignArgs& a) {
  auto p = load_document<Proposal>(io, a.proposal);
  if (!p.ok()) return report_error(io, p.error(), a.json);
  UnixTime now = io.now();
  if (auto fresh = p->refuse_if_expired(now); !fresh.ok()) return report_error(io, fresh.error(), a.json);
  // Show what is being signed before asking for the passphrase.
  io.err << "Signing:\n" << describe_proposal(*p, now);
  if (int(a.piv) + int(a.fido2) + int(!a.key.empty()) != 1) {
    return report_error(io, Error(Errc::kInvalidArgument, "sign needs exactly one of --key FILE, --piv or --fido2"),
                        a.json);
  }
  std::optional<std::string> signer;
  if (!a.signer.empty()) signer = a.signer;
  if (a.fido2) {
    auto fs = fido2_signer(io, a, *p);
    if (!fs.ok()) return report_error(io, fs.error(), a.json);
    if (!fs->requires_pin()) io.err << "Touch your security key.\n";
    auto sig = sign_proposal(*fs, p->id(), signer, now);
    if (!sig.ok()) return report_error(io, sig.error(), a.json);
    auto written = write_output(io, a.out, to_pretty_json(sig->to_json()), true);
    if (!written.ok()) return report_error(io, written.error(), a.json);
    io.err << "signed proposal " << digest_to_string(p->id()) << " with FIDO2 key "
           << fs->public_key().id().substr(0, 16) << (a.out.empty() || a.out == "-" ? "" : " -> " + a.out) << "\n";
    return kExitOk;
  }
  std::optional<SoftwareKey> soft;
  std::unique_ptr<piv::CardSigner> card;
  Signer* key = nullptr;
  std::string key_label;
  if (a.piv) {
    PivOptions o = a.piv_options;
    o.pin_file = a.pin_file;
    auto opened = open_piv_signer(o);
    if (!opened.ok()) return report_error(io, opened.error(), a.json);
    card = std::move(*opened);
    key = card.get();
    key_label = card->describe();
  } else {
    auto pass = obtain_passphrase(a.passphrase_file, kPassphraseEnv, "Passphrase for " + a.key + ": ", false);
    if (!pass.ok()) return report_error(io, pass.error(), a.json);
    auto loaded = SoftwareKey::load(a.key, *pass);
    pass->clear();
    if (!loaded.ok()) return report_error(io, loaded.error().with_context(a.key), a.json);
    soft.emplace(std::move(*loaded));
    key = &*soft;
    key_label = a.key;
  }
  auto sig = sign_proposal(*key, p->id(), signer, now);
  const std::string key_id = key->public_key().id();
  key = nullptr;
  card.reset();  // disconnect from the card before writing
  if (!sig.ok()) return report_error(io, sig.error(), a.json);
  auto written = write_output(io, a.out, to_pretty_json(sig->to_json()), true);
  if (!written.ok()) return report_error(io, written.error(), a.json);
  io.err << "signed proposal " << digest_to_string(p->id()) << " with key " << key_id.substr(0, 16)
         << (a.piv ? " (" + key_label + ")" : "")
         << (a.out.empty() || a.out == "-" ? "" : " -> " + a.out) << "\n";
  return kExitOk;
}

}  // namespace

void add_sign_commands(Registry& r) {
  auto a = std::make_shared<SignArgs>();
  auto* sign_cmd = r.app.add_subcommand("sign", "Sign a proposal (one approver's vote)");
  sign_cmd->footer(std::string(
      "Shows the proposal in plain words, asks for the key's passphrase (no echo) and writes a signature\n"
      "file over DESIGN.md's signing input: \"countersign/proposal/v1\" || 0x00 || SHA-256(JCS(proposal)).\n"
      "An expired proposal is refused. -o never overwrites an existing file.\n\n"
      "Unattended (CI): --passphrase-file FILE or the environment variable ") + kPassphraseEnv + ".\n\n" +
      "--piv signs with a PIV card or YubiKey PIV slot: the card signs SHA-256 (P-256) or SHA-384 (P-384) of\n"
      "the signing input after VERIFY PIN. The PIN is asked on the terminal without echo, or read from\n"
      "--pin-file. A wrong PIN says how many tries are left.\n\n"
      "--fido2 signs with a FIDO2 security key: the authenticator's credential among the policy's\n"
      "FIDO2 keys is found (allow list), the PIN is asked only when that key entry says \"uv\": true\n"
      "(--pin-file FILE or " + kPinEnv + " for scripts), and you touch the key. --device picks the\n"
      "authenticator (hidraw path, or unix:PATH for one on a Unix socket such as tests/tools/virtual-fido2).");
  auto* key_opt = sign_cmd->add_option("--key", a->key, "Software key file (from `countersign key generate`)");
  auto* piv_opt = sign_cmd->add_flag("--piv", a->piv, "Sign with a PIV smartcard or YubiKey PIV slot (PIN asked, or --pin-file)");
  auto* fido2_opt = sign_cmd->add_flag("--fido2", a->fido2, "Sign with a FIDO2 security key");
  key_opt->excludes(fido2_opt);
  key_opt->excludes(piv_opt);
  piv_opt->excludes(fido2_opt);
  sign_cmd->add_option("--reader", a->piv_options.reader, "PIV: PC/SC reader (default: the only one with a card)")->needs(piv_opt);
  sign_cmd->add_option("--slot", a->piv_options.slot, "PIV: slot 9a, 9c (default), 9d or 9e")->needs(piv_opt);
  sign_cmd->add_option("--device", a->device, "FIDO2: hidraw path or unix:PATH")->needs(fido2_opt);
  sign_cmd->add_option("--policy", a->policy, "FIDO2: the policy naming the key's credential")->needs(fido2_opt);
  sign_cmd->add_option("--pin-file", a->pin_file, "PIV or FIDO2: read the PIN from this file");
  sign_cmd->add_option("PROPOSAL", a->proposal, "Proposal file")->required();
  sign_cmd->add_option("-o,--out", a->out, "Write the signature here instead of standard output");
  sign_cmd->add_option("--passphrase-file", a->passphrase_file, "Read the key passphrase from this file");
  sign_cmd->add_option("--signer", a->signer, "Your name or approver id, as a hint for people (not signed)");
  sign_cmd->add_flag("--json", a->json, "Errors as JSON too");
  sign_cmd->callback([&io = r.io, &rc = r.rc, a] { rc = sign(io, *a); });
}

}  // namespace countersign::cli
