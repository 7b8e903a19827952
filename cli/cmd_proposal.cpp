// countersign proposal create / show.
#include "cli/attest_inputs.h"
#include "cli/cli.h"
#include "cli/load.h"
#include "core/jcs.h"
#include "core/manifest.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/review.h"
#include "core/snapshot_doc.h"
#include "core/untrusted_text.h"
#include "core/x509.h"
#include "smartcard/nitro_binding.h"

namespace countersign::cli {

namespace {

struct CreateArgs {
  std::string domain, action, manifest, previous, expires, note, proposer, out;
  std::vector<std::string> boxes;
};

// --expires takes a duration from now ("7d") or an RFC 3339 time.
Result<UnixTime> expiry(const std::string& text, UnixTime now) {
  if (auto t = parse_rfc3339(text); t.ok()) return *t;
  auto d = parse_duration(text);
  if (!d.ok()) {
    return Error(
        Errc::kInvalidArgument,
        "--expires \"" + text + "\" is neither a duration (7d, 36h) nor a time (2026-12-31T23:59:59Z)");
  }
  return now + *d;
}

int create(Io& io, const CreateArgs& a) {
  auto action = action_from_name(a.action);
  if (!action.ok()) return report_error(io, action.error(), false);
  // The approved document must be valid for the action before anyone signs it.
  Digest subject{};
  if (*action == Action::kRotatePolicy) {
    auto p = load_document<Policy>(io, a.manifest);
    if (!p.ok()) return report_error(io, p.error(), false);
    subject = p->hash();
  } else if (*action == Action::kInstallModel || *action == Action::kRemoveModel ||
             *action == Action::kInstallPackages) {
    auto m = load_document<Manifest>(io, a.manifest);
    if (!m.ok()) return report_error(io, m.error(), false);
    // As Bundle::parse will: install-packages approves a packages manifest, the model
    // actions a model manifest (refused here, before anyone signs).
    const bool wants_packages = *action == Action::kInstallPackages;
    if (m->is_packages() != wants_packages) {
      return report_error(
          io,
          Error(Errc::kInvalidArgument, a.manifest + " is a \"" + escape_untrusted(m->kind()) +
                                            "\" manifest; " + a.action + " approves only \"" +
                                            (wants_packages ? "packages" : "model") + "\" manifests"),
          false);
    }
    subject = m->hash();
  } else if (*action == Action::kRestoreSnapshot) {
    auto s = load_document<SnapshotDoc>(io, a.manifest);
    if (!s.ok()) return report_error(io, s.error(), false);
    subject = s->hash();
  } else {
    return report_error(
        io, Error(Errc::kUnsupported, "action " + a.action + " has no document format in this version"),
        false);
  }
  UnixTime now = io.now();
  Proposal::Fields f;
  f.domain = a.domain;
  f.action = *action;
  f.manifest = subject;
  if (!a.previous.empty()) {
    auto prev = digest_from_string(a.previous);
    if (!prev.ok())
      return report_error(io, Error(Errc::kInvalidArgument, "--previous: " + prev.error().message), false);
    f.previous = *prev;
  }
  if (!a.boxes.empty()) f.boxes = a.boxes;
  f.created = now;
  auto exp = expiry(a.expires, now);
  if (!exp.ok()) return report_error(io, exp.error(), false);
  f.expires = *exp;
  if (f.expires <= now)
    return report_error(io, Error(Errc::kInvalidArgument, "--expires is in the past"), false);
  if (!a.note.empty()) f.note = a.note;
  if (!a.proposer.empty()) f.proposer = a.proposer;
  auto p = Proposal::create(std::move(f));
  if (!p.ok()) return report_error(io, p.error(), false);
  auto written = write_output(io, a.out, to_pretty_json(p->to_json()));
  if (!written.ok()) return report_error(io, written.error(), false);
  io.err << "proposal " << digest_to_string(p->id()) << "\n";
  return kExitOk;
}

struct ShowArgs {
  std::string path, policy, attestation, box_id, log_key, tls_key, nonce, root;
  bool json = false;
};

// What `show` says of the box's AWS Nitro attestation: checked with nitro::judge when
// --attestation is given; "not checked" otherwise, loudly when the rule asks for one.
struct AttestationLine {
  bool checked = false, approved = false, required = false;
  std::string text;
};

Result<AttestationLine> attestation_line(Io& io, const ShowArgs& a, const Proposal& p) {
  AttestationLine out;
  if (a.policy.empty()) {
    out.text = "not checked (give --policy and --attestation to check what the box runs)";
    return out;
  }
  CS_TRY(Policy policy, load_document<Policy>(io, a.policy));
  const Rule* rule = policy.rule_for(p.action());
  out.required = rule != nullptr && rule->attested_image;
  if (a.attestation.empty()) {
    out.text = out.required
                   ? "NOT CHECKED: the rule for " + std::string(action_name(p.action())) +
                         " requires an attested image; give --attestation FILE (countersign box attest "
                         "-o FILE) to check what the box runs"
                   : "not checked (no --attestation given; the rule does not require one)";
    return out;
  }
  CS_TRY(Bytes doc, read_attestation_document(io, a.attestation));
  std::string box_id = a.box_id;
  if (box_id.empty() && p.boxes() && p.boxes()->size() == 1) box_id = p.boxes()->front();
  std::optional<nitro::BoxKeys> box;
  if (!a.log_key.empty()) {
    if (box_id.empty()) {
      return Error(Errc::kInvalidArgument, "--log-key checks the binding of one box: the proposal names " +
                                               std::string(p.boxes() ? "several boxes" : "no box") +
                                               ", so give --box-id");
    }
    CS_TRY(Bytes log_spki, read_log_key_spki(a.log_key));
    std::optional<Bytes> tls;
    if (!a.tls_key.empty()) {
      CS_TRY(Bytes t, read_tls_key_spki(a.tls_key));
      tls = std::move(t);
    }
    box = nitro::BoxKeys{box_id, std::move(log_spki), std::move(tls)};
  }
  std::optional<Bytes> nonce;
  if (!a.nonce.empty()) {
    auto n = hex_decode(a.nonce);
    if (!n.ok()) return Error(Errc::kInvalidArgument, "--nonce: " + n.error().message);
    nonce = std::move(*n);
  }
  std::vector<Bytes> roots = nitro::pinned_roots();
  if (!a.root.empty()) {
    auto r = x509::read_certificates(a.root);
    if (!r.ok()) return r.error().with_context("--root");
    if (r->empty()) return Error(Errc::kMalformed, "--root " + a.root + ": no certificate");
    roots = std::move(*r);
  }
  const nitro::Verdict v = nitro::judge(doc, policy, roots, io.now(), io.now(), box, nonce);
  out.checked = true;
  out.approved = v.approved;
  out.text = (v.approved ? "" : "NOT APPROVED: ") + v.line;
  if (v.approved && !box) out.text += " (binding to the box not checked: give --log-key)";
  if (!a.root.empty()) {
    out.text += "\n                 WARNING: checked against " + a.root +
                " (--root), not the pinned AWS Nitro Enclaves root: this proves nothing about AWS hardware";
  }
  return out;
}

int show(Io& io, const ShowArgs& a) {
  if (a.policy.empty() && !a.attestation.empty()) {
    return report_error(io,
                        make_error(Errc::kInvalidArgument,
                                   "--attestation needs --policy: the approved images are the policy's"),
                        a.json);
  }
  if (a.attestation.empty() && (!a.log_key.empty() || !a.nonce.empty() || !a.root.empty())) {
    return report_error(
        io, make_error(Errc::kInvalidArgument, "--log-key, --nonce and --root check --attestation"), a.json);
  }
  auto p = load_document<Proposal>(io, a.path);
  if (!p.ok()) return report_error(io, p.error(), a.json);
  auto att = attestation_line(io, a, *p);
  if (!att.ok()) return report_error(io, att.error(), a.json);
  if (a.json) {
    nlohmann::json j = {{"id", digest_to_string(p->id())}, {"proposal", p->to_json()}};
    if (!a.policy.empty()) {
      j["attestation"] = {{"checked", att->checked},
                          {"approved", att->approved},
                          {"required", att->required},
                          {"line", att->text}};
    }
    print_json(io, j);
  } else {
    io.out << describe_proposal(*p, io.now());
    if (!a.policy.empty() || att->required) io.out << "Box attestation  " << att->text << "\n";
  }
  // A document that was given and does not show an approved image is a failed check.
  return att->checked && !att->approved ? kExitFailed : kExitOk;
}

}  // namespace

void add_proposal_commands(Registry& r) {
  auto* proposal = r.app.add_subcommand("proposal", "Create and review proposals (what approvers sign)");
  proposal->require_subcommand(1);

  auto c = std::make_shared<CreateArgs>();
  auto* create_cmd = proposal->add_subcommand("create", "Propose an action for approvers to sign");
  create_cmd->footer(
      "--manifest names the document the action is about: a model manifest for install-model and\n"
      "remove-model, a packages manifest (`countersign packages plan`) for install-packages, the snapshot\n"
      "document for restore-snapshot, the new policy for rotate-policy. It is validated, and its hash goes "
      "into the proposal. A fresh\n"
      "random nonce makes every proposal unique. The proposal id (printed on stderr) is what approvers "
      "sign.\n\n"
      "Example:\n"
      "  countersign proposal create --domain acme-prod --action install-model --manifest manifest.json \\\n"
      "      --box box-7f3a --expires 7d --note \"Upgrade the support bot\" -o proposal.json");
  create_cmd->add_option("--domain", c->domain, "The policy domain (organisation or fleet)")->required();
  create_cmd
      ->add_option("--action", c->action,
                   "install-model, remove-model, install-packages, restore-snapshot or rotate-policy")
      ->required();
  create_cmd
      ->add_option(
          "--manifest", c->manifest,
          "Document approved: the manifest (install-model, remove-model), the new policy (rotate-policy) or "
          "the snapshot document from `countersign box snapshots` (restore-snapshot)")
      ->required();
  create_cmd->add_option("--previous", c->previous, "sha256:<hash> of the manifest this one replaces");
  create_cmd->add_option("--box", c->boxes, "Limit to this box id (repeatable)")->allow_extra_args(false);
  create_cmd->add_option("--expires", c->expires, "Duration (7d, 36h) or time (2026-12-31T23:59:59Z)")
      ->required();
  create_cmd->add_option("--note", c->note, "Why: shown to every approver");
  create_cmd->add_option(
      "--proposer", c->proposer,
      "Your approver id, signed into the proposal: where the rule says exclude_proposer, your own "
      "signature will not count");
  create_cmd->add_option("-o,--out", c->out, "Write here instead of standard output");
  create_cmd->callback([&io = r.io, &rc = r.rc, c] { rc = create(io, *c); });

  auto sa = std::make_shared<ShowArgs>();
  auto* show_cmd = proposal->add_subcommand("show", "Show a proposal in plain words before signing it");
  show_cmd->footer(
      "With --policy and --attestation (from `countersign box attest -o att.cbor`), also says whether the\n"
      "box runs an approved image, as `countersign attest verify` judges it:\n"
      "  countersign proposal show proposal.json --policy policy.json --attestation att.cbor \\\n"
      "      --log-key box-log.pub --nonce 8f1c2a...\n"
      "  Box attestation  box-7f3a runs approved image safebox-2026.11, attested 12m ago\n"
      "The box id is the proposal's (when it names one box) or --box-id. Without --attestation, a rule that\n"
      "says attested_image is flagged NOT CHECKED. Exit 1 when a given attestation is not approved.");
  show_cmd->add_option("FILE", sa->path, "Proposal file, or - for standard input")->required();
  show_cmd->add_option("--policy", sa->policy, "The policy in force (its rule and approved images)");
  show_cmd->add_option("--attestation", sa->attestation, "The box's attestation document (CBOR or base64)");
  show_cmd->add_option("--box-id", sa->box_id, "The box the attestation must bind (default: the proposal's)");
  show_cmd->add_option("--log-key", sa->log_key, "The box's log key (vkey): checks the binding");
  show_cmd->add_option("--tls-key", sa->tls_key, "The box's API TLS certificate or public key (binding)");
  show_cmd->add_option("--nonce", sa->nonce, "The nonce you asked the box for, hex");
  show_cmd->add_option("--root", sa->root, "Check the chain against this root instead of AWS's (tests)");
  show_cmd->add_flag("--json", sa->json, "Print {\"id\", \"proposal\", \"attestation\"?} as JSON");
  show_cmd->callback([&io = r.io, &rc = r.rc, sa] { rc = show(io, *sa); });
}

}  // namespace countersign::cli
