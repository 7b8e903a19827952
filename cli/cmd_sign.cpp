// countersign sign: one approver's vote on a proposal, with a software key or a PIV card.
#include "cli/cli.h"
#include "cli/cmd_piv.h"
#include "cli/load.h"
#include "cli/review.h"
#include "core/proposal.h"
#include "core/signature_file.h"
#include "core/software_key.h"

namespace countersign::cli {

namespace {

struct SignArgs {
  std::string key, proposal, out, passphrase_file, signer;
  bool json = false;
  bool piv = false;
  PivOptions piv_options;
};

int sign(Io& io, const SignArgs& a) {
  auto p = load_document<Proposal>(io, a.proposal);
  if (!p.ok()) return report_error(io, p.error(), a.json);
  UnixTime now = io.now();
  if (now >= p->expires()) {
    return report_error(io, Error(Errc::kRejected, "the proposal expired at " + format_rfc3339(p->expires()) +
                                                       "; ask for a new one rather than signing this"),
                        a.json);
  }
  // Show what is being signed before asking for the passphrase.
  io.err << "Signing:\n" << describe_proposal(*p, now);
  if (a.piv == !a.key.empty()) {
    return report_error(io, Error(Errc::kInvalidArgument, "sign needs exactly one of --key FILE or --piv"), a.json);
  }
  std::optional<SoftwareKey> soft;
  std::unique_ptr<OpenedSigner> card;
  Signer* key = nullptr;
  std::string key_label;
  if (a.piv) {
    auto opened = open_piv_signer(a.piv_options);
    if (!opened.ok()) return report_error(io, opened.error(), a.json);
    card = std::move(*opened);
    key = &card->signer();
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
  std::optional<std::string> signer;
  if (!a.signer.empty()) signer = a.signer;
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
      "Unattended (CI): --passphrase-file FILE or the environment variable ") + kPassphraseEnv + ".\n\n"
      "--piv signs with a PIV card or YubiKey PIV slot: the card signs SHA-256 (P-256) or SHA-384 (P-384) of\n"
      "the signing input after VERIFY PIN. The PIN is asked on the terminal without echo, or read from\n"
      "--pin-file. A wrong PIN says how many tries are left.");
  sign_cmd->add_option("--key", a->key, "Software key file (from `countersign key generate`)");
  sign_cmd->add_flag("--piv", a->piv, "Sign with a PIV smartcard or YubiKey PIV slot (PIN asked, or --pin-file)");
  sign_cmd->add_option("--reader", a->piv_options.reader, "With --piv: PC/SC reader (default: the only one with a card)");
  sign_cmd->add_option("--slot", a->piv_options.slot, "With --piv: slot 9a, 9c (default), 9d or 9e");
  sign_cmd->add_option("--pin-file", a->piv_options.pin_file, "With --piv: read the PIN from this file");
  sign_cmd->add_option("PROPOSAL", a->proposal, "Proposal file")->required();
  sign_cmd->add_option("-o,--out", a->out, "Write the signature here instead of standard output");
  sign_cmd->add_option("--passphrase-file", a->passphrase_file, "Read the key passphrase from this file");
  sign_cmd->add_option("--signer", a->signer, "Your name or approver id, as a hint for people (not signed)");
  sign_cmd->add_flag("--json", a->json, "Errors as JSON too");
  sign_cmd->callback([&io = r.io, &rc = r.rc, a] { rc = sign(io, *a); });
}

}  // namespace countersign::cli
