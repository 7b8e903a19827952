// countersign sign, veto and key prove: one approver's signed statement (an approval, a veto,
// a liveness proof) with a software key (--key), a PIV card (--piv) or a FIDO2 security key
// (--fido2).
#include "cli/cli.h"
#include "cli/cmd_piv.h"
#include "cli/fido2_cli.h"
#include "cli/load.h"
#include "core/liveness.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/review.h"
#include "core/signature_file.h"
#include "core/software_key.h"
#include "core/untrusted_text.h"
#include "smartcard/fido2_signer.h"

namespace countersign::cli {

namespace {

struct SignArgs {
  std::string key, document, out, passphrase_file, signer, device, policy, pin_file;
  bool json = false, fido2 = false, piv = false;
  PivOptions piv_options;
};

// What is being signed: the statement, the digest it covers, the domain it belongs to (a
// FIDO2 credential is looked up in that domain's policy) and how to say it.
struct Subject {
  Statement statement = Statement::kApproval;
  Digest digest{};
  std::string domain;
  std::string noun;  // "proposal", "challenge"
};

// The signer for --fido2: the policy key whose credential the connected authenticator holds.
Result<fido2::Fido2Signer> fido2_signer(Io& io, const SignArgs& a, const Subject& subject) {
  if (a.policy.empty())
    return make_error(Errc::kInvalidArgument, "--fido2 needs --policy POLICY (it names the credentials)");
  CS_TRY(Policy policy, load_document<Policy>(io, a.policy));
  if (policy.domain() != subject.domain)
    return make_error(Errc::kRejected, "the " + subject.noun + " is for domain \"" +
                                           escape_untrusted(subject.domain) + "\" but the policy is for \"" +
                                           policy.domain() + "\"");
  CS_TRY(fido2::Device dev, open_fido2(a.device));
  for (const auto& approver : policy.approvers()) {
    for (const auto& key : approver.keys) {
      if (!is_fido2(key.key.alg()) || key.credential_id.empty()) continue;
      CS_TRY(bool held, dev.has_credential(key.credential_id));
      if (!held) continue;
      io.err << "security key holds the credential of " << approver.id << " (key "
             << key.key.id().substr(0, 16) << ")\n";
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

// Signs `subject` with the one key the arguments name (--key, --piv or --fido2) and writes
// the file. The subject has been shown on stderr before any key is touched.
int sign_subject(Io& io, const SignArgs& a, const Subject& subject, std::string_view command) {
  const UnixTime now = io.now();
  if (int(a.piv) + int(a.fido2) + int(!a.key.empty()) != 1) {
    return report_error(io,
                        Error(Errc::kInvalidArgument,
                              std::string(command) + " needs exactly one of --key FILE, --piv or --fido2"),
                        a.json);
  }
  std::optional<std::string> signer;
  if (!a.signer.empty()) signer = a.signer;
  std::optional<fido2::Fido2Signer> token;
  std::optional<SoftwareKey> soft;
  std::unique_ptr<piv::CardSigner> card;
  Signer* key = nullptr;
  std::string key_label;
  if (a.fido2) {
    auto fs = fido2_signer(io, a, subject);
    if (!fs.ok()) return report_error(io, fs.error(), a.json);
    token.emplace(std::move(*fs));
    if (!token->requires_pin()) io.err << "Touch your security key.\n";
    key = &*token;
    key_label = "FIDO2";
  } else if (a.piv) {
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
  }
  auto sig = sign_statement(*key, subject.statement, subject.digest, signer, now);
  const std::string key_id = key->public_key().id();
  key = nullptr;
  card.reset();  // disconnect from the card (and the authenticator) before writing
  token.reset();
  if (!sig.ok()) return report_error(io, sig.error(), a.json);
  auto written = write_output(io, a.out, to_pretty_json(sig->to_json()), true);
  if (!written.ok()) return report_error(io, written.error(), a.json);
  const char* verb = subject.statement == Statement::kVeto       ? "vetoed"
                     : subject.statement == Statement::kLiveness ? "answered"
                                                                 : "signed";
  io.err << verb << " " << subject.noun << " " << digest_to_string(subject.digest) << " with "
         << (a.fido2 ? "FIDO2 key " : "key ") << key_id.substr(0, 16) << (a.piv ? " (" + key_label + ")" : "")
         << (a.out.empty() || a.out == "-" ? "" : " -> " + a.out) << "\n";
  return kExitOk;
}

// sign and veto: the proposal is shown in plain words, an expired one refused.
int sign_proposal_as(Io& io, const SignArgs& a, Statement statement, std::string_view command) {
  auto p = load_document<Proposal>(io, a.document);
  if (!p.ok()) return report_error(io, p.error(), a.json);
  if (auto fresh = p->refuse_if_expired(io.now()); !fresh.ok())
    return report_error(io, fresh.error(), a.json);
  io.err << (statement == Statement::kVeto ? "Vetoing:\n" : "Signing:\n") << describe_proposal(*p, io.now());
  return sign_subject(io, a, {statement, p->id(), p->domain(), "proposal"}, command);
}

// key prove: the box's challenge is shown, then answered.
int prove(Io& io, const SignArgs& a) {
  auto c = load_document<Challenge>(io, a.document);
  if (!c.ok()) return report_error(io, c.error(), a.json);
  io.err << "Proving your key to box " << escape_untrusted(c->box()) << " (domain "
         << escape_untrusted(c->domain()) << "), challenge issued " << format_rfc3339(c->issued()) << "\n";
  return sign_subject(io, a, {Statement::kLiveness, c->hash(), c->domain(), "challenge"}, "key prove");
}

// The key options every signing command takes.
void add_key_options(CLI::App* cmd, SignArgs& a) {
  auto* key_opt = cmd->add_option("--key", a.key, "Software key file (from `countersign key generate`)");
  auto* piv_opt = cmd->add_flag("--piv", a.piv,
                                "Sign with a PIV smartcard or YubiKey PIV slot (PIN asked, or --pin-file)");
  auto* fido2_opt = cmd->add_flag("--fido2", a.fido2, "Sign with a FIDO2 security key");
  key_opt->excludes(fido2_opt);
  key_opt->excludes(piv_opt);
  piv_opt->excludes(fido2_opt);
  cmd->add_option("--reader", a.piv_options.reader, "PIV: PC/SC reader (default: the only one with a card)")
      ->needs(piv_opt);
  cmd->add_option("--slot", a.piv_options.slot, "PIV: slot 9a, 9c (default), 9d or 9e")->needs(piv_opt);
  cmd->add_option("--device", a.device, "FIDO2: hidraw path or unix:PATH")->needs(fido2_opt);
  cmd->add_option("--policy", a.policy, "FIDO2: the policy naming the key's credential")->needs(fido2_opt);
  cmd->add_option("--pin-file", a.pin_file, "PIV or FIDO2: read the PIN from this file");
  cmd->add_option("-o,--out", a.out, "Write the file here instead of standard output (never overwrites)");
  cmd->add_option("--passphrase-file", a.passphrase_file, "Read the key passphrase from this file");
  cmd->add_option("--signer", a.signer, "Your name or approver id, as a hint for people (not signed)");
  cmd->add_flag("--json", a.json, "Errors as JSON too");
}

const std::string kKeyHelp =
    std::string("Unattended (CI): --passphrase-file FILE or the environment variable ") + kPassphraseEnv +
    ".\n\n" +
    "--piv signs with a PIV card or YubiKey PIV slot: the card signs SHA-256 (P-256) or SHA-384 (P-384) of\n"
    "the signing input after VERIFY PIN. The PIN is asked on the terminal without echo, or read from\n"
    "--pin-file. A wrong PIN says how many tries are left.\n\n"
    "--fido2 signs with a FIDO2 security key: the authenticator's credential among the policy's\n"
    "FIDO2 keys is found (allow list), the PIN is asked only when that key entry says \"uv\": true\n"
    "(--pin-file FILE or " +
    kPinEnv +
    " for scripts), and you touch the key. --device picks the\n"
    "authenticator (hidraw path, or unix:PATH for one on a Unix socket such as tests/tools/virtual-fido2).";

}  // namespace

void add_sign_commands(Registry& r) {
  struct VoteCommand {
    const char* name;
    const char* help;
    std::string footer;
    Statement statement;
  };
  const VoteCommand votes[] = {
      {"sign", "Sign a proposal (one approver's vote)",
       "Shows the proposal in plain words, asks for the key's passphrase (no echo) and writes a signature\n"
       "file over DESIGN.md's signing input: \"countersign/proposal/v1\" || 0x00 || SHA-256(JCS(proposal)).\n"
       "An expired proposal is refused. -o never overwrites an existing file.\n\n",
       Statement::kApproval},
      {"veto", "Veto a proposal (a signed vote against it)",
       "Where the policy's rule for the action says \"veto\": K, K vetoes by approvers who may count end "
       "the\n"
       "proposal: the box refuses it if not yet executed and cancels a queued job for it before its\n"
       "privileged step. A veto is its own signed statement, made with the same keys and devices as an\n"
       "approval but over its own signing input: \"countersign/veto/v1\" || 0x00 || SHA-256(JCS(proposal)),\n"
       "so a veto can never be counted as an approval, nor the reverse. Collect vetoes like signatures and\n"
       "give them to the box with `countersign box veto`, or put them in the bundle (`bundle assemble`).\n\n",
       Statement::kVeto},
  };
  for (const VoteCommand& vote : votes) {
    auto a = std::make_shared<SignArgs>();
    auto* cmd = r.app.add_subcommand(vote.name, vote.help);
    cmd->footer(vote.footer + kKeyHelp);
    add_key_options(cmd, *a);
    cmd->add_option("PROPOSAL", a->document, "Proposal file")->required();
    cmd->callback([&io = r.io, &rc = r.rc, a, statement = vote.statement, name = std::string(vote.name)] {
      rc = sign_proposal_as(io, *a, statement, name);
    });
  }

  // `key prove`: `key` is registered by cmd_key.cpp, before this.
  CLI::App* key_cmd = r.app.get_subcommand("key");
  auto pr = std::make_shared<SignArgs>();
  auto* prove_cmd = key_cmd->add_subcommand("prove", "Answer a box's liveness challenge with your key");
  prove_cmd->footer(
      "The box issues challenges (`countersign box challenge`); signing one proves that your key still\n"
      "works, so that the team notices a lost key before it needs the quorum. The proof is signed over\n"
      "\"countersign/liveness/v1\" || 0x00 || SHA-256(JCS(challenge)) and can approve nothing. Give it to "
      "the\n"
      "box with `countersign box prove`; `countersign box approvers` shows each approver's last proof.\n\n" +
      kKeyHelp);
  add_key_options(prove_cmd, *pr);
  prove_cmd->add_option("--challenge", pr->document, "The challenge file from the box")->required();
  prove_cmd->callback([&io = r.io, &rc = r.rc, pr] { rc = prove(io, *pr); });
}

}  // namespace countersign::cli
