// countersign proposal create / show.
#include "cli/cli.h"
#include "cli/load.h"
#include "core/jcs.h"
#include "core/manifest.h"
#include "core/policy.h"
#include "core/proposal.h"
#include "core/review.h"
#include "core/snapshot_doc.h"
#include "core/untrusted_text.h"

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

int show(Io& io, const std::string& path, bool json) {
  auto p = load_document<Proposal>(io, path);
  if (!p.ok()) return report_error(io, p.error(), json);
  if (json) {
    print_json(io, {{"id", digest_to_string(p->id())}, {"proposal", p->to_json()}});
  } else {
    io.out << describe_proposal(*p, io.now());
  }
  return kExitOk;
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

  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* show_cmd = proposal->add_subcommand("show", "Show a proposal in plain words before signing it");
  show_cmd->add_option("FILE", *path, "Proposal file, or - for standard input")->required();
  show_cmd->add_flag("--json", *json, "Print {\"id\", \"proposal\"} as JSON");
  show_cmd->callback([&io = r.io, &rc = r.rc, path, json] { rc = show(io, *path, *json); });
}

}  // namespace countersign::cli
